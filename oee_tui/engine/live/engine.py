"""The engine: acquisition tasks in, machine facts and snapshots out, store behind.

Everything runs on one asyncio loop except store I/O, which goes to a single
writer thread so DuckDB has exactly one writer and the loop never blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from itertools import repeat
from typing import Any, TypeVar, TypeVarTuple

from oee_tui.config import Config, MachineConfig, Reason, SourceConfig, TagMapping
from oee_tui.drivers.registry import make_driver
from oee_tui.engine.live.acquisition import DriverFactory, SourceHealth, SourceRunner
from oee_tui.engine.live.machine import MachineTracker
from oee_tui.engine.live.observers import EngineContext, EngineObserver
from oee_tui.engine.oee.calculator import lines_and_plant, machine_oee_from_counts
from oee_tui.engine.oee.planning_rules import MachinePlan, Planning
from oee_tui.engine.oee.shifts import ShiftCalendar
from oee_tui.model import (
    COUNTER_SIGNALS,
    CountBucket,
    DeadLetter,
    MachineDetail,
    MachineSnapshot,
    MachineState,
    OeeResult,
    PlantSnapshot,
    Quality,
    ReasonTotal,
    SampleColumns,
    Signal,
    Span,
    StateInterval,
    TagSample,
    TrendPoint,
)
from oee_tui.store import PlanningError, Store

log = logging.getLogger(__name__)
T = TypeVar("T")
Ts = TypeVarTuple("Ts")
_GOOD = Quality.GOOD
# Quality.value is an enum property, as slow as the rest of a sample's bookkeeping: ingest
# reads the text from this dict instead.
_QUALITY_TEXT = {quality: quality.value for quality in Quality}


@dataclass(slots=True)
class _TagRoute:
    targets: tuple[tuple[MachineTracker, Signal], ...]
    deadband: float
    last_value: Any = None
    last_quality: Any = None


@dataclass(frozen=True, slots=True)
class ReloadSummary:
    """What a reload changed: the sources reconnected (added, changed or removed) and machines dropped."""

    sources_restarted: tuple[str, ...]
    machines_removed: tuple[str, ...]


@dataclass(slots=True)
class EngineStats:
    samples_in: int = 0
    samples_stored: int = 0
    unknown_tags: int = 0
    flushes: int = 0
    flush_errors: int = 0
    last_flush_error: str | None = None


class Engine:
    """Implements oee_tui.engine.api.PlantEngine."""

    def __init__(self, config: Config, store: Store | None, *, clock: Callable[[], float] = time.time,
                 driver_factory: DriverFactory | None = None, tick_s: float = 1.0,
                 flush_interval_s: float = 2.0, acquire: bool = True, summary_delay_s: float = 60.0,
                 summary_every_s: float = 3600.0) -> None:
        """`acquire=False` starts no source tasks: samples then come only through ingest()
        (benchmarks, replays). `summary_delay_s` after start, and every `summary_every_s` after
        that, the engine saves the day summaries of the last SUMMARY_DAYS days that are missing
        (oee_tui.engine.analysis.day_summaries), so that reviewing weeks and months finds them saved.
        Without a `driver_factory` each source gets its kind's driver, with the config's own path
        (OPC-UA's certificates are beside the file)."""
        self.config = config
        self.acquire = acquire
        self.store = store
        self.clock = clock
        self.driver_factory = driver_factory
        self.tick_s = tick_s
        self.flush_interval_s = flush_interval_s
        self.summary_delay_s = summary_delay_s
        self.summary_every_s = summary_every_s
        self.calendar = ShiftCalendar(config.shifts, config.site.timezone)
        self.reasons: dict[str, Reason] = {reason.code: reason for reason in config.reasons}
        self.planning = Planning.empty()  # imported planning data; start() and reload_planning() load it
        self.stats = EngineStats()
        now = clock()
        self.machines: dict[str, MachineTracker] = {
            machine.id: MachineTracker(machine, config.site.stale_after_s, now) for machine in config.machines
        }
        self.routes: dict[tuple[str, str], _TagRoute] = self._build_routes()
        self.runners: list[SourceRunner] = []
        self._source_tasks: dict[str, list[asyncio.Task[None]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="oee-store")
        self._sample_columns: tuple[list[float], list[str], list[str], list[float | None], list[str | None],
                                    list[str]] = ([], [], [], [], [], [])
        self._snapshot = PlantSnapshot(ts=now, shift=None, machines=())
        self._snapshot_stale = False  # True after a tick until snapshot() rebuilds it
        self._dead_letters: list[DeadLetter] = []  # undecodable payloads, stored at the next flush
        self._history: list[TagSample] = []  # historical samples (Sparkplug), stored at the next flush
        self._started = False
        self._stopped = False
        self._flush_lock = asyncio.Lock()
        self._last_trim = now
        # Set when a source goes offline or comes back, so the snapshot shows it without
        # waiting for the next regular tick.
        self._tick_now = asyncio.Event()
        # Set after an import (reload_planning), which deletes every saved day summary.
        self._summaries_wanted = asyncio.Event()
        # What observes the engine's output (see observers.py): the Sparkplug edge node when
        # [edge] is enabled, attached by oee_tui.runtime.build_engine.
        self.observers: list[EngineObserver] = []

    # ------------------------------------------------------------ wiring

    def add_observer(self, observer: EngineObserver) -> None:
        """Before start(): the engine starts it, hands it every batch, reloads and stops it."""
        if self._started:
            raise RuntimeError("an observer is added before the engine starts")
        self.observers.append(observer)

    def _build_routes(self) -> dict[tuple[str, str], _TagRoute]:
        targets: dict[tuple[str, str], list[tuple[MachineTracker, Signal]]] = {}
        deadbands: dict[tuple[str, str], float] = {}
        for machine in self.config.machines:
            for signal, mapping in machine.signals.items():
                key = (mapping.source, mapping.tag)
                targets.setdefault(key, []).append((self.machines[machine.id], signal))
                # Counters are kept exactly: a deadband on a counter would hide parts.
                deadband = 0.0 if signal in COUNTER_SIGNALS else mapping.deadband
                deadbands[key] = max(deadbands.get(key, 0.0), deadband)
        self._fed_by: dict[str, list[MachineTracker]] = {}
        for (source, _tag), value in targets.items():
            fed = self._fed_by.setdefault(source, [])
            fed.extend(tracker for tracker, _signal in value if tracker not in fed)
        routes = {key: _TagRoute(tuple(value), deadbands[key]) for key, value in targets.items()}
        self._routes_by_source: dict[str, dict[str, _TagRoute]] = {}
        for (source, tag), route in routes.items():
            self._routes_by_source.setdefault(source, {})[tag] = route
        return routes

    def tags_of(self, source: str) -> list[TagMapping]:
        return [
            mapping
            for machine in self.config.machines
            for mapping in machine.signals.values()
            if mapping.source == source
        ]

    @property
    def health(self) -> list[SourceHealth]:
        return [runner.health for runner in self.runners]

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        if self.store is not None:
            try:
                await self.reload_planning()
            except PlanningError:  # the plant runs on, without the unreadable planning data
                log.exception("the planning data in the store cannot be used; running on the config alone")
            await self._load_current_shift()
        for source in self.config.sources if self.acquire else ():
            self._start_source(source)
        self._tasks.append(asyncio.create_task(self._tick_loop(), name="engine:tick"))
        self._tasks.append(asyncio.create_task(self._flush_loop(), name="engine:flush"))
        if self.store is not None:
            self._tasks.append(asyncio.create_task(self._summary_loop(), name="engine:day-summaries"))
        context = EngineContext(self.store, self._in_writer, self.clock)
        for observer in self.observers:
            await observer.start(context)

    def _keep_history(self, samples: Sequence[TagSample]) -> None:
        # Stored at the next flush like live samples, but not routed: history never moves live values.
        self._history.extend(samples)

    def _keep_dead_letter(self, letter: DeadLetter) -> None:
        # Looked up on every call: flush() swaps in a new list, which a bound list.append would miss.
        self._dead_letters.append(letter)

    def _start_source(self, source: SourceConfig) -> None:
        tags = self.tags_of(source.name)
        if not tags:
            return
        factory = self.driver_factory or partial(make_driver, config_path=self.config.path)
        runner = SourceRunner(source, tags, factory)
        runner.on_dead_letter = self._keep_dead_letter
        runner.on_historical = self._keep_history
        self.runners.append(runner)
        self._source_tasks[source.name] = [
            asyncio.create_task(runner.run(), name=f"source:{source.name}"),
            asyncio.create_task(self._consume(runner), name=f"consume:{source.name}"),
        ]

    async def _stop_source(self, name: str) -> None:
        """Stop one source's acquisition and take in what it had queued."""
        tasks = self._source_tasks.pop(name, [])
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for runner in [runner for runner in self.runners if runner.source.name == name]:
            while not runner.queue.empty():
                self.ingest(runner.queue.get_nowait())
            self.runners.remove(runner)

    async def reload(self, config: Config) -> ReloadSummary:
        """Apply a changed config while running, keeping everything that did not change.

        A source whose settings or tag maps changed is reconnected; removed sources stop,
        new ones start. Machines keep their shift so far (intervals, counts, state) and take
        their new settings at once; a counter keeps counting unless its tag changed, when it
        starts again from a baseline. A removed machine's open interval is closed and stored.
        """
        old_tags = {source.name: (source, self.tags_of(source.name)) for source in self.config.sources}
        now = self.clock()
        removed_machines = [machine_id for machine_id in self.machines
                            if machine_id not in {machine.id for machine in config.machines}]
        for machine_id in removed_machines:
            leaving = self.machines[machine_id]
            leaving.evaluate(now)
            leaving.close(now)
        if removed_machines:
            await self.flush()  # their last intervals and counts, before the trackers go
            for machine_id in removed_machines:
                del self.machines[machine_id]
        for machine in config.machines:
            tracker = self.machines.get(machine.id)
            if tracker is None:
                self.machines[machine.id] = MachineTracker(machine, config.site.stale_after_s, now)
            elif tracker.config != machine or tracker.stale_after_s != config.site.stale_after_s:
                tracker.reconfigure(machine, config.site.stale_after_s)
        self.machines = {machine.id: self.machines[machine.id] for machine in config.machines}  # config order
        self.config = config
        self._apply_planning(self.planning, now)
        self.routes = self._build_routes()
        for observer in self.observers:
            observer.reload(config)  # the edge node: new devices and metrics, births again

        restarted: list[str] = []
        if self._started and not self._stopped and self.acquire:
            new_tags = {source.name: (source, self.tags_of(source.name)) for source in config.sources}
            for name in sorted(set(old_tags) | set(new_tags)):
                if old_tags.get(name) != new_tags.get(name):
                    await self._stop_source(name)
                    if name in new_tags:
                        self._start_source(new_tags[name][0])
                    restarted.append(name)
        self.tick()  # the next snapshot already shows the new plant
        return ReloadSummary(tuple(restarted), tuple(removed_machines))

    async def reload_planning(self) -> None:
        """Read the planning tables again (after an import) in the writer thread and apply them:
        imported shifts and reasons, and each machine's schedule, cycle times and thresholds."""
        if self.store is None:
            return
        store, configs = self.store, [tracker.config for tracker in self.machines.values()]

        def load() -> tuple[Planning, dict[str, tuple[MachineConfig, MachinePlan]]]:
            # Resolving every machine's schedule costs about as much as reading it: both off the loop.
            planning = Planning.load(store)
            return planning, {config.id: (config, planning.machine_plan(config)) for config in configs}

        planning, plans = await self._in_writer(load)
        self._apply_planning(planning, self.clock(), plans)
        self._snapshot_stale = True
        self._summaries_wanted.set()  # the import deleted the saved days: save them again soon

    def _apply_planning(self, planning: Planning, now: float,
                        plans: dict[str, tuple[MachineConfig, MachinePlan]] | None = None) -> None:
        self.planning = planning
        self.calendar = planning.calendar(self.config)
        self.reasons = planning.reason_tree(self.config)
        for tracker in self.machines.values():
            resolved = (plans or {}).get(tracker.id)
            # A config reload while the plans were being resolved: resolve that machine again.
            plan = resolved[1] if resolved is not None and resolved[0] is tracker.config \
                else planning.machine_plan(tracker.config)
            tracker.set_plan(plan, now)

    async def stop(self) -> None:
        """Stop acquisition, take in what is queued, close intervals and flush. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        for name in list(self._source_tasks):
            await self._stop_source(name)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        for runner in self.runners:
            while not runner.queue.empty():
                self.ingest(runner.queue.get_nowait())
        now = self.clock()
        for machine in self.machines.values():
            machine.evaluate(now)
            machine.close(now)
        await self.flush()
        for observer in self.observers:  # the edge node's last changes go out, or into the store before it closes
            await observer.stop()
        if self.store is not None:
            await self._in_writer(self.store.close)
            # A review saving days on a thread of its own stops at its next day once the store is
            # closed; wait for that, so the process never exits with it inside DuckDB.
            from oee_tui.engine.analysis.day_summaries import wait_for_saving

            await asyncio.to_thread(wait_for_saving, self.store, 5.0)
        self._writer.shutdown(wait=True)

    async def _consume(self, runner: SourceRunner) -> None:
        online = runner.online
        while True:
            batch = await runner.queue.get()
            self.ingest(batch)
            if runner.online != online:
                online = not online
                self._tick_now.set()

    async def _tick_loop(self) -> None:
        while True:
            try:
                self._advance()
            except Exception:  # a bad tick must not stop the plant view
                log.exception("engine tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._tick_now.wait(), timeout=self.tick_s)
            self._tick_now.clear()

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval_s)
            await self.flush()

    async def _summary_loop(self) -> None:
        # Off the writer thread (flushes must not wait) and one day at a time, so that a first
        # pass over a quarter of a big plant never holds the loop or the store for long.
        from oee_tui.engine.analysis.day_summaries import SUMMARY_DAYS, save_days, settled_days

        await asyncio.sleep(self.summary_delay_s)
        while True:
            self._summaries_wanted.clear()  # an import from now on asks for another pass
            store = self.store
            try:
                saved = 0
                bounds = await asyncio.to_thread(store.bounds) if store is not None else None
                if store is not None and bounds is not None:
                    # Days before the first interval or count hold nothing worth summing ahead of time.
                    days = [day for day in settled_days(self.config, self.clock(), SUMMARY_DAYS) if day.end > bounds[0]]
                    for day in days:
                        saved += await asyncio.to_thread(save_days, store, self.config, [day], self.clock())
                if saved:
                    log.info("day summaries: %d machine days saved", saved)
            except Exception:  # the review computes what is missing itself; the plant runs on
                log.exception("saving day summaries failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._summaries_wanted.wait(), self.summary_every_s)

    async def _in_writer(self, fn: Callable[[*Ts], T], *args: *Ts) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._writer, fn, *args)

    # ------------------------------------------------------------ hot path

    def ingest(self, batch: Iterable[TagSample] | SampleColumns) -> None:
        """Route samples to machines, keep raw samples on change (deadband), derive states."""
        if self.observers:
            samples = batch if isinstance(batch, list | tuple) else list(batch)
            for observer in self.observers:
                observer.observe(samples)
            batch = samples
        elif isinstance(batch, SampleColumns):
            self._ingest_columns(batch)
            return
        routes = self.routes
        ts_col, source_col, tag_col, num_col, text_col, quality_col = self._sample_columns
        quality_text = _QUALITY_TEXT
        received = self.clock()
        touched: set[MachineTracker] = set()
        count = 0
        unknown = 0
        for sample in batch:
            count += 1
            route = routes.get((sample.source, sample.tag))
            if route is None:
                unknown += 1
                continue
            value = sample.value
            quality = sample.quality
            good = quality is _GOOD
            last = route.last_value
            if (quality is not route.last_quality or value != last) and (
                not good or route.deadband == 0.0 or last is None or isinstance(value, str | bool)
                or isinstance(last, str | bool) or value is None or abs(value - last) > route.deadband
            ):
                route.last_value = value
                route.last_quality = quality
                ts_col.append(sample.ts_utc)
                source_col.append(sample.source)
                tag_col.append(sample.tag)
                if value is None or isinstance(value, str):
                    num_col.append(None)
                    text_col.append(value)
                else:
                    num_col.append(float(value))
                    text_col.append(None)
                quality_col.append(quality_text[quality])
            for machine, signal in route.targets:
                machine.on_sample(signal, sample.ts_utc, value, good, sample.error, received)
                touched.add(machine)
        self.stats.samples_in += count
        self.stats.unknown_tags += unknown
        for machine in touched:
            machine.evaluate(received)

    def _ingest_columns(self, batch: SampleColumns) -> None:
        """ingest() of GOOD samples of one source given as columns: the Sparkplug host's hot path.

        The loop above with the quality fixed at GOOD and no error, the source's routes found
        once instead of by (source, tag) for every sample, and the kept rows' source and quality
        added in one go. No TagSample is built. tests/engine/test_ingest.py holds the two loops to
        the same results.
        """
        source = batch.source
        routes = self._routes_by_source.get(source, {})
        ts_col, source_col, tag_col, num_col, text_col, quality_col = self._sample_columns
        received = self.clock()
        touched: set[MachineTracker] = set()
        kept = 0
        unknown = 0
        for ts, tag, value in zip(batch.times, batch.tags, batch.values, strict=True):
            route = routes.get(tag)
            if route is None:
                unknown += 1
                continue
            last = route.last_value
            if (route.last_quality is not _GOOD or value != last) and (
                route.deadband == 0.0 or last is None or isinstance(value, str | bool)
                or isinstance(last, str | bool) or value is None or abs(value - last) > route.deadband
            ):
                route.last_value = value
                route.last_quality = _GOOD
                kept += 1
                ts_col.append(ts)
                tag_col.append(tag)
                if value is None or isinstance(value, str):
                    num_col.append(None)
                    text_col.append(value)
                else:
                    num_col.append(float(value))
                    text_col.append(None)
            for machine, signal in route.targets:
                machine.on_sample(signal, ts, value, True, None, received)
                touched.add(machine)
        source_col.extend(repeat(source, kept))
        quality_col.extend(repeat(_QUALITY_TEXT[_GOOD], kept))
        self.stats.samples_in += len(batch)
        self.stats.unknown_tags += unknown
        for machine in touched:
            machine.evaluate(received)

    # ------------------------------------------------------------ snapshots

    def tick(self) -> PlantSnapshot:
        """Bring every machine's state up to date, and the snapshot with it."""
        self._advance()
        return self.snapshot()

    def _advance(self) -> None:
        """Bring every machine's state up to date (staleness, open intervals); the snapshot is
        rebuilt when next asked for."""
        now = self.clock()
        shift = self.calendar.current_or_last(now)
        trim = now - self._last_trim >= 60.0
        if trim:
            self._last_trim = now
        # A subscription sends nothing while values stand still (a machine on a break): while
        # its source is online, what the machine last heard is still current, not stale.
        for runner in self.runners:
            if runner.subscribes and runner.online:
                for tracker in self._fed_by.get(runner.source.name, ()):
                    tracker.still_current(now)
        for machine in self.machines.values():
            machine.evaluate(now)
            if trim:
                machine.trim(shift.start - 3600.0)
        self._snapshot_stale = True

    def snapshot(self) -> PlantSnapshot:
        """The plant as of the last tick. Built when asked, at most once per tick: computing
        every machine's OEE costs ~45 µs a machine, which a headless engine never needs."""
        if self._snapshot_stale:
            self._snapshot_stale = False
            try:
                self._snapshot = self._build_snapshot(self.clock())
            except Exception:  # the last good view beats no view; the log says what broke
                log.exception("building the plant snapshot failed")
        return self._snapshot

    def _build_snapshot(self, now: float) -> PlantSnapshot:
        shift = self.calendar.current_or_last(now)
        window = Span(shift.start, min(max(now, shift.start), shift.end))
        scheduled = self.calendar.scheduled_spans(window.start, window.end)
        breaks = self.calendar.break_spans(window.start, window.end)
        rows: list[MachineSnapshot] = []
        results: list[OeeResult] = []
        for machine in self.machines.values():
            result = self._machine_oee(machine, window, scheduled, breaks, now)
            results.append(result)
            rows.append(MachineSnapshot(
                machine=machine.id,
                name=machine.config.name,
                line=machine.config.line,
                state=machine.live_state(now),
                state_since=machine.current.start,
                last_data=machine.last_good,
                stale=machine.kind == "offline",
                product=machine.product,
                shift=shift.label if shift.start <= now < shift.end else None,
                oee=result,
                good_count=result.good_count,
                reject_count=result.reject_count,
                target_count=self._target_count(machine.config, window, breaks),
                reason=machine.current.reason,
            ))
        lines, plant = lines_and_plant([line.id for line in self.config.lines],
                                       [m.config.line for m in self.machines.values()], results)
        sources = tuple(runner.status() for runner in self.runners)
        return PlantSnapshot(ts=now, shift=shift.label, machines=tuple(rows), plant=plant, lines=lines,
                             sources=sources)

    def _machine_oee(self, machine: MachineTracker, window: Span, scheduled: Sequence[Span],
                     breaks: Sequence[Span], now: float) -> OeeResult:
        intervals = [i for i in machine.history if (i.end or now) > window.start and i.start < window.end]
        intervals.append(machine.open_interval(now))
        try:
            stops = machine.plan.planned_stop_spans(window.start, window.end)
            return machine_oee_from_counts(machine.plan.machine, window, scheduled, [*breaks, *stops], intervals,
                                           machine.recent_buckets(), self.reasons, now)
        except ValueError as exc:  # overlapping intervals: show, don't crash the view
            log.error("machine %s: %s", machine.id, exc)
            return machine_oee_from_counts(machine.config, window, scheduled, breaks, [], [], self.reasons, now)

    def _target_count(self, machine: MachineConfig, window: Span, breaks: Sequence[Span]) -> int:
        per_hour = machine.target_per_hour or 3600.0 / machine.ideal_cycle_time_s * self.config.targets.oee
        scheduled = sum(span.seconds for span in self.calendar.scheduled_spans(window.start, window.end))
        planned = sum(span.seconds for span in breaks)
        return int(per_hour * max(0.0, scheduled - planned) / 3600.0)

    # ------------------------------------------------------------ store

    async def flush(self) -> None:
        """Write what is buffered, in the writer thread, in one batch per table."""
        if self.store is None:
            return
        async with self._flush_lock:
            now = self.clock()
            columns: tuple[list[Any], ...] = self._sample_columns
            self._sample_columns = ([], [], [], [], [], [])
            letters, self._dead_letters = self._dead_letters, []
            history, self._history = self._history, []
            intervals: list[StateInterval] = []
            buckets: list[CountBucket] = []
            for machine in self.machines.values():
                machine_intervals, machine_buckets = machine.take_pending(now)
                if not machine.plan.machine.signals:
                    # No PLC: its facts come from imported production logs, and an "offline"
                    # written here would overlap them. The engine knows nothing of it to store.
                    continue
                intervals.extend(machine_intervals)
                buckets.extend(machine_buckets)
            try:
                await self._in_writer(self._write, columns, intervals, buckets, letters, history)
                self.stats.flushes += 1
                self.stats.samples_stored += len(columns[0])
            except Exception as exc:
                # Keep the data for the next flush rather than lose it.
                self.stats.flush_errors += 1
                self.stats.last_flush_error = str(exc)
                log.exception("flush failed")
                unwritten: tuple[list[Any], ...] = self._sample_columns
                for target, lost in zip(unwritten, columns, strict=True):
                    target[:0] = lost
                self._dead_letters[:0] = letters
                self._history[:0] = history
                for bucket in buckets:
                    tracker = self.machines[bucket.machine]
                    key = (bucket.minute, bucket.product)
                    pending = tracker.pending_counts.setdefault(key, [0, 0])
                    pending[0] += bucket.total
                    pending[1] += bucket.reject
                for interval in intervals:
                    if interval.start != self.machines[interval.machine].current.start:
                        self.machines[interval.machine].closed.append(interval)

    def _write(self, columns: tuple[list[Any], ...], intervals: list[StateInterval], buckets: list[CountBucket],
               letters: list[DeadLetter], history: list[TagSample]) -> None:
        assert self.store is not None
        if letters:
            self.store.write_dead_letters(letters)
        if history:
            self.store.write_history(history)
        if columns[0]:
            self.store.write_samples(*columns)
        if intervals:
            self.store.upsert_intervals(intervals)
        if buckets:
            self.store.write_counts(buckets)

    async def _load_current_shift(self) -> None:
        """After a restart, pick up the current shift's intervals and counts from the store."""
        assert self.store is not None
        now = self.clock()
        shift = self.calendar.current_or_last(now)
        start = shift.start - 3600.0
        intervals, buckets = await self._in_writer(
            lambda: (self.store.intervals(start, now), self.store.counts(start, now))  # type: ignore[union-attr]
        )
        for interval in intervals:
            machine = self.machines.get(interval.machine)
            if machine is not None and interval.end is not None and interval.end <= machine.current.start:
                machine.history.append(interval)
        for bucket in buckets:
            machine = self.machines.get(bucket.machine)
            if machine is not None:
                key = (bucket.minute, bucket.product)
                counts = machine.recent_counts.setdefault(key, [0, 0])
                counts[0] += bucket.total
                counts[1] += bucket.reject

    # ------------------------------------------------------------ commands

    async def set_stop_reason(self, machine: str, stop_start: float, reason: str, user: str) -> None:
        if machine not in self.machines:
            raise KeyError(f"unknown machine {machine!r}")
        if reason not in self.reasons:
            raise ValueError(f"unknown reason code {reason!r}")
        tracker = self.machines[machine]
        now = self.clock()
        # The tracker holds the current shift; an older stop (the supervisor's review) is in the store.
        if not tracker.set_reason(stop_start, reason, user, now) and not await self._stored_stop(machine, stop_start):
            raise KeyError(f"machine {machine!r} has no stop starting at {stop_start}")
        if self.store is not None:
            await self._in_writer(self.store.write_stop_reason, machine, stop_start, reason, user, now)

    async def _stored_stop(self, machine: str, stop_start: float) -> bool:
        if self.store is None:
            return False
        stored = await self._in_writer(self.store.intervals, stop_start, stop_start + 1e-3, [machine])
        return any(abs(i.start - stop_start) < 1e-6 and i.state.is_stop for i in stored)

    async def machine_detail(self, machine: str) -> MachineDetail:
        tracker = self.machines[machine]
        now = self.clock()
        shift = self.calendar.current_or_last(now)
        end = min(max(now, shift.start), shift.end)
        intervals = [i for i in tracker.history if (i.end or now) > shift.start and i.start < end]
        if tracker.current.start < end:
            intervals.append(tracker.open_interval(now))
        stops = tuple(sorted(
            (i for i in intervals if i.state.is_stop), key=lambda i: i.start, reverse=True
        ))
        window = Span(shift.start, end)
        scheduled = self.calendar.scheduled_spans(window.start, window.end)
        breaks = [*self.calendar.break_spans(window.start, window.end),
                  *tracker.plan.planned_stop_spans(window.start, window.end)]
        buckets = tracker.recent_buckets()
        oee = machine_oee_from_counts(tracker.plan.machine, window, scheduled, breaks, intervals, buckets,
                                      self.reasons, now)
        trend = []
        hour_start = shift.start
        while hour_start < end:
            hour_end = min(hour_start + 3600.0, end)
            part = Span(hour_start, hour_end)
            result = machine_oee_from_counts(
                tracker.plan.machine, part, self.calendar.scheduled_spans(part.start, part.end),
                self.calendar.break_spans(part.start, part.end), intervals, buckets, self.reasons, now)
            trend.append(TrendPoint(part.start, part.end, result.oee, result.availability,
                                    result.performance, result.quality))
            hour_start = hour_end
        return MachineDetail(
            machine=machine, name=tracker.config.name, shift=shift.label, shift_start=shift.start,
            shift_end=shift.end, now=now, intervals=tuple(intervals), stops=stops, trend=tuple(trend),
            top_reasons=tuple(self._top_reasons(stops, window, now)), oee=oee,
        )

    def _top_reasons(self, stops: Sequence[StateInterval], window: Span, now: float) -> list[ReasonTotal]:
        totals: dict[str | None, list[float]] = {}
        for stop in stops:
            seconds = min(stop.end or now, window.end) - max(stop.start, window.start)
            if seconds <= 0 or stop.state is MachineState.OFFLINE:
                continue
            entry = totals.setdefault(stop.reason, [0, 0.0])
            entry[0] += 1
            entry[1] += seconds
        out = [
            ReasonTotal(code, self.reasons[code].name if code in self.reasons else "No reason given",
                        int(stops_count), seconds)
            for code, (stops_count, seconds) in totals.items()
        ]
        return sorted(out, key=lambda r: r.seconds, reverse=True)[:10]

