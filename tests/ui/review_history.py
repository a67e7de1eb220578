"""A real store holding the UI tests' shift history, and an engine that writes reasons to it as the real one does.

Today's Early shift as the StaticEngine holds it (tests/ui/fakes.py) and yesterday's Late shift,
for the review screen's tests: every figure they see comes from the real queries.
"""

from __future__ import annotations

from oee_tui.engine.oee.planning_rules import Planning
from oee_tui.model import CountBucket, MachineState, StateInterval
from oee_tui.store import Store
from tests.ui.fakes import NOW, SHIFT_START, StaticEngine

YESTERDAY_LATE = NOW - 20 * 3600  # 2026-11-25 15:00 local, inside yesterday's Late shift


class StoreEngine(StaticEngine):
    """StaticEngine that, like the real engine, writes a reason it accepts to its store, and accepts
    a stop it no longer holds in memory when the store has it (Engine.set_stop_reason does the same;
    tests/engine/test_stop_reason_history.py tests the real one)."""

    async def set_stop_reason(self, machine: str, stop_start: float, reason: str, user: str,
                              origin: str = "local") -> None:
        assert self.store is not None
        try:
            await super().set_stop_reason(machine, stop_start, reason, user, origin)
        except KeyError:
            stored = self.store.intervals(stop_start, stop_start + 1e-3, [machine])
            if not any(i.start == stop_start and i.state.is_stop for i in stored):
                raise
            self.stored_reason_calls.append((machine, stop_start, reason, user))
        self.store.write_stop_reason(machine, stop_start, reason, user, NOW)

    def __init__(self) -> None:
        super().__init__()
        self.stored_reason_calls: list[tuple[str, float, str, str]] = []

    async def start(self) -> None:
        await super().start()
        await self.reload_planning()

    async def reload_planning(self) -> None:
        """Like the real engine, at start and after an import: the planning data its store holds."""
        await super().reload_planning()
        if self.store is not None:
            self.planning = Planning.load(self.store)


def fill(store: Store, engine: StaticEngine) -> None:
    """Today's shift as the engine holds it (the open interval ends now), yesterday's Late shift,
    and 100 parts a minute (1 reject) while each machine runs."""
    intervals = []
    for machine_intervals in engine.intervals.values():
        for interval in machine_intervals:
            intervals.append(StateInterval(interval.machine, interval.start, interval.end or NOW, interval.state))
            if interval.reason is not None and interval.reason_by is not None:
                store.write_stop_reason(interval.machine, interval.start, interval.reason, interval.reason_by,
                                        interval.reason_at or NOW)
    late_start = NOW - 23 * 3600  # 14:00 yesterday
    for machine in engine.intervals:
        intervals += [
            StateInterval(machine, late_start, YESTERDAY_LATE, MachineState.RUNNING),
            StateInterval(machine, YESTERDAY_LATE, YESTERDAY_LATE + 900, MachineState.DOWN),
            StateInterval(machine, YESTERDAY_LATE + 900, late_start + 8 * 3600, MachineState.RUNNING),
        ]
    store.upsert_intervals(intervals)
    buckets = []
    for machine, machine_intervals in engine.intervals.items():
        running = [(i.start, i.end or NOW) for i in machine_intervals if i.state is MachineState.RUNNING]
        minute = SHIFT_START
        while minute < NOW:
            if any(a <= minute < b for a, b in running):
                buckets.append(CountBucket(machine, minute, None, 100, 1))
            minute += 60
    store.write_counts(buckets)
