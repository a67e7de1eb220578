"""One acquisition task per source: connect, read, reconnect with backoff and jitter.

Queue policy (QueueFullPolicy). Between a driver and the engine sits a queue
bounded by `queue_size` samples. When it is full:

* polled sources (Modbus, S7, Logix) WAIT: the driver's emit blocks, so the
  poll loop reads the device less often until the engine catches up. Nothing
  is lost; the device only sees fewer requests.
* subscription sources (OPC UA, MQTT) DROP the OLDEST batches: their library
  runs keep-alives and publish requests on the same loop, and a driver that
  stops taking notifications lets the server's queues overflow or the session
  time out. Dropping the oldest keeps the newest value of every tag, which for
  cumulative counters loses no parts (the next value carries the delta) and
  for states loses at most a short transition.

Whatever is dropped is counted in SourceHealth.dropped, logged at most once a
minute, and shown in each SourceStatus; nothing is dropped silently.

Offline marking. A source is stale when no data has arrived for twice its
expected interval (the poll interval, or the keep-alive of a subscription).
The runner then sends BAD samples for all its tags at once, so its machines go
offline within two intervals even while a request hangs on a device that
accepts TCP but never answers; the driver's own timeout then raises and the
runner reconnects. Counters are not touched by BAD samples, so nothing is
invented across the gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from oee_tui.config import SourceConfig, TagMapping
from oee_tui.drivers.base import Driver, DriverError
from oee_tui.drivers.registry import kind_named, kind_of
from oee_tui.model import BornMetrics, DeadLetter, Quality, SampleBatch, SampleColumns, SourceStatus, TagSample

log = logging.getLogger(__name__)

DriverFactory = Callable[[SourceConfig, Sequence[TagMapping]], Driver]

STALE_AFTER_INTERVALS: Final = 2.0
RATE_WINDOW_S: Final = 10.0  # reads per second are counted over this sliding window
LATENCY_WINDOW: Final = 256  # percentiles over the last this many successful reads
DROP_LOG_EVERY_S: Final = 60.0
# A driver that reports nothing at all (no read, no sample) for this many of its own
# timeouts beyond the stale mark is stuck in a call its timeout did not end: abandon it.
HUNG_AFTER_TIMEOUTS: Final = 3.0


class QueueFullPolicy(StrEnum):
    """What a source's emit does when the queue to the engine is full."""

    WAIT = "wait"  # backpressure: the poll loop slows, nothing is lost
    DROP_OLDEST = "drop oldest"  # the oldest queued batches go, counted as dropped


def queue_policy_for(kind: str) -> QueueFullPolicy:
    return QueueFullPolicy.DROP_OLDEST if kind_named(kind).subscribes else QueueFullPolicy.WAIT


def expected_interval_s(source: SourceConfig) -> float:
    """How often data (or, for a quiet subscription, a keep-alive) should arrive from `source`.

    A subscription sends data only on change; what must arrive regularly is
    the driver's connection check (drivers.base.keep_alive_interval_s).
    """
    return kind_of(source).expected_interval_s(source)


def backoff_delay(attempt: int, minimum: float, maximum: float, rng: random.Random) -> float:
    """Exponential backoff with full jitter, bounded by [minimum, maximum].

    Attempt k waits a uniform time in [minimum, minimum * 2**(k+1)], capped at
    maximum; the jitter starts with the first retry so that sources that lost
    one switch together do not all knock again at the same instant.
    """
    ceiling = min(maximum, minimum * (2 ** min(attempt + 1, 30)))
    return min(maximum, max(minimum, rng.uniform(minimum, ceiling)))


