"""Writing validated imports to a real DuckDB store: every kind, all-or-nothing, idempotent."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from oee_tui.config import Config
from oee_tui.drivers.registry import config_from_dict
from oee_tui.imports import ImportResult, LoggedStop, validate_file
from oee_tui.imports.write import WriteSummary, plan_result, preview_rows, write_result
from oee_tui.model import MachineState, StateInterval
from oee_tui.store import Store
from oee_tui.store.import_tables import RemovedRow

PLANNING_TABLES = ("products", "orders", "shift_patterns", "planned_stops", "reasons", "production_runs",
                   "production_stops", "import_log", "state_intervals", "count_minutes", "stop_reasons")


def make_config() -> Config:
    return config_from_dict({
        "site": {"name": "Test", "timezone": "Europe/Berlin"},
        "lines": [{"id": "L1"}, {"id": "L2"}],
        "sources": [{"name": "plc", "kind": "modbus", "host": "127.0.0.1", "port": 502}],
        "machines": [
            {"id": "M1", "line": "L1", "ideal_cycle_time_s": 1.0, "micro_stop_threshold_s": 60,
             "startup_period_s": 120, "product_cycle_times": {"A": 1.0, "B": 2.0}},
            {"id": "M2", "line": "L2", "ideal_cycle_time_s": 1.0},
            {"id": "P1", "line": "L2", "ideal_cycle_time_s": 1.0,
             "signals": {"total_count": {"source": "plc", "tag": "hr:0", "type": "uint16", "width": 16}}},
        ],
    })


@pytest.fixture
def config() -> Config:
    return make_config()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "data") as store:
        yield store


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def write_csv(path: Path, rows: list[list[object]]) -> Path:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def dump(store: Store, *tables: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of each table, in storage order (rowid): equal dumps mean nothing was touched."""
    cur = store.cursor()
    try:
        return {t: cur.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in tables or PLANNING_TABLES}
    finally:
        cur.close()


def rows(store: Store, sql: str) -> list[tuple[Any, ...]]:
    cur = store.cursor()
    try:
        return cur.execute(sql).fetchall()
    finally:
        cur.close()


def validated(kind: str, path: Path, config: Config) -> ImportResult:
    result = validate_file(kind, path, config)
    assert result.ok, [str(p) for p in result.problems]
    return result


def import_twice(store: Store, kind: str, path: Path, config: Config) -> WriteSummary:
    """Import, then import again: the second time must change nothing, byte for byte."""
    result = validated(kind, path, config)
    first = write_result(store, result, imported_by="planner", sha256="abc")
    before = dump(store)
    second = write_result(store, result, imported_by="planner", sha256="abc")
    assert second == WriteSummary(kind, 0, 0, len(result.records))
    assert dump(store) == before
    return first


def ts(*args: int) -> datetime:
    return datetime(*args)


# ---------------------------------------------------------------- each kind


PRODUCTS = [["Product", "Machine", "Cycle time (s)", "Micro stop threshold"],
            ["A", "", "1.5", "90"], ["A", "M2", "0.5", ""], ["C", "", "3", ""]]


def test_products_are_written_keyed_by_product_and_machine(tmp_path: Path, store: Store, config: Config) -> None:
    path = write_csv(tmp_path / "products.csv", PRODUCTS)
    assert import_twice(store, "products", path, config) == WriteSummary("products", 3, 0, 0)
    assert rows(store, "SELECT * FROM products ORDER BY product, machine") == [
        ("A", "", 1.5, 90.0), ("A", "M2", 0.5, None), ("C", "", 3.0, None)]
    # A later file with one changed rate, one new product and one row missing: upsert, nothing removed.
    write_csv(path, [PRODUCTS[0], ["A", "", "1.25", "90"], ["C", "", "3", ""], ["D", "M1", "4", ""]])
    summary = write_result(store, validated("products", path, config), imported_by="planner")
    assert summary == WriteSummary("products", 1, 1, 1)
    assert rows(store, "SELECT * FROM products ORDER BY product, machine") == [
        ("A", "", 1.25, 90.0), ("A", "M2", 0.5, None), ("C", "", 3.0, None), ("D", "M1", 4.0, None)]


