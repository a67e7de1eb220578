"""Per-source health, the queue-full policy and offline marking, against a real pymodbus server.

The device side is real: an in-process pymodbus server on a free loopback port,
and for a device that accepts TCP but stops answering, a plain TCP relay in
front of it that can be frozen. Timing limits allow for a loaded 2-core box.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any

import pytest
import pytest_asyncio

from oee_tui.config import Config, LineConfig, MachineConfig, ShiftConfig, SiteConfig, SourceConfig, TagMapping
from oee_tui.drivers.opcua.opcua_source import OpcUaSource
from oee_tui.drivers.registry import make_driver
from oee_tui.engine.live.acquisition import (
    QueueFullPolicy,
    SampleQueue,
    SourceRunner,
    backoff_delay,
    expected_interval_s,
    percentile,
    queue_policy_for,
)
from oee_tui.engine.live.engine import Engine
from oee_tui.model import MachineState, Quality, Signal, SourceStatus, TagSample
from tests.drivers.conftest import ModbusSim, modbus_source
from tests.support.waiting import until

SLACK_S = 0.3  # scheduling slack on a loaded machine


@pytest_asyncio.fixture
async def server() -> AsyncIterator[ModbusSim]:
    sim = ModbusSim()
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


class FreezableRelay:
    """A TCP relay to the server; frozen, it keeps accepting and reading but never answers."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.frozen = False
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter, answers: bool) -> None:
            with contextlib.suppress(Exception):
                while data := await source.read(4096):
                    if answers and self.frozen:
                        continue  # the device swallows the request's answer
                    sink.write(data)
                    await sink.drain()

        tasks = [asyncio.create_task(pump(reader, up_writer, False)),
                 asyncio.create_task(pump(up_reader, writer, True))]
        self._tasks.update(tasks)
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        for stream in (writer, up_writer):
            stream.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()


def plant(source: SourceConfig) -> Config:
    count = TagMapping(Signal.TOTAL_COUNT, source.name, "hr:0", "uint16", width=16)
    # A fast machine (100 parts/s): the 5 parts of one poll and the 30 after a restart are parts
    # it can have made, so they are counted (counter jumps: tests/drivers/modbus/test_counter_restart.py).
    machine = MachineConfig(id="M1", name="Filler", line="L1", ideal_cycle_time_s=0.01,
                            signals={Signal.TOTAL_COUNT: count})
    return Config(site=SiteConfig("Test plant", "UTC"), lines=(LineConfig("L1", "Line 1", "A"),),
                  machines=(machine,), sources=(source,), reasons=(),
                  shifts=(ShiftConfig("Day", "00:00", "00:00"),))


@contextlib.asynccontextmanager
async def running_engine(source: SourceConfig) -> AsyncIterator[Engine]:
    engine = Engine(plant(source), store=None, tick_s=0.05)
    await engine.start()
    try:
        yield engine
    finally:
        await engine.stop()


def counted(engine: Engine) -> int:
    return sum(total for total, _reject in engine.machines["M1"].recent_counts.values())


def source_status(engine: Engine) -> SourceStatus:
    [status] = engine.tick().sources
    return status


def machine_offline(engine: Engine) -> bool:
    [row] = engine.tick().machines
    return row.state is MachineState.OFFLINE and row.stale


# ---------------------------------------------------------------- pure parts


def test_backoff_grows_exponentially_with_jitter_and_stays_within_limits() -> None:
    rng = random.Random(42)
    minimum, maximum = 0.5, 30.0
    for attempt in range(40):
        delays = [backoff_delay(attempt, minimum, maximum, rng) for _ in range(200)]
        assert all(minimum <= d <= maximum for d in delays), attempt
        assert max(delays) <= min(maximum, minimum * 2 ** (attempt + 1)) + 1e-9
        assert len(set(delays)) > 100, "jittered from the first retry on"
    late = [backoff_delay(20, minimum, maximum, rng) for _ in range(500)]
    assert max(late) > 0.9 * maximum and min(late) < 0.3 * maximum  # full jitter over the range
    assert backoff_delay(3, 2.0, 2.0, rng) == 2.0  # min == max: no room to jitter


def test_percentiles_are_nearest_rank() -> None:
    ordered = [float(i) for i in range(1, 101)]
    assert percentile(ordered, 0.5) == 50.0 and percentile(ordered, 0.95) == 95.0
    assert percentile([0.2], 0.95) == 0.2 and percentile([], 0.5) is None


