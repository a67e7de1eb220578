"""Property tests of the OEE calculator over random interval layouts.

Times are whole seconds offset from a real instant, so a brute-force reference
that walks the window second by second can check the sweep exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from oee_tui.config import MachineConfig, Reason
from oee_tui.engine.oee.calculator import ProductCounts, aggregate, classify_interval, machine_oee
from oee_tui.model import Loss, MachineState, OeeResult, Span, StateInterval

T0 = 1_789_999_980.0
REASONS: dict[str, Reason] = {
    r.code: r
    for r in (
        Reason("PM", "Planned maintenance", planned=True, loss=None),
        Reason("FAIL", "Failure", planned=False, loss=Loss.BREAKDOWN),
        Reason("SETUP", "Setup", planned=False, loss=Loss.SETUP),
        Reason("JAM", "Jam", planned=False, loss=Loss.MINOR_STOP),
    )
}
PRODUCTS = (None, "A", "B", "C")


@dataclass(frozen=True)
class Case:
    machine: MachineConfig
    window: Span
    scheduled: list[Span]
    breaks: list[Span]
    intervals: list[StateInterval]
    totals: dict[str | None, ProductCounts]
    now: float


def _spans(draw: st.DrawFn, lo: int, hi: int, max_size: int) -> list[Span]:
    pairs = draw(st.lists(st.tuples(st.integers(lo, hi), st.integers(0, 200)), max_size=max_size))
    return [Span(T0 + a, T0 + a + length) for a, length in pairs]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    window_start = draw(st.integers(0, 100))
    window_end = window_start + draw(st.integers(0, 600))
    # Scheduled and break spans may overlap each other and stick out of the window.
    scheduled = _spans(draw, -50, 700, 5)
    breaks = _spans(draw, -50, 700, 4)
    # Intervals: a sequence with optional gaps (time no interval covers), the last maybe open.
    intervals: list[StateInterval] = []
    t = draw(st.integers(-100, 100))
    for _ in range(draw(st.integers(0, 12))):
        t += draw(st.sampled_from([0, 0, 0, 5, 30]))
        length = draw(st.integers(0, 150))
        state = draw(st.sampled_from(list(MachineState)))
        reason = draw(st.sampled_from([None, None, "PM", "FAIL", "SETUP", "JAM", "UNKNOWN"]))
        intervals.append(StateInterval("M1", T0 + t, T0 + t + length, state, reason))
        t += length
    if intervals and draw(st.booleans()):
        last = intervals[-1]
        intervals[-1] = StateInterval("M1", last.start, None, last.state, last.reason)
    now = T0 + max(t, window_start) + draw(st.integers(0, 300))
    if intervals and intervals[-1].end is None:
        now = max(now, intervals[-1].start)
    cycle_times = {p: draw(st.sampled_from([0.5, 1.0, 1.3, 2.0, 7.25])) for p in PRODUCTS if p is not None}
    machine = MachineConfig(id="M1", name="M1", line="L1", ideal_cycle_time_s=draw(st.sampled_from([0.7, 1.0, 3.0])),
                            micro_stop_threshold_s=draw(st.sampled_from([0.0, 30.0, 120.0])),
                            product_cycle_times=cycle_times)
    totals: dict[str | None, ProductCounts] = {}
    for product in draw(st.lists(st.sampled_from(PRODUCTS), unique=True, max_size=4)):
        total = draw(st.integers(0, 500))
        reject = draw(st.integers(0, total))
        totals[product] = ProductCounts(total, reject, draw(st.integers(0, reject)))
    intervals = draw(st.permutations(intervals))  # input order must not matter
    return Case(machine, Span(T0 + window_start, T0 + window_end), scheduled, breaks, list(intervals), totals, now)


def _run(case: Case) -> OeeResult:
    return machine_oee(case.machine, case.window, case.scheduled, case.breaks, case.intervals, case.totals,
                       REASONS, case.now)


@settings(max_examples=400, deadline=None)
@given(cases())
def test_identities_hold(case: Case) -> None:
    r = _run(case)
    # Every scheduled second is exactly one of: productive (PPT), planned stop, no data.
    assert abs(r.planned_production_time_s + r.planned_stop_s + r.no_data_s - r.scheduled_time_s) < 1e-6
    assert min(r.planned_production_time_s, r.planned_stop_s, r.no_data_s, r.run_time_s) >= 0
    assert r.run_time_s >= r.losses.minor_stop_s
    assert r.unplanned_downtime_s == r.losses.breakdown_s + r.losses.setup_s
    good_time = sum(case.machine.cycle_time_for(p) * c.good for p, c in case.totals.items())
    if r.planned_production_time_s > 0:
        assert r.oee is not None
        assert abs(r.oee - good_time / r.planned_production_time_s) < 1e-9
    else:
        assert r.oee is None
    if None not in (r.availability, r.performance, r.quality):
        assert abs(r.availability * r.performance * r.quality - r.oee) < 1e-9  # type: ignore[operator]
    if r.performance is not None:
        assert (r.performance > 1.0 + 1e-9) == ("performance_over_100" in r.flags)
    assert (r.no_data_s > 0) == ("no_data" in r.flags)


@settings(max_examples=300, deadline=None)
@given(cases())
def test_times_match_a_second_by_second_reference(case: Case) -> None:
    r = _run(case)
    lo, hi = int(case.window.start - T0), int(case.window.end - T0)
    covered: dict[int, str] = {}
    for interval in case.intervals:
        cls = classify_interval(interval, case.machine, REASONS, case.now)
        end = interval.end if interval.end is not None else case.now
        for second in range(int(interval.start - T0), int(end - T0)):
            covered[second] = cls
    expected = {"scheduled": 0, "planned": 0, "no_data": 0, "run": 0, "breakdown": 0, "setup": 0, "minor_stop": 0}
    for second in range(lo, hi):
        ts = T0 + second
        if not any(s.start <= ts < s.end for s in case.scheduled):
            continue
        expected["scheduled"] += 1
        cls = covered.get(second, "no_data")
        if cls == "planned" or any(b.start <= ts < b.end for b in case.breaks):
            expected["planned"] += 1
        else:
            expected[cls] += 1
    assert r.scheduled_time_s == expected["scheduled"]
    assert r.planned_stop_s == expected["planned"]
    assert r.no_data_s == expected["no_data"]
    assert r.losses.breakdown_s == expected["breakdown"]
    assert r.losses.setup_s == expected["setup"]
    assert r.losses.minor_stop_s == expected["minor_stop"]
    assert r.run_time_s == expected["run"] + expected["minor_stop"]


@settings(max_examples=200, deadline=None)
@given(st.lists(cases(), min_size=1, max_size=4))
def test_aggregate_is_sums_not_averages(batch: list[Case]) -> None:
    results = [_run(case) for case in batch]
    line = aggregate("L", results)
    ppt = sum(r.planned_production_time_s for r in results)
    fully = sum(r.fully_productive_time_s for r in results)
    assert line.planned_production_time_s == ppt
    if ppt > 0:
        assert line.oee is not None and abs(line.oee - fully / ppt) < 1e-9
    assert abs(line.planned_production_time_s + line.planned_stop_s + line.no_data_s - line.scheduled_time_s) < 1e-6
    if None not in (line.availability, line.performance, line.quality):
        assert abs(line.availability * line.performance * line.quality - line.oee) < 1e-9  # type: ignore[operator]