def test_schedule_orders_keep_leading_zeros_and_update_by_order_id(tmp_path: Path, store: Store,
                                                                   config: Config) -> None:
    header = ["Order", "Product", "Machine", "Line", "Start", "End", "Qty"]
    path = write_csv(tmp_path / "plan.csv", [
        header,
        ["00042", "A", "M1", "", "2026-03-02 06:00", "2026-03-02 08:00", "2500"],
        ["00043", "B", "", "L2", "2026-03-02 08:00", "2026-03-02 09:30", "1000"],
    ])
    assert import_twice(store, "schedule", path, config) == WriteSummary("schedule", 2, 0, 0)
    assert rows(store, "SELECT * FROM orders ORDER BY order_id") == [
        ("00042", "A", "M1", None, ts(2026, 3, 2, 5), ts(2026, 3, 2, 7), 2500, None),  # no cycle time of its own
        ("00043", "B", None, "L2", ts(2026, 3, 2, 7), ts(2026, 3, 2, 8, 30), 1000, None),
    ]
    write_csv(path, [header, ["00042", "A", "M1", "", "2026-03-02 06:00", "2026-03-02 08:30", "2600"]])
    assert write_result(store, validated("schedule", path, config), imported_by="planner") == \
        WriteSummary("schedule", 0, 1, 0)
    assert rows(store, "SELECT order_id, end_ts, quantity FROM orders ORDER BY order_id") == [
        ("00042", ts(2026, 3, 2, 7, 30), 2600), ("00043", ts(2026, 3, 2, 8, 30), 1000)]


def test_a_shifts_file_replaces_the_whole_pattern_set(tmp_path: Path, store: Store, config: Config) -> None:
    header = ["Shift", "Start", "End", "Days", "Breaks"]
    path = write_csv(tmp_path / "shifts.csv", [
        header,
        ["Early", "06:00", "14:00", "mon-fri", "09:30-09:45; 12:00-12:30"],
        ["Late", "14:00", "22:00", "mon-fri", ""],
        ["Night", "22:00", "06:00", "mon-fri", ""],
    ])
    assert import_twice(store, "shifts", path, config) == WriteSummary("shifts", 3, 0, 0)
    assert rows(store, 'SELECT name, start, "end", days, breaks FROM shift_patterns ORDER BY name') == [
        ("Early", "06:00", "14:00", "mon,tue,wed,thu,fri", '[["09:30", "09:45"], ["12:00", "12:30"]]'),
        ("Late", "14:00", "22:00", "mon,tue,wed,thu,fri", "[]"),
        ("Night", "22:00", "06:00", "mon,tue,wed,thu,fri", "[]"),
    ]
    # Two 12-hour shifts now: Early changes, Night is new in its times, Late is gone.
    write_csv(path, [header, ["Early", "06:00", "18:00", "mon-fri", ""], ["Night", "18:00", "06:00", "mon-fri", ""]])
    summary = write_result(store, validated("shifts", path, config), imported_by="planner")
    assert summary == WriteSummary("shifts", 0, 2, 0, removed=1)
    assert summary.removed_rows == (RemovedRow("shift", "Late", None, None),)
    assert rows(store, 'SELECT name, start, "end" FROM shift_patterns ORDER BY name') == [
        ("Early", "06:00", "18:00"), ("Night", "18:00", "06:00")]


def test_an_empty_shifts_file_is_refused_rather_than_removing_every_shift(tmp_path: Path, store: Store,
                                                                          config: Config) -> None:
    path = write_csv(tmp_path / "shifts.csv", [["Shift", "Start", "End"], ["Early", "06:00", "14:00"]])
    write_result(store, validated("shifts", path, config), imported_by="planner")
    write_csv(path, [["Shift", "Start", "End"]])
    with pytest.raises(ValueError) as info:
        write_result(store, validated("shifts", path, config), imported_by="planner")
    assert str(info.value) == "the shifts file has no shifts; importing it would remove every shift pattern"
    assert rows(store, "SELECT name FROM shift_patterns") == [("Early",)]


