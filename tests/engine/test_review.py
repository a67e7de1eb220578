"""The review screen's queries over a real DuckDB store, checked against hand arithmetic.

Plant (Europe/Berlin): Early 06:00-14:00 (break 10:00-10:30, Monday to Saturday) and
Late 14:00-22:00. On Tuesday 2026-11-24:
  A (L1): 08:00-08:30 down FAIL.MECH; 09:50-10:10 down, no reason (10 of its 20 min in the
          break); 12:00-12:40 changeover SETUP; 12:40-13:00 planned stop; 13:00-13:00:30 down,
          no reason (a minor stop); running otherwise.
  B (L1): 06:00-07:00 down MATERIAL; 14:00-14:30 down, no reason (Late); running otherwise.
  C (L2): 11:00-11:15 down PM (planned); 13:50-14:10 down FAIL.ELEC, across the shift change.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from oee_tui.config import Config
from oee_tui.drivers.registry import config_from_dict
from oee_tui.engine.analysis.report import build_report
from oee_tui.engine.analysis.review import (
    NO_REASON,
    Level,
    ParetoBar,
    PeriodKind,
    ReviewError,
    Scope,
    compare_same_shift,
    compare_shifts_of_day,
    current_period,
    day_period,
    downtime_pareto,
    machine_stops,
    parse_period,
    period_of_kind,
    planned_config,
    range_period,
    review_report,
    shift_period,
    six_big_losses,
    step_period,
    target_vs_actual,
    unassigned_stops,
    week_period,
)
from oee_tui.engine.oee.planning_rules import Planning
from oee_tui.model import CountBucket, MachineState, Span, StateInterval
from oee_tui.store import Store

TZ = ZoneInfo("Europe/Berlin")
DAY = date(2026, 11, 24)
CONFIG = config_from_dict({
    "site": {"name": "Test Plant", "timezone": "Europe/Berlin"},
    "lines": [{"id": "L1", "name": "Bottling"}, {"id": "L2", "name": "Packing"}],
    "machines": [
        {"id": "A", "name": "Filler", "line": "L1", "ideal_cycle_time_s": 1.0, "micro_stop_threshold_s": 60,
         "target_per_hour": 3000},
        {"id": "B", "name": "Capper", "line": "L1", "ideal_cycle_time_s": 1.0, "micro_stop_threshold_s": 60},
        {"id": "C", "name": "Cartoner", "line": "L2", "ideal_cycle_time_s": 2.0, "micro_stop_threshold_s": 60},
    ],
    "shifts": [
        {"name": "Early", "start": "06:00", "end": "14:00", "breaks": [{"start": "10:00", "end": "10:30"}],
         "days": ["mon", "tue", "wed", "thu", "fri", "sat"]},
        {"name": "Late", "start": "14:00", "end": "22:00"},
    ],
})
AFTER = datetime(2026, 11, 25, 0, 0, tzinfo=TZ).timestamp()  # "now": the day is over


def pareto(store: Store, config: Config, window: Span, now: float, scope: Scope | None = None,
           planning: Planning | None = None) -> tuple[ParetoBar, ...]:
    """The Pareto as the review screen gets it: from the plant report over the window."""
    report = build_report(store, config, window, now, "test", planning=planning)
    return downtime_pareto(config, report, scope or Scope())



def at(hhmm: str, day: date = DAY) -> float:
    return datetime.fromisoformat(f"{day.isoformat()}T{hhmm}").replace(tzinfo=TZ).timestamp()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(tmp_path)
    run, down = MachineState.RUNNING, MachineState.DOWN
    intervals = [
        ("A", "06:00", "08:00", run), ("A", "08:00", "08:30", down), ("A", "08:30", "09:50", run),
        ("A", "09:50", "10:10", down), ("A", "10:10", "12:00", run), ("A", "12:00", "12:40", MachineState.CHANGEOVER),
        ("A", "12:40", "13:00", MachineState.PLANNED_STOP), ("A", "13:00", "13:00:30", down),
        ("A", "13:00:30", "22:00", run),
        ("B", "06:00", "07:00", down), ("B", "07:00", "14:00", run), ("B", "14:00", "14:30", down),
        ("B", "14:30", "22:00", run),
        ("C", "06:00", "11:00", run), ("C", "11:00", "11:15", down), ("C", "11:15", "13:50", run),
        ("C", "13:50", "14:10", down), ("C", "14:10", "22:00", run),
    ]
    store.upsert_intervals([StateInterval(m, at(a), at(b), state) for m, a, b, state in intervals])
    for machine, start, reason in (("A", "08:00", "FAIL.MECH"), ("A", "12:00", "SETUP"), ("B", "06:00", "MATERIAL"),
                                   ("C", "11:00", "PM"), ("C", "13:50", "FAIL.ELEC")):
        store.write_stop_reason(machine, at(start), reason, "alice", at(start) + 3600)
    store.write_counts([
        CountBucket("B", at("07:00"), None, 25_200, 0),
        CountBucket("B", at("15:00"), None, 10_000, 100),
    ])
    yield store
    store.close()


# ---------------------------------------------------------------- periods


def test_a_shift_period_is_the_configured_shift_in_plant_time() -> None:
    period = shift_period(CONFIG, "Early", DAY)
    assert (period.kind, period.label, period.start, period.end) == (PeriodKind.SHIFT, "Early@2026-11-24",
                                                                     at("06:00"), at("14:00"))
    # Before it ends, only the part that has happened is reviewed.
    assert period.window(at("09:00")).end == at("09:00")


def test_days_across_dst_changes_are_23_and_25_hours() -> None:
    assert day_period(CONFIG, date(2026, 3, 29)).end - day_period(CONFIG, date(2026, 3, 29)).start == 23 * 3600
    autumn = range_period(CONFIG, date(2026, 10, 24), date(2026, 10, 26))  # clocks go back on the 25th
    assert autumn.label == "2026-10-24..2026-10-26"
    assert autumn.start == datetime(2026, 10, 24, tzinfo=TZ).timestamp()
    assert autumn.end - autumn.start == 73 * 3600


def test_an_iso_week_runs_monday_to_sunday_in_plant_time() -> None:
    week = week_period(CONFIG, 2026, 43)  # 19 to 25 October, with the autumn change on its Sunday
    assert (week.label, week.first_day, week.last_day) == ("2026-W43", date(2026, 10, 19), date(2026, 10, 25))
    assert week.start == datetime(2026, 10, 19, tzinfo=TZ).timestamp()
    assert week.end - week.start == 7 * 86400 + 3600


def test_typed_periods_are_understood() -> None:
    now = at("09:00")
    assert parse_period(CONFIG, "2026-W43", now) == week_period(CONFIG, 2026, 43)
    assert parse_period(CONFIG, " Early@2026-11-24 ", now) == shift_period(CONFIG, "Early", DAY)
    assert parse_period(CONFIG, "Late", now).label == "Late@2026-11-24"
    assert parse_period(CONFIG, "2026-10-24..2026-10-26", now).label == "2026-10-24..2026-10-26"
    assert parse_period(CONFIG, "2026-10-24 to 2026-10-26", now).label == "2026-10-24..2026-10-26"
    assert parse_period(CONFIG, "2026-11-24", now) == day_period(CONFIG, DAY)


@pytest.mark.parametrize(("text", "message"), [
    ("2026-W54", "week 2026-W54 does not exist; 2026 has weeks 1 to 53"),
    ("Nightly@2026-11-24", "no shift named 'Nightly'; shifts are Early, Late"),
    ("Early@2026-11-29", "the Early shift does not run on 2026-11-29 (Sunday)"),
    ("Early@24.11.2026", "the shift's date '24.11.2026' is not a date; write it as 2026-11-26"),
    ("2026-11-26..2026-11-20", "the range 2026-11-26..2026-11-20 ends before it starts"),
    ("yesterday", "'yesterday' is not a period; write 2026-11-26 (a day), 2026-W48 (a week), Early@2026-11-26 "
                  "(a shift), 2026-11-01..2026-11-07 (a range of days, both included)"),
])
def test_a_bad_period_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ReviewError) as caught:
        parse_period(CONFIG, text, at("09:00"))
    assert str(caught.value) == message


def test_stepping_goes_shift_by_shift_and_keeps_the_kind() -> None:
    early = shift_period(CONFIG, "Early", DAY)
    assert step_period(CONFIG, early, 1).label == "Late@2026-11-24"
    assert step_period(CONFIG, early, -1).label == "Late@2026-11-23"
    # Sunday has no Early shift: from Monday's Early, back two shifts is Sunday's Late, then Saturday's.
    monday = shift_period(CONFIG, "Early", date(2026, 11, 23))
    assert [step_period(CONFIG, monday, -n).label for n in (1, 2, 3)] == [
        "Late@2026-11-22", "Late@2026-11-21", "Early@2026-11-21"]
    assert step_period(CONFIG, day_period(CONFIG, DAY), -1).label == "2026-11-23"
    assert step_period(CONFIG, week_period(CONFIG, 2026, 1), -1).label == "2025-W52"
    assert step_period(CONFIG, week_period(CONFIG, 2026, 53), 1).label == "2027-W01"
    assert step_period(CONFIG, range_period(CONFIG, date(2026, 11, 1), date(2026, 11, 7)), 1).label == \
        "2026-11-08..2026-11-14"


def test_switching_kind_keeps_the_day_in_view() -> None:
    early = shift_period(CONFIG, "Early", DAY)
    assert period_of_kind(CONFIG, early, PeriodKind.DAY, AFTER).label == "2026-11-24"
    assert period_of_kind(CONFIG, early, PeriodKind.WEEK, AFTER).label == "2026-W48"
    assert period_of_kind(CONFIG, early, PeriodKind.RANGE, AFTER).label == "2026-11-18..2026-11-24"
    assert period_of_kind(CONFIG, day_period(CONFIG, DAY), PeriodKind.SHIFT, AFTER).label == "Late@2026-11-24"
    assert current_period(CONFIG, PeriodKind.SHIFT, at("15:00")).label == "Late@2026-11-24"
    assert current_period(CONFIG, PeriodKind.WEEK, at("15:00")).label == "2026-W48"


# ---------------------------------------------------------------- Pareto


def test_pareto_orders_reasons_by_unplanned_time_with_shares(store: Store) -> None:
    window = shift_period(CONFIG, "Early", DAY).window(AFTER)
    bars = pareto(store, CONFIG, window, AFTER)
    total = 3600 + 2400 + 1800 + 630 + 600
    assert [(b.reason, b.name, b.seconds, b.stops) for b in bars] == [
        ("MATERIAL", "Waiting for material", 3600, 1),
        ("SETUP", "Setup / changeover", 2400, 1),
        ("FAIL.MECH", "Mechanical", 1800, 1),
        # A's 09:50 stop counts only its 10 minutes outside the break, plus the 30 s minor stop.
        (None, NO_REASON, 630, 2),
        # C's stop across the shift change: its 10 minutes in the Early shift. PM is planned: no bar.
        ("FAIL.ELEC", "Electrical", 600, 1),
    ]
    assert [b.share for b in bars] == pytest.approx([3600 / total, 2400 / total, 1800 / total, 630 / total,
                                                     600 / total])
    assert [b.cumulative for b in bars] == pytest.approx([3600 / total, 6000 / total, 7800 / total, 8430 / total, 1])


def test_pareto_adds_up_to_the_stop_losses_of_the_report(store: Store) -> None:
    period = shift_period(CONFIG, "Early", DAY)
    plant = review_report(store, CONFIG, period, AFTER).plant
    assert plant is not None
    losses = plant.losses
    bars = pareto(store, CONFIG, period.window(AFTER), AFTER)
    assert sum(b.seconds for b in bars) == pytest.approx(losses.breakdown_s + losses.setup_s + losses.minor_stop_s)
    assert sum(b.stops for b in bars) == losses.breakdown_events + losses.setup_events + losses.minor_stop_events


def test_pareto_of_a_line_and_of_a_whole_day(store: Store) -> None:
    early = shift_period(CONFIG, "Early", DAY).window(AFTER)
    line = pareto(store, CONFIG, early, AFTER, Scope(Level.LINE, "L1"))
    assert [(b.reason, b.seconds) for b in line] == [("MATERIAL", 3600), ("SETUP", 2400), ("FAIL.MECH", 1800),
                                                      (None, 630)]
    day = pareto(store, CONFIG, day_period(CONFIG, DAY).window(AFTER), AFTER)
    by_reason = {b.reason: (b.seconds, b.stops) for b in day}
    assert by_reason[None] == (630 + 1800, 3)  # B's 14:00 stop in the Late shift joins
    assert by_reason["FAIL.ELEC"] == (1200, 1)  # counted once, whole, across the shift change


# ---------------------------------------------------------------- stops


def test_unassigned_stops_longest_first_and_they_leave_once_given_a_reason(store: Store) -> None:
    window = shift_period(CONFIG, "Early", DAY).window(AFTER)
    todo = unassigned_stops(store, CONFIG, window, AFTER)
    # The planned stop at 12:40 is planned time: it needs no reason (issue 13 item 7; it was listed).
    assert todo.total == 2
    assert [(s.machine, s.start, s.duration(AFTER), s.state) for s in todo.rows] == [
        ("A", at("09:50"), 1200, MachineState.DOWN),
        ("A", at("13:00"), 30, MachineState.DOWN),
    ]
    store.write_stop_reason("A", at("09:50"), "FAIL.ELEC", "bob", at("15:00"))
    after = unassigned_stops(store, CONFIG, window, AFTER)
    assert [s.start for s in after.rows] == [at("13:00")]
    assert unassigned_stops(store, CONFIG, window, AFTER, Scope(Level.LINE, "L2")).total == 0
    store.write_stop_reason("A", at("13:00"), "FAIL.ELEC", "bob", at("15:00"))
    store.upsert_intervals([StateInterval("A", at("13:10"), at("13:11"), MachineState.DOWN),
                            StateInterval("A", at("13:20"), at("13:22"), MachineState.DOWN)])
    limited = unassigned_stops(store, CONFIG, window, AFTER, limit=1)
    assert (limited.total, len(limited.rows)) == (2, 1)


def test_a_stop_shorter_than_the_sites_minimum_needs_no_reason(store: Store) -> None:
    # A start-up's 1 s stops would bury the stops worth explaining (issue 14, item 17).
    store.upsert_intervals([StateInterval("B", at("11:00"), at("11:00") + 1, MachineState.DOWN),
                            StateInterval("B", at("11:10"), at("11:10") + 5, MachineState.DOWN),
                            StateInterval("B", at("11:20"), at("11:20") + 4.9, MachineState.MINOR_STOP)])
    window = shift_period(CONFIG, "Early", DAY).window(AFTER)
    assert CONFIG.site.reason_min_stop_s == 5.0  # the default
    starts = [s.start for s in unassigned_stops(store, CONFIG, window, AFTER).rows if s.machine == "B"]
    assert at("11:10") in starts and at("11:00") not in starts and at("11:20") not in starts
    none = replace(CONFIG, site=replace(CONFIG.site, reason_min_stop_s=0.0))
    starts = [s.start for s in unassigned_stops(store, none, window, AFTER).rows if s.machine == "B"]
    assert {at("11:00"), at("11:10"), at("11:20")} <= set(starts)


def test_a_stop_stored_inside_a_break_needs_no_reason(store: Store) -> None:
    # How an engine before issue 13 stored a machine standing in the 10:00-10:30 break.
    store.upsert_intervals([StateInterval("B", at("10:01"), at("10:29"), MachineState.DOWN)])
    window = shift_period(CONFIG, "Early", DAY).window(AFTER)
    starts = [s.start for s in unassigned_stops(store, CONFIG, window, AFTER).rows if s.machine == "B"]
    assert at("10:01") not in starts


def test_drill_down_lists_a_machines_stops_newest_first_with_who(store: Store) -> None:
    window = shift_period(CONFIG, "Early", DAY).window(AFTER)
    stops = machine_stops(store, window, "A")
    assert stops.total == 5
    assert [(s.start, s.end, s.state, s.reason, s.reason_by) for s in stops.rows] == [
        (at("13:00"), at("13:00:30"), MachineState.DOWN, None, None),
        (at("12:40"), at("13:00"), MachineState.PLANNED_STOP, None, None),
        (at("12:00"), at("12:40"), MachineState.CHANGEOVER, "SETUP", "alice"),
        (at("09:50"), at("10:10"), MachineState.DOWN, None, None),
        (at("08:00"), at("08:30"), MachineState.DOWN, "FAIL.MECH", "alice"),
    ]
    assert stops.rows[-1].reason_at == at("09:00")
    # A newer entry replaces the reason shown; the store keeps both.
    store.write_stop_reason("A", at("08:00"), "FAIL.ELEC", "bob", at("16:00"))
    assert machine_stops(store, window, "A").rows[-1].reason_by == "bob"


# ---------------------------------------------------------------- figures, targets, comparisons


def test_losses_and_targets_of_a_shift(store: Store) -> None:
    report = review_report(store, CONFIG, shift_period(CONFIG, "Early", DAY), AFTER)
    a = next(r for r in report.machines if r.scope == "A")
    rows = {row.loss: row for row in six_big_losses(a)}
    # A: 8 h - 30 min break - 20 min planned stop = 7:10 planned; breakdowns 30 + 10 min, setup 40 min.
    assert a.planned_production_time_s == 7 * 3600 + 600
    assert (rows["breakdown"].seconds, rows["breakdown"].count) == (2400, 2)
    assert (rows["setup"].seconds, rows["setup"].count, rows["setup"].affects) == (2400, 1, "A")
    assert (rows["minor_stop"].seconds, rows["minor_stop"].count, rows["minor_stop"].unit) == (30, 1, "stops")
    assert rows["breakdown"].share_of_ppt == pytest.approx(2400 / (7 * 3600 + 600))
    assert rows["reduced_speed"].count is None

    targets = target_vs_actual(CONFIG, report)
    # 7.5 h of scheduled time less breaks: A 3000/h, B 3600/h x 0.85, C 1800/h x 0.85.
    assert [(t.scope, t.good, t.good_target) for t in targets] == [
        ("L1", 25_200, 22_500 + 22_950), ("L2", 0, 11_475), ("plant", 25_200, 22_500 + 22_950 + 11_475)]
    assert targets[-1].name == "Total Test Plant"
    assert targets[0].oee_target == 0.85
    machines = target_vs_actual(CONFIG, report, Scope(Level.LINE, "L1"))
    assert [(t.scope, t.good_target) for t in machines] == [("A", 22_500), ("B", 22_950), ("L1", 45_450)]


def test_the_shifts_of_a_day_compared(store: Store) -> None:
    rows = compare_shifts_of_day(store, CONFIG, DAY, AFTER, Scope(Level.MACHINE, "B"))
    assert [row.period.label for row in rows] == ["Early@2026-11-24", "Late@2026-11-24"]
    assert [row.result.good_count for row in rows if row.result] == [25_200, 9_900]
    for row in rows:
        alone = build_report(store, CONFIG, row.period.window(AFTER), AFTER, row.period.label)
        assert row.result == next(r for r in alone.machines if r.scope == "B")
    # Before the Late shift has begun, it is not compared.
    assert [r.period.label for r in compare_shifts_of_day(store, CONFIG, DAY, at("12:00"))] == ["Early@2026-11-24"]


def test_the_same_shift_across_days_skips_days_it_does_not_run(store: Store) -> None:
    rows = compare_same_shift(store, CONFIG, "Early", DAY, AFTER, days=4)
    # 21 (Saturday), 22 (Sunday: no Early shift), 23, 24.
    assert [row.period.label for row in rows] == ["Early@2026-11-21", "Early@2026-11-23", "Early@2026-11-24"]
    assert [row.result.good_count for row in rows if row.result] == [0, 0, 25_200]
    assert rows[-1].good_target == 22_500 + 22_950 + 11_475


def test_imported_shifts_are_the_review_periods_in_place_of_the_configs(store: Store) -> None:
    """Issue 13 item 10: the shifts of a day listed Early, Früh, Late and Spät, each part twice."""
    cursor = store.cursor()
    cursor.execute("INSERT INTO shift_patterns VALUES ('Früh', '06:00', '14:00', '', '[]'), "
                   "('Spät', '14:00', '22:00', '', '[]')")
    cursor.close()
    config, planning = planned_config(store, CONFIG)
    rows = compare_shifts_of_day(store, config, DAY, AFTER, Scope(Level.MACHINE, "B"), planning)
    assert [row.period.label for row in rows] == ["Früh@2026-11-24", "Spät@2026-11-24"]
    assert [row.result.good_count for row in rows if row.result] == [25_200, 9_900]  # the day's 35,100 once
    assert current_period(config, PeriodKind.SHIFT, at("15:00")).label == "Spät@2026-11-24"
    assert step_period(config, shift_period(config, "Früh", DAY), -1).label == "Spät@2026-11-23"
    with pytest.raises(ReviewError, match="no shift named 'Early'; shifts are Früh, Spät"):
        parse_period(config, "Early@2026-11-24", AFTER)
    # The review screen's periods: the engine's planning, the same calendar without reading the store again.
    assert planning.with_shifts(CONFIG).shifts == config.shifts


def test_imported_planned_stops_and_reasons_count_as_in_the_report(store: Store) -> None:
    cursor = store.cursor()
    # Planned maintenance on A from 12:00 to 12:20, inside its changeover; and an imported reason.
    cursor.execute("INSERT INTO planned_stops VALUES ('A', NULL, ?, ?, 'PM', 'greasing')",
                   [datetime.fromtimestamp(at("12:00"), ZoneInfo("UTC")).replace(tzinfo=None),
                    datetime.fromtimestamp(at("12:20"), ZoneInfo("UTC")).replace(tzinfo=None)])
    cursor.execute("INSERT INTO reasons VALUES ('JAM', 'Bottle jam', NULL, false, 'breakdown')")
    cursor.close()
    store.write_stop_reason("A", at("13:00"), "JAM", "bob", at("13:05"))
    config, planning = planned_config(store, CONFIG)
    period = shift_period(config, "Early", DAY)
    plant = review_report(store, config, period, AFTER, planning=planning).plant
    assert plant is not None
    bars = {b.reason: b for b in pareto(store, config, period.window(AFTER), AFTER, planning=planning)}
    assert bars["SETUP"].seconds == 1200  # the 20 planned minutes are not a loss
    assert (bars["JAM"].name, bars["JAM"].seconds) == ("Bottle jam", 30)
    losses = plant.losses
    assert sum(b.seconds for b in bars.values()) == pytest.approx(
        losses.breakdown_s + losses.setup_s + losses.minor_stop_s)
