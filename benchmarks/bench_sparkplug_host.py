"""The Sparkplug B host path, end to end: receive, decode, resolve aliases, normalize, store.

Targets (issue 4): >= 200,000 metrics/s sustained with DDATA of 20 metrics at QoS 0, and
>= 5,000 messages/s at QoS 1.

What runs: a real Mosquitto on loopback (started as tests/mqtt/broker.py does); a publisher in
its own process (paho, the project's encoder; NBIRTH, then a DBIRTH per device, then
BENCH_MESSAGES pre-encoded DDATA of 20 metrics round-robin over BENCH_DEVICES devices, each
metric changing every message: counters, a state code, a speed, a fault flag, a product); and
the real engine with a "sparkplug" source, as the app runs it: the host in its worker process
(drivers/sparkplug/worker.py: paho's network thread, inbox, SparkplugHost: topic parse,
protobuf parse, seq check, alias resolution, typed values, the tag filter), the samples sent
as columns through the pipe, and in this process the acquisition runner's queue,
Engine.ingest (routing to 4 machines per device, change detection, counters and states of
MachineTracker) and the flush of every sample to the DuckDB store (Arrow insert, writer
thread). For comparison, QoS 0 once more with the host inside the engine's process
(SparkplugDriver, as before the worker process), sharing its GIL.

Measured: metrics ingested by the engine per second, from the first data sample to the last,
and what the store holds afterwards. At QoS 0 a host that falls behind loses messages (the
driver's inbox drops the oldest): the loss is printed, so a rate is only "sustained" when it
is zero. A plain-paho baseline in the same run: a bare subscriber that only counts.

    python3 benchmarks/bench_sparkplug_host.py     (BENCH_MESSAGES=60000, BENCH_DEVICES=50)
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from oee_tui.config import Config  # noqa: E402
from oee_tui.drivers.registry import config_from_dict  # noqa: E402
from oee_tui.engine.live.engine import Engine  # noqa: E402
from oee_tui.store import Store  # noqa: E402
from tests.mqtt.broker import MosquittoBroker  # noqa: E402

MESSAGES = int(os.environ.get("BENCH_MESSAGES", "60000"))
DEVICES = int(os.environ.get("BENCH_DEVICES", "50"))
METRICS = 20
SIGNALS = ("total_count", "reject_count", "state_code", "speed", "fault", "product")

PUBLISHER = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import bench_sparkplug_host as b; " \
    "b.publisher_main(*map(int, sys.argv[1:]))"
TYPES = ("UInt32", "UInt32", "Int16", "Float", "Boolean", "String")


def _value(kind: str, index: int, step: int) -> object:
    if kind == "UInt32":
        return step * 3 + index
    if kind == "Int16":
        return 1 + step % 2
    if kind == "Float":
        return float(step % 1000) / 4
    if kind == "Boolean":
        return step % 2 == 0
    return f"P-{step % 7}"


def _specs(step: int) -> list[Any]:
    from oee_tui.mqtt.sparkplug_codec import DataType, MetricSpec

    return [MetricSpec(f"m{i}", DataType[TYPES[i % 6]], _value(TYPES[i % 6], i, step), alias=i + 1,
                       timestamp_ms=1_700_000_000_000 + step) for i in range(METRICS)]


def build_messages(messages: int, devices: int) -> tuple[list[tuple[str, bytes]], list[tuple[str, bytes]]]:
    """(births, data): NBIRTH, a DBIRTH per device, then DDATA round-robin; one seq for the node."""
    from oee_tui.mqtt.sparkplug_codec import MessageType, encode_dbirth, encode_ddata, encode_nbirth, topic

    births = [(topic("bench", MessageType.NBIRTH, "edge"), encode_nbirth([], seq=0, bd_seq=0, timestamp_ms=1))]
    for device in range(devices):
        births.append((topic("bench", MessageType.DBIRTH, "edge", f"D{device}"),
                       encode_dbirth(_specs(0), seq=(device + 1) % 256, timestamp_ms=1)))
    topics = [topic("bench", MessageType.DDATA, "edge", f"D{device}") for device in range(devices)]
    data = [(topics[step % devices], encode_ddata(_specs(step + 1), seq=(devices + 1 + step) % 256,
                                                  timestamp_ms=1_700_000_000_000 + step))
            for step in range(messages)]
    return births, data


def publisher_main(port: int, qos: int, messages: int, devices: int) -> None:
    """The publishing process: single-threaded paho (no network thread to fight over the GIL)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    births, data = build_messages(messages, devices)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-publisher-{qos}")
    client.max_inflight_messages_set(100)
    client.connect("127.0.0.1", port)
    while not client.is_connected():
        client.loop(0.05)
    print("READY", flush=True)
    sys.stdin.readline()
    infos = [client.publish(name, raw, qos=1) for name, raw in births]
    while not all(info.is_published() for info in infos):
        client.loop(0.01)
    # The broker has the births, but sends a subscriber at most 20 unacknowledged QoS 1
    # messages at a time, so QoS 0 data could overtake the last DBIRTHs on their way to the
    # host (and be dead-lettered as data before birth). Let them arrive first.
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        client.loop(0.05)
    started = time.perf_counter()
    last = None
    for step, (name, raw) in enumerate(data):
        last = client.publish(name, raw, qos=qos)
        if step % 50 == 0:
            client.loop(0)
    while client.want_write() or (last is not None and not last.is_published()):
        client.loop(0.01)
    print("DONE", time.perf_counter() - started, flush=True)
    client.disconnect()