def test_downtime_plan_upserts_and_a_moved_stop_replaces_the_old_one(tmp_path: Path, store: Store,
                                                                      config: Config) -> None:
    header = ["Machine", "Line", "Start", "End", "Reason", "Note"]
    path = write_csv(tmp_path / "pm.csv", [
        header,
        ["M1", "", "2026-03-02 10:00", "2026-03-02 11:00", "PM", "lube"],
        ["", "L2", "2026-03-02 10:00", "2026-03-02 12:00", "NO_ORDER", ""],
    ])
    assert import_twice(store, "downtime-plan", path, config) == WriteSummary("downtime-plan", 2, 0, 0)
    assert rows(store, "SELECT * FROM planned_stops ORDER BY line NULLS FIRST") == [
        ("M1", None, ts(2026, 3, 2, 9), ts(2026, 3, 2, 10), "PM", "lube"),
        (None, "L2", ts(2026, 3, 2, 9), ts(2026, 3, 2, 11), "NO_ORDER", ""),
    ]
    # M1's maintenance moves by half an hour: the old slot goes, the line's stop stays as it was.
    write_csv(path, [header, ["M1", "", "2026-03-02 10:30", "2026-03-02 11:30", "PM", "lube"]])
    summary = write_result(store, validated("downtime-plan", path, config), imported_by="planner")
    assert summary == WriteSummary("downtime-plan", 1, 0, 0, removed=1)
    assert summary.removed_rows == (RemovedRow("planned stop", "M1", utc(2026, 3, 2, 9), utc(2026, 3, 2, 10)),)
    assert rows(store, "SELECT machine, line, start_ts FROM planned_stops ORDER BY line NULLS FIRST") == [
        ("M1", None, ts(2026, 3, 2, 9, 30)), (None, "L2", ts(2026, 3, 2, 9))]


def test_reasons_are_upserted_by_code(tmp_path: Path, store: Store, config: Config) -> None:
    header = ["Code", "Name", "Parent", "Planned", "Loss"]
    path = write_csv(tmp_path / "reasons.csv", [
        header, ["JAM", "Jam", "FAIL", "no", "breakdown"], ["CLEAN", "Cleaning", "", "yes", ""]])
    assert import_twice(store, "reasons", path, config) == WriteSummary("reasons", 2, 0, 0)
    assert rows(store, "SELECT * FROM reasons ORDER BY code") == [
        ("CLEAN", "Cleaning", None, True, None), ("JAM", "Jam", "FAIL", False, "breakdown")]


LOG_HEADER = ["Machine", "Type", "Product", "Order", "Start", "End", "Total", "Rejects", "Reason"]
LOG = [
    LOG_HEADER,
    ["M1", "run", "A", "", "2026-03-02 06:00", "2026-03-02 06:10", "600", "10", ""],
    ["M1", "stop", "", "", "2026-03-02 06:10", "2026-03-02 06:25", "", "", "FAIL.MECH"],
    ["M1", "run", "B", "", "2026-03-02 06:25", "2026-03-02 06:35:30", "21", "2", ""],
    ["M2", "stop", "", "", "2026-03-02 06:00", "2026-03-02 06:00:30", "", "", ""],
]


def test_production_log_writes_runs_stops_and_the_facts_oee_reads(tmp_path: Path, store: Store,
                                                                   config: Config) -> None:
    path = write_csv(tmp_path / "log.csv", LOG)
    assert import_twice(store, "production-log", path, config) == WriteSummary("production-log", 4, 0, 0)
    assert rows(store, "SELECT * FROM production_runs ORDER BY start_ts") == [
        ("M1", "A", None, ts(2026, 3, 2, 5), ts(2026, 3, 2, 5, 10), 600, 10),
        ("M1", "B", None, ts(2026, 3, 2, 5, 25), ts(2026, 3, 2, 5, 35, 30), 21, 2),
    ]
    assert rows(store, "SELECT * FROM production_stops ORDER BY machine") == [
        ("M1", ts(2026, 3, 2, 5, 10), ts(2026, 3, 2, 5, 25), "FAIL.MECH"),
        ("M2", ts(2026, 3, 2, 5), ts(2026, 3, 2, 5, 0, 30), None),
    ]
    assert store.intervals(utc(2026, 3, 2, 0), utc(2026, 3, 3, 0)) == [
        StateInterval("M1", utc(2026, 3, 2, 5), utc(2026, 3, 2, 5, 10), MachineState.RUNNING),
        StateInterval("M1", utc(2026, 3, 2, 5, 10), utc(2026, 3, 2, 5, 25), MachineState.DOWN, "FAIL.MECH", "planner",
                      store.intervals(utc(2026, 3, 2, 5, 10), utc(2026, 3, 2, 5, 11))[0].reason_at),
        StateInterval("M1", utc(2026, 3, 2, 5, 25), utc(2026, 3, 2, 5, 35, 30), MachineState.RUNNING),
        StateInterval("M2", utc(2026, 3, 2, 5), utc(2026, 3, 2, 5, 0, 30), MachineState.DOWN),
    ]
    counts = [(b.minute, b.product, b.total, b.reject) for b in store.counts(utc(2026, 3, 2), utc(2026, 3, 3))]
    # Run A: 600 parts in 10 whole minutes, 60 a minute, 1 reject a minute.
    assert counts[:10] == [(utc(2026, 3, 2, 5, m), "A", 60, 1) for m in range(10)]
    # Run B: 19 good and 2 rejects at an even rate over 10.5 minutes, each counted in the minute it is
    # finished: a good part every 33.2 s, a reject at 5:15 and at 10:30.
    assert counts[10:] == [(utc(2026, 3, 2, 5, 25), "B", 1, 0)] + [
        (utc(2026, 3, 2, 5, m), "B", 2, 1 if m in (30, 35) else 0) for m in range(26, 36)]


