"""Source kind "sparkplug" runs its host application in a worker process: what crosses the pipe, and
what happens when either side goes away. Real Mosquitto, real edge node, real worker processes."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from oee_tui.config import TagMapping
from oee_tui.drivers.base import DriverError
from oee_tui.drivers.registry import make_driver
from oee_tui.drivers.sparkplug.process import SparkplugProcessDriver
from oee_tui.drivers.sparkplug.sparkplug_source import SparkplugSource
from oee_tui.model import Quality, SampleBatch, SampleColumns, Signal, TagSample
from oee_tui.mqtt.sparkplug_codec import DataType, MessageType, MetricSpec
from oee_tui.mqtt.sparkplug_codec import parse_state as parse_state_payload
from tests.mqtt.broker import MosquittoBroker, SampleCollector, free_port, mqtt_client, stop_client
from tests.mqtt.test_sparkplug_broker import DEVICE, DEVICE_METRICS, PREFIX, TIMEOUT, edge_node, is_value, running

ROOT = Path(__file__).resolve().parents[2]


def source(port: int, **values: object) -> SparkplugSource:
    return SparkplugSource(**{"name": "broker", "host": "127.0.0.1", "port": port,
                           "timeout_s": 5.0, **values})  # type: ignore[arg-type]


def process_driver(port: int, *tags: str, **values: object) -> SparkplugProcessDriver:
    mappings = [TagMapping(signal=Signal.TOTAL_COUNT, source="broker", tag=name) for name in tags]
    driver = make_driver(source(port, **values), mappings, config_path=None)
    assert isinstance(driver, SparkplugProcessDriver)  # what the engine gets for kind "sparkplug"
    return driver


class BatchCollector(SampleCollector):
    """Keeps the batches as emitted too: GOOD samples must reach the engine as columns."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[SampleBatch] = []

    async def __call__(self, batch: Sequence[TagSample] | SampleColumns) -> None:
        self.batches.append(batch)
        await super().__call__(list(batch))


def state_of(port: int, host_id: str) -> tuple[bool, bool]:
    """(online, retained) of the STATE a client connecting now is given."""
    client, seen = mqtt_client(port, f"late-{time.monotonic_ns()}", subscribe=[f"spBv1.0/STATE/{host_id}"])
    try:
        _topic, payload, retained = seen.wait_for(lambda *_: True, TIMEOUT)
        return parse_state_payload(payload)[0], retained
    finally:
        stop_client(client)


