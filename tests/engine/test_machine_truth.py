"""Issue 13 items 6, 7 and 8 in the machine tracker: time without data is offline whatever the
first value after it says; breaks, planned stops and time outside the schedule are planned
whatever the PLC says; fragments shorter than the settle time are absorbed."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise

from oee_tui.config import BreakConfig, MachineConfig, ShiftConfig, TagMapping
from oee_tui.engine.live.machine import MachineTracker
from oee_tui.engine.oee.planning_rules import MachinePlan
from oee_tui.engine.oee.shifts import ShiftCalendar
from oee_tui.model import MachineState, Signal, Span, StateInterval

DAY = datetime(2026, 9, 21, tzinfo=UTC).timestamp()  # a Monday, 00:00 UTC
H = 3600.0
STATE_MAP = {1: "running", 2: "stopped", 3: "down"}


def machine(with_state: bool = False, calendar: ShiftCalendar | None = None, stale_after_s: float = 10,
            settle_time_s: float = 1.0) -> MachineTracker:
    signals = {Signal.TOTAL_COUNT: TagMapping(Signal.TOTAL_COUNT, "plc", "hr:0", "uint16", 16)}
    if with_state:
        signals[Signal.STATE_CODE] = TagMapping(Signal.STATE_CODE, "plc", "hr:2", "uint16")
    config = MachineConfig(id="M1", name="Filler", line="L1", ideal_cycle_time_s=1.0, micro_stop_threshold_s=60,
                           state_map=STATE_MAP, signals=signals, settle_time_s=settle_time_s)
    return MachineTracker(config, stale_after_s=stale_after_s, start=DAY + 6 * H, calendar=calendar)


def run_until(m: MachineTracker, start: float, end: float, count: int, step: float = 1.0) -> int:
    """One part a second from `start` to `end`, read every `step` seconds; returns the last count read."""
    t = start
    while t < end:
        m.on_sample(Signal.TOTAL_COUNT, t, count, True, None, t)
        m.evaluate(t)
        count += 1
        t += step
    return count - 1


def hold(m: MachineTracker, start: float, end: float, count: int, step: float = 1.0, **signals: int) -> None:
    """Readings that show no new part from `start` to `end`."""
    t = start
    while t < end:
        m.on_sample(Signal.TOTAL_COUNT, t, count, True, None, t)
        for name, value in signals.items():
            m.on_sample(Signal(name), t, value, True, None, t)
        m.evaluate(t)
        t += step


def timeline(m: MachineTracker, now: float) -> list[tuple[float, float, MachineState]]:
    """(start, end, state) from the machine's day start, in seconds; empty intervals left out."""
    whole = [*m.history, m.open_interval(now)]
    return [(i.start - DAY, (i.end if i.end is not None else now) - DAY, i.state)
            for i in whole if (i.end if i.end is not None else now) > i.start]


def lost(m: MachineTracker, start: float, end: float, step: float = 1.0) -> None:
    """The PLC cannot be reached from `start` to `end`: every read fails."""
    t = start
    while t < end:
        m.on_sample(Signal.TOTAL_COUNT, t, None, False, "connection refused", t)
        m.evaluate(t)
        t += step


# ---------------------------------------------------------------- item 6: outages


def test_an_outage_with_no_new_part_after_it_stays_offline() -> None:
    m = machine()
    t = DAY + 6 * H
    count = run_until(m, t, t + 30, 100)
    lost(m, t + 30, t + 90)
    hold(m, t + 90, t + 120, count)  # back: the count has not moved
    got = timeline(m, t + 120)
    # Before: offline for 0 s, and a minor stop from the outage's start (6:00:30) on.
    assert (6 * H + 30, 6 * H + 90, MachineState.OFFLINE) in got
    assert got[-1][0] == 6 * H + 90 and got[-1][2] is MachineState.MINOR_STOP


def test_a_short_outage_of_silence_is_not_running_time() -> None:
    # Silence (no reads at all) shorter than the activity timeout: before, the machine was
    # "running" straight through it once data came back, as its last part was recent.
    m = machine(stale_after_s=3)
    t = DAY + 6 * H
    count = run_until(m, t, t + 30, 100)
    m.evaluate(t + 34)  # no data for 5 s: offline since the last reading
    hold(m, t + 36, t + 37, count)
    got = timeline(m, t + 37)
    assert (6 * H + 29, 6 * H + 36, MachineState.OFFLINE) in got
    assert not any(start < 6 * H + 36 and end > 6 * H + 29 for start, end, state in got
                   if state is not MachineState.OFFLINE)


# ---------------------------------------------------------------- item 7: planned time


