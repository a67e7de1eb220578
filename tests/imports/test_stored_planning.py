"""Files are checked against the planning data in effect: the config's, extended by what earlier imports stored.

Each test imports through the real `oee import` into a real store, then imports a file that refers
to what was imported before (a reason code, a product).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from oee_tui.store import Store
from tests.imports.cli_runs import oee_import
from tests.imports.test_write import rows, write_csv

# The config names products (A and B on M1), so products are checked against a list.
CONFIG = """
[site]
name = "Test"
timezone = "Europe/Berlin"

[[lines]]
id = "L1"

[[machines]]
id = "M1"
line = "L1"
ideal_cycle_time_s = 1.0
product_cycle_times = { A = 1.0, B = 2.0 }

[[reasons]]
code = "FAIL"
name = "Failure"
loss = "breakdown"
"""

REASONS = [["Code", "Name", "Planned", "Loss"],
           ["BRK", "Belt broke", "no", "breakdown"],
           ["CLEAN", "Cleaning", "yes", ""]]


def test_a_log_and_a_downtime_plan_may_use_reasons_imported_before(
        tmp_path: Path, paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert oee_import(paths, "reasons", str(write_csv(tmp_path / "reasons.csv", REASONS))) == 0
    log = write_csv(tmp_path / "log.csv", [["Machine", "Start", "End", "Reason"],
                                          ["M1", "2026-03-02 06:00", "2026-03-02 07:00", "BRK"]])
    plan = write_csv(tmp_path / "plan.csv", [["Machine", "Start", "End", "Reason"],
                                            ["M1", "2026-03-03 06:00", "2026-03-03 07:00", "CLEAN"]])
    capsys.readouterr()
    assert oee_import(paths, "production-log", str(log)) == 0
    assert oee_import(paths, "downtime-plan", str(plan)) == 0
    assert capsys.readouterr() == (
        f"imported {log} (production-log): 1 inserted, 0 updated, 0 unchanged\n"
        f"imported {plan} (downtime-plan): 1 inserted, 0 updated, 0 unchanged\n", "")
    # An imported unplanned reason is still no reason for a downtime plan, and an unknown code names them all.
    write_csv(plan, [["Machine", "Start", "End", "Reason"],
                     ["M1", "2026-03-04 06:00", "2026-03-04 07:00", "BRK"],
                     ["M1", "2026-03-05 06:00", "2026-03-05 07:00", "NOPE"]])
    assert oee_import(paths, "downtime-plan", str(plan)) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{plan}, row 2, column Reason: 'BRK': is an unplanned reason; a downtime plan needs a planned one: CLEAN",
        f"{plan}, row 3, column Reason: 'NOPE': is not a reason code (in the config or imported); codes are BRK, "
        "CLEAN, FAIL",
        f"oee import: 2 problems in {plan}; nothing was written",
    ]


def test_a_schedule_may_use_products_imported_before_when_the_config_names_others(
        tmp_path: Path, paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    schedule = write_csv(tmp_path / "plan.csv", [["Order", "Product", "Machine", "Start", "End", "Qty"],
                                                ["1", "X", "M1", "2026-03-02 06:00", "2026-03-02 07:00", "10"],
                                                ["2", "A", "M1", "2026-03-02 07:00", "2026-03-02 08:00", "10"]])
    assert oee_import(paths, "schedule", str(schedule)) == 2
    assert capsys.readouterr().err.splitlines()[0] == (
        f"{schedule}, row 2, column Product: 'X': is not a known product (neither in the config nor imported); "
        "import the products first or fix the id")
    assert oee_import(paths, "products", str(write_csv(tmp_path / "products.csv", [["Product", "Cycle time"],
                                                                                  ["X", "2.5"]]))) == 0
    capsys.readouterr()
    assert oee_import(paths, "schedule", str(schedule)) == 0
    assert capsys.readouterr().out == f"imported {schedule} (schedule): 2 inserted, 0 updated, 0 unchanged\n"
    # A product imported for one machine only is known too (a log names it for that machine).
    assert oee_import(paths, "products", str(write_csv(tmp_path / "more.csv", [["Product", "Machine", "Cycle time"],
                                                                              ["Y", "M1", "3"]]))) == 0
    log = write_csv(tmp_path / "log.csv", [["Machine", "Product", "Start", "End", "Total"],
                                          ["M1", "Y", "2026-03-03 06:00", "2026-03-03 07:00", "100"]])
    assert oee_import(paths, "production-log", str(log)) == 0
    with Store.open(paths[1]) as store:
        assert rows(store, "SELECT order_id, product FROM orders ORDER BY order_id") == [("1", "X"), ("2", "A")]


def test_a_reason_tree_may_hang_from_an_imported_parent(tmp_path: Path, paths: tuple[Path, Path],
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert oee_import(paths, "reasons", str(write_csv(tmp_path / "reasons.csv", REASONS))) == 0
    children = write_csv(tmp_path / "children.csv", [["Code", "Name", "Parent"], ["BRK.BELT", "Belt", "BRK"]])
    assert oee_import(paths, "reasons", str(children)) == 0
    assert capsys.readouterr().err == ""


def test_a_file_with_problems_reads_the_store_but_writes_nothing(
        tmp_path: Path, paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert oee_import(paths, "reasons", str(write_csv(tmp_path / "reasons.csv", REASONS))) == 0
    with Store.open(paths[1]) as store:
        before = rows(store, "SELECT * FROM import_log")
    log = write_csv(tmp_path / "log.csv", [["Machine", "Start", "End", "Reason"],
                                          ["M1", "2026-03-02 06:00", "2026-03-02 07:00", "NOPE"]])
    assert oee_import(paths, "production-log", str(log)) == 2
    with Store.open(paths[1]) as store:
        assert rows(store, "SELECT * FROM import_log") == before
        assert rows(store, "SELECT count(*) FROM production_stops") == [(0,)]


def test_an_order_overlapping_one_stored_before_is_refused_naming_both(
        tmp_path: Path, paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    header = ["Order", "Product", "Machine", "Start", "End", "Qty"]
    week = write_csv(tmp_path / "week.csv", [header, ["17", "A", "M1", "2026-03-02 06:00", "2026-03-02 10:00", "10"]])
    assert oee_import(paths, "schedule", str(week)) == 0
    late = write_csv(tmp_path / "late.csv", [header,
                                            ["18", "B", "M1", "2026-03-02 09:00", "2026-03-02 12:00", "10"],
                                            ["19", "B", "M1", "2026-03-02 12:00", "2026-03-02 13:00", "5"]])
    capsys.readouterr()
    assert oee_import(paths, "schedule", str(late)) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{late}, row 2, column Start: '2026-03-02 09:00': order 18 overlaps order 17, stored by an earlier import on "
        "machine M1 (2026-03-02 06:00 to 2026-03-02 10:00); move one of them, or give order 17 in this file with "
        "its new times",
        f"oee import: 1 problem in {late}; nothing was written"]
    # Given anew in the same file, the stored order moves: no overlap. The order without a quantity is noted.
    write_csv(late, [header,
                     ["17", "A", "M1", "2026-03-02 06:00", "2026-03-02 09:00", "10"],
                     ["18", "B", "M1", "2026-03-02 09:00", "2026-03-02 12:00", "10"],
                     ["19", "B", "M1", "2026-03-02 12:00", "2026-03-02 13:00", ""]])
    assert oee_import(paths, "schedule", str(late)) == 0
    assert capsys.readouterr() == (
        f"note: {late}, row 4, column Qty: no quantity target (0 or empty): the order is imported without one\n"
        f"imported {late} (schedule): 2 inserted, 1 updated, 0 unchanged\n", "")
    with Store.open(paths[1]) as store:
        assert rows(store, "SELECT order_id, quantity FROM orders ORDER BY order_id") == [
            ("17", 10), ("18", 10), ("19", None)]


def test_an_open_order_runs_until_the_next_order_on_its_machine(
        tmp_path: Path, paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    from oee_tui.drivers.registry import load_config
    from oee_tui.engine.oee.planning_rules import Planning
    from oee_tui.model import Span
    from tests.imports.test_write import utc

    header = ["Order", "Product", "Machine", "Start", "End", "Qty"]
    plan = write_csv(tmp_path / "plan.csv", [header,
                                            ["1", "A", "M1", "2026-03-02 06:00", "", "10"],
                                            ["2", "B", "M1", "2026-03-02 10:00", "2026-03-02 12:00", "10"],
                                            ["3", "A", "M1", "2026-03-02 13:00", "", "10"]])
    assert oee_import(paths, "schedule", str(plan), "--dry-run") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == [
        f"note: {plan}, row 2, column End: no end yet: the order is open, and runs until the next order on machine "
        "M1 starts",
        f"note: {plan}, row 4, column End: no end yet: the order is open, and runs until the next order on machine "
        "M1 starts"]
    assert out[3].split() == ["1", "A", "M1", "2026-03-02", "05:00:00", "open", "10"]
    assert oee_import(paths, "schedule", str(plan)) == 0
    capsys.readouterr()
    with Store.open(paths[1]) as store:
        ends = {o.order_id: o.end_utc for o in Planning.load(store).orders}
        assert ends == {"1": utc(2026, 3, 2, 9), "2": utc(2026, 3, 2, 11), "3": float("inf")}
        # A window after the next order has ended reads no open order that it ended.
        assert [o.order_id for o in Planning.load(store, Span(utc(2026, 3, 2, 13), utc(2026, 3, 2, 14))).orders] \
            == ["3"]
        machine = next(m for m in load_config(paths[0]).machines if m.id == "M1")
        planning = Planning.load(store)
        assert [planning.order_at(machine, utc(2026, 3, 2, h)) for h in (6, 9, 11, 12, 20)] == [
            "1", "2", None, "3", "3"]
    # A later order starting inside the stored open one ends it; one spanning its start overlaps it.
    later = write_csv(tmp_path / "later.csv", [header, ["4", "B", "M1", "2026-03-03 06:00", "2026-03-03 08:00", "5"]])
    assert oee_import(paths, "schedule", str(later)) == 0
    early = write_csv(tmp_path / "early.csv", [header, ["5", "B", "M1", "2026-03-02 12:30", "2026-03-02 14:00", "5"]])
    capsys.readouterr()
    assert oee_import(paths, "schedule", str(early)) == 2
    assert capsys.readouterr().err.splitlines()[0] == (
        f"{early}, row 2, column Start: '2026-03-02 12:30': order 5 overlaps order 3, stored by an earlier import on "
        "machine M1 (2026-03-02 13:00 to 2026-03-03 06:00); move one of them, or give order 3 in this file with its "
        "new times")
