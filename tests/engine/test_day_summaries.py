"""Reports summed from saved day summaries equal the report over the whole period, and stay equal
when the data under a saved day changes: a late interval, late counts, a reason given, an import,
a config change. Real DuckDB stores; the plant time zone has a DST change inside the period.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from dataclasses import fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from oee_tui.config import Config
from oee_tui.drivers.registry import config_from_dict
from oee_tui.engine.analysis import day_summaries
from oee_tui.engine.analysis.day_summaries import (
    fingerprints,
    plant_days,
    saved_days_of,
    summed_report,
    wait_for_saving,
)
from oee_tui.engine.analysis.report import Report, build_report
from oee_tui.engine.analysis.review import Scope, downtime_pareto
from oee_tui.engine.live.engine import Engine
from oee_tui.engine.oee.planning_rules import Planning
from oee_tui.engine.oee.shifts import ShiftCalendar
from oee_tui.imports import validate_file
from oee_tui.imports.write import write_result
from oee_tui.model import CountBucket, MachineState, OeeResult, Span, StateInterval
from oee_tui.store import Store
from oee_tui.store.summary_ledger import SummaryLedger
from tests.imports.test_write import write_csv

TZ = ZoneInfo("Europe/Berlin")
CONFIG = config_from_dict({
    "site": {"name": "Test", "timezone": "Europe/Berlin"},
    "lines": [{"id": "L1"}, {"id": "L2"}],
    "machines": [
        {"id": "A", "line": "L1", "ideal_cycle_time_s": 1.0, "micro_stop_threshold_s": 120, "startup_period_s": 600},
        {"id": "B", "line": "L1", "ideal_cycle_time_s": 0.5, "micro_stop_threshold_s": 60, "startup_period_s": 0},
        {"id": "C", "line": "L2", "ideal_cycle_time_s": 2.0, "micro_stop_threshold_s": 300,
         "startup_period_s": 300},
    ],
    # Weekdays only, with a night shift across midnight: stops run through unscheduled weekends.
    "shifts": [
        {"name": "Early", "start": "06:00", "end": "14:00", "days": ["mon", "tue", "wed", "thu", "fri"],
         "breaks": [{"start": "09:30", "end": "09:45"}]},
        {"name": "Late", "start": "14:00", "end": "22:00", "days": ["mon", "tue", "wed", "thu", "fri"]},
        {"name": "Night", "start": "22:00", "end": "06:00", "days": ["mon", "tue", "wed", "thu"]},
    ],
    "reasons": [
        {"code": "FAIL", "name": "Failure", "loss": "breakdown"},
        {"code": "SETUP", "name": "Setup", "loss": "setup"},
        {"code": "JAM", "name": "Jam", "loss": "minor_stop"},
        {"code": "PM", "name": "Maintenance", "planned": True},
    ],
})
FIRST = datetime(2026, 10, 21, tzinfo=TZ).timestamp()  # a Wednesday; DST ends on Sunday 25 October
LAST = datetime(2026, 11, 2, tzinfo=TZ).timestamp()  # 12 days later, a Monday
AFTER = LAST + 86400.0
STATES = [MachineState.RUNNING] * 5 + [MachineState.DOWN, MachineState.MINOR_STOP, MachineState.CHANGEOVER,
                                       MachineState.PLANNED_STOP, MachineState.OFFLINE]


def history(seed: int) -> tuple[list[StateInterval], list[CountBucket], list[tuple[str, float, str]]]:
    """Random back-to-back intervals from a day before the period to a day after, some long enough to
    span midnights and the weekend; a count bucket a minute while running; reasons on some stops."""
    rng = random.Random(seed)
    intervals: list[StateInterval] = []
    buckets: list[CountBucket] = []
    reasons: list[tuple[str, float, str]] = []
    for machine in ("A", "B", "C"):
        t = FIRST - 86400.0 + rng.randrange(0, 3600)
        while t < AFTER + 86400.0:
            state = rng.choice(STATES)
            length = rng.choice([20.0, 90.0, 400.0, 1800.0, 5400.0, 4 * 3600.0, 30 * 3600.0, 60 * 3600.0])
            if state is MachineState.RUNNING:
                length = min(length, 4 * 3600.0)
            intervals.append(StateInterval(machine, t, t + length, state))
            if state is MachineState.RUNNING:
                minute = (int(t) // 60 + 1) * 60
                while minute < t + length:
                    buckets.append(CountBucket(machine, float(minute), rng.choice([None, "P1", "P2"]),
                                               rng.randrange(20, 60), rng.choice([0, 0, 0, 1, 3])))
                    minute += 60
            elif state is not MachineState.OFFLINE and rng.random() < 0.6:
                reasons.append((machine, t, rng.choice(["FAIL", "SETUP", "JAM", "PM", "OLD.CODE"])))
            t += length
    return intervals, buckets, reasons


@pytest.fixture(params=[1, 2, 3])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    store = Store.open(tmp_path / "data")
    intervals, buckets, reasons = history(request.param)
    store.upsert_intervals(intervals)
    store.write_counts(buckets)
    for machine, start, reason in reasons:
        store.write_stop_reason(machine, start, reason, "test", start + 60)
    yield store
    store.close()


def assert_same(summed: Report, direct: Report, config: Config = CONFIG) -> None:
    """Every figure of every machine, line and the plant, and the Pareto, as the direct report has them."""
    pairs = [*zip(summed.machines, direct.machines, strict=True), *zip(summed.lines, direct.lines, strict=True),
             (summed.plant, direct.plant)]
    for got, want in pairs:
        assert got is not None and want is not None
        assert_result(got, want)
    assert bars(summed, config) == bars(direct, config)


def assert_result(got: OeeResult, want: OeeResult) -> None:
    for field in fields(OeeResult):
        a, b = getattr(got, field.name), getattr(want, field.name)
        if field.name == "losses":
            for loss in fields(a):
                assert getattr(a, loss.name) == pytest.approx(getattr(b, loss.name), rel=1e-9, abs=1e-6), \
                    (got.scope, loss.name)
        elif field.name == "flags":
            assert sorted(a) == sorted(b), got.scope
        elif isinstance(b, float):
            assert a == pytest.approx(b, rel=1e-9, abs=1e-6), (got.scope, field.name)
        else:
            assert a == b, (got.scope, field.name)


def bars(report: Report, config: Config) -> list[tuple[Any, ...]]:
    return [(b.reason, round(b.seconds, 6), b.stops) for b in downtime_pareto(config, report, Scope())]


def saved_days(store: Store) -> int:
    cur = store.cursor()
    try:
        return int(cur.execute("SELECT count(*) FROM day_summaries").fetchone()[0])  # type: ignore[index]
    finally:
        cur.close()


def both(store: Store, config: Config = CONFIG, start: float = FIRST, end: float = LAST,
         now: float = AFTER) -> tuple[Report, Report]:
    window = Span(start, min(end, now))
    planning = Planning.load(store)
    # Every missing day computed at once, so that each call here goes through the sum of days.
    return (summed_report(store, config, window, now, "w", planning, compute_at_once=10_000),
            build_report(store, config, window, now, "w", planning=planning))


def test_twelve_days_summed_equal_the_report_over_them_and_a_second_time_reads_only_saved_days(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    summed, direct = both(store)
    assert_same(summed, direct)
    assert saved_days(store) == 3 * 12
    windows: list[Span] = []
    monkeypatch.setattr(day_summaries, "build_report",
                        lambda store, config, window, *a, **k: windows.append(window) or build_report(
                            store, config, window, *a, **k))
    again, _ = both(store)
    assert windows == []  # every day came from the store
    assert_same(again, direct)


def test_many_unsaved_days_are_answered_whole_and_saved_in_the_background(store: Store) -> None:
    window = Span(FIRST, LAST)
    first = summed_report(store, CONFIG, window, AFTER, "w")  # 12 days to compute: more than COMPUTE_AT_ONCE
    direct = build_report(store, CONFIG, window, AFTER, "w")
    assert_same(first, direct)
    wait_for_saving(store, 60)
    assert saved_days(store) == 3 * 12
    computed: list[Span] = []
    original = day_summaries.build_report
    day_summaries.build_report = lambda store, config, window, *a, **k: computed.append(window) or original(
        store, config, window, *a, **k)
    try:
        again = summed_report(store, CONFIG, window, AFTER, "w")
    finally:
        day_summaries.build_report = original
    assert computed == []  # summed from the days saved in the background
    assert_same(again, direct)


def test_a_period_ending_now_sums_the_settled_days_and_computes_the_rest(store: Store) -> None:
    now = datetime(2026, 10, 29, 15, 20, tzinfo=TZ).timestamp()
    summed, direct = both(store, now=now)
    assert_same(summed, direct)
    assert saved_days(store) == 3 * 8  # 21 to 28 October; the 29th is not over


def test_stops_across_midnight_and_the_weekend_are_counted_once(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        friday_night = datetime(2026, 10, 23, 21, 0, tzinfo=TZ).timestamp()
        monday = datetime(2026, 10, 26, 6, 30, tzinfo=TZ).timestamp()
        store.upsert_intervals([
            StateInterval("A", FIRST, friday_night, MachineState.RUNNING),
            StateInterval("A", friday_night, monday, MachineState.DOWN),  # Fri 21:00 to Mon 06:30
            StateInterval("A", monday, LAST, MachineState.RUNNING),
        ])
        store.write_stop_reason("A", friday_night, "FAIL", "test", monday)
        summed, direct = both(store)
        assert_same(summed, direct)
        a = summed.machines[0]
        assert a.losses.breakdown_events == 1
        assert a.losses.breakdown_s == pytest.approx(3600 + 1800)  # Friday 21-22, Monday 06:00-06:30
        assert [(b.reason, b.stops) for b in downtime_pareto(CONFIG, summed, Scope())] == [("FAIL", 1)]


@pytest.mark.parametrize("change", ["interval", "reason", "counts"])
def test_a_late_write_or_a_reason_given_replaces_the_saved_days_it_touches(store: Store, change: str) -> None:
    before, _ = both(store)
    saved = saved_days(store)
    # A stop of B that costs scheduled time (so that the change shows), not on the first days.
    calendar = ShiftCalendar(CONFIG.shifts, CONFIG.site.timezone)
    late = next(i for i in store.intervals(FIRST + 2 * 86400.0, LAST, ["B"])
                if i.state in (MachineState.DOWN, MachineState.CHANGEOVER) and i.end is not None
                and i.start > FIRST + 2 * 86400.0 and calendar.scheduled_spans(i.start, i.end))
    scheduled_minute = (int(calendar.scheduled_spans(late.start, late.end)[0].start) // 60 + 1) * 60.0
    if change == "interval":  # the engine closes it late, as something else
        state = MachineState.DOWN if late.state is MachineState.PLANNED_STOP else MachineState.PLANNED_STOP
        store.upsert_intervals([replace(late, state=state)])
    elif change == "reason":  # a supervisor explains an old stop
        store.write_stop_reason("B", late.start, "PM", "late", AFTER)
    else:
        store.write_counts([CountBucket("B", scheduled_minute, "P1", 10_000, 0)])
    assert 0 < saved_days(store) < saved  # B's days from then on are gone, the others stay
    summed, direct = both(store)
    assert_same(summed, direct)
    assert summed.machines[1] != before.machines[1]  # the change shows


def test_an_import_forgets_every_saved_day_and_a_config_change_makes_them_unused(store: Store,
                                                                              tmp_path: Path) -> None:
    both(store)
    assert saved_days(store) == 36
    csv = write_csv(tmp_path / "reasons.csv", [["code", "name", "loss"], ["FAIL", "Failure", "setup"]])
    result = validate_file("reasons", csv, CONFIG)
    assert result.ok, [str(p) for p in result.problems]
    write_result(store, result, imported_by="planner")
    assert saved_days(store) == 0
    config = Planning.load(store).effective_config(CONFIG)
    summed, direct = both(store, config)
    assert_same(summed, direct, config)
    slower = replace(config, machines=(replace(config.machines[0], ideal_cycle_time_s=2.0), *config.machines[1:]))
    summed, direct = both(store, slower)
    assert_same(summed, direct, slower)
    assert summed.machines[0].performance == pytest.approx(direct.machines[0].performance)


def test_a_saved_day_is_used_only_with_the_shift_calendar_it_was_computed_with(store: Store) -> None:
    """The fingerprint is over the calendar's shifts (imported ones in place of the config's), whatever
    config the caller holds: stored patterns changed by hand, with no import to forget the days, must not
    bring back days summed with the old shifts."""
    cursor = store.cursor()
    cursor.execute("INSERT INTO shift_patterns VALUES ('Day', '06:00', '22:00', 'mon,tue,wed,thu,fri', '[]')")
    summed, before = both(store)
    assert_same(summed, before)
    assert saved_days(store) == 36
    cursor.execute("UPDATE shift_patterns SET start = '08:00'")
    cursor.close()
    summed, direct = both(store)
    assert_same(summed, direct)
    assert direct.plant is not None and before.plant is not None
    assert direct.plant.scheduled_time_s < before.plant.scheduled_time_s  # two hours less on each weekday


def test_saved_days_come_back_summed_exactly(store: Store) -> None:
    keys = fingerprints(CONFIG, Planning.empty())
    days = []
    for start in (FIRST, FIRST + 86400.0):
        day = Span(start, start + 86400.0)
        days += saved_days_of(build_report(store, CONFIG, day, AFTER, "d"), day, keys)
    token = store.begin_summary_read()
    assert store.save_day_summaries(token, days) == days
    store.end_summary_read(token)
    assert store.saved_days(keys, FIRST, FIRST + 2 * 86400.0) == {(d.machine, d.day_start) for d in days}
    sums = store.day_sums(keys, FIRST, FIRST + 2 * 86400.0)
    for machine in ("A", "B", "C"):
        mine = [d for d in days if d.machine == machine]
        assert sums.days[machine] == 2
        assert sums.figures[machine] == pytest.approx([a + b for a, b in zip(*(d.figures for d in mine), strict=True)])
        losses: dict[str | None, tuple[float, int]] = {}
        for d in mine:
            for reason, seconds, stops in d.losses:
                old = losses.get(reason, (0.0, 0))
                losses[reason] = (old[0] + seconds, old[1] + stops)
        assert sums.losses.get(machine, {}) == pytest.approx(losses)
    other = {machine: "another config" for machine in keys}
    assert store.saved_days(other, FIRST, FIRST + 2 * 86400.0) == set()


def test_plant_days_follow_local_midnights_across_dst() -> None:
    days = plant_days(CONFIG, Span(datetime(2026, 10, 24, tzinfo=TZ).timestamp(),
                                   datetime(2026, 10, 26, 12, tzinfo=TZ).timestamp()))
    assert days is not None
    assert [day.end - day.start for day in days] == [86400.0, 90000.0, 43200.0]  # the 25th has 25 hours
    assert plant_days(CONFIG, Span(FIRST + 3600.0, LAST)) is None  # not from a midnight


def test_a_save_after_a_write_it_did_not_see_keeps_only_the_untouched_days() -> None:
    ledger = SummaryLedger()
    inserted: list[list[tuple[str, float]]] = []
    token = ledger.begin_read()
    with ledger.writing({"A": 150.0}) as delete:
        assert delete == {}  # nothing saved yet, nothing to delete
    rows = [("A", 100.0), ("A", 200.0), ("B", 200.0)]  # (machine, day end)
    kept = ledger.save(token, rows, lambda r: r[0], lambda r: r[1], inserted.append)
    assert kept == [("A", 100.0), ("B", 200.0)]  # A's day ending at 200 may miss the write at 150
    ledger.end_read(token)
    with ledger.writing({"B": 150.0, "A": 300.0}) as delete:
        assert delete == {"B": 150.0}  # B has a saved day ending after 150; A none after 300
    with ledger.writing(None) as delete:
        assert delete is None  # everything
    assert ledger.ends == {}


async def test_the_engine_saves_recent_days_in_the_background(store: Store, monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    engine = Engine(CONFIG, store, clock=lambda: AFTER, acquire=False, summary_delay_s=0.0, tick_s=0.05)
    monkeypatch.setattr(day_summaries, "SUMMARY_DAYS", 14)
    await engine.start()
    try:
        deadline = time.monotonic() + 60
        while saved_days(store) < 3 * 13:  # 20 October (the data begins) to 1 November
            assert time.monotonic() < deadline, f"only {saved_days(store)} saved"
            await asyncio.sleep(0.05)
        computed: list[Span] = []
        monkeypatch.setattr(day_summaries, "build_report",
                            lambda store, config, window, *a, **k: computed.append(window) or build_report(
                                store, config, window, *a, **k))
        summed, direct = both(store)
        assert computed == []
        assert_same(summed, direct)
        # An import deletes every saved day; the engine, told to reload planning, saves them again
        # at once (not an hour later).
        csv = write_csv(tmp_path / "reasons.csv", [["code", "name", "loss"], ["FAIL", "Failure", "setup"]])
        write_result(store, validate_file("reasons", csv, CONFIG), imported_by="planner")
        assert saved_days(store) == 0
        await engine.reload_planning()
        while saved_days(store) < 3 * 13:
            assert time.monotonic() < deadline + 60, f"only {saved_days(store)} saved again"
            await asyncio.sleep(0.05)
    finally:
        await engine.stop()


def test_closing_the_store_stops_the_background_save_at_its_next_day(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = Store.open(data)
    intervals, buckets, _ = history(1)
    store.upsert_intervals(intervals)
    store.write_counts(buckets)
    summed_report(store, CONFIG, Span(FIRST, LAST), AFTER, "w")  # 12 days: saved in the background
    store.close()
    started = time.monotonic()
    wait_for_saving(store, 10)
    assert time.monotonic() - started < 5  # a day or two more at most, not the 12
    with Store.open(data) as again:
        assert saved_days(again) < 3 * 12
        summed, direct = both(again)
        assert_same(summed, direct)