def gone(pid: int) -> bool:
    """True once `pid` has exited (a zombie nobody has reaped yet counts as exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


async def test_data_history_dead_letters_and_logs_cross_from_the_host_process(
        broker: MosquittoBroker, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    collector = BatchCollector()
    driver = process_driver(broker.port, f"{PREFIX}/Count", f"{PREFIX}/State", group_ids=("plant",))
    garbage = b"\x00\xffnot protobuf"
    async with running(driver, collector):
        assert driver.pid is not None and driver.pid != os.getpid()
        with edge_node(broker.port, bd_seq=4) as edge:
            await asyncio.to_thread(edge.nbirth, [])
            await asyncio.to_thread(edge.dbirth, DEVICE, DEVICE_METRICS)
            await collector.wait_for(is_value(f"{PREFIX}/Count", 10), TIMEOUT)
            await asyncio.to_thread(edge.ddata, DEVICE, [
                MetricSpec("Count", DataType.UInt32, 11, alias=11),
                MetricSpec("Count", DataType.UInt32, 7, alias=11, timestamp_ms=1_600_000_000_000,
                           is_historical=True)])
            await collector.wait_for(is_value(f"{PREFIX}/Count", 11), TIMEOUT)
            await asyncio.to_thread(edge.publish, MessageType.DDATA, garbage, DEVICE)
            await asyncio.to_thread(edge.ddata, DEVICE, [MetricSpec("Count", DataType.UInt32, 12, alias=11)])
            await collector.wait_for(is_value(f"{PREFIX}/Count", 12), TIMEOUT)
            # The node dies without a word: its metrics go BAD, with the reason, through the pipe.
            await asyncio.to_thread(edge.client.socket().shutdown, 2)
            bad = await collector.wait_for(is_value(f"{PREFIX}/Count", None, Quality.BAD), TIMEOUT)
            assert bad.error is not None and "NDEATH" in bad.error
    # Mapped tags only, under the source's name, with the metrics' own timestamps.
    assert {sample.tag for sample in collector.samples} == {f"{PREFIX}/Count", f"{PREFIX}/State"}
    assert {sample.source for sample in collector.samples} == {"broker"}
    assert any(isinstance(batch, SampleColumns) for batch in collector.batches)
    # History went to history, not to live values.
    [history] = list(driver.historical)
    assert (history.tag, history.value, history.ts_utc) == (f"{PREFIX}/Count", 7, 1_600_000_000.0)
    assert 7 not in [sample.value for sample in collector.samples]
    # The undecodable payload is a dead letter with its raw bytes, counted, and logged here.
    [letter] = list(driver.dead_letters)
    assert (letter.topic, letter.payload, letter.source) == (f"spBv1.0/plant/DDATA/line1/{DEVICE}", garbage,
                                                            "broker")
    assert driver.dead_letter_count == 1
    assert any(record.name == "oee_tui.drivers.mqtt_base" and "dead letter" in record.getMessage()
               for record in caplog.records)


async def test_close_publishes_state_offline_and_the_process_exits(broker: MosquittoBroker) -> None:
    driver = process_driver(broker.port, host_id="proc-close", password="s3cret-pw", username="oee")
    async with running(driver, SampleCollector()):
        pid = driver.pid
        assert pid is not None
        assert await asyncio.to_thread(state_of, broker.port, "proc-close") == (True, True)
        # The password travels through the pipe, never on the command line or in the environment.
        assert b"s3cret-pw" not in Path(f"/proc/{pid}/cmdline").read_bytes()
        assert b"s3cret-pw" not in Path(f"/proc/{pid}/environ").read_bytes()
    assert driver.pid is None and gone(pid)
    assert await asyncio.to_thread(state_of, broker.port, "proc-close") == (False, True)


async def test_a_broker_that_is_not_there_fails_connect_with_the_hosts_reason() -> None:
    driver = process_driver(free_port())
    try:
        with pytest.raises(DriverError, match=r"sparkplug mqtt://127\.0\.0\.1:\d+: cannot connect"):
            await asyncio.wait_for(driver.connect(), driver.connect_timeout_s)
    finally:
        await driver.close()
    assert driver.pid is None


async def test_a_lost_broker_ends_run_with_the_hosts_reason(broker: MosquittoBroker) -> None:
    driver = process_driver(broker.port)
    async with running(driver, SampleCollector()) as task:
        await asyncio.to_thread(broker.restart)
        with pytest.raises(DriverError, match="connection lost"):
            await asyncio.wait_for(task, TIMEOUT)


async def test_a_host_process_that_dies_ends_run_and_its_will_says_offline(broker: MosquittoBroker) -> None:
    driver = process_driver(broker.port, host_id="proc-killed")
    async with running(driver, SampleCollector()) as task:
        assert driver.pid is not None
        os.kill(driver.pid, signal.SIGKILL)
        with pytest.raises(DriverError, match=r"host process ended unexpectedly \(exit code -9\)"):
            await asyncio.wait_for(task, TIMEOUT)
    assert await asyncio.to_thread(state_of, broker.port, "proc-killed") == (False, True)


ENGINE = """
import asyncio, sys
from oee_tui.drivers.registry import make_driver
from oee_tui.drivers.sparkplug.sparkplug_source import SparkplugSource

async def main() -> None:
    driver = make_driver(SparkplugSource(name="uns", host="127.0.0.1", port=int(sys.argv[1]), host_id="proc-orphan"),
                         [], config_path=None)
    await driver.connect()
    print(driver.pid, flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


async def test_the_host_process_leaves_when_the_engine_is_killed(broker: MosquittoBroker) -> None:
    engine = subprocess.Popen([sys.executable, "-c", ENGINE, str(broker.port)], stdout=subprocess.PIPE, text=True,
                              cwd=ROOT)
    try:
        assert engine.stdout is not None
        worker = int(await asyncio.wait_for(asyncio.to_thread(engine.stdout.readline), 3 * TIMEOUT))
        assert await asyncio.to_thread(state_of, broker.port, "proc-orphan") == (True, True)
        engine.kill()  # no chance to close anything: only the pipe tells the worker
        deadline = time.monotonic() + TIMEOUT
        while not gone(worker):
            assert time.monotonic() < deadline, "the host process outlived its engine"
            await asyncio.sleep(0.05)
        assert await asyncio.to_thread(state_of, broker.port, "proc-orphan") == (False, True)
    finally:
        engine.kill()
        engine.wait()


async def test_closing_while_the_host_still_connects_stops_it_at_once() -> None:
    """The runner's connect timeout ran out (a broker that accepts TCP and never answers):
    close() must not wait for the worker's own, longer, timeouts."""
    silent = socket.create_server(("127.0.0.1", 0))
    try:
        driver = process_driver(silent.getsockname()[1], timeout_s=30.0)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(driver.connect(), 2.0)
        pid = driver.pid
        assert pid is not None
        started = time.monotonic()
        await driver.close()
        assert time.monotonic() - started < 2.0
        assert gone(pid)
    finally:
        silent.close()