def test_policy_and_expected_interval_follow_the_kind_of_source() -> None:
    assert queue_policy_for("modbus") is queue_policy_for("s7") is queue_policy_for("logix") is QueueFullPolicy.WAIT
    assert queue_policy_for("opcua") is QueueFullPolicy.DROP_OLDEST
    assert expected_interval_s(modbus_source(502, poll_interval_s=0.25)) == 0.25
    opcua = OpcUaSource(name="ua", publishing_interval_ms=2000)
    assert expected_interval_s(opcua) == 4.0  # the keep-alive check, not the data changes
    assert expected_interval_s(OpcUaSource(name="ua", publishing_interval_ms=50)) == 1.0


async def test_sample_queue_bounds_samples_and_drops_oldest_whole_batches() -> None:
    queue = SampleQueue(4)
    batches = [[TagSample(float(i), "plc", f"t{j}", i) for j in range(2)] for i in range(4)]
    assert queue.put_dropping_oldest(batches[0]) == 0
    assert queue.put_dropping_oldest(batches[1]) == 0
    assert queue.put_dropping_oldest(batches[2]) == 2  # the oldest batch made room
    assert queue.samples == 4 and await queue.get() == batches[1]
    waiting = asyncio.create_task(queue.put(batches[3]))
    await asyncio.sleep(0.01)
    assert waiting.done()  # room for 2 more
    blocked = asyncio.create_task(queue.put(batches[0]))
    await asyncio.sleep(0.01)
    assert not blocked.done()
    assert queue.get_nowait() == batches[2]
    await asyncio.wait_for(blocked, 1)
    assert [await queue.get(), await queue.get()] == [batches[3], batches[0]]
    assert queue.empty()
    big = [TagSample(0.0, "plc", f"t{j}", j) for j in range(9)]
    await asyncio.wait_for(queue.put(big), 1)  # larger than the queue, taken when it is empty


# ---------------------------------------------------------------- against a real server


async def test_health_counts_reads_per_second_and_latency(server: ModbusSim) -> None:
    source = modbus_source(server.port, poll_interval_s=0.1, timeout_s=1.0)
    async with running_engine(source) as engine:
        runner = engine.runners[0]
        await until(lambda: runner.health.reads >= 12, timeout=5)
        status = source_status(engine)
    assert status.online and status.connected and not status.stale
    assert (status.name, status.kind, status.policy) == ("plc", "modbus", "wait")
    assert 5.0 <= status.reads_per_s <= 12.0, status.reads_per_s
    assert status.latency_p50_s is not None and status.latency_p95_s is not None
    assert 0 < status.latency_p50_s <= status.latency_p95_s < 0.1
    assert status.failed_reads == status.errors == status.reconnects == status.dropped == 0
    assert status.samples >= status.reads - 1  # one tag, one request, one sample per poll
    assert status.last_error is None and status.expected_interval_s == 0.1


async def test_stopped_server_goes_offline_within_two_intervals_and_comes_back(server: ModbusSim) -> None:
    interval = 0.2
    await server.set("hr", 0, [100])
    source = modbus_source(server.port, poll_interval_s=interval, timeout_s=0.5,
                           reconnect_min_s=0.1, reconnect_max_s=0.5)
    async with running_engine(source) as engine:
        await until(lambda: source_status(engine).online and not machine_offline(engine), timeout=5)
        await server.set("hr", 0, [105])
        await until(lambda: counted(engine) == 5, timeout=5)

        port = server.port
        stopped = time.monotonic()
        await server.stop()
        took = await until(lambda: machine_offline(engine) and not source_status(engine).online, timeout=3)
        assert took <= 2 * interval + SLACK_S, took
        status = source_status(engine)
        assert not status.connected and status.errors >= 1 and status.last_error
        # Refused reconnects are counted as errors; no counts are made up while it is away.
        await until(lambda: source_status(engine).errors >= 3, timeout=5)
        await asyncio.sleep(max(0.0, stopped + 4 * interval - time.monotonic()))
        assert counted(engine) == 5 and machine_offline(engine)

        await server.start(port)  # same port, fresh registers: the PLC restarted and its counter reset
        await server.set("hr", 0, [30])
        back = await until(lambda: source_status(engine).online and not machine_offline(engine),
                           timeout=source.reconnect_max_s + source.timeout_s + 2)
        assert back <= source.reconnect_max_s + source.timeout_s + SLACK_S, back
        await until(lambda: counted(engine) == 35, timeout=3)
        await asyncio.sleep(3 * interval)
        status = source_status(engine)
    assert counted(engine) == 35, "after the reset, the 30 parts since it and nothing else"
    assert status.reconnects == 1 and status.last_error is None
    # The errors counted keep the words of the last one, and when (the Devices screen shows them, dim).
    assert status.previous_error and status.previous_error_at is not None
    assert status.previous_error_at <= time.time()