def test_reimporting_a_corrected_log_replaces_its_span_without_double_counting(tmp_path: Path, store: Store,
                                                                              config: Config) -> None:
    path = write_csv(tmp_path / "log.csv", LOG)
    write_result(store, validated("production-log", path, config), imported_by="planner")
    # Corrected: run A made 660 parts; the stop was mechanical, then the B run is written as one
    # from 06:25 to 06:40 with 30 parts; M2 is not in this file and keeps its record.
    write_csv(path, [
        LOG_HEADER,
        ["M1", "run", "A", "", "2026-03-02 06:00", "2026-03-02 06:10", "660", "10", ""],
        ["M1", "stop", "", "", "2026-03-02 06:10", "2026-03-02 06:25", "", "", "FAIL.MECH"],
        ["M1", "run", "B", "", "2026-03-02 06:25", "2026-03-02 06:40", "30", "0", ""],
    ])
    summary = write_result(store, validated("production-log", path, config), imported_by="planner")
    assert summary == WriteSummary("production-log", 0, 2, 1)
    assert store.count_totals(utc(2026, 3, 2), utc(2026, 3, 3)) == {("M1", "A"): (660, 10), ("M1", "B"): (30, 0),
                                                                     }
    assert [(i.machine, i.start, i.end, i.state) for i in store.intervals(utc(2026, 3, 2), utc(2026, 3, 3))] == [
        ("M1", utc(2026, 3, 2, 5), utc(2026, 3, 2, 5, 10), MachineState.RUNNING),
        ("M1", utc(2026, 3, 2, 5, 10), utc(2026, 3, 2, 5, 25), MachineState.DOWN),
        ("M1", utc(2026, 3, 2, 5, 25), utc(2026, 3, 2, 5, 40), MachineState.RUNNING),
        ("M2", utc(2026, 3, 2, 5), utc(2026, 3, 2, 5, 0, 30), MachineState.DOWN),
    ]
    # The unchanged stop's reason was not written again.
    assert rows(store, "SELECT count(*) FROM stop_reasons") == [(1,)]
    # A file covering only 06:05-06:30 replaces every stored record it overlaps, whole.
    write_csv(path, [LOG_HEADER, ["M1", "run", "A", "", "2026-03-02 06:05", "2026-03-02 06:30", "100", "0", ""]])
    assert write_result(store, validated("production-log", path, config), imported_by="planner") == \
        WriteSummary("production-log", 1, 0, 0, removed=3)
    assert store.count_totals(utc(2026, 3, 2), utc(2026, 3, 3)) == {("M1", "A"): (100, 0)}
    assert [(i.machine, i.start) for i in store.intervals(utc(2026, 3, 2), utc(2026, 3, 3))] == [
        ("M1", utc(2026, 3, 2, 5, 5)), ("M2", utc(2026, 3, 2, 5))]