COUNTER = r"""
import sys, time
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
count = 0
first = last = 0.0
def on_message(_c, _u, message):
    global count, first, last
    last = time.perf_counter()
    if not count:
        first = last
    count += 1
client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-paho-counter")
client.on_message = on_message
client.connect("127.0.0.1", int(sys.argv[1]))
client.subscribe("spBv1.0/bench/DDATA/#", qos=int(sys.argv[2]))
client.loop_start()
print("READY", flush=True)
sys.stdin.readline()
print(count, last - first, flush=True)
"""


def plant(port: int) -> Config:
    machines = []
    for device in range(DEVICES):
        for index in range(0, METRICS, len(SIGNALS)):
            signals = {}
            for offset, signal in enumerate(SIGNALS):
                metric = index + offset
                if metric < METRICS:
                    tag = f"bench/edge/D{device}/m{metric}"
                    signals[signal] = {"source": "uns", "tag": tag, **({"width": 32} if "count" in signal else {})}
            # The synthetic counters move by parts a millisecond: a wide jump margin keeps them counted
            # (issue 13: a move beyond what the machine can make is not), as a real machine's would be.
            machines.append({"id": f"D{device}-{index // len(SIGNALS)}", "line": "L1", "ideal_cycle_time_s": 1.0,
                             "counter_jump_margin": 1e9, "signals": signals})
    return config_from_dict({
        "site": {"name": "Bench", "timezone": "UTC", "stale_after_s": 3600},
        "lines": [{"id": "L1"}],
        "sources": [{"name": "uns", "kind": "sparkplug", "host": "127.0.0.1", "port": port,
                     "group_ids": ["bench"], "queue_size": 200_000, "timeout_s": 10}],
        "machines": machines,
        "shifts": [{"name": "Day", "start": "00:00", "end": "00:00"}],
    })


def start_publisher(port: int, qos: int) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-c", PUBLISHER, str(port), str(qos), str(MESSAGES), str(DEVICES)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert process.stdout is not None
    if process.stdout.readline().strip() != "READY":
        raise RuntimeError("publisher did not start")
    return process


