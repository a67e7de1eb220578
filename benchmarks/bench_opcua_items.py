"""One OPC-UA source with 10,000 monitored items changing at 1 Hz: CPU of our side.

Target (issue 3): held for 60 s using under 50% of one core.
The server is a real asyncua server in its own process, changing every value
once a second; this process runs our OPC-UA driver (subscriptions, not polling)
feeding the real engine (normalization, counters, states, the DuckDB store) for
2,500 machines of four signals each, and measures its own CPU while data flows.
Run: python benchmarks/bench_opcua_items.py   (BENCH_SECONDS=60, BENCH_ITEMS=10000)
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from oee_tui.config import Config
from oee_tui.drivers.registry import config_from_dict

ITEMS = int(os.environ.get("BENCH_ITEMS", "10000"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "60"))


async def serve(items: int) -> None:
    from asyncua import Server, ua

    server = Server()
    await server.init()
    server.set_endpoint("opc.tcp://127.0.0.1:0/bench/")
    ns = await server.register_namespace("urn:oee-tui:bench")
    folder = await server.nodes.objects.add_folder(ua.NodeId("Plant", ns), "Plant")
    node_ids = []
    for i in range(items):
        node = await folder.add_variable(ua.NodeId(f"Tag{i}", ns), f"Tag{i}", ua.Variant(0, ua.VariantType.Int32))
        node_ids.append(node.nodeid)
    await server.start()
    print(f"ENDPOINT opc.tcp://127.0.0.1:{server.bserver.port}/bench/ {ns}", flush=True)
    tick = 0
    while True:
        tick += 1
        started = time.monotonic()
        for i, node_id in enumerate(node_ids):  # every item changes once a second
            await server.write_attribute_value(node_id, ua.DataValue(ua.Variant(tick, ua.VariantType.Int32)))
            if i % 500 == 0:
                await asyncio.sleep(0)  # writes never yield: let the server answer its clients meanwhile
        await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started)))


def plant(endpoint: str, ns: int) -> Config:
    signals = ("total_count", "reject_count", "state_code", "speed")
    machines = []
    for m in range(ITEMS // len(signals)):
        mapping = {signal: {"source": "ua", "tag": f"ns={ns};s=Tag{m * len(signals) + k}"}
                   for k, signal in enumerate(signals)}
        mapping["total_count"]["width"] = 32
        mapping["reject_count"]["width"] = 32
        machines.append({"id": f"M{m:04d}", "name": f"Machine {m}", "line": "L1", "ideal_cycle_time_s": 1.0,
                         "signals": mapping})
    return config_from_dict({
        "site": {"name": "Bench", "timezone": "UTC"},
        "lines": [{"id": "L1", "name": "Line 1"}],
        "sources": [{"name": "ua", "kind": "opcua", "endpoint": endpoint, "publishing_interval_ms": 500,
                     "timeout_s": 30}],
        "shifts": [{"name": "Day", "start": "00:00", "end": "00:00"}],
        "machines": machines,
    })


async def subscribe(endpoint: str, ns: int) -> None:
    from oee_tui.drivers.opcua.opcua_driver import OpcUaDriver
    from oee_tui.engine.live.engine import Engine
    from oee_tui.model import TagSample
    from oee_tui.store import Store

    received = 0
    config = plant(endpoint, ns)
    engine = Engine(config, Store.open(Path(tempfile.mkdtemp())), acquire=False)
    await engine.start()

    async def emit(batch: Sequence[TagSample]) -> None:
        nonlocal received
        received += len(batch)
        engine.ingest(batch)

    source = config.sources[0]
    driver = OpcUaDriver(source, [mapping for machine in config.machines for mapping in machine.signals.values()])
    started = time.monotonic()
    await driver.connect()
    task = asyncio.create_task(driver.run(emit))
    while received < ITEMS and time.monotonic() - started < 120:  # the initial values of every item
        await asyncio.sleep(0.2)
    print(f"opcua: {ITEMS} monitored items subscribed and first values in {time.monotonic() - started:.1f} s")
    await asyncio.sleep(2.0)
    cpu0, wall0, received0 = time.process_time(), time.monotonic(), received
    await asyncio.sleep(SECONDS)
    wall = time.monotonic() - wall0
    cpu = (time.process_time() - cpu0) / wall
    rate = (received - received0) / wall
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await driver.close()
    await engine.stop()
    print(f"opcua: {rate:,.0f} value changes/s received over {wall:.0f} s "
          f"({rate / ITEMS:.2f} per item per second; the server changes each once a second)")
    print(f"opcua: driver + engine + store used {cpu * 100:.0f}% of one core (target < 50%)")


def main() -> None:
    server = subprocess.Popen([sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        _, endpoint, ns = server.stdout.readline().split()
        asyncio.run(subscribe(endpoint, int(ns)))
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    if "--serve" in sys.argv:
        asyncio.run(serve(ITEMS))
    else:
        main()