def test_neighbouring_runs_sharing_a_minute_keep_both_their_counts(tmp_path: Path, store: Store,
                                                                   config: Config) -> None:
    first = write_csv(tmp_path / "first.csv", [
        LOG_HEADER, ["M1", "run", "A", "", "2026-03-02 06:00", "2026-03-02 06:00:30", "10", "0", ""]])
    second = write_csv(tmp_path / "second.csv", [
        LOG_HEADER, ["M1", "run", "A", "", "2026-03-02 06:00:30", "2026-03-02 06:01", "20", "0", ""]])
    write_result(store, validated("production-log", first, config), imported_by="planner")
    for _ in range(2):  # the second import, and its repeat, must leave the first run's 10 parts alone
        write_result(store, validated("production-log", second, config), imported_by="planner")
        assert store.count_totals(utc(2026, 3, 2), utc(2026, 3, 3)) == {("M1", "A"): (30, 0)}
    # A correction of the second run alone rebuilds the shared minute from both runs.
    write_csv(second, [LOG_HEADER, ["M1", "run", "A", "", "2026-03-02 06:00:30", "2026-03-02 06:01", "25", "1", ""]])
    write_result(store, validated("production-log", second, config), imported_by="planner")
    assert store.count_totals(utc(2026, 3, 2), utc(2026, 3, 3)) == {("M1", "A"): (35, 1)}


def test_a_run_without_product_takes_its_orders_product(tmp_path: Path, store: Store, config: Config) -> None:
    plan = write_csv(tmp_path / "plan.csv", [["Order", "Product", "Machine", "Start", "End", "Qty"],
                                             ["0007", "B", "M1", "2026-03-02 06:00", "2026-03-02 07:00", "100"]])
    write_result(store, validated("schedule", plan, config), imported_by="planner")
    log = write_csv(tmp_path / "log.csv", [LOG_HEADER, ["M1", "run", "", "0007", "2026-03-02 06:00",
                                                        "2026-03-02 06:02", "10", "0", ""]])
    write_result(store, validated("production-log", log, config), imported_by="planner")
    assert store.count_totals(utc(2026, 3, 2), utc(2026, 3, 3)) == {("M1", "B"): (10, 0)}
    assert rows(store, "SELECT product, order_id FROM production_runs") == [(None, "0007")]


def test_engine_offline_time_gives_way_but_plc_intervals_refuse_the_log(tmp_path: Path, store: Store,
                                                                        config: Config) -> None:
    # The engine tracks every machine; one without signals only ever gets "offline" (no data).
    store.upsert_intervals([StateInterval("M1", utc(2026, 3, 2, 4), utc(2026, 3, 2, 5, 30), MachineState.OFFLINE)])
    path = write_csv(tmp_path / "log.csv", LOG)
    write_result(store, validated("production-log", path, config), imported_by="planner")
    assert [i.state for i in store.intervals(utc(2026, 3, 2), utc(2026, 3, 3), ["M1"])] == [
        MachineState.RUNNING, MachineState.DOWN, MachineState.RUNNING]
    # A running interval the log does not own (a PLC's, from before the machine lost its signals) refuses it.
    store.upsert_intervals([StateInterval("M2", utc(2026, 3, 2, 4, 59), utc(2026, 3, 2, 5, 0, 10),
                                          MachineState.RUNNING)])
    before = dump(store)
    write_csv(path, [LOG_HEADER, ["M2", "stop", "", "", "2026-03-02 06:00", "2026-03-02 06:00:40", "", "", ""]])
    with pytest.raises(ValueError) as info:
        write_result(store, validated("production-log", path, config), imported_by="planner")
    assert str(info.value) == ("machine M2 already has a running interval from 2026-03-02 04:59:00 to "
                               "2026-03-02 05:00:10 (UTC) that the log does not replace, probably from a PLC; "
                               "nothing was written")
    assert dump(store) == before


# ---------------------------------------------------------------- all or nothing


def test_a_result_with_problems_is_refused(tmp_path: Path, store: Store, config: Config) -> None:
    path = write_csv(tmp_path / "plan.csv", [["Order", "Product", "Machine", "Start", "End", "Qty"],
                                             ["1", "A", "M1", "2026-03-02 06:00", "2026-03-02 07:00", "10"],
                                             ["2", "A", "M9", "2026-03-02 07:00", "2026-03-02 08:00", "10"]])
    result = validate_file("schedule", path, config)
    assert len(result.problems) == 1 and result.records == ()
    with pytest.raises(ValueError) as info:
        write_result(store, result, imported_by="planner")
    assert str(info.value) == f"{path}: the file has 1 problem; a file with any problem writes nothing"
    assert dump(store)["orders"] == [] and dump(store)["import_log"] == []


