"""`oee import KIND FILE [--sheet NAME] [--dry-run]` through the real entry point, on real stores."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import openpyxl
import pytest

from oee_tui.cli import main
from oee_tui.store import Store
from tests.imports.cli_runs import oee_import
from tests.imports.test_write import LOG, PRODUCTS, dump, rows, write_csv

CONFIG = """
[site]
name = "Test"
timezone = "Europe/Berlin"

[[lines]]
id = "L1"

[[lines]]
id = "L2"

[[machines]]
id = "M1"
line = "L1"
ideal_cycle_time_s = 1.0
micro_stop_threshold_s = 60
product_cycle_times = { A = 1.0, B = 2.0 }

[[machines]]
id = "M2"
line = "L2"
ideal_cycle_time_s = 1.0
"""


def test_a_file_with_problems_lists_every_one_and_writes_nothing(tmp_path: Path, paths: tuple[Path, Path],
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(tmp_path / "plan.csv", [
        ["Order", "Product", "Machine", "Start", "End", "Qty"],
        ["1", "A", "M1", "2026-03-02 06:00", "2026-03-02 07:00", "10"],
        ["2", "A", "M9", "2026-03-02 07:00", "2026-03-02 08:00", "10"],
        ["3", "A", "M2", "2026-03-02 07:00", "2026-03-02 06:00", "10"],
        ["4", "A", "M2", "2026-03-02 08:00", "2026-03-02 09:00", "ten"],
    ])
    assert oee_import(paths, "schedule", str(path)) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"{path}, row 3, column Machine: 'M9': is not a machine in the config; machines are M1, M2",
        f"{path}, row 4, column End: '2026-03-02 06:00': is before the start",
        f"{path}, row 5, column Qty: 'ten': is not a number",
        f"oee import: 3 problems in {path}; nothing was written",
    ]
    assert not (paths[1] / Store.DB_FILENAME).exists()  # the store was not even opened


def test_import_writes_and_says_what_changed_and_a_repeat_changes_nothing(
        tmp_path: Path, paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(tmp_path / "log.csv", LOG)
    assert oee_import(paths, "production-log", str(path)) == 0
    assert capsys.readouterr() == (f"imported {path} (production-log): 4 inserted, 0 updated, 0 unchanged\n", "")
    with Store.open(paths[1]) as store:
        before = dump(store)
        assert len(before["production_runs"]) == 2 and len(before["import_log"]) == 1
        assert before["import_log"][0][4] is not None and len(before["import_log"][0][4]) == 64  # the file's SHA-256
    assert oee_import(paths, "production-log", str(path)) == 0
    assert capsys.readouterr() == (
        f"imported {path} (production-log): nothing changed, all 4 rows are stored as in the file\n", "")
    with Store.open(paths[1]) as store:
        assert dump(store) == before


def test_dry_run_previews_and_writes_nothing(tmp_path: Path, paths: tuple[Path, Path],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(tmp_path / "products.csv", PRODUCTS)
    assert oee_import(paths, "products", str(path), "--dry-run") == 0
    assert capsys.readouterr().out.splitlines() == [
        "product  machine  ideal_cycle_time_s  micro_stop_threshold_s",
        "A                 1.5                 90",
        "A        M2       0.5",
        "C                 3",
        f"3 products rows in {path} (first 3 shown, times in UTC)",
        "would write: 3 inserted, 0 updated, 0 unchanged; dry run, nothing was written",
    ]
    assert not (paths[1] / Store.DB_FILENAME).exists()
    # Against a store that has an older version of the file, the plan says what would change.
    write_csv(path, [PRODUCTS[0], ["A", "", "1.5", "90"]])
    assert oee_import(paths, "products", str(path)) == 0
    write_csv(path, PRODUCTS)
    capsys.readouterr()
    assert oee_import(paths, "products", str(path), "--dry-run") == 0
    assert capsys.readouterr().out.splitlines()[-1] == \
        "would write: 2 inserted, 0 updated, 1 unchanged; dry run, nothing was written"
    with Store.open(paths[1]) as store:
        assert rows(store, "SELECT product, machine FROM products") == [("A", "")]
        assert len(dump(store)["import_log"]) == 1


def test_a_sheet_is_chosen_by_name_and_a_wrong_one_is_an_error(tmp_path: Path, paths: tuple[Path, Path],
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    workbook = openpyxl.Workbook()
    workbook.active.title = "Notes"
    sheet = workbook.create_sheet("Codes")
    sheet.append(["Code", "Name", "Parent", "Planned", "Loss"])
    sheet.append(["JAM", "Jam", "FAIL", "no", "breakdown"])
    workbook.save(tmp_path / "reasons.xlsx")
    path = tmp_path / "reasons.xlsx"
    assert oee_import(paths, "reasons", str(path), "--sheet", "Codes") == 0
    assert capsys.readouterr().out == f"imported {path}, sheet Codes (reasons): 1 inserted, 0 updated, 0 unchanged\n"
    assert oee_import(paths, "reasons", str(path), "--sheet", "Plan") == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{path}: has no sheet 'Plan'; its sheets are Notes, Codes",
        f"oee import: 1 problem in {path}; nothing was written",
    ]


def test_a_store_in_use_gives_exit_3_and_names_its_owner(tmp_path: Path, paths: tuple[Path, Path],
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(tmp_path / "products.csv", PRODUCTS)
    with Store.open(paths[1]) as store:
        assert oee_import(paths, "products", str(path)) == 3
        assert dump(store)["products"] == []
    assert capsys.readouterr().err == (
        f"oee: the store in {paths[1]} is in use by process {os.getpid()} ({' '.join(sys.argv)}); stop it first, "
        "or point --data-dir elsewhere\n")


def test_an_unknown_kind_is_a_usage_error(tmp_path: Path, paths: tuple[Path, Path],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        oee_import(paths, "orders", str(tmp_path / "x.csv"))
    assert info.value.code == 2
    assert "argument KIND: invalid choice: 'orders' (choose from 'products', 'schedule', 'shifts', " \
           "'downtime-plan', 'reasons', 'production-log')" in capsys.readouterr().err


def test_demo_imports_into_the_demo_plants_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(tmp_path / "products.csv", [["Product", "Cycle time"], ["X1", "2.5"]])
    data = tmp_path / "data"
    assert main(["--data-dir", str(data), "--demo", "import", "products", str(path)]) == 0
    assert capsys.readouterr().out == f"imported {path} (products): 1 inserted, 0 updated, 0 unchanged\n"
    from oee_tui.runtime import demo_data_dir

    with Store.open(demo_data_dir(data)) as store:
        assert rows(store, "SELECT * FROM products") == [("X1", "", 2.5, None)]
    assert not (data / Store.DB_FILENAME).exists()


def test_a_write_the_store_refuses_is_exit_2_with_its_reason(tmp_path: Path, paths: tuple[Path, Path],
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(tmp_path / "shifts.csv", [["Shift", "Start", "End"], ["Early", "06:00", "14:00"]])
    assert oee_import(paths, "shifts", str(path)) == 0
    write_csv(path, [["Shift", "Start", "End"]])
    capsys.readouterr()
    assert oee_import(paths, "shifts", str(path)) == 2
    assert capsys.readouterr() == (
        "", "oee import: the shifts file has no shifts; importing it would remove every shift pattern\n")
    with Store.open(paths[1]) as store:
        assert rows(store, "SELECT name FROM shift_patterns") == [("Early",)]


def test_oee_report_uses_imported_shifts_and_splits_json_by_product(
        tmp_path: Path, paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    shifts = write_csv(tmp_path / "shifts.csv", [
        ["Shift", "Start", "End", "Days", "Breaks"],
        ["Day", "06:00", "18:00", "Mon-Sun", ""],
        ["Night", "18:00", "06:00", "Mon-Sun", ""],
    ])
    assert oee_import(paths, "shifts", str(shifts)) == 0
    assert oee_import(paths, "production-log", str(write_csv(tmp_path / "log.csv", LOG))) == 0
    capsys.readouterr()
    config, data = paths
    # "Day" exists only in the imported patterns, not in the config file.
    assert main(["--config", str(config), "--data-dir", str(data), "report", "--shift", "Day@2026-03-02",
                 "--format", "json"]) == 0

    report = json.loads(capsys.readouterr().out)
    assert report["label"] == "Day@2026-03-02"
    m1 = next(m for m in report["machines"] if m["scope"] == "M1")
    assert m1["total_count"] == 621
    # Counts follow the product that made them; time follows the schedule, and this log has none.
    assert {p["product"]: p["total_count"] for p in m1["by_product"]} == {None: 0, "A": 600, "B": 21}
    assert main(["--config", str(config), "--data-dir", str(data), "report", "--shift", "Late@2026-03-02"]) == 2
    assert "Late" in capsys.readouterr().err
