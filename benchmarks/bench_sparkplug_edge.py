"""Sparkplug B edge node: DDATA messages/s published at QoS 0 (target >= 20,000), with a plain-paho baseline.

A real Mosquitto on loopback (started as tests/mqtt/broker.py does) and a subscriber in its own
process that counts what arrives. The edge node (oee_tui.edge.node.EdgeNode, no store: it stays
connected) has BENCH_MACHINES machines; each round every machine's counter changes, the node
sees the batch through ``observe`` (the engine's hook) and its publisher's ``publish_changes`` sends one DDATA
per machine: change detection, Sparkplug encoding (alias, timestamp, value, seq) and paho's
publish. "published" counts messages handed to paho; "written" waits until paho reports every
one written to the socket (its queue empty); "received" is what the subscriber got (QoS 0: a broker or a
subscriber that falls behind may drop). The baseline publishes the same number of
pre-encoded payloads of the same size with a bare paho client: the floor of paho itself.

    python3 benchmarks/bench_sparkplug_edge.py      (BENCH_SECONDS=5, BENCH_MACHINES=200)
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from oee_tui.config import Config  # noqa: E402
from oee_tui.drivers.registry import config_from_dict  # noqa: E402
from oee_tui.edge.node import EdgeNode  # noqa: E402
from oee_tui.model import Quality, TagSample  # noqa: E402
from tests.mqtt.broker import MosquittoBroker  # noqa: E402

SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
MACHINES = int(os.environ.get("BENCH_MACHINES", "200"))
STOP_TOPIC = "bench/stop"

COUNTER = """
import sys, threading
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
count = 0
done = threading.Event()
def on_message(_c, _u, message):
    global count
    if message.topic == "bench/stop":
        done.set()
    else:
        count += 1