def go(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.write("GO\n")
    process.stdin.flush()


async def host_run(port: int, qos: int, data_dir: Path, *, in_process: bool = False) -> dict[str, float]:
    from oee_tui.drivers.sparkplug.host_driver import SparkplugDriver

    store = Store.open(data_dir)
    engine = Engine(plant(port), store, tick_s=1.0, flush_interval_s=1.0,
                    driver_factory=SparkplugDriver if in_process else None)
    await engine.start()
    while not (engine.runners and engine.runners[0].health.connected):
        await asyncio.sleep(0.05)
    publisher = await asyncio.to_thread(start_publisher, port, qos)
    births = DEVICES * METRICS
    go(publisher)
    # Time from the first DATA sample to the last one ingested.
    while engine.stats.samples_in <= births:
        await asyncio.sleep(0.001)
    first_at, first_count = time.perf_counter(), engine.stats.samples_in
    last_count, last_at, quiet_since = first_count, first_at, time.perf_counter()
    while time.perf_counter() - quiet_since < 2.0:
        await asyncio.sleep(0.01)
        if engine.stats.samples_in != last_count:
            last_count, last_at = engine.stats.samples_in, time.perf_counter()
            quiet_since = last_at
    out, _ = await asyncio.to_thread(publisher.communicate, "", 60)
    publish_s = float(out.split()[-1])
    dropped = engine.runners[0].health.dropped
    await engine.stop()
    store = Store.open(data_dir)
    try:
        stored = store.cursor().execute("SELECT count(*) FROM samples").fetchall()[0][0]
    finally:
        store.close()
    data_metrics = last_count - births
    elapsed = last_at - first_at
    return {"metrics": data_metrics, "elapsed": elapsed, "rate": (last_count - first_count) / elapsed,
            "lost": MESSAGES * METRICS - data_metrics, "publish_s": publish_s, "stored": stored,
            "dropped": dropped}


def paho_baseline(port: int, qos: int) -> tuple[int, float]:
    counter = subprocess.Popen([sys.executable, "-c", COUNTER, str(port), str(qos)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    assert counter.stdout is not None and counter.stdin is not None
    counter.stdout.readline()
    publisher = start_publisher(port, qos)
    go(publisher)
    publisher.communicate("", 120)
    time.sleep(2.0)  # what the broker still queues for the counter arrives
    out, _ = counter.communicate("\n", 60)
    count, seconds = out.split()
    return int(count), float(seconds)


def stages(data_dir: Path) -> dict[str, float]:
    """Where the time goes: each stage of the host path alone, in this process, no broker."""
    from oee_tui.model import SampleColumns
    from oee_tui.mqtt.sparkplug_host import HostOutput, SparkplugHost

    births, data = build_messages(min(MESSAGES, 20_000), DEVICES)

    def fresh_host() -> SparkplugHost:
        host = SparkplugHost("uns", groups=("bench",))
        for name, raw in births:
            host.handle(name, raw, time.time())
        return host

    # Timed as the driver calls it: one output for a pass over the inbox (here, all of them).
    host = fresh_host()
    out = HostOutput("uns")
    started = time.perf_counter()
    for name, raw in data:
        host.handle(name, raw, 0.0, out)
    host_s = time.perf_counter() - started
    [columns] = out.batches  # DATA only: one run of columns
    assert isinstance(columns, SampleColumns)
    engine = Engine(plant(1883), None, acquire=False)
    started = time.perf_counter()
    for index in range(0, len(columns), 5_000):  # the driver emits batches of up to 5,000
        engine.ingest(SampleColumns("uns", columns.times[index:index + 5_000], columns.tags[index:index + 5_000],
                                    columns.values[index:index + 5_000]))
    ingest_s = time.perf_counter() - started
    kept = engine.pending_samples
    store = Store.open(data_dir)
    try:
        started = time.perf_counter()
        store.write_samples(*kept)
        store_s = time.perf_counter() - started
    finally:
        store.close()
    metrics = len(columns)
    return {"host": metrics / host_s, "ingest": metrics / ingest_s, "store": len(kept.ts) / store_s,
            "metrics": metrics}


def main() -> None:
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "mosquitto"
        directory.mkdir()
        broker = MosquittoBroker(directory).start()
        try:
            results = {}
            for qos in (0, 1):
                results[qos] = asyncio.run(host_run(broker.port, qos, Path(tmp) / f"store-{qos}"))
                results[qos]["paho"] = paho_baseline(broker.port, qos)  # type: ignore[assignment]
            in_process = asyncio.run(host_run(broker.port, 0, Path(tmp) / "store-in-process", in_process=True))
        finally:
            broker.stop()
        load_after = os.getloadavg()[0]
        stage = stages(Path(tmp) / "store-stages")
    print(f"Sparkplug host path: {MESSAGES:,} DDATA x {METRICS} metrics over {DEVICES} devices "
          f"({DEVICES * 4} machines); {os.cpu_count()} cores shared by Mosquitto, the publisher process, "
          "this process and other engineers' work")
    print(f"load average (1 min) before: {load_before:.2f}, after the broker runs: {load_after:.2f}, "
          f"at the end: {os.getloadavg()[0]:.2f}")
    for qos, r in results.items():
        count, seconds = r["paho"]  # type: ignore[misc]
        print(f"QoS {qos}: engine ingested {r['rate']:>10,.0f} metrics/s = {r['rate'] / METRICS:>8,.0f} messages/s "
              f"({r['metrics']:,.0f} metrics in {r['elapsed']:.2f} s; lost {r['lost']:,.0f}, of which the "
              f"source queue dropped {r['dropped']:,.0f} samples; "
              f"{r['stored']:,} samples in the store); publisher needed {r['publish_s']:.2f} s")
        print(f"       plain paho subscriber, counting only: {count / seconds:>8,.0f} messages/s "
              f"({count:,} of {MESSAGES:,} received)")
    r = in_process
    print(f"QoS 0, host inside the engine's process: {r['rate']:>10,.0f} metrics/s ({r['metrics']:,.0f} metrics in "
          f"{r['elapsed']:.2f} s; lost {r['lost']:,.0f})")
    print(f"where the time goes, each stage alone in one thread ({stage['metrics']:,.0f} metrics):")
    print(f"  SparkplugHost.handle (topic, parse, seq, aliases, values, columns): {stage['host']:>10,.0f} metrics/s")
    print("  (paho's network thread is not in these. Above, it and SparkplugHost run in the worker process;")
    print("   inside the engine's process they share the GIL with Engine.ingest)")
    print(f"  Engine.ingest of columns (routing, change, counters, states)    : {stage['ingest']:>10,.0f} metrics/s")
    print(f"  Store.write_samples (Arrow insert into DuckDB)                  : {stage['store']:>10,.0f} rows/s")


if __name__ == "__main__":
    main()
