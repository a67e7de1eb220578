"""The engine: acquisition tasks in, machine facts and snapshots out, store behind.

Everything runs on one asyncio loop except store I/O, which goes to a single
writer thread so DuckDB has exactly one writer and the loop never blocks.

The Engine composes the parts and owns their lifecycle: the sources' tasks
(source_tasks.py) hand batches to ingest(); the router (routing.py) takes them to
the machine trackers (machine.py) and keeps raw samples; the fact writer
(fact_writer.py) stores what both produce; plant_snapshot.py and shift_detail.py
compute what the screens show.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Final

from oee_tui.config import Config, MachineConfig, Reason, TagMapping
from oee_tui.engine.live.acquisition import DriverFactory, SourceHealth, SourceRunner
from oee_tui.engine.live.day_summary_saver import DaySummarySaver
from oee_tui.engine.live.engine_stats import EngineStats
from oee_tui.engine.live.fact_writer import FactWriter
from oee_tui.engine.live.machine import COUNT_GAP_CAP_S, MachineTracker
from oee_tui.engine.live.observers import EngineContext, EngineObserver
from oee_tui.engine.live.pending_samples import KeptSamples, PendingSamples
from oee_tui.engine.live.plant_snapshot import build_plant_snapshot
from oee_tui.engine.live.routing import SampleRouter, TagRoute
from oee_tui.engine.live.shift_detail import build_machine_detail
from oee_tui.engine.live.source_tasks import SourceTasks, tags_of
from oee_tui.engine.oee.planning_rules import MachinePlan, Planning
from oee_tui.model import (
    AuditChange,
    MachineDetail,
    PlantSnapshot,
    SampleColumns,
    StateInterval,
    StoreHealth,
    SyncHealth,
    TagSample,
)
from oee_tui.store import PlanningError, ReasonEntry, Store, StoreWriteError

log = logging.getLogger(__name__)


# How soon after the last build a state change rebuilds the snapshot: 200 machines cost ~18 ms a build, so
# a plant changing state all the time spends at most ~7 % of a core on it.
STATE_REBUILD_S: Final = 0.25


@dataclass(frozen=True, slots=True)
class ReloadSummary:
    """What a reload changed: the sources reconnected (added, changed or removed) and machines dropped."""

    sources_restarted: tuple[str, ...]
    machines_removed: tuple[str, ...]


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
        self.tick_s = tick_s
        self.flush_interval_s = flush_interval_s
        self.planning = Planning.empty()  # imported planning data; start() and reload_planning() load it
        self.calendar = self.planning.calendar(config)  # always through the planning rules: one calendar
        self.reasons: dict[str, Reason] = {reason.code: reason for reason in config.reasons}
        self.stats = EngineStats()
        now = clock()
        self.machines: dict[str, MachineTracker] = {
            machine.id: MachineTracker(machine, config.site.stale_after_s, now, self.calendar)
            for machine in config.machines
        }
        _set_count_gap_caps(config, self.machines)
        self._pending = PendingSamples()
        self._router = SampleRouter(config, self.machines, self._pending, self.stats, clock)
        self._writer = FactWriter(store, self._pending, self.stats, clock, flush_interval_s=flush_interval_s,
                                  max_unsaved_rows=config.store.max_unsaved_rows)
        # Set when a source goes offline or comes back, so the snapshot shows it without
        # waiting for the next regular tick.
        self._tick_now = asyncio.Event()
        self._sources = SourceTasks(self.ingest, self._tick_now.set, self._writer.keep_dead_letter,
                                    self._writer.keep_history, driver_factory,
                                    on_counter_widths=self.learn_counter_widths)
        # source -> tag -> counter width in bits, as the sources learned them (Sparkplug births):
        # kept so that a machine added or remapped by a reload gets them too.
        self._counter_widths: dict[str, dict[str, int]] = {}
        self._day_summaries = None if store is None else DaySummarySaver(
            store, lambda: self.config, clock, summary_delay_s, summary_every_s)
        self._tasks: list[asyncio.Task[None]] = []
        self._snapshot = PlantSnapshot(ts=now, shift=None, machines=())
        self._snapshot_stale = False  # True after a tick until snapshot() rebuilds it
        # A machine changed state since the snapshot was built: the next snapshot() rebuilds it at once (at
        # most every STATE_REBUILD_S), so attached TUIs see a stop within a push, not at the next tick.
        self._state_changed = False
        self._built_at = 0.0  # time.monotonic() of the last build
        self._started = False
        self._stopped = False
        self._last_trim = now
        # What observes the engine's output (see observers.py): the Sparkplug edge node when
        # [edge] is enabled, attached by oee_tui.runtime.build_engine.
        self.observers: list[EngineObserver] = []
        # The central sync's state for every snapshot, when [central] is set (runtime.build_engine wires it).
        self.sync_health: Callable[[], SyncHealth | None] | None = None

    # ------------------------------------------------------------ wiring

    def add_observer(self, observer: EngineObserver) -> None:
        """Before start(): the engine starts it, hands it every batch, reloads and stops it."""
        if self._started:
            raise RuntimeError("an observer is added before the engine starts")
        self.observers.append(observer)

    @property
    def routes(self) -> dict[tuple[str, str], TagRoute]:
        return self._router.routes

    @property
    def runners(self) -> list[SourceRunner]:
        return self._sources.runners

    @property
    def pending_samples(self) -> KeptSamples:
        """The raw samples kept since the last flush, which the next one writes."""
        return self._pending.columns

    def tags_of(self, source: str) -> list[TagMapping]:
        return tags_of(self.config, source)

    @property
    def health(self) -> list[SourceHealth]:
        return [runner.health for runner in self.runners]

    @property
    def store_health(self) -> StoreHealth:
        """Whether the data reaches the store (what waits, since when, why); every snapshot carries it."""
        return self._writer.health

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
            now = self.clock()
            await self._writer.restore(self.machines, self.calendar.current_or_last(now).start - 3600.0, now)
        for source in self.config.sources if self.acquire else ():
            self._sources.start(source, self.config)
        self._tasks.append(asyncio.create_task(self._tick_loop(), name="engine:tick"))
        self._tasks.append(asyncio.create_task(self._flush_loop(), name="engine:flush"))
        if self.store is not None:
            self._tasks.append(asyncio.create_task(self._backup_loop(self.store), name="engine:backups"))
        if self._day_summaries is not None:
            self._tasks.append(asyncio.create_task(self._day_summaries.run(), name="engine:day-summaries"))
        context = EngineContext(self.store, self._writer.in_writer, self.clock)
        for observer in self.observers:
            await observer.start(context)

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
            removed = self.machines[machine_id]
            removed.evaluate(now)
            removed.close(now)
        if removed_machines:
            await self.flush()  # their last intervals and counts, before the trackers go
            for machine_id in removed_machines:
                del self.machines[machine_id]
        for machine in config.machines:
            tracker = self.machines.get(machine.id)
            if tracker is None:
                self.machines[machine.id] = MachineTracker(machine, config.site.stale_after_s, now, self.calendar)
            elif tracker.config != machine or tracker.stale_after_s != config.site.stale_after_s:
                tracker.reconfigure(machine, config.site.stale_after_s)
        self.machines = {machine.id: self.machines[machine.id] for machine in config.machines}  # config order
        _set_count_gap_caps(config, self.machines)
        for source, widths in self._counter_widths.items():
            for tracker in self.machines.values():
                tracker.learn_counter_widths(source, widths)
        self.config = config
        self._writer.max_unsaved_rows = config.store.max_unsaved_rows
        self._apply_planning(self.planning, now)
        self._router.set_plant(config, self.machines)
        for observer in self.observers:
            observer.reload(config)  # the edge node: new devices and metrics, births again

        restarted: list[str] = []
        if self._started and not self._stopped and self.acquire:
            new_tags = {source.name: (source, self.tags_of(source.name)) for source in config.sources}
            for name in sorted(set(old_tags) | set(new_tags)):
                if old_tags.get(name) != new_tags.get(name):
                    await self._sources.stop(name)
                    if name in new_tags:
                        self._sources.start(new_tags[name][0], config)
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

        planning, plans = await self._writer.in_writer(load)
        self._apply_planning(planning, self.clock(), plans)
        self._snapshot_stale = True
        if self._day_summaries is not None:
            self._day_summaries.ask()  # the import deleted the saved days: save them again soon

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
            tracker.set_plan(plan, now, self.calendar)

    async def stop(self) -> None:
        """Stop acquisition, take in what is queued, close intervals and flush. Idempotent.

        Raises UnsavedDataError, once everything is stopped and closed, when data never reached the
        store: the final flush failed, or rows were dropped at the memory limit while it could not
        be written. Its message says how much."""
        if self._stopped:
            return
        self._stopped = True
        await self._sources.stop_all()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        now = self.clock()
        for machine in self.machines.values():
            machine.evaluate(now)
            machine.close(now)
        await self.flush()
        for observer in self.observers:  # the edge node's last changes go out, or into the store before it closes
            await observer.stop()
        await self._writer.close()
        unsaved = self._writer.unsaved_error()
        if unsaved is not None:
            raise unsaved

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
            await self._writer.flush(self.machines, periodic=True)

    async def _backup_loop(self, store: Store) -> None:
        """`[store] backup_every_h`: a backup on the writer thread, so it never races a flush. Read
        at every turn, so a reloaded config's setting counts from the last backup."""
        last = self.clock()
        while True:
            await asyncio.sleep(60.0)
            settings = self.config.store
            now = self.clock()
            if settings.backup_every_h <= 0 or now - last < settings.backup_every_h * 3600.0:
                continue
            last = now
            await self.backup()

    async def backup(self) -> None:
        """One backup of the store to `[store] backup_dir`, keeping `backup_keep`. A failure is logged
        in one line (the engine goes on; the next turn tries again)."""
        if self.store is None:
            return
        settings = self.config.store
        try:
            path = await self._writer.in_writer(self.store.backup, settings.backup_path(self.store.data_dir),
                                                settings.backup_keep)
        except StoreWriteError as exc:
            log.warning("scheduled backup failed: %s", exc)
            return
        log.info("store backed up to %s", path)

    # ------------------------------------------------------------ samples in, facts out

    def learn_counter_widths(self, source: str, widths: Mapping[str, int]) -> None:
        """Counter widths in bits that `source` learned for its tags; the tag maps that give a
        width keep theirs."""
        self._counter_widths.setdefault(source, {}).update(widths)
        for tracker in self.machines.values():
            tracker.learn_counter_widths(source, widths)

    def ingest(self, batch: Iterable[TagSample] | SampleColumns) -> None:
        """Route samples to machines, keep raw samples on change (deadband), derive states.
        Observers see every batch first, as TagSamples."""
        if self.observers:
            samples = batch if isinstance(batch, list | tuple) else list(batch)
            for observer in self.observers:
                observer.observe(samples)
            self._router.route(samples)
        elif isinstance(batch, SampleColumns):
            self._router.route_columns(batch)
        else:
            self._router.route(batch)
        if self._router.states_changed:
            self._router.states_changed = False
            self._state_changed = True

    async def flush(self) -> None:
        """Write what is buffered, in the writer thread, in one transaction. When the store cannot be
        written the data is kept for the next flush, and `store_health` says so."""
        await self._writer.flush(self.machines)

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
                for tracker in self._router.fed_by(runner.source.name):
                    tracker.still_current(now)
        for machine in self.machines.values():
            machine.evaluate(now)
            if trim:
                machine.trim(shift.start - 3600.0)
        self._snapshot_stale = True

    def snapshot(self) -> PlantSnapshot:
        """The plant as of the last tick. Built when asked, at most once per tick: computing
        every machine's OEE costs ~45 µs a machine, which a headless engine never needs."""
        if self._state_changed and time.monotonic() - self._built_at >= STATE_REBUILD_S:
            self._snapshot_stale = True
        if self._snapshot_stale:
            self._snapshot_stale = False
            self._state_changed = False
            self._built_at = time.monotonic()
            try:
                self._snapshot = build_plant_snapshot(self.clock(), self.config, self.calendar, self.reasons,
                                                      self.machines.values(),
                                                      tuple(runner.status() for runner in self.runners))
            except Exception:  # the last good view beats no view; the log says what broke
                log.exception("building the plant snapshot failed")
        # The store's health changes at flushes, not ticks: always the newest. So does the sync's.
        health = self._writer.health
        if self._snapshot.store is not health:
            self._snapshot = replace(self._snapshot, store=health)
        sync = None if self.sync_health is None else self.sync_health()
        if self._snapshot.sync is not sync:
            self._snapshot = replace(self._snapshot, sync=sync)
        return self._snapshot

    async def machine_detail(self, machine: str) -> MachineDetail:
        return build_machine_detail(self.machines[machine], self.clock(), self.calendar, self.reasons)

    # ------------------------------------------------------------ commands

    async def set_stop_reason(self, machine: str, stop_start: float, reason: str, user: str,
                              origin: str = "local") -> None:
        """Record a reason, returning only once it is durable in the store: it is written in one
        transaction with everything buffered, the stop's own interval included, so that the reason
        never outlives (or outlasts) the stop it names, and with its audit entry (kind "stop_reason",
        by `user` from `origin`, the stop's previous reason before). Raises StoreWriteError when the
        store cannot be written: then nothing of it is kept, not even on screen."""
        if machine not in self.machines:
            raise KeyError(f"unknown machine {machine!r}")
        if reason not in self.reasons:
            raise ValueError(f"unknown reason code {reason!r}")
        tracker = self.machines[machine]
        now = self.clock()
        # The tracker holds the current shift; an older stop (the supervisor's review) is in the store.
        stop = _held_stop(tracker, stop_start) or await self._stored_stop(machine, stop_start)
        if stop is None:
            raise KeyError(f"machine {machine!r} has no stop starting at {stop_start}")
        if self.store is not None:
            when = datetime.fromtimestamp(stop_start, UTC).isoformat()
            audit = AuditChange(user, origin, "stop_reason", f"{machine}@{when}", stop.reason, reason, now)
            written = await self._writer.flush(self.machines,
                                               [ReasonEntry(machine, stop_start, reason, user, now, audit)])
            if written is None or not written.reasons:
                refused = written.set_aside[-1].error if written is not None and written.set_aside else "not written"
                raise ValueError(f"the reason could not be stored: {refused}")
        tracker.set_reason(stop_start, reason, user, now)

    async def _stored_stop(self, machine: str, stop_start: float) -> StateInterval | None:
        if self.store is None:
            return None
        stored = await self._writer.in_writer(self.store.intervals, stop_start, stop_start + 1e-3, [machine])
        return next((i for i in stored if abs(i.start - stop_start) < 1e-6 and i.state.is_stop), None)


def _set_count_gap_caps(config: Config, machines: Mapping[str, MachineTracker]) -> None:
    """Each machine's count gap cap: two poll intervals of the slowest source its counters read."""
    polls = {source.name: source.poll_interval_s for source in config.sources}
    for machine in config.machines:
        intervals = [polls[mapping.source] for mapping in machine.signals.values()
                     if mapping.width is not None and mapping.source in polls]
        machines[machine.id].count_gap_cap_s = 2.0 * max(intervals) if intervals else COUNT_GAP_CAP_S


def _held_stop(tracker: MachineTracker, stop_start: float) -> StateInterval | None:
    """The tracker's interval of its current shift starting at `stop_start` (as set_reason finds it), if any."""
    return next((interval for interval in (tracker.current, *reversed(tracker.history))
                 if abs(interval.start - stop_start) < 1e-6), None)