def percentile(ordered: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile of an ascending sequence; None when empty."""
    if not ordered:
        return None
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(slots=True)
class SourceHealth:
    """Live figures of one source, kept by its runner. Times ending in _mono are time.monotonic()."""

    name: str
    kind: str = ""
    expected_interval_s: float = 1.0
    connected: bool = False
    last_error: str | None = None
    last_error_at: float | None = None  # POSIX time
    # The newest error after it was cleared (the device answers again), with its POSIX time: a count of
    # errors on screen always has the words of the last one.
    previous_error: str | None = None
    previous_error_at: float | None = None
    connects: int = 0
    reconnects: int = 0
    errors: int = 0
    reads: int = 0
    failed_reads: int = 0
    samples: int = 0
    dropped: int = 0
    last_sample: float | None = None  # POSIX time of the newest batch
    last_data_mono: float | None = None  # newest batch or successful read
    next_retry_mono: float | None = None
    read_times: deque[float] = field(default_factory=deque)
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_WINDOW))
    first_read_mono: float | None = None

    def clear_error(self) -> None:
        """The device answers again: its error becomes the previous one, kept with when it happened."""
        if self.last_error is not None:
            self.previous_error, self.previous_error_at = self.last_error, self.last_error_at
        self.last_error = self.last_error_at = None

    def record_read(self, now: float, latency_s: float, ok: bool) -> None:
        self.reads += 1
        if self.first_read_mono is None:
            self.first_read_mono = now
        self.read_times.append(now)
        self._prune(now)
        if ok:
            self.latencies.append(latency_s)
            self.last_data_mono = now
        else:
            self.failed_reads += 1

    def _prune(self, now: float) -> None:
        times = self.read_times
        while times and times[0] < now - RATE_WINDOW_S:
            times.popleft()

    def reads_per_s(self, now: float) -> float:
        self._prune(now)
        if self.first_read_mono is None:
            return 0.0
        span = min(RATE_WINDOW_S, now - self.first_read_mono)
        return len(self.read_times) / max(span, 1.0)

    def latency_percentiles(self) -> tuple[float | None, float | None]:
        ordered = sorted(self.latencies)
        return percentile(ordered, 0.50), percentile(ordered, 0.95)

    def is_stale(self, now: float) -> bool:
        last = self.last_data_mono
        return last is None or now - last > STALE_AFTER_INTERVALS * self.expected_interval_s

    @property
    def next_retry_in_s(self) -> float | None:
        if self.next_retry_mono is None:
            return None
        return max(0.0, self.next_retry_mono - time.monotonic())


Batch = list[TagSample] | SampleColumns  # as queued: never a view of a list the driver goes on filling


def _queued(batch: SampleBatch) -> Batch:
    return batch if isinstance(batch, SampleColumns) else list(batch)


class SampleQueue:
    """A FIFO of sample batches bounded by the number of samples it holds.

    One batch larger than the whole capacity is still taken when the queue is
    empty, so a big source can never deadlock against a small setting.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self.samples = 0
        self._batches: deque[Batch] = deque()
        self._not_empty = asyncio.Event()
        self._has_room = asyncio.Event()

    def _fits(self, size: int) -> bool:
        return not self._batches or self.samples + size <= self.capacity

    def qsize(self) -> int:
        return len(self._batches)

    def empty(self) -> bool:
        return not self._batches

    def _append(self, batch: Batch) -> None:
        self._batches.append(batch)
        self.samples += len(batch)
        self._not_empty.set()

    async def put(self, batch: Batch) -> None:
        """Wait until the batch fits (backpressure), then queue it."""
        while not self._fits(len(batch)):
            self._has_room.clear()
            await self._has_room.wait()
        self._append(batch)

    def put_dropping_oldest(self, batch: Batch) -> int:
        """Queue the batch now; returns the number of samples dropped from the old end to make room."""
        dropped = 0
        while not self._fits(len(batch)):
            dropped += len(self._pop())
        self._append(batch)
        return dropped

    def _pop(self) -> Batch:
        batch = self._batches.popleft()
        self.samples -= len(batch)
        if not self._batches:
            self._not_empty.clear()
        self._has_room.set()
        return batch

    def get_nowait(self) -> Batch:
        if not self._batches:
            raise asyncio.QueueEmpty
        return self._pop()

    async def get(self) -> Batch:
        while not self._batches:
            self._not_empty.clear()
            await self._not_empty.wait()
        return self._pop()


class StalledDriverError(DriverError):
    """The driver reported nothing for far longer than its own timeout allows."""


class SourceRunner:
    """Runs one source until cancelled; restarts its driver whenever it fails."""

    def __init__(self, source: SourceConfig, tags: Sequence[TagMapping], factory: DriverFactory,
                 rng: random.Random | None = None, policy: QueueFullPolicy | None = None) -> None:
        self.source = source
        self.tags = tags
        self.factory = factory
        self.subscribes = kind_of(source).subscribes  # pushes changes; else polled at poll_interval_s
        self.policy = policy or queue_policy_for(source.kind)
        self.queue = SampleQueue(source.queue_size)
        self.interval_s = expected_interval_s(source)
        self.health = SourceHealth(source.name, source.kind, self.interval_s)
        self.rng = rng or random.Random()
        self._driver: Driver | None = None
        self._distinct_tags = sorted({mapping.tag for mapping in tags})
        # Machines start offline (no data yet): there is nothing to mark until data has come.
        self._marked_offline = True
        self._stale_reason: str | None = None
        self._connected_mono = time.monotonic()
        self._blocked = False  # emit is waiting for room in the queue
        self._last_call_mono = time.monotonic()  # newest sign of life from the driver: read, sample, connect
        self._reads_reported = False
        self._driver_dropped_before = 0  # drops counted inside drivers that have been replaced
        self._last_drop_log = -math.inf
        # Where a driver's undecodable messages go (the engine stores them); drivers that
        # receive payloads (MQTT) take it, the others have no such thing.
        self.on_dead_letter: Callable[[DeadLetter], None] | None = None
        # Where historical samples go (Sparkplug is_historical, e.g. an edge node's replayed
        # buffer): into the history (the samples table), never into live values.
        self.on_historical: Callable[[Sequence[TagSample]], None] | None = None
        # Where counter widths the driver learns go (tag -> bits, from a Sparkplug birth's datatypes).
        self.on_counter_widths: Callable[[Mapping[str, int]], None] | None = None
        # Where what the device announces of itself goes (the metrics of Sparkplug births).
        self.on_births: Callable[[Sequence[BornMetrics]], None] | None = None

    # ------------------------------------------------------------ from the driver

    def _on_read(self, latency_s: float, ok: bool) -> None:
        now = time.monotonic()
        self._last_call_mono = now
        self._reads_reported = True
        self.health.record_read(now, latency_s, ok)

    async def emit(self, batch: SampleBatch) -> None:
        if not batch:
            return
        items = _queued(batch)
        if self.policy is QueueFullPolicy.WAIT:
            self._blocked = True
            try:
                await self.queue.put(items)
            finally:
                self._blocked = False
        else:
            self._count_dropped(self.queue.put_dropping_oldest(items))
        self._delivered(len(items))

    def _delivered(self, count: int) -> None:
        # Counted once queued, so samples == taken by the engine + queued + dropped, always.
        self.health.samples += count
        self.health.last_sample = time.time()
        self.health.last_data_mono = self._last_call_mono = time.monotonic()
        self._marked_offline = False
        if self._stale_reason is not None and self.health.last_error == self._stale_reason:
            self.health.clear_error()  # the device answers again without a reconnect
        self._stale_reason = None

    def emit_nowait(self, batch: SampleBatch) -> None:
        """For callbacks that cannot await: always drops the oldest when full, counted."""
        if not batch:
            return
        items = _queued(batch)
        self._count_dropped(self.queue.put_dropping_oldest(items))
        self._delivered(len(items))

    def _count_dropped(self, dropped: int) -> None:
        if not dropped:
            return
        self.health.dropped += dropped
        now = time.monotonic()
        if now - self._last_drop_log >= DROP_LOG_EVERY_S:
            self._last_drop_log = now
            log.warning("source %s: engine is behind, queue of %d samples full; %d samples dropped so far "
                        "(policy: %s)", self.source.name, self.queue.capacity, self.dropped, self.policy.value)

    @property
    def dropped(self) -> int:
        """Samples dropped by the runner's queue and inside the driver's own buffer, if it has one."""
        current = getattr(self._driver, "dropped", 0) if self._driver is not None else 0
        return self.health.dropped + self._driver_dropped_before + (current if isinstance(current, int) else 0)

    # ------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        attempt = 0
        while True:
            driver = self.factory(self.source, self.tags)
            driver.on_read = self._on_read
            if self.on_dead_letter is not None and hasattr(driver, "on_dead_letter"):
                driver.on_dead_letter = self.on_dead_letter
            if self.on_historical is not None and hasattr(driver, "on_historical"):
                driver.on_historical = self.on_historical
            if self.on_counter_widths is not None and hasattr(driver, "on_counter_widths"):
                driver.on_counter_widths = self.on_counter_widths
            if self.on_births is not None and hasattr(driver, "on_births"):
                driver.on_births = self.on_births
            self._driver = driver
            try:
                self._last_call_mono = time.monotonic()
                await asyncio.wait_for(driver.connect(), timeout=driver.connect_timeout_s)
                self.health.connected = True
                self.health.connects += 1
                if self.health.connects > 1:
                    self.health.reconnects += 1
                self.health.clear_error()
                self.health.next_retry_mono = None
                self._last_call_mono = self._connected_mono = time.monotonic()
                attempt = 0
                await self._run_watched(driver)
                raise ConnectionError("driver stopped without an error")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure of a device must not kill acquisition
                self.health.errors += 1
                self.health.last_error = _describe(exc)
                self.health.last_error_at = time.time()
                log.warning("source %s: %s", self.source.name, self.health.last_error)
            finally:
                self.health.connected = False
                with contextlib.suppress(Exception):
                    await driver.close()
                dropped = getattr(driver, "dropped", 0)
                self._driver_dropped_before += dropped if isinstance(dropped, int) else 0
                self._driver = None
            await self._mark_offline(self.health.last_error or "disconnected")
            delay = backoff_delay(attempt, self.source.reconnect_min_s, self.source.reconnect_max_s, self.rng)
            self.health.next_retry_mono = time.monotonic() + delay
            attempt += 1
            await asyncio.sleep(delay)

    async def _run_watched(self, driver: Driver) -> None:
        """driver.run() alongside the watch that marks silence and abandons a stuck driver."""
        running = asyncio.ensure_future(driver.run(self.emit))
        watch = asyncio.ensure_future(self._watch())
        try:
            done, _ = await asyncio.wait({running, watch}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (running, watch):
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(BaseException):
                        await task
        (running if running in done else watch).result()

    def _judged_by_silence(self) -> bool:
        # A polled driver emits every poll. A quiet subscription sends nothing, so its silence
        # means something only from a driver that reports its keep-alive checks as reads.
        return not self.subscribes or self._reads_reported

    async def _watch(self) -> None:
        """Sleeps until the source would turn stale (or the driver count as stuck), then judges."""
        interval = self.interval_s
        stale_after = STALE_AFTER_INTERVALS * interval
        hung_after = stale_after + HUNG_AFTER_TIMEOUTS * self.source.timeout_s
        while True:
            now = time.monotonic()
            if self._blocked or not self._judged_by_silence():
                await asyncio.sleep(interval / 2)  # the engine is behind, not the device; or no way to judge
                continue
            # A fresh connection gets its two intervals to deliver before its silence counts.
            stale_at = max(self.health.last_data_mono or -math.inf, self._connected_mono) + stale_after
            if not self._marked_offline and now >= stale_at:
                reason = f"no data for over {stale_after:g} s"
                self._stale_reason = self.health.last_error = reason
                self.health.last_error_at = time.time()
                log.warning("source %s: %s; its machines are offline until data returns", self.source.name, reason)
                await self._mark_offline(reason)
                continue
            silent = now - self._last_call_mono
            if silent > hung_after:
                raise StalledDriverError(f"no answer or error for {silent:.1f} s; reconnecting")
            wake_at = self._last_call_mono + hung_after
            if not self._marked_offline:
                wake_at = min(wake_at, stale_at)
            await asyncio.sleep(min(max(wake_at - now, 0.0) + 0.001, interval))

    async def _mark_offline(self, error: str) -> None:
        """Tell the engine every tag of this source is bad, so its machines go offline."""
        self._marked_offline = True
        now = time.time()
        batch = [TagSample(now, self.source.name, tag, None, Quality.BAD, error) for tag in self._distinct_tags]
        if not batch:
            return
        if self.policy is QueueFullPolicy.WAIT:
            await self.queue.put(batch)
        else:
            self._count_dropped(self.queue.put_dropping_oldest(batch))

    # ------------------------------------------------------------ for the snapshot

    def is_stale(self, now: float) -> bool:
        # While emit waits for room the engine is behind, not the device.
        return not self._blocked and self.health.is_stale(now)

    @property
    def online(self) -> bool:
        return self.health.connected and not self.is_stale(time.monotonic())

    def status(self) -> SourceStatus:
        now = time.monotonic()
        health = self.health
        p50, p95 = health.latency_percentiles()
        return SourceStatus(
            name=health.name,
            kind=health.kind,
            connected=health.connected,
            stale=self.is_stale(now),
            last_error=health.last_error,
            previous_error=health.previous_error,
            previous_error_at=health.previous_error_at,
            last_data=health.last_sample,
            expected_interval_s=health.expected_interval_s,
            reads_per_s=health.reads_per_s(now),
            latency_p50_s=p50,
            latency_p95_s=p95,
            reads=health.reads,
            failed_reads=health.failed_reads,
            errors=health.errors,
            reconnects=health.reconnects,
            samples=health.samples,
            dropped=self.dropped,
            queued=self.queue.samples,
            policy=self.policy.value,
            next_retry_in_s=health.next_retry_in_s,
        )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out connecting"
    text = str(exc) or type(exc).__name__
    return text if len(text) < 300 else text[:297] + "..."