async def test_device_that_stops_answering_is_offline_within_two_intervals(server: ModbusSim) -> None:
    interval = 0.2
    relay = FreezableRelay(server.port)
    await relay.start()
    source = modbus_source(relay.port, poll_interval_s=interval, timeout_s=0.4,
                           reconnect_min_s=0.1, reconnect_max_s=0.4)
    try:
        async with running_engine(source) as engine:
            tracker = engine.machines["M1"]
            await until(lambda: source_status(engine).online and not machine_offline(engine), timeout=5)
            relay.frozen = True
            await until(lambda: machine_offline(engine), timeout=3)
            assert tracker.last_good is not None
            silent_for = time.time() - tracker.last_good  # last data in, to machine offline
            assert silent_for <= 2 * interval + SLACK_S, silent_for
            status = source_status(engine)
            assert status.stale and not status.online and "no data" in (status.last_error or "")
            # The request hangs; the driver's own timeout raises and the runner reconnects.
            await until(lambda: source_status(engine).errors >= 1, timeout=4 * source.timeout_s + 2)
            assert source_status(engine).failed_reads >= 1
            assert machine_offline(engine)

            relay.frozen = False
            await until(lambda: source_status(engine).online and not machine_offline(engine),
                        timeout=source.reconnect_max_s + 3 * source.timeout_s + 2)
    finally:
        await relay.stop()


# ---------------------------------------------------------------- a full queue under each policy


async def _fill_then_drain(server: ModbusSim, policy: QueueFullPolicy,
                           while_full: Callable[[SourceRunner], Awaitable[Any]]) -> tuple[SourceRunner, int]:
    """A runner polling every 20 ms into a 3-sample queue that nobody reads for a while; then drain it all."""
    source = modbus_source(server.port, poll_interval_s=0.02, queue_size=3)
    runner = SourceRunner(source, [TagMapping(Signal.TOTAL_COUNT, "plc", "hr:0", "uint16", width=16)],
                          partial(make_driver, config_path=None), policy=policy)
    task = asyncio.create_task(runner.run())
    received = 0
    try:
        await until(lambda: runner.queue.samples == 3, timeout=5)
        await while_full(runner)
        for _ in range(5):  # a slow consumer
            received += len(await asyncio.wait_for(runner.queue.get(), 2))
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    while not runner.queue.empty():
        batch = runner.queue.get_nowait()
        assert all(sample.quality is Quality.GOOD for sample in batch)
        received += len(batch)
    return runner, received


async def test_full_queue_waits_for_polled_sources_and_loses_nothing(server: ModbusSim) -> None:
    async def reads_pause(runner: SourceRunner) -> None:
        await asyncio.sleep(0.1)
        before = runner.health.reads
        await asyncio.sleep(0.3)  # 15 poll intervals
        assert runner.health.reads == before, "a blocked emit holds the poll loop: nobody reads the device"
        assert runner.status().queued == 3 and runner.status().online

    runner, received = await _fill_then_drain(server, QueueFullPolicy.WAIT, reads_pause)
    status = runner.status()
    assert status.policy == "wait" and status.dropped == 0
    assert received == status.samples >= 8


async def test_full_queue_drops_oldest_for_subscriptions_and_counts_every_sample(
        server: ModbusSim, caplog: pytest.LogCaptureFixture) -> None:
    async def polls_go_on(runner: SourceRunner) -> None:
        before = runner.health.reads
        await until(lambda: runner.health.dropped >= 10, timeout=5)
        assert runner.health.reads >= before + 10, "the source is never held up"

    with caplog.at_level(logging.WARNING, logger="oee_tui.engine.live.acquisition"):
        runner, received = await _fill_then_drain(server, QueueFullPolicy.DROP_OLDEST, polls_go_on)
    status = runner.status()
    assert status.policy == "drop oldest" and status.dropped >= 10
    assert status.samples == received + status.dropped, "every sample is either taken or counted as dropped"
    drop_logs = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert len(drop_logs) == 1, "logged once a minute, not once per drop"