def test_a_failure_in_the_middle_of_the_write_leaves_the_store_as_it_was(tmp_path: Path, store: Store,
                                                                        config: Config) -> None:
    path = write_csv(tmp_path / "log.csv", LOG)
    write_result(store, validated("production-log", path, config), imported_by="planner")
    before = dump(store)
    # Runs go in before stops; two stops with one key then break the stops' primary key, after
    # runs, deletes and diffs have already run inside the transaction.
    write_csv(path, [LOG_HEADER, ["M1", "run", "A", "", "2026-03-02 06:00", "2026-03-02 06:10", "999", "0", ""],
                     ["M1", "stop", "", "", "2026-03-02 06:10", "2026-03-02 06:20", "", "", "FAIL"]])
    good = validated("production-log", path, config)
    stop = good.records[1]
    assert isinstance(stop, LoggedStop)
    broken = replace(good, records=(*good.records, replace(stop, end_utc=stop.end_utc + 60, source_row=4)))
    with pytest.raises(duckdb.ConstraintException):
        write_result(store, broken, imported_by="planner")
    assert dump(store) == before


def test_updates_and_inserts_of_committed_keys_share_one_transaction(tmp_path: Path, config: Config) -> None:
    """DuckDB has refused an insert of a key updated earlier in the same transaction; on disk, after a reopen."""
    path = write_csv(tmp_path / "log.csv", LOG)
    with Store.open(tmp_path / "data") as store:
        write_result(store, validated("production-log", path, config), imported_by="planner")
    corrected = [LOG[0], [*LOG[1][:6], "601", "10", ""], *LOG[2:], ["M2", "run", "", "", "2026-03-02 06:01",
                                                                   "2026-03-02 06:02", "5", "0", ""]]
    write_csv(path, corrected)
    with Store.open(tmp_path / "data") as store:
        assert write_result(store, validated("production-log", path, config), imported_by="planner") == \
            WriteSummary("production-log", 1, 1, 3)
        assert store.count_totals(utc(2026, 3, 2), utc(2026, 3, 3)) == {
            ("M1", "A"): (601, 10), ("M1", "B"): (21, 2), ("M2", None): (5, 0)}


def test_dry_run_plan_reports_and_keeps_nothing(tmp_path: Path, store: Store, config: Config) -> None:
    path = write_csv(tmp_path / "products.csv", PRODUCTS)
    result = validated("products", path, config)
    assert plan_result(store, result) == WriteSummary("products", 3, 0, 0)
    assert dump(store)["products"] == [] and dump(store)["import_log"] == []
    assert preview_rows(result, 2) == [("product", "machine", "ideal_cycle_time_s", "micro_stop_threshold_s"),
                                       ("A", "", "1.5", "90"), ("A", "M2", "0.5", "")]


def test_the_import_log_records_imports_that_changed_something(tmp_path: Path, store: Store, config: Config) -> None:
    path = write_csv(tmp_path / "products.csv", PRODUCTS)
    import_twice(store, "products", path, config)
    assert [(kind, file, sheet, sha, n, by) for _, kind, file, sheet, sha, n, by in dump(store)["import_log"]] == [
        ("products", str(path), None, "abc", 3, "planner")]


# ---------------------------------------------------------------- validation for the log


def test_a_log_for_a_machine_with_a_plc_is_refused(tmp_path: Path, config: Config) -> None:
    run = ["P1", "run", "", "", "2026-03-02 06:00", "2026-03-02 07:00", "5", "0", ""]
    path = write_csv(tmp_path / "log.csv", [LOG_HEADER, run])
    assert [str(p) for p in validate_file("production-log", path, config).problems] == [
        f"{path}, row 2, column Machine: 'P1': is read from a PLC (the config maps its total_count); a production "
        "log is only for machines without one, or their output would be counted twice"]


def test_a_stop_inside_a_run_is_refused(tmp_path: Path, config: Config) -> None:
    path = write_csv(tmp_path / "log.csv", [
        LOG_HEADER,
        ["M1", "run", "A", "", "2026-03-02 06:00", "2026-03-02 08:00", "500", "0", ""],
        ["M1", "stop", "", "", "2026-03-02 07:00", "2026-03-02 07:30", "", "", "FAIL"],
    ])
    assert [str(p) for p in validate_file("production-log", path, config).problems] == [
        f"{path}, row 3, column Start: '2026-03-02 07:00': overlaps the run in row 2 on machine M1 (which runs "
        "until 2026-03-02 08:00)"]