def calendar() -> ShiftCalendar:
    return ShiftCalendar((ShiftConfig("Early", "06:00", "14:00", breaks=(BreakConfig("10:00", "10:30"),)),), "UTC")


def test_a_count_derived_machine_standing_in_a_break_is_planned_not_stopped() -> None:
    m = machine(calendar=calendar())
    count = run_until(m, DAY + 9.5 * H, DAY + 10 * H - 20, 0)
    hold(m, DAY + 10 * H - 20, DAY + 10 * H + 15 * 60, count)
    assert m.live_state(DAY + 10 * H + 15 * 60) is MachineState.PLANNED_STOP  # before: down
    hold(m, DAY + 10 * H + 15 * 60, DAY + 10 * H + 40 * 60, count)
    got = timeline(m, DAY + 10 * H + 40 * 60)
    assert (10 * H, 10.5 * H, MachineState.PLANNED_STOP) in got
    # Standing still after the break: a stop from the break's end, not from the last part.
    assert got[-1] == (10.5 * H, 10 * H + 40 * 60, MachineState.DOWN)
    assert (10 * H - 21, 10 * H, MachineState.MINOR_STOP) in got  # from the last part to the break


def test_a_plc_saying_stopped_in_a_break_or_outside_the_schedule_is_planned() -> None:
    m = machine(with_state=True, calendar=calendar())
    hold(m, DAY + 9.9 * H, DAY + 10 * H + 60, 0, step=5.0, state_code=2)
    assert m.live_state(DAY + 10 * H + 60) is MachineState.PLANNED_STOP
    hold(m, DAY + 13.9 * H, DAY + 14 * H + 60, 0, step=5.0, state_code=2)  # the shift ends at 14:00
    assert m.live_state(DAY + 14 * H + 60) is MachineState.PLANNED_STOP
    got = timeline(m, DAY + 14 * H + 60)
    assert got[-1][:2] == (14 * H, 14 * H + 60)


def test_a_planned_stop_of_the_downtime_plan_is_planned() -> None:
    m = machine(with_state=True, calendar=calendar())
    m.set_plan(MachinePlan(m.config, planned_stops=(Span(DAY + 7 * H, DAY + 8 * H),)), DAY + 6 * H)
    hold(m, DAY + 6.9 * H, DAY + 7 * H + 60, 0, step=5.0, state_code=3)
    assert m.live_state(DAY + 7 * H + 60) is MachineState.PLANNED_STOP
    assert m.current.start == DAY + 7 * H


# ---------------------------------------------------------------- item 8: fragments


def test_a_blip_of_offline_does_not_split_a_breakdown() -> None:
    m = machine(with_state=True)
    t = DAY + 6 * H
    hold(m, t, t + 5, 0, state_code=1)
    hold(m, t + 5, t + 25, 0, state_code=3)
    m.on_sample(Signal.STATE_CODE, t + 25, None, False, "stall", t + 25)
    m.evaluate(t + 25)
    m.evaluate(t + 25.001)  # the next batch, 1 ms later, reads well again
    hold(m, t + 25.001, t + 52, 0, state_code=3)
    hold(m, t + 52, t + 55, 0, state_code=1)
    stops = [(start - 6 * H, end - 6 * H, state) for start, end, state in timeline(m, t + 55) if state.is_stop]
    assert stops == [(5, 52, MachineState.MINOR_STOP)]  # one stop of 47 s, before: 20 s + 27 s
    assert all(i.end is not None and i.end >= i.start for i in m.closed)


def test_fragments_are_stored_empty_so_nothing_overlaps() -> None:
    m = machine(with_state=True)
    t = DAY + 6 * H
    hold(m, t, t + 5, 0, state_code=1)
    m.on_sample(Signal.STATE_CODE, t + 5, 2, True, None, t + 5)
    m.evaluate(t + 5)
    stored, _ = m.take_pending(t + 5.2)  # the fragment went to the store as the open interval
    m.on_sample(Signal.STATE_CODE, t + 5.3, 1, True, None, t + 5.3)
    m.evaluate(t + 5.3)
    later, _ = m.take_pending(t + 10)
    rows: dict[float, StateInterval] = {i.start: i for i in [*stored, *later]}  # the store's upsert
    spans = sorted((i.start, i.end) for i in rows.values() if i.end is not None and i.end > i.start)
    assert all(a_end <= b_start for (_a, a_end), (b_start, _b) in pairwise(spans))
    assert rows[t + 5].end == t + 5  # the 0.3 s stop is stored empty: running goes on
    assert m.current.state is MachineState.RUNNING and m.current.start < t + 5