client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-counter")
client.on_message = on_message
client.on_subscribe = lambda *a: print("READY", flush=True)
client.connect("127.0.0.1", int(sys.argv[1]))
client.subscribe([(sys.argv[2], 0), ("bench/stop", 0)])
client.loop_start()
done.wait(600)
print(count, flush=True)
client.disconnect(); client.loop_stop()
"""


class Counter:
    """The subscriber process: counts messages on a filter until it hears STOP_TOPIC."""

    def __init__(self, port: int, topic_filter: str) -> None:
        self.port = port
        self.process = subprocess.Popen([sys.executable, "-c", COUNTER, str(port), topic_filter],
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "READY":
            raise RuntimeError("the counting subscriber did not start")

    def finish(self) -> int:
        time.sleep(0.5)  # whatever is still in the broker's queue arrives first
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-stopper")
        client.connect("127.0.0.1", self.port)
        client.loop_start()
        client.publish(STOP_TOPIC, b"", qos=1).wait_for_publish(10)
        client.disconnect()
        client.loop_stop()
        out, _ = self.process.communicate(timeout=60)
        return int(out.strip().splitlines()[-1])


def plant(port: int) -> Config:
    return config_from_dict({
        "site": {"name": "Bench", "timezone": "UTC"},
        "lines": [{"id": "L1"}],
        "sources": [{"name": "plc", "kind": "modbus"}],
        "machines": [{"id": f"M{m:03d}", "line": "L1", "ideal_cycle_time_s": 1.0,
                      "signals": {"total_count": {"source": "plc", "tag": f"hr:{m * 2}", "type": "uint32"}}}
                     for m in range(MACHINES)],
        "edge": {"enabled": True, "port": port, "group_id": "bench", "edge_node_id": "edge",
                 "publish_interval_s": 3600.0},  # the benchmark calls publish_changes itself
    })


async def edge_run(port: int) -> tuple[int, float, float, bytes, float]:
    config = plant(port)
    node = EdgeNode(config.edge, config.machines)
    await node.start()
    while not node.stats.live:
        await asyncio.sleep(0.01)
    tags = [f"hr:{m * 2}" for m in range(MACHINES)]
    published = 0
    value = 0
    busy = 0.0
    started = time.perf_counter()
    while time.perf_counter() - started < SECONDS:
        value += 1
        now = time.time()
        batch = [TagSample(now, "plc", tag, value, Quality.GOOD) for tag in tags]
        t0 = time.perf_counter()
        node.observe(batch)
        published += node.publisher.publish_changes()
        busy += time.perf_counter() - t0
        await asyncio.sleep(0)  # let the acknowledgements of paho's writes in
    elapsed = time.perf_counter() - started
    connection = node.session.connection
    while connection is not None and connection.client.want_write() and time.perf_counter() - started < SECONDS + 60:
        await asyncio.sleep(0.001)  # paho's queue drains into the socket
    written_elapsed = time.perf_counter() - started
    sample = node.publisher.encode([(node.layout.by_name[("M000", "total_count")], time.time(), value, "good")],
                                   historical=False)
    await node.stop()
    return published, elapsed, written_elapsed, sample, busy


def paho_baseline(port: int, messages: int, payload: bytes) -> tuple[float, float]:
    """The same number of messages of the same size, pre-encoded, from a bare paho client."""
    written = threading.Semaphore(0)
    connected = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-paho")
    client.on_connect = lambda *_a: connected.set()
    client.on_publish = lambda *_a: written.release()
    client.connect("127.0.0.1", port)
    client.loop_start()
    connected.wait(10)
    topics = [f"spBv1.0/bench/DDATA/paho/M{m:03d}" for m in range(MACHINES)]
    started = time.perf_counter()
    for index in range(messages):
        client.publish(topics[index % MACHINES], payload, qos=0)
    publish_elapsed = time.perf_counter() - started
    for _ in range(messages):
        written.acquire(timeout=60)
    written_elapsed = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    return publish_elapsed, written_elapsed


def paho_unthreaded(port: int, messages: int, payload: bytes) -> float:
    """The same, with paho driven from the publishing thread (no network thread), as the edge node does."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-paho-1t")
    client.connect("127.0.0.1", port)
    while not client.is_connected():
        client.loop(0.05)
    topics = [f"spBv1.0/bench/DDATA/paho1t/M{m:03d}" for m in range(MACHINES)]
    started = time.perf_counter()
    for index in range(messages):
        client.publish(topics[index % MACHINES], payload, qos=0)  # written at once: no thread to wake
    while client.want_write():
        client.loop_write()
    elapsed = time.perf_counter() - started
    client.disconnect()
    return elapsed


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "mosquitto"
        directory.mkdir()
        broker = MosquittoBroker(directory).start()
        try:
            counter = Counter(broker.port, "spBv1.0/bench/DDATA/edge/#")
            published, elapsed, written_elapsed, payload, busy = asyncio.run(edge_run(broker.port))
            received = counter.finish()
            counter = Counter(broker.port, "spBv1.0/bench/DDATA/paho/#")
            paho_publish, paho_written = paho_baseline(broker.port, published, payload)
            paho_received = counter.finish()
            counter = Counter(broker.port, "spBv1.0/bench/DDATA/paho1t/#")
            unthreaded = paho_unthreaded(broker.port, published, payload)
            unthreaded_received = counter.finish()
        finally:
            broker.stop()
    print(f"edge node, {MACHINES} machines, one counter change each per round, DDATA QoS 0, "
          f"{len(payload)} bytes each; {os.cpu_count()} cores shared with other work")
    print(f"  published (handed to paho) : {published / elapsed:>10,.0f} DDATA/s  ({published:,} in {elapsed:.2f} s)")
    print(f"  written to the socket      : {published / written_elapsed:>10,.0f} DDATA/s")
    print(f"  received by a subscriber   : {received:>10,} of {published:,}")
    print(f"  of which observe + encode + paho.publish: {busy / published * 1e6:.1f} us/DDATA; the rest is the "
          "event loop writing the socket and building the sample batches")
    print(f"plain paho baseline, the same {published:,} payloads pre-encoded")
    print(f"  published                  : {published / paho_publish:>10,.0f} msg/s")
    print(f"  written to the socket      : {published / paho_written:>10,.0f} msg/s")
    print(f"  received by a subscriber   : {paho_received:>10,} of {published:,}")
    print("plain paho without its network thread, the same payloads")
    print(f"  published and written      : {published / unthreaded:>10,.0f} msg/s")
    print(f"  received by a subscriber   : {unthreaded_received:>10,} of {published:,}")


if __name__ == "__main__":
    main()
