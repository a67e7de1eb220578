"""OEE calculator: cases worked out by hand, the arithmetic in the comments.

Times are written as offsets in seconds from T0 so the numbers stay readable;
T0 is a real instant on a minute boundary so count buckets line up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from oee_tui.config import MachineConfig, Reason
from oee_tui.engine.oee.calculator import (
    OverlappingStopsError,
    ProductCounts,
    aggregate,
    classify_interval,
    machine_oee,
    machine_oee_from_counts,
    product_totals,
)
from oee_tui.model import CountBucket, Loss, MachineState, OeeResult, Span, StateInterval

T0 = 1_789_999_980.0  # 2026-09-21 14:13:00 UTC, a minute boundary
RUNNING = MachineState.RUNNING
DOWN = MachineState.DOWN
MINOR = MachineState.MINOR_STOP
CHANGEOVER = MachineState.CHANGEOVER
PLANNED_STOP = MachineState.PLANNED_STOP
OFFLINE = MachineState.OFFLINE

REASONS: dict[str, Reason] = {
    r.code: r
    for r in (
        Reason("PM", "Planned maintenance", planned=True, loss=None),
        Reason("FAIL", "Failure", planned=False, loss=Loss.BREAKDOWN),
        Reason("SETUP", "Setup / changeover", planned=False, loss=Loss.SETUP),
        Reason("JAM", "Jam", planned=False, loss=Loss.MINOR_STOP),
        Reason("SCRAP", "Scrap run", planned=False, loss=Loss.DEFECTS),  # a quality loss given to a stop
    )
}


def machine(ct: float = 1.0, machine_id: str = "M1", **kw: object) -> MachineConfig:
    kw.setdefault("micro_stop_threshold_s", 120.0)
    kw.setdefault("startup_period_s", 300.0)
    return MachineConfig(id=machine_id, name=machine_id, line="L1", ideal_cycle_time_s=ct, **kw)  # type: ignore[arg-type]


def span(a: float, b: float) -> Span:
    return Span(T0 + a, T0 + b)


def iv(a: float, b: float | None, state: MachineState, reason: str | None = None,
       machine_id: str = "M1") -> StateInterval:
    return StateInterval(machine_id, T0 + a, None if b is None else T0 + b, state, reason)


def run(m: MachineConfig, window: Span, intervals: Sequence[StateInterval], totals: dict[str | None, ProductCounts],
        scheduled: Sequence[Span] | None = None, breaks: Sequence[Span] = (), now: float | None = None) -> OeeResult:
    return machine_oee(m, window, [window] if scheduled is None else scheduled, breaks, intervals, totals, REASONS,
                       window.end if now is None else now)


def assert_consistent(r: OeeResult) -> None:
    """The identities every result must keep, whatever the case."""
    assert r.planned_production_time_s + r.planned_stop_s + r.no_data_s == pytest.approx(r.scheduled_time_s)
    assert r.run_time_s == pytest.approx(r.planned_production_time_s - r.unplanned_downtime_s)
    if None not in (r.availability, r.performance, r.quality, r.oee):
        assert r.availability * r.performance * r.quality == pytest.approx(r.oee, rel=1e-12)  # type: ignore[operator]


# ---------------------------------------------------------------- simple cases


def test_one_product_simple_shift() -> None:
    # 8 h shift, one 30 min failure, ideal cycle 2 s, 10 000 parts of which 100 rejects.
    m = machine(ct=2.0)
    window = span(0, 28_800)
    intervals = [iv(0, 3_600, RUNNING), iv(3_600, 5_400, DOWN, "FAIL"), iv(5_400, 28_800, RUNNING)]
    r = run(m, window, intervals, {None: ProductCounts(10_000, 100)})
    # PPT = 28 800 (no breaks); breakdown 1 800 -> run time 27 000
    assert r.calendar_time_s == 28_800
    assert r.scheduled_time_s == 28_800
    assert r.planned_production_time_s == 28_800
    assert r.run_time_s == 27_000
    assert r.unplanned_downtime_s == 1_800
    assert r.losses.breakdown_s == 1_800 and r.losses.breakdown_events == 1
    # ideal = 2 x 10 000 = 20 000 s; fully productive = 2 x 9 900 = 19 800 s
    assert r.ideal_output_time_s == 20_000
    assert r.fully_productive_time_s == 19_800
    assert r.availability == pytest.approx(27_000 / 28_800)  # 0.9375
    assert r.performance == pytest.approx(20_000 / 27_000)  # 0.7407
    assert r.quality == pytest.approx(0.99)  # 19 800 / 20 000
    assert r.quality_count_ratio == pytest.approx(0.99)  # 9 900 / 10 000
    assert r.oee == pytest.approx(0.6875)  # 19 800 / 28 800
    assert r.teep == pytest.approx(0.6875)  # calendar == PPT here
    assert (r.total_count, r.good_count, r.reject_count) == (10_000, 9_900, 100)
    # reduced speed = run 27 000 - minor 0 - ideal 20 000 = 7 000 s; defects = 2 s x 100
    assert r.losses.reduced_speed_s == 7_000
    assert r.losses.defects_s == 200 and r.losses.defects_count == 100
    assert r.losses.startup_rejects_s == 0 and r.losses.startup_rejects_count == 0
    assert r.flags == ()
    assert r.scope == "M1" and r.window_start == T0 and r.window_end == T0 + 28_800
    assert_consistent(r)


def test_several_products_with_different_cycle_times() -> None:
    # 4 h all running. A: ct 1 s, 3 000 parts, 30 rejects; B: ct 3 s, 2 000 parts, 100 rejects;
    # unknown product (None): the machine's ideal cycle time 2 s, 500 parts, 0 rejects.
    m = machine(ct=2.0, product_cycle_times={"A": 1.0, "B": 3.0})
    window = span(0, 14_400)
    totals = {"A": ProductCounts(3_000, 30), "B": ProductCounts(2_000, 100), None: ProductCounts(500, 0)}
    r = run(m, window, [iv(0, 14_400, RUNNING)], totals)
    # ideal = 1x3000 + 3x2000 + 2x500 = 3000 + 6000 + 1000 = 10 000 s
    # fully productive = 1x2970 + 3x1900 + 2x500 = 2970 + 5700 + 1000 = 9 670 s
    assert r.ideal_output_time_s == 10_000
    assert r.fully_productive_time_s == 9_670
    assert r.availability == 1.0
    assert r.performance == pytest.approx(10_000 / 14_400)
    assert r.quality == pytest.approx(0.967)  # 9 670 / 10 000, weighted by ideal time
    assert r.quality_count_ratio == pytest.approx(5_370 / 5_500)  # 0.9764: counts alone differ
    assert r.oee == pytest.approx(9_670 / 14_400)  # 0.6715
    # defects: 1x30 + 3x100 = 330 s over 130 parts
    assert r.losses.defects_s == 330 and r.losses.defects_count == 130
    assert_consistent(r)


def test_planned_stops_break_and_planned_maintenance() -> None:
    # 8 h. Breaks 7 200-9 000 (30 min) and 25 200-25 800 (10 min, inside the planned stop below).
    # PM reason on a DOWN stop 14 400-18 000 (1 h); PLANNED_STOP state 25 200-26 100 (15 min).
    m = machine(ct=1.0)
    window = span(0, 28_800)
    intervals = [
        iv(0, 14_400, RUNNING),
        iv(14_400, 18_000, DOWN, "PM"),
        iv(18_000, 25_200, RUNNING),
        iv(25_200, 26_100, PLANNED_STOP),
        iv(26_100, 28_800, RUNNING),
    ]
    r = run(m, window, intervals, {None: ProductCounts(20_000, 0)}, breaks=[span(7_200, 9_000), span(25_200, 25_800)])
    # planned = 1 800 + 3 600 + 900 = 6 300 (the second break is inside the planned stop: not counted twice)
    assert r.planned_stop_s == 6_300
    assert r.planned_production_time_s == 22_500  # 28 800 - 6 300
    assert r.run_time_s == 22_500
    assert r.unplanned_downtime_s == 0 and r.losses.breakdown_events == 0
    assert r.availability == 1.0
    assert r.performance == pytest.approx(20_000 / 22_500)  # 0.8889
    assert r.oee == pytest.approx(20_000 / 22_500)
    assert r.teep == pytest.approx(20_000 / 28_800)  # 0.6944: TEEP sees the planned time as lost
    assert_consistent(r)


def test_micro_stops_are_performance_not_downtime() -> None:
    # 1 h, threshold 120 s. Stops: DOWN 60 s (no reason) -> minor; MINOR_STOP 30 s -> minor;
    # DOWN with FAIL 119 s -> minor (a failure reason, but short); DOWN 120 s -> breakdown (not < 120).
    m = machine(ct=1.0)
    window = span(0, 3_600)
    intervals = [
        iv(0, 1_000, RUNNING),
        iv(1_000, 1_060, DOWN),
        iv(1_060, 2_000, RUNNING),
        iv(2_000, 2_030, MINOR),
        iv(2_030, 2_500, RUNNING),
        iv(2_500, 2_619, DOWN, "FAIL"),
        iv(2_619, 3_000, RUNNING),
        iv(3_000, 3_120, DOWN),
        iv(3_120, 3_600, RUNNING),
    ]
    r = run(m, window, intervals, {None: ProductCounts(3_000, 0)})
    # minor = 60 + 30 + 119 = 209 s in 3 events, inside run time; breakdown = 120 s
    assert r.losses.minor_stop_s == 209 and r.losses.minor_stop_events == 3
    assert r.losses.breakdown_s == 120 and r.losses.breakdown_events == 1
    assert r.run_time_s == 3_480  # 3 600 - 120
    assert r.availability == pytest.approx(3_480 / 3_600)
    assert r.performance == pytest.approx(3_000 / 3_480)
    # reduced speed = 3 480 - 209 - 3 000 = 271 s
    assert r.losses.reduced_speed_s == 271
    assert r.oee == pytest.approx(3_000 / 3_600)
    assert_consistent(r)


def test_changeover_is_setup_at_any_length() -> None:
    # 2 h. CHANGEOVER state 60 s (below the micro-stop threshold, still a setup) and a DOWN stop
    # given the SETUP reason, 1 200 s.
    m = machine(ct=1.0)
    window = span(0, 7_200)
    intervals = [
        iv(0, 3_000, RUNNING),
        iv(3_000, 3_060, CHANGEOVER),
        iv(3_060, 4_000, RUNNING),
        iv(4_000, 5_200, DOWN, "SETUP"),
        iv(5_200, 7_200, RUNNING),
    ]
    r = run(m, window, intervals, {None: ProductCounts(5_000, 0)})
    # setup = 60 + 1 200 = 1 260 s in 2 events; run = 7 200 - 1 260 = 5 940
    assert r.losses.setup_s == 1_260 and r.losses.setup_events == 2
    assert r.losses.breakdown_s == 0 and r.losses.minor_stop_s == 0
    assert r.unplanned_downtime_s == 1_260
    assert r.run_time_s == 5_940
    assert r.availability == pytest.approx(5_940 / 7_200)
    assert_consistent(r)


def test_classification_rules() -> None:
    m = machine()
    now = T0 + 10_000
    assert classify_interval(iv(0, 10, RUNNING), m, REASONS, now) == "run"
    assert classify_interval(iv(0, 10, OFFLINE), m, REASONS, now) == "no_data"
    assert classify_interval(iv(0, 10, PLANNED_STOP), m, REASONS, now) == "planned"
    assert classify_interval(iv(0, 10, DOWN, "PM"), m, REASONS, now) == "planned"  # planned reason, any state
    assert classify_interval(iv(0, 10, DOWN, "SETUP"), m, REASONS, now) == "setup"
    assert classify_interval(iv(0, 1_000, MINOR, "JAM"), m, REASONS, now) == "minor_stop"  # the reason decides
    assert classify_interval(iv(0, 1_000, DOWN, "SCRAP"), m, REASONS, now) == "breakdown"  # quality loss on a stop
    assert classify_interval(iv(0, 1_000, MINOR, "FAIL"), m, REASONS, now) == "breakdown"
    assert classify_interval(iv(0, 1_000, DOWN, "UNKNOWN"), m, REASONS, now) == "breakdown"  # unknown code: by state
    assert classify_interval(iv(0, 30, CHANGEOVER), m, REASONS, now) == "setup"
    # Open stop: its duration so far (now - start) decides.
    assert classify_interval(iv(9_900, None, DOWN), m, REASONS, now) == "minor_stop"  # 100 s so far
    assert classify_interval(iv(9_880, None, DOWN), m, REASONS, now) == "breakdown"  # 120 s so far


def test_stop_cut_by_window_counts_only_inside_and_keeps_its_class() -> None:
    # A 10 min DOWN stop from -540 to +60 is cut by the window to 60 s: still a breakdown (its full
    # duration 600 s >= 120 s). A run interval ending after the window counts only up to 3 600.
    m = machine(ct=1.0)
    window = span(0, 3_600)
    intervals = [iv(-1_000, -540, RUNNING), iv(-540, 60, DOWN), iv(60, 5_000, RUNNING)]
    r = run(m, window, intervals, {None: ProductCounts(3_000, 0)})
    assert r.losses.breakdown_s == 60 and r.losses.breakdown_events == 1
    assert r.losses.minor_stop_s == 0
    assert r.run_time_s == 3_540  # 3 600 - 60
    assert r.planned_production_time_s == 3_600
    assert_consistent(r)


def test_open_interval_ends_now_and_the_rest_is_no_data() -> None:
    # Window 0-3 600 but now = 3 000: DOWN open since 2 000 counts 1 000 s (breakdown: 1 000 >= 120);
    # 3 000-3 600 has no interval yet -> no data, excluded from PPT.
    m = machine(ct=1.0)
    window = span(0, 3_600)
    r = run(m, window, [iv(0, 2_000, RUNNING), iv(2_000, None, DOWN)], {None: ProductCounts(1_500, 0)},
            now=T0 + 3_000)
    assert r.losses.breakdown_s == 1_000
    assert r.no_data_s == 600
    assert r.planned_production_time_s == 3_000  # 3 600 - 600
    assert r.run_time_s == 2_000
    assert r.oee == pytest.approx(1_500 / 3_000)
    assert "no_data" in r.flags
    assert_consistent(r)


def test_performance_over_100_is_flagged_not_capped() -> None:
    # 1 h all running, ct 1 s, 4 000 parts: the ideal cycle time must be wrong.
    m = machine(ct=1.0)
    window = span(0, 3_600)
    r = run(m, window, [iv(0, 3_600, RUNNING)], {None: ProductCounts(4_000, 0)})
    assert r.performance == pytest.approx(4_000 / 3_600)  # 1.111, not 1.0
    assert r.oee == pytest.approx(4_000 / 3_600)
    assert "performance_over_100" in r.flags
    assert r.losses.reduced_speed_s == -400  # 3 600 - 0 - 4 000, reported as is
    assert_consistent(r)
    # Exactly 100 % is not flagged (3 600 parts x 1 s in 3 600 s).
    exact = run(m, window, [iv(0, 3_600, RUNNING)], {None: ProductCounts(3_600, 0)})
    assert exact.performance == 1.0 and exact.flags == ()


def test_no_data_is_excluded_and_flagged() -> None:
    # 8 h. OFFLINE 3 600-7 200 (1 h); no interval at all 10 800-14 400 (1 h), of which a break
    # 12 600-13 500 (15 min) is planned time, not no data.
    m = machine(ct=1.0)
    window = span(0, 28_800)
    intervals = [
        iv(0, 3_600, RUNNING),
        iv(3_600, 7_200, OFFLINE),
        iv(7_200, 10_800, RUNNING),
        iv(14_400, 28_800, RUNNING),
    ]
    r = run(m, window, intervals, {None: ProductCounts(18_000, 0)}, breaks=[span(12_600, 13_500)])
    # no data = offline 3 600 + gap (3 600 - 900 break) 2 700 = 6 300; planned = 900
    assert r.no_data_s == 6_300
    assert r.planned_stop_s == 900
    assert r.planned_production_time_s == 21_600  # 28 800 - 900 - 6 300
    assert r.run_time_s == 21_600  # no data is not counted as running, nor as down
    assert r.unplanned_downtime_s == 0
    assert r.oee == pytest.approx(18_000 / 21_600)
    assert r.flags == ("no_data",)
    assert_consistent(r)


def test_unscheduled_time_is_neither_ppt_nor_no_data() -> None:
    # Window 8 h, shift only the first 4 h. Running all 8 h; counts outside the shift are not counted.
    m = machine(ct=1.0)
    window = span(0, 28_800)
    buckets = [CountBucket("M1", T0 + 60 * i, None, 10, 0) for i in range(480)]  # 10 parts a minute, 8 h
    r = machine_oee_from_counts(m, window, [span(0, 14_400)], [], [iv(0, 28_800, RUNNING)], buckets, REASONS,
                                T0 + 28_800)
    assert r.calendar_time_s == 28_800
    assert r.scheduled_time_s == 14_400
    assert r.no_data_s == 0
    assert r.planned_production_time_s == 14_400
    assert r.total_count == 2_400  # 240 minutes in the shift x 10
    assert r.oee == pytest.approx(2_400 / 14_400)
    assert r.teep == pytest.approx(2_400 / 28_800)
    assert_consistent(r)


def test_startup_rejects_after_breakdown() -> None:
    # ct 2 s, startup period 300 s. FAIL 600-1 200 (breakdown) opens a startup window 1 200-1 500.
    # A 60 s DOWN at 2 000 is a minor stop: it opens no startup window.
    m = machine(ct=2.0)
    window = span(0, 3_600)
    intervals = [
        iv(0, 600, RUNNING),
        iv(600, 1_200, DOWN, "FAIL"),
        iv(1_200, 2_000, RUNNING),
        iv(2_000, 2_060, DOWN),
        iv(2_060, 3_600, RUNNING),
    ]
    buckets = [
        CountBucket("M1", T0 - 60, None, 77, 7),  # before the window: ignored
        CountBucket("M1", T0 + 0, None, 50, 2),  # process defects
        CountBucket("M1", T0 + 1_200, None, 40, 5),  # minute starts at the stop's end: startup
        CountBucket("M1", T0 + 1_440, None, 50, 3),  # 1 440 < 1 500: startup
        CountBucket("M1", T0 + 1_500, None, 50, 4),  # 1 500 is not < 1 500: process defects
        CountBucket("M1", T0 + 2_100, None, 10, 1),  # after the minor stop: process defects
        CountBucket("M1", T0 + 3_600, None, 99, 9),  # at the window end: outside [start, end)
    ]
    totals = product_totals(buckets, intervals, m, REASONS, window, [window], T0 + 3_600)
    # total = 50+40+50+50+10 = 200; reject = 2+5+3+4+1 = 15; startup = 5+3 = 8
    assert totals == {None: ProductCounts(200, 15, 8)}
    r = machine_oee_from_counts(m, window, [window], [], intervals, buckets, REASONS, T0 + 3_600)
    assert r.losses.startup_rejects_count == 8 and r.losses.startup_rejects_s == 16  # 2 s x 8
    assert r.losses.defects_count == 7 and r.losses.defects_s == 14  # 2 s x (15 - 8)
    # ideal = 2 x 200 = 400; fully = 2 x 185 = 370; run = 3 600 - 600 = 3 000
    assert r.fully_productive_time_s == 370
    assert r.losses.breakdown_s == 600 and r.losses.minor_stop_s == 60
    assert r.quality == pytest.approx(370 / 400)
    assert r.oee == pytest.approx(370 / 3_600)
    assert_consistent(r)


def test_overlapping_stops_raise_with_a_clear_message() -> None:
    m = machine()
    window = span(0, 3_600)
    intervals = [iv(0, 1_000, RUNNING), iv(900, 1_200, DOWN), iv(1_200, 3_600, RUNNING)]
    with pytest.raises(OverlappingStopsError) as err:
        run(m, window, intervals, {})
    message = str(err.value)
    assert "M1" in message
    for ts in (T0, T0 + 1_000, T0 + 900, T0 + 1_200):
        assert datetime.fromtimestamp(ts, UTC).isoformat() in message
    assert isinstance(err.value, ValueError)  # the engine's live view catches ValueError
    # An open interval overlaps whatever starts after it and before now.
    with pytest.raises(OverlappingStopsError, match="open"):
        run(m, window, [iv(0, None, RUNNING), iv(100, 200, DOWN)], {}, now=T0 + 500)
    # Touching intervals (end == start) are fine, in any input order.
    r = run(m, window, [iv(1_800, 3_600, RUNNING), iv(0, 1_800, RUNNING)], {})
    assert r.run_time_s == 3_600


def test_line_aggregation_sums_times_and_counts() -> None:
    # M1: 8 h shift, all running, ct 1 s, 27 000 good -> OEE 27 000 / 28 800 = 0.9375.
    # M2: same 8 h window but scheduled only the first hour; failure 1 800 s, 900 good
    #     -> PPT 3 600, run 1 800, OEE 900 / 3 600 = 0.25.
    window = span(0, 28_800)
    m1, m2 = machine(ct=1.0, machine_id="M1"), machine(ct=1.0, machine_id="M2")
    r1 = run(m1, window, [iv(0, 28_800, RUNNING)], {None: ProductCounts(27_000, 0)})
    r2 = run(m2, window, [iv(0, 1_800, DOWN, "FAIL", "M2"), iv(1_800, 28_800, RUNNING, machine_id="M2")],
             {None: ProductCounts(900, 0)}, scheduled=[span(0, 3_600)])
    assert r1.oee == pytest.approx(0.9375) and r2.oee == pytest.approx(0.25)
    line = aggregate("L1", [r1, r2])
    # Sums: PPT 28 800 + 3 600 = 32 400; run 28 800 + 1 800 = 30 600; fully 27 000 + 900 = 27 900;
    # calendar 2 x 28 800 = 57 600.
    assert line.scope == "L1"
    assert line.planned_production_time_s == 32_400
    assert line.run_time_s == 30_600
    assert line.fully_productive_time_s == 27_900
    assert line.calendar_time_s == 57_600
    assert line.losses.breakdown_s == 1_800 and line.losses.breakdown_events == 1
    assert line.oee == pytest.approx(27_900 / 32_400)  # 0.8611
    assert not math.isclose(line.oee, (0.9375 + 0.25) / 2)  # NOT the average 0.59375
    assert line.availability == pytest.approx(30_600 / 32_400)
    assert line.performance == pytest.approx(27_900 / 30_600)
    assert line.teep == pytest.approx(27_900 / 57_600)
    assert line.window_start == T0 and line.window_end == T0 + 28_800
    assert_consistent(line)


def test_aggregate_unions_flags_and_handles_no_machines() -> None:
    window = span(0, 3_600)
    over = run(machine(ct=1.0), window, [iv(0, 3_600, RUNNING)], {None: ProductCounts(4_000, 0)})
    gap = run(machine(ct=1.0, machine_id="M2"), window, [], {})  # nothing known: all no data
    assert gap.no_data_s == 3_600 and gap.oee is None and gap.availability is None
    plant = aggregate("plant", [over, gap])
    assert set(plant.flags) == {"performance_over_100", "no_data"}
    empty = aggregate("L9", [])
    assert empty.scope == "L9" and empty.oee is None and empty.teep is None and empty.total_count == 0
