"""100 Modbus TCP devices, 50 registers each, polled at 1 Hz: poll latency p50/p95.

Target (issue 3): p95 poll latency under 100 ms on loopback.
The devices are 100 real pymodbus servers in a separate process (their own
event loop and core, as a plant's PLCs would be); this process runs 100 of our
Modbus drivers in one event loop, as the engine does, and records the latency
of every request through the drivers' read observer.
Run: python benchmarks/bench_modbus_fleet.py   (BENCH_SECONDS=30 by default)
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Sequence

import numpy as np

DEVICES = int(os.environ.get("BENCH_DEVICES", "100"))
REGISTERS = 50
SECONDS = float(os.environ.get("BENCH_SECONDS", "30"))


async def serve(count: int) -> None:
    from pymodbus.server import ModbusTcpServer
    from pymodbus.simulator import DataType, SimData, SimDevice

    servers = []
    for _ in range(count):
        device = SimDevice(1, simdata=(
            [SimData(0, count=16, values=False, datatype=DataType.BITS)],
            [SimData(0, count=16, values=False, datatype=DataType.BITS)],
            [SimData(0, count=REGISTERS, values=0, datatype=DataType.REGISTERS)],
            [SimData(0, count=REGISTERS, values=0, datatype=DataType.REGISTERS)],
        ))
        server = ModbusTcpServer(device, address=("127.0.0.1", 0))
        await server.serve_forever(background=True)
        servers.append(server)
    ports = [server.transport.sockets[0].getsockname()[1] for server in servers]
    print("PORTS " + " ".join(map(str, ports)), flush=True)
    tick = 0
    while True:  # counters move once a second, as a running line's would
        tick += 1
        for server in servers:
            await server.async_setValues(1, 3, 0, [tick % 65536] * REGISTERS)  # type: ignore[arg-type]
        await asyncio.sleep(1.0)


async def poll(ports: Sequence[int]) -> None:
    from oee_tui.config import TagMapping
    from oee_tui.drivers.modbus.modbus_driver import ModbusDriver
    from oee_tui.drivers.modbus.modbus_source import ModbusSource
    from oee_tui.model import Signal, TagSample

    latencies: list[float] = []
    failures = 0
    samples = 0

    def observe(latency: float, ok: bool) -> None:
        nonlocal failures
        latencies.append(latency)
        failures += not ok

    async def emit(batch: Sequence[TagSample]) -> None:
        nonlocal samples
        samples += len(batch)

    drivers = []
    for n, port in enumerate(ports):
        source = ModbusSource(name=f"plc{n}", host="127.0.0.1", port=port, poll_interval_s=1.0)
        tags = [TagMapping(Signal.SPEED, source.name, f"hr:{r}", type="uint16") for r in range(REGISTERS)]
        driver = ModbusDriver(source, tags)
        driver.on_read = observe
        drivers.append(driver)
    await asyncio.gather(*(driver.connect() for driver in drivers))
    tasks = [asyncio.create_task(driver.run(emit)) for driver in drivers]
    await asyncio.sleep(3.0)  # every device polled a few times: connections warm
    latencies.clear()
    cpu0, wall0, samples0 = time.process_time(), time.monotonic(), samples
    await asyncio.sleep(SECONDS)
    wall = time.monotonic() - wall0
    cpu = (time.process_time() - cpu0) / wall
    got = np.array(latencies) * 1000
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.gather(*(driver.close() for driver in drivers))
    print(f"modbus: {len(ports)} devices x {REGISTERS} registers at 1 Hz for {wall:.0f} s: "
          f"{len(got) / wall:.0f} requests/s, {(samples - samples0) / wall:.0f} samples/s, {failures} failed")
    print(f"modbus: poll latency p50 {np.percentile(got, 50):.1f} ms, p95 {np.percentile(got, 95):.1f} ms, "
          f"max {got.max():.1f} ms (target p95 < 100 ms); client CPU {cpu * 100:.0f}% of one core")


def main() -> None:
    server = subprocess.Popen([sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        ports = [int(p) for p in line.split()[1:]]
        asyncio.run(poll(ports))
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    if "--serve" in sys.argv:
        asyncio.run(serve(DEVICES))
    else:
        main()
