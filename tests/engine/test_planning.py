"""Context enrichment: imported planning data attributes time and counts to shift, order and product.

Every figure below is worked out by hand. The store is a real DuckDB file; planning rows go
in with plain SQL, as the import writes them.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oee_tui.drivers.registry import config_from_dict
from oee_tui.engine.analysis.attribution import attributed_counts, attributed_intervals
from oee_tui.engine.analysis.report import ReportError, build_report, resolve_window, to_json
from oee_tui.engine.live.engine import Engine
from oee_tui.engine.oee.calculator import OverlappingStopsError
from oee_tui.engine.oee.columnar import measure_columns, split_times
from oee_tui.engine.oee.planning_rules import Planning
from oee_tui.model import CountBucket, MachineState, Span, StateInterval, TagSample
from oee_tui.store import PlanningError, Store
from tests.engine.test_oee_columns import to_columns
from tests.engine.test_oee_properties import REASONS, T0, Case, cases

CONFIG = config_from_dict({
    "site": {"name": "Test", "timezone": "UTC"},
    "lines": [{"id": "L1"}, {"id": "L2"}],
    "sources": [{"name": "plc", "kind": "modbus"}],
    "machines": [
        {"id": "A", "line": "L1", "ideal_cycle_time_s": 2.0, "micro_stop_threshold_s": 60, "startup_period_s": 0,
         "signals": {"total_count": {"source": "plc", "tag": "hr:0", "type": "uint16"}}},
        {"id": "B", "line": "L1", "ideal_cycle_time_s": 1.0, "startup_period_s": 0, "default_product": "DEF",
         "product_cycle_times": {"P2": 0.9, "DEF": 1.5}},
        {"id": "C", "line": "L2", "ideal_cycle_time_s": 1.0, "startup_period_s": 0},
    ],
    "shifts": [{"name": "Early", "start": "06:00", "end": "14:00"}],
})
A, B, C = CONFIG.machines
NOW = datetime(2026, 11, 24, 23, 0, tzinfo=UTC).timestamp()

# The columns a schedule always has (an order's own cycle time is left NULL: the product's).
ORDERS = "INSERT INTO orders (order_id, product, machine, line, start_ts, end_ts, quantity) VALUES "


def at(hhmm: str, day: str = "2026-11-24") -> float:
    return datetime.fromisoformat(f"{day}T{hhmm}+00:00").timestamp()


def ts(hhmm: str) -> str:
    return f"2026-11-24 {hhmm}:00"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(tmp_path)
    run = MachineState.RUNNING
    store.upsert_intervals([StateInterval(m, at("06:00"), at("14:00"), run) for m in ("A", "B", "C")])
    yield store
    store.close()


def sql(store: Store, statement: str, params: list[object] | None = None) -> None:
    cursor = store.cursor()
    try:
        cursor.execute(statement, params or [])
    finally:
        cursor.close()


def product_change_on_a(store: Store) -> None:
    """A makes P1 (1 s) until 10:00, then P2 (3 s); its counters carry no product."""
    sql(store, "INSERT INTO products VALUES ('P1', '', 1.0, NULL), ('P2', '', 3.0, NULL)")
    sql(store, f"{ORDERS}('O1', 'P1', 'A', NULL, '{ts('06:00')}', '{ts('10:00')}', 3000), "
               f"('O2', 'P2', 'A', NULL, '{ts('10:00')}', '{ts('14:00')}', 2000)")
    store.write_counts([CountBucket("A", at("07:00"), None, 3000, 30), CountBucket("A", at("11:00"), None, 2000, 0)])


def report(store: Store, start: str = "06:00", end: str = "14:00"):  # type: ignore[no-untyped-def]
    return build_report(store, CONFIG, Span(at(start), at(end)), NOW, "test", attribution=True)


def test_a_product_change_inside_a_shift_splits_performance_exactly(store: Store) -> None:
    product_change_on_a(store)
    result = report(store).machines[0]
    # Run time 8 h = 28800 s; ideal time 3000 x 1 s + 2000 x 3 s = 9000 s (the machine's 2 s would say 10000).
    assert result.run_time_s == 28800
    assert result.ideal_output_time_s == 9000
    assert result.performance == 9000 / 28800
    # Good parts: 2970 x 1 s + 2000 x 3 s = 8970 s of fully productive time.
    assert result.oee == 8970 / 28800
    # Without the split, the buckets without a product still take their order's product.
    lean = build_report(store, CONFIG, Span(at("06:00"), at("14:00")), NOW, "test", attribution=False)
    assert lean.attribution == () and lean.machines == report(store).machines
    split = report(store).attribution[0]
    assert [(s.key, s.total_count, s.run_time_s, s.ideal_output_time_s, s.performance) for s in split.by_product] \
        == [("P1", 3000, 14400, 3000, 3000 / 14400), ("P2", 2000, 14400, 6000, 6000 / 14400)]
    assert [(s.key, s.product, s.total_count, s.reject_count) for s in split.by_order] \
        == [("O1", "P1", 3000, 30), ("O2", "P2", 2000, 0)]


def test_json_report_carries_the_split_by_product_and_by_order(store: Store) -> None:
    product_change_on_a(store)
    machine = json.loads(to_json(report(store)))["machines"][0]
    assert machine["by_product"][1] == {
        "product": "P2", "total_count": 2000, "good_count": 2000, "reject_count": 0,
        "planned_production_time_s": 14400.0, "run_time_s": 14400.0, "ideal_output_time_s": 6000.0,
        "fully_productive_time_s": 6000.0, "availability": 1.0, "performance": 6000 / 14400, "quality": 1.0,
        "oee": 6000 / 14400,
    }
    assert [(o["order"], o["product"], o["good_count"]) for o in machine["by_order"]] == [("O1", "P1", 2970),
                                                                                         ("O2", "P2", 2000)]


def test_counts_without_a_tag_take_the_order_on_the_machine_then_on_its_line(store: Store) -> None:
    # P2 on B: 0.5 s from B's own row beats the product's 3.0 s default and the config's 0.9 s.
    sql(store, "INSERT INTO products VALUES ('P1', '', 1.0, NULL), ('P2', '', 3.0, NULL), ('P2', 'B', 0.5, NULL)")
    sql(store, f"{ORDERS}('OL', 'P2', NULL, 'L1', '{ts('06:00')}', '{ts('14:00')}', 9), "
               f"('OB', 'P1', 'B', NULL, '{ts('06:00')}', '{ts('08:00')}', 9)")
    store.write_counts([CountBucket("B", at("07:00"), None, 1000, 0), CountBucket("B", at("09:00"), None, 2000, 0),
                        CountBucket("B", at("13:00"), "TAGGED", 100, 0)])
    planning = Planning.load(store)
    assert planning.product_at(B, at("07:00")) == "P1"  # the machine's own order
    assert planning.product_at(B, at("09:00")) == "P2"  # its line's order
    assert planning.product_at(B, at("09:00"), tag_product="TAGGED") == "TAGGED"  # a tag wins
    assert planning.product_at(B, at("15:00")) == "DEF"  # no order: the config's default product
    assert planning.product_at(C, at("09:00")) is None  # another line's order does not apply
    assert planning.order_at(B, at("09:00")) == "OL"
    assert [o.order_id for o in Planning.load(store, Span(at("08:00"), at("09:00"))).orders] == ["OL"]
    assert (planning.cycle_time(B, "P2"), planning.cycle_time(A, "P2")) == (0.5, 3.0)
    assert (planning.cycle_time(B, "DEF"), planning.cycle_time(B, "unknown")) == (1.5, 1.0)
    b = report(store).machines[1]
    # 1000 x P1 1 s + 2000 x P2 0.5 s + 100 x TAGGED at B's own 1 s = 2100 s over 28800 s of run time.
    assert b.ideal_output_time_s == 2100
    assert b.performance == 2100 / 28800
    orders = {s.key: (s.total_count, s.run_time_s) for s in report(store).attribution[1].by_order}
    assert orders == {"OB": (1000, 7200), "OL": (2100, 21600)}


def test_a_machine_specific_micro_stop_threshold_classifies_a_stop(store: Store) -> None:
    # C stops 90 s at 09:00: a breakdown by C's 120 s default? No: a minor stop (90 < 120). With
    # product Q's 60 s threshold on C, it is a breakdown.
    sql(store, "DELETE FROM state_intervals WHERE machine = 'C'")
    store.upsert_intervals([StateInterval("C", at("06:00"), at("09:00"), MachineState.RUNNING),
                            StateInterval("C", at("09:00"), at("09:00") + 90, MachineState.DOWN),
                            StateInterval("C", at("09:00") + 90, at("14:00"), MachineState.RUNNING)])
    assert report(store).machines[2].losses.minor_stop_s == 90
    sql(store, "INSERT INTO products VALUES ('Q', '', 1.0, 300), ('Q', 'C', 1.0, 60)")
    sql(store, f"{ORDERS}('OC', 'Q', 'C', NULL, '{ts('06:00')}', '{ts('14:00')}', 1)")
    assert Planning.load(store).micro_stop_threshold(C, "Q") == 60
    assert report(store).machines[2].losses.breakdown_s == 90


def test_planned_maintenance_and_no_order_periods_are_not_planned_production_time(store: Store) -> None:
    sql(store, f"INSERT INTO planned_stops VALUES ('A', NULL, '{ts('08:00')}', '{ts('09:00')}', 'PM', 'oil'), "
               f"(NULL, 'L1', '{ts('12:00')}', '{ts('12:30')}', 'NO_ORDER', '')")
    a, b, c = report(store).machines
    assert (a.planned_stop_s, a.planned_production_time_s, a.run_time_s) == (5400, 23400, 23400)
    assert (b.planned_stop_s, b.planned_production_time_s) == (1800, 27000)  # only its line's period
    assert (c.planned_stop_s, c.planned_production_time_s) == (0, 28800)  # another line


def test_an_imported_reason_overrides_the_class_of_a_config_reason(store: Store) -> None:
    sql(store, "DELETE FROM state_intervals WHERE machine = 'A'")
    store.upsert_intervals([StateInterval("A", at("06:00"), at("08:00"), MachineState.RUNNING),
                            StateInterval("A", at("08:00"), at("08:30"), MachineState.DOWN),
                            StateInterval("A", at("08:30"), at("14:00"), MachineState.RUNNING)])
    store.write_stop_reason("A", at("08:00"), "MATERIAL", "op", at("08:40"))
    before = report(store).machines[0]
    assert (before.losses.breakdown_s, before.planned_production_time_s) == (1800, 28800)  # config: a breakdown
    sql(store, "INSERT INTO reasons VALUES ('MATERIAL', 'Waiting for material (planned)', NULL, true, NULL), "
               "('NEW', 'New reason', 'FAIL', NULL, NULL)")
    planning = Planning.load(store)
    assert planning.reason_tree(CONFIG)["NEW"].loss is not None and not planning.reason_tree(CONFIG)["NEW"].planned
    after = report(store).machines[0]
    assert (after.losses.breakdown_s, after.planned_stop_s, after.planned_production_time_s) == (0, 1800, 27000)


def test_imported_shift_patterns_resolve_report_windows(store: Store) -> None:
    with pytest.raises(ReportError, match="no shift named 'Late'; shifts are Early"):
        resolve_window(CONFIG, NOW, shift="Late@2026-11-24")
    sql(store, "INSERT INTO shift_patterns VALUES ('Late', '14:00', '22:00', 'mon-fri', '[[\"18:00\", \"18:30\"]]')")
    planning = Planning.load(store)
    window, label = resolve_window(CONFIG, NOW, shift="Late@2026-11-24", planning=planning)
    assert (window, label) == (Span(at("14:00"), at("22:00")), "Late@2026-11-24")
    with pytest.raises(ReportError, match="Late does not run on 2026-11-28"):  # a Saturday
        resolve_window(CONFIG, NOW, shift="Late@2026-11-28", planning=planning)
    store.upsert_intervals([StateInterval("A", at("14:00"), at("22:00"), MachineState.RUNNING)])
    a = report(store, "14:00", "22:00").machines[0]
    assert (a.scheduled_time_s, a.planned_stop_s, a.run_time_s) == (28800, 1800, 27000)


def test_imported_shift_patterns_replace_the_configs_never_beside_them(store: Store) -> None:
    """Issue 13 item 10: Früh (05:00-13:00) was added beside the config's Early (06:00-14:00), so the
    day was scheduled 05:00-14:00 and the hour each covers alone was in a shift of its own."""
    sql(store, "INSERT INTO shift_patterns VALUES ('Früh', '05:00', '13:00', '', '[]')")
    planning = Planning.load(store)
    assert [shift.name for shift in planning.shift_patterns(CONFIG)] == ["Früh"]
    with pytest.raises(ReportError, match="no shift named 'Early'; shifts are Früh"):
        resolve_window(CONFIG, NOW, shift="Early@2026-11-24", planning=planning)
    day = report(store, "00:00", "23:00").machines[0]
    assert (day.scheduled_time_s, day.run_time_s) == (8 * 3600, 7 * 3600)  # A runs 06:00-14:00
    assert [s.label for s in planning.calendar(CONFIG).shifts_between(at("00:00"), at("23:00"))] == [
        "Früh@2026-11-24"]
    # With nothing imported, the config's shifts are the calendar.
    sql(store, "DELETE FROM shift_patterns")
    assert Planning.load(store).calendar(CONFIG).names == ("Early",)


def test_stored_shift_patterns_that_overlap_are_refused_naming_both(store: Store) -> None:
    # The import refuses them; a hand edit of the table does not.
    sql(store, "INSERT INTO shift_patterns VALUES ('Night', '22:00', '06:00', 'sun', '[]'), "
               "('Early', '05:30', '14:00', 'mon', '[]')")
    with pytest.raises(PlanningError) as caught:
        Planning.load(store)
    assert str(caught.value) == ("shift_patterns table, shift 'Early': start '05:30' overlaps shift Night "
                                 "(22:00-06:00) on mon; import a shifts file to replace the stored patterns")


async def test_the_live_engine_runs_on_the_imported_shifts(tmp_path: Path) -> None:
    """Early (06:00-14:00) is the config's; once Früh (05:00-13:00) is imported, 13:30 is after Früh,
    not inside Early, for the live screen as for the report."""
    clock = [at("13:30")]
    store = Store.open(tmp_path)
    sql(store, "INSERT INTO shift_patterns VALUES ('Früh', '05:00', '13:00', '', '[]')")
    engine = Engine(CONFIG, store, clock=lambda: clock[0], acquire=False)
    assert engine.tick().shift == "Early@2026-11-24"  # before start(): nothing read from the store yet
    await engine.start()
    try:
        assert engine.tick().shift == "Früh@2026-11-24"
        assert (await engine.machine_detail("A")).shift == "Früh@2026-11-24"
    finally:
        await engine.stop()
        store.close()


def test_attributed_listing_cuts_facts_at_shift_and_order_changes(store: Store) -> None:
    product_change_on_a(store)
    planning = Planning.load(store)
    # The window cuts order O1 (06:00-10:00) at 09:00 and runs past the shift's end at 14:00.
    window = Span(at("09:00"), at("15:00"))
    rows = attributed_intervals(store, CONFIG, planning, window, ordered=True).to_pylist()
    a_rows = [(r["start"].strftime("%H:%M"), r["end"].strftime("%H:%M"), r["shift"], r["order_id"], r["product"])
              for r in rows if r["machine"] == "A"]
    assert a_rows == [("09:00", "10:00", "Early", "O1", "P1"), ("10:00", "14:00", "Early", "O2", "P2")]
    assert {r["line"] for r in rows if r["machine"] == "B"} == {"L1"}
    assert [(r["product"], r["shift_date"]) for r in rows if r["machine"] == "B"] == [("DEF", "2026-11-24")]
    store.write_counts([CountBucket("A", at("14:30"), None, 5, 0)])
    counts = attributed_counts(store, CONFIG, planning, window, ordered=True).to_pylist()
    assert [(c["minute"].strftime("%H:%M"), c["shift"], c["order_id"], c["product"], c["total"]) for c in counts] \
        == [("11:00", "Early", "O2", "P2", 2000), ("14:30", None, None, None, 5)]


async def test_the_engine_writes_the_scheduled_product_after_reload_planning(tmp_path: Path) -> None:
    # Samples go in through ingest() (acquire=False): what is tested is the tracker and the store.
    clock = [at("07:00")]
    store = Store.open(tmp_path)
    engine = Engine(CONFIG, store, clock=lambda: clock[0], acquire=False)
    await engine.start()
    try:
        engine.ingest([TagSample(at("07:00"), "plc", "hr:0", 100)])
        engine.ingest([TagSample(at("07:00") + 20, "plc", "hr:0", 110)])  # 10 parts, no order yet
        sql(store, "INSERT INTO products VALUES ('P1', '', 1.0, NULL)")
        sql(store, f"{ORDERS}('O1', 'P1', 'A', NULL, '{ts('07:00')}', '{ts('10:00')}', 5)")
        await engine.reload_planning()
        assert engine.machines["A"].product == "P1"
        engine.ingest([TagSample(at("07:01"), "plc", "hr:0", 130)])  # 20 parts of order O1
        clock[0] = at("07:02")
        await engine.flush()
        cursor = store.cursor()
        rows = cursor.execute("SELECT product, sum(total)::BIGINT FROM count_minutes GROUP BY product "
                              "ORDER BY product NULLS FIRST").fetchall()
        cursor.close()
        assert rows == [(None, 10), ("P1", 20)]
        live = next(m for m in engine.tick().machines if m.machine == "A")
        assert live.product == "P1"
        # The live OEE uses P1's 1 s, not A's 2 s: (10 x 2 s + 20 x 1 s) of ideal time.
        assert live.oee is not None and live.oee.ideal_output_time_s == 40
    finally:
        await engine.stop()


@settings(max_examples=200, deadline=None)
@given(cases(), st.lists(st.integers(0, 700), max_size=5))
def test_split_times_add_up_to_the_pieces_measured_alone(case: Case, cuts: list[int]) -> None:
    """Cutting a measurement at order changes gives each piece what a report over that piece alone gives."""
    columns = to_columns(case.intervals)
    lo, hi = case.window.start, case.window.end
    bounds = sorted({lo, hi, *(min(max(T0 + c, lo), hi) for c in cuts)})
    try:
        whole = measure_columns(case.machine, case.window, case.scheduled, case.breaks, columns, REASONS, case.now)
    except OverlappingStopsError:
        return
    split = split_times(whole, np.array(bounds))
    for index, (a, b) in enumerate(itertools.pairwise(bounds)):
        alone = measure_columns(case.machine, Span(a, b), case.scheduled, case.breaks, columns, REASONS, case.now)
        covered = sum(alone.seconds.values())
        no_data = max(0.0, alone.open_s - covered)
        ppt = alone.scheduled_s - alone.planned_s - no_data
        run = ppt - alone.seconds["breakdown"] - alone.seconds["setup"]
        assert split.scheduled_s[index] == pytest.approx(alone.scheduled_s, abs=1e-6)
        assert split.planned_s[index] == pytest.approx(alone.planned_s, abs=1e-6)
        assert split.no_data_s[index] == pytest.approx(no_data, abs=1e-6)
        assert split.planned_production_time_s[index] == pytest.approx(ppt, abs=1e-6)
        assert split.run_time_s[index] == pytest.approx(run, abs=1e-6)


def test_a_product_tag_wins_over_the_schedule_in_the_tracker() -> None:
    from oee_tui.engine.live.machine import MachineTracker
    from oee_tui.model import Order, Signal

    config = CONFIG.machines[0]
    tracker = MachineTracker(config, stale_after_s=3600, start=at("06:00"))
    planning = Planning(orders=(Order("O1", "P1", "A", None, at("06:00"), at("10:00"), 1),))
    tracker.set_plan(planning.machine_plan(config), at("06:00"))

    def count(hhmm: str, value: int) -> None:
        tracker.on_sample(Signal.TOTAL_COUNT, at(hhmm), value, True, None, at(hhmm))

    count("07:00", 0)
    count("07:01", 5)  # the schedule: P1
    tracker.on_sample(Signal.PRODUCT, at("07:02"), "TAG", True, None, at("07:02"))
    count("07:03", 8)  # the tag: TAG
    tracker.on_sample(Signal.PRODUCT, at("07:04"), "  ", True, None, at("07:04"))  # the tag says nothing
    count("07:05", 10)  # the schedule again
    count("11:00", 11)  # no order: A has no default product
    _, buckets = tracker.take_pending(at("11:01"))
    # A minute after the read before, each delta is timed just before its read (the gap cap),
    # in the minute before the read's.
    assert [(b.minute - at("07:00"), b.product, b.total) for b in buckets] == [
        (0, "P1", 5), (120, "TAG", 3), (240, "P1", 2), (14340, None, 1)]


def test_files_imported_through_the_real_import_take_effect(tmp_path: Path, store: Store) -> None:
    """The planning tables as oee_tui.imports.write fills them: the loader reads its formats."""
    import csv

    from oee_tui.imports import validate_file
    from oee_tui.imports.write import write_result

    def imported(kind: str, rows: list[list[str]]) -> None:
        path = tmp_path / f"{kind}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(rows)
        result = validate_file(kind, path, CONFIG)
        assert result.ok, [str(problem) for problem in result.problems]
        write_result(store, result, imported_by="planner")

    imported("products", [["Product", "Machine", "Cycle time (s)", "Micro stop threshold"],
                          ["P2", "", "3", "90"], ["P2", "B", "0.5", ""]])
    imported("schedule", [["Order", "Product", "Machine", "Line", "Start", "End", "Qty"],
                          ["00042", "P2", "A", "", "2026-11-24 06:00", "2026-11-24 14:00", "100"]])
    imported("shifts", [["Shift", "Start", "End", "Days", "Breaks"],
                        ["Late", "14:00", "22:00", "mon-fri", "18:00-18:30"], ["Früh", "06:00", "14:00", "", ""]])
    planning = Planning.load(store)
    assert (planning.cycle_time(A, "P2"), planning.cycle_time(B, "P2")) == (3.0, 0.5)
    assert planning.micro_stop_threshold(B, "P2") == 90  # B's own row has none: the product's applies
    assert (planning.order_at(A, at("09:00")), planning.product_at(A, at("09:00"))) == ("00042", "P2")
    # The file's shifts are the calendar, in order of start, in place of the config's Early.
    assert [shift.name for shift in planning.shift_patterns(CONFIG)] == ["Früh", "Late"]
    late = next(shift for shift in planning.shifts if shift.name == "Late")
    assert (late.days, [(b.start, b.end) for b in late.breaks]) == (("mon", "tue", "wed", "thu", "fri"),
                                                                   [("18:00", "18:30")])
    store.write_counts([CountBucket("A", at("07:00"), None, 1000, 0)])
    assert report(store).machines[0].ideal_output_time_s == 3000  # the order's P2 at 3 s, not A's 2 s
