"""The engine's one store writer: every store call of a running engine goes through one thread,
so DuckDB has exactly one writer and the event loop never waits for the store.

A flush writes what is buffered (kept raw samples, the machines' intervals and counts, dead
letters, historical samples, and a person's stop reason when one is given) in ONE transaction
(Store.write_facts). When the store cannot be written (a full disk), everything but a person's
entry goes back to be written by a later flush, within `max_unsaved_rows`; the person is told
their entry was not saved. Every screen sees how it stands through `health`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar, TypeVarTuple

from oee_tui.engine.live.engine_stats import EngineStats
from oee_tui.engine.live.machine import MachineTracker
from oee_tui.engine.live.pending_samples import PendingSamples
from oee_tui.engine.live.store_health import Unsaved, UnsavedDataError, WriteFailures
from oee_tui.model import (
    CountBucket,
    CountEventColumns,
    DeadLetter,
    MachineEvent,
    StateInterval,
    StoreHealth,
    TagSample,
)
from oee_tui.store import FactBatch, FactsWritten, ReasonEntry, Store, StoreWriteError
from oee_tui.store.failures import reason_of

log = logging.getLogger(__name__)
T = TypeVar("T")
Ts = TypeVarTuple("Ts")

DEFAULT_MAX_UNSAVED_ROWS = 1_000_000


class FactWriter:
    def __init__(self, store: Store | None, pending: PendingSamples, stats: EngineStats,
                 clock: Callable[[], float], *, flush_interval_s: float = 2.0,
                 max_unsaved_rows: int = DEFAULT_MAX_UNSAVED_ROWS) -> None:
        self.store = store
        self.pending = pending
        self.stats = stats
        self.clock = clock
        self.max_unsaved_rows = max_unsaved_rows
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="oee-store")
        self._dead_letters: list[DeadLetter] = []  # undecodable payloads, stored at the next flush
        self._history: list[TagSample] = []  # historical samples (Sparkplug), stored at the next flush
        self._flush_lock = asyncio.Lock()
        self._failures = WriteFailures(clock, None if store is None else str(store.data_dir), flush_interval_s)

    @property
    def health(self) -> StoreHealth:
        """Whether the data reaches the store: what waits, since when, why; what was lost or set aside."""
        return self._failures.health

    async def in_writer(self, fn: Callable[[*Ts], T], *args: *Ts) -> T:
        """Run `fn` in the writer thread and await its result."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def keep_history(self, samples: Sequence[TagSample]) -> None:
        # Stored at the next flush like live samples, but not routed: history never moves live values.
        self._history.extend(samples)

    def keep_dead_letter(self, letter: DeadLetter) -> None:
        # Looked up on every call: flush() swaps in a new list, which a bound list.append would miss.
        self._dead_letters.append(letter)

    async def flush(self, machines: Mapping[str, MachineTracker], reasons: Sequence[ReasonEntry] = (),
                    *, periodic: bool = False) -> FactsWritten | None:
        """Write what is buffered, with `reasons`, in one transaction in the writer thread.

        When the store cannot be written, the buffered data is kept for a later flush and, if
        `reasons` were given, the error is raised: they are not saved (the person is told and may try
        again). `periodic` (the flush loop) backs off while writes keep failing. Returns what was
        written, or None when nothing was attempted or the write failed."""
        if self.store is None:
            return None
        async with self._flush_lock:
            now = self.clock()
            if periodic and not self._failures.retry_due(now):
                self._limit_memory()
                self._failures.waiting(self._unsaved(machines))
                return None
            batch = self._take(machines, now, reasons)
            try:
                written = await self.in_writer(self.store.write_facts, batch, now)
            except Exception as exc:
                self._put_back(machines, batch)
                self._limit_memory()
                reason = reason_of(exc)
                self.stats.flush_errors += 1
                self.stats.last_flush_error = reason
                self._failures.failed(reason, exc, self._unsaved(machines), now,
                                      expected=isinstance(exc, StoreWriteError))
                if reasons:
                    raise
                return None
            self._saved(batch, written, now)
            return written

    def _take(self, machines: Mapping[str, MachineTracker], now: float, reasons: Sequence[ReasonEntry]) -> FactBatch:
        columns = self.pending.take()
        letters, self._dead_letters = self._dead_letters, []
        history, self._history = self._history, []
        intervals: list[StateInterval] = []
        buckets: list[CountBucket] = []
        events = CountEventColumns()
        noticed: list[MachineEvent] = []
        for machine in machines.values():
            if machine.pending_counter_events:
                noticed.extend(machine.pending_counter_events)
                machine.pending_counter_events = []
            machine_intervals, machine_buckets = machine.take_pending(now)
            timed_counts = machine.take_count_events()
            if not machine.plan.machine.signals:
                # No PLC: its facts come from imported production logs, and an "offline"
                # written here would overlap them. The engine knows nothing of it to store.
                continue
            intervals.extend(machine_intervals)
            buckets.extend(machine_buckets)
            events.add(machine.id, timed_counts)
        return FactBatch(columns, history, intervals, buckets, events, noticed, letters, tuple(reasons))

    def _put_back(self, machines: Mapping[str, MachineTracker], batch: FactBatch) -> None:
        """A failed flush's data back where it came from, for the next flush; a person's entry is not
        kept (they were told it was not saved)."""
        self.pending.put_back(batch.samples)
        self._dead_letters[:0] = batch.dead_letters
        self._history[:0] = batch.history
        for machine, rows in batch.count_events.rows_by_machine().items():
            machines[machine].pending_events[:0] = rows
        for event in reversed(batch.machine_events):
            machines[event.machine].pending_counter_events.insert(0, event)
        for bucket in batch.counts:
            tracker = machines[bucket.machine]
            key = (bucket.minute, bucket.product)
            pending = tracker.pending_counts.setdefault(key, [0, 0])
            pending[0] += bucket.total
            pending[1] += bucket.reject
        for interval in batch.intervals:
            if interval.start != machines[interval.machine].current.start:
                machines[interval.machine].closed.append(interval)

    def _limit_memory(self) -> None:
        """Past `max_unsaved_rows` samples and dead letters waiting, drop the oldest: raw samples
        first, then replayed ones, then dead letters. Intervals and counts (the OEE) are never
        dropped; they are a few rows per machine and minute."""
        excess = len(self.pending.columns.ts) + len(self._history) + len(self._dead_letters) - self.max_unsaved_rows
        if excess <= 0:
            return
        samples = self.pending.drop_oldest(excess)
        history = min(excess - samples, len(self._history))
        del self._history[:history]
        letters = min(excess - samples - history, len(self._dead_letters))
        del self._dead_letters[:letters]
        self.stats.samples_lost += samples + history
        self.stats.dead_letters_lost += letters
        self._failures.counted(lost_samples=samples + history, lost_dead_letters=letters)
        log.warning("unsaved data reached [store] max_unsaved_rows = %d: dropped the oldest %d samples and %d "
                    "dead letters (%d samples and %d dead letters lost so far)", self.max_unsaved_rows,
                    samples + history, letters, self.stats.samples_lost, self.stats.dead_letters_lost)

    def _unsaved(self, machines: Mapping[str, MachineTracker]) -> Unsaved:
        """What waits for the store now: kept here, and in the machines."""
        intervals = count_rows = parts = 0
        for machine in machines.values():
            if machine.plan.machine.signals:
                intervals += len(machine.closed) + 1  # and the open one, written with a provisional end
                count_rows += len(machine.pending_counts)
                parts += sum(total for total, _reject in machine.pending_counts.values())
        return Unsaved(len(self.pending.columns.ts) + len(self._history), intervals, count_rows, parts,
                       len(self._dead_letters))

    def _saved(self, batch: FactBatch, written: FactsWritten, now: float) -> None:
        self.stats.flushes += 1
        self.stats.samples_stored += written.samples
        if written.set_aside:
            self.stats.rows_set_aside += len(written.set_aside)
            self._failures.counted(set_aside=len(written.set_aside))
            log.warning("%d rows could not be stored and were kept as dead letters (`oee deadletters`): %s",
                        len(written.set_aside), written.set_aside[0].error)
        self._failures.saved(now, f"{batch.rows:,} rows")
        log.debug("flush %d committed: %d samples, %d replayed, %d intervals, %d count rows, %d count events, "
                  "%d reasons, %d dead letters, %d set aside", self.stats.flushes, written.samples, written.history,
                  written.intervals, written.counts, written.count_events, written.reasons, written.dead_letters,
                  len(written.set_aside))

    def unsaved_error(self) -> UnsavedDataError | None:
        """After the last flush: what was lost, or None when everything reached the store."""
        health = self.health
        return UnsavedDataError(health) if health.failing or health.lost else None

    async def restore(self, machines: Mapping[str, MachineTracker], since: float, now: float) -> None:
        """After a restart, the intervals and counts stored from `since` to `now` go back into the
        machines, so that the current shift's figures go on from what earlier runs wrote."""
        store = self.store
        if store is None:
            return

        def read() -> tuple[list[StateInterval], list[CountBucket], list[MachineEvent]]:
            return store.intervals(since, now), store.counts(since, now), store.machine_events(None, since)

        intervals, buckets, events = await self.in_writer(read)
        for event in events:  # the counter events the screens show
            machine = machines.get(event.machine)
            if machine is not None:
                machine.recent_counter_events.append(event)
        for interval in intervals:
            machine = machines.get(interval.machine)
            if machine is not None and interval.end is not None and interval.end <= machine.current.start:
                machine.history.append(interval)
        for bucket in buckets:
            machine = machines.get(bucket.machine)
            if machine is not None:
                key = (bucket.minute, bucket.product)
                counts = machine.recent_counts.setdefault(key, [0, 0])
                counts[0] += bucket.total
                counts[1] += bucket.reject

    async def close(self) -> None:
        """Close the store in the writer thread, then end the thread."""
        if self.store is not None:
            await self.in_writer(self.store.close)
            # A review saving days on a thread of its own stops at its next day once the store is
            # closed; wait for that, so the process never exits with it inside DuckDB. Imported
            # here: the analysis code behind it adds some 20 ms to the start of every engine and TUI.
            from oee_tui.engine.analysis.day_summaries import wait_for_saving

            await asyncio.to_thread(wait_for_saving, self.store, 5.0)
        self._executor.shutdown(wait=True)
