"""The engine's one store writer: every store call of a running engine goes through one thread,
so DuckDB has exactly one writer and the event loop never waits for the store.

A flush writes what is buffered (kept raw samples, the machines' intervals and counts, dead
letters, historical samples) in one batch per table; when it fails, everything goes back to be
written by the next one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar, TypeVarTuple

from oee_tui.engine.live.engine_stats import EngineStats
from oee_tui.engine.live.machine import MachineTracker
from oee_tui.engine.live.pending_samples import KeptSamples, PendingSamples
from oee_tui.model import CountBucket, DeadLetter, MachineEvent, StateInterval, TagSample
from oee_tui.store import Store

log = logging.getLogger(__name__)
T = TypeVar("T")
Ts = TypeVarTuple("Ts")


class FactWriter:
    def __init__(self, store: Store | None, pending: PendingSamples, stats: EngineStats,
                 clock: Callable[[], float]) -> None:
        self.store = store
        self.pending = pending
        self.stats = stats
        self.clock = clock
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="oee-store")
        self._dead_letters: list[DeadLetter] = []  # undecodable payloads, stored at the next flush
        self._history: list[TagSample] = []  # historical samples (Sparkplug), stored at the next flush
        self._flush_lock = asyncio.Lock()

    async def in_writer(self, fn: Callable[[*Ts], T], *args: *Ts) -> T:
        """Run `fn` in the writer thread and await its result."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def keep_history(self, samples: Sequence[TagSample]) -> None:
        # Stored at the next flush like live samples, but not routed: history never moves live values.
        self._history.extend(samples)

    def keep_dead_letter(self, letter: DeadLetter) -> None:
        # Looked up on every call: flush() swaps in a new list, which a bound list.append would miss.
        self._dead_letters.append(letter)

    async def flush(self, machines: Mapping[str, MachineTracker]) -> None:
        """Write what is buffered, in the writer thread, in one batch per table."""
        if self.store is None:
            return
        async with self._flush_lock:
            now = self.clock()
            columns = self.pending.take()
            letters, self._dead_letters = self._dead_letters, []
            history, self._history = self._history, []
            intervals: list[StateInterval] = []
            buckets: list[CountBucket] = []
            events: list[MachineEvent] = []
            for machine in machines.values():
                if machine.pending_counter_events:
                    events.extend(machine.pending_counter_events)
                    machine.pending_counter_events = []
                machine_intervals, machine_buckets = machine.take_pending(now)
                if not machine.plan.machine.signals:
                    # No PLC: its facts come from imported production logs, and an "offline"
                    # written here would overlap them. The engine knows nothing of it to store.
                    continue
                intervals.extend(machine_intervals)
                buckets.extend(machine_buckets)
            try:
                await self.in_writer(_write, self.store, columns, intervals, buckets, letters, history, events)
                self.stats.flushes += 1
                self.stats.samples_stored += len(columns.ts)
            except Exception as exc:
                # Keep the data for the next flush rather than lose it.
                self.stats.flush_errors += 1
                self.stats.last_flush_error = str(exc)
                log.exception("flush failed")
                self.pending.put_back(columns)
                self._dead_letters[:0] = letters
                self._history[:0] = history
                _put_back(machines, intervals, buckets)
                for event in reversed(events):
                    machines[event.machine].pending_counter_events.insert(0, event)

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


def _write(store: Store, columns: KeptSamples, intervals: list[StateInterval], buckets: list[CountBucket],
           letters: list[DeadLetter], history: list[TagSample], events: list[MachineEvent]) -> None:
    if letters:
        store.write_dead_letters(letters)
    if history:
        store.write_history(history)
    if columns.ts:
        store.write_samples(*columns)
    if intervals:
        store.upsert_intervals(intervals)
    if buckets:
        store.write_counts(buckets)
    if events:
        store.write_machine_events(events)


def _put_back(machines: Mapping[str, MachineTracker], intervals: Sequence[StateInterval],
              buckets: Sequence[CountBucket]) -> None:
    """A failed flush's intervals and counts back into their machines, for the next flush."""
    for bucket in buckets:
        tracker = machines[bucket.machine]
        key = (bucket.minute, bucket.product)
        pending = tracker.pending_counts.setdefault(key, [0, 0])
        pending[0] += bucket.total
        pending[1] += bucket.reject
    for interval in intervals:
        if interval.start != machines[interval.machine].current.start:
            machines[interval.machine].closed.append(interval)
