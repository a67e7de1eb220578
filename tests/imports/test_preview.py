"""The check `oee import` and the Import screen share: read, detect, validate, hash, and the marked rows."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time
from pathlib import Path

import openpyxl

from oee_tui.config import Config
from oee_tui.imports.preview import (
    CELL_WIDTH,
    cell_text,
    detect_and_preview,
    marked_rows,
    preview_file,
    problem_line,
)
from oee_tui.imports.reading import RawTable
from oee_tui.imports.validate import Problem
from tests.imports.test_validate import ORDER_HEADER, write_csv


def schedule(path: Path, *rows: list[object]) -> Path:
    return write_csv(path, [ORDER_HEADER, *rows])


GOOD = ["1", "A", "M1", "2026-03-02 06:00", "2026-03-02 07:00", "10"]


def test_a_given_kind_and_a_detected_one_find_the_same(tmp_path: Path, config: Config) -> None:
    path = schedule(tmp_path / "plan.csv", GOOD, ["2", "A", "M9", "2026-03-02 07:00", "2026-03-02 08:00", "10"])
    given = preview_file(path, config, "schedule")
    detected = detect_and_preview(path, config)
    assert detected.kind == given.kind == "schedule"
    assert detected.detection is not None and given.detection is None
    assert [str(p) for p in given.problems] == [str(p) for p in detected.problems] == [
        f"{path}, row 3, column Machine: 'M9': is not a machine in the config; machines are M1"]
    assert given.sha256 == detected.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert given.rows_read == 2 and given.rows_with_problems == 1 and not given.can_import
    assert given.where == str(path)


def test_a_clean_file_can_be_imported(tmp_path: Path, config: Config) -> None:
    preview = preview_file(schedule(tmp_path / "plan.csv", GOOD), config, "schedule")
    assert preview.problems == () and preview.can_import
    assert preview.result is not None and len(preview.result.records) == 1


def test_a_file_that_cannot_be_read_is_one_problem_and_no_hash(tmp_path: Path, config: Config) -> None:
    preview = preview_file(tmp_path / "missing.csv", config, "schedule")
    assert [str(p) for p in preview.problems] == [f"{tmp_path / 'missing.csv'}: file not found"]
    assert preview.table is None and preview.result is None and preview.sha256 is None
    assert preview.rows_read == 0 and not preview.can_import


def test_a_workbook_read_for_a_kind_finds_that_kinds_sheet(tmp_path: Path, config: Config) -> None:
    book = openpyxl.Workbook()
    book.active.title = "Reasons"
    book.active.append(["Code", "Name", "Parent", "Planned", "Loss"])
    book.active.append(["JAM", "Jam", "", "no", "breakdown"])
    orders = book.create_sheet("Orders")
    orders.append(ORDER_HEADER)
    orders.append(GOOD)
    book.save(tmp_path / "plan.xlsx")
    path = tmp_path / "plan.xlsx"
    # As `oee import schedule plan.xlsx` reads it: the first sheet with a schedule header.
    given = preview_file(path, config, "schedule")
    assert given.sheet == "Orders" and given.can_import and given.where == f"{path}, sheet Orders"
    # As the screen opens it: the first sheet with any kind's header, its sheets listed to pick another.
    detected = detect_and_preview(path, config)
    assert detected.sheet_names == ("Reasons", "Orders")
    assert (detected.sheet, detected.kind) == ("Reasons", "reasons")
    assert detect_and_preview(path, config, "Orders").kind == "schedule"


def test_the_marked_rows_are_the_top_and_every_bad_row_below() -> None:
    table = RawTable("plan.csv", None, ("Order", "Qty", ""), 1,
                     tuple((number, (f"{number:04d}", "10")) for number in range(2, 12)))
    problems = [
        Problem("plan.csv", None, 3, "Qty", "x", "is not a number"),
        Problem("plan.csv", None, 9, "Qty", "x", "is not a number"),
        Problem("plan.csv", None, 11, "Colour", None, "a column the header does not have"),
        Problem("plan.csv", None, 1, "Order", None, "the header row is not a data row"),
        Problem("plan.csv", None, None, None, None, "the file as a whole"),
        Problem("plan.csv", None, 10, "Qty", "x", "beyond the problems shown"),
    ]
    marked = marked_rows(table, problems, top=3, max_problems=5)
    assert [row.number for row in marked.rows] == [2, 3, 4, 9, 11]
    assert (marked.shown_rows, marked.extra_rows) == (3, 2)
    by_number = {row.number: row for row in marked.rows}
    assert not by_number[2].marked
    assert by_number[3].bad_columns == frozenset({1}) and not by_number[3].bad_row
    assert by_number[11].bad_row and by_number[11].bad_columns == frozenset() and by_number[11].marked
    assert by_number[3].cells == ("0003", "10", "")  # one cell per header column, short rows padded
    assert marked.column_of == {"Order": 0, "Qty": 1, "": 2}


def test_cells_read_as_they_were_typed_on_one_line() -> None:
    assert cell_text(None) == ""
    assert cell_text(datetime(2026, 3, 2)) == "2026-03-02"
    assert cell_text(datetime(2026, 3, 2, 6, 30)) == "2026-03-02 06:30"
    assert cell_text(datetime(2026, 3, 2, 6, 30, 5)) == "2026-03-02 06:30:05"
    assert cell_text(date(2026, 3, 2)) == "2026-03-02" and cell_text(time(6, 30)) == "06:30:00"
    assert cell_text(2.50) == "2.5"
    assert cell_text("two\nlines") == "two⏎lines"
    long = "x" * (CELL_WIDTH + 5)
    assert cell_text(long) == "x" * (CELL_WIDTH - 1) + "…"


def test_a_problem_line_leaves_the_file_and_its_own_sheet_out() -> None:
    problem = Problem("plan.xlsx", "Orders", 12, "Start", "2026-13-01", "is not a date")
    assert problem_line(problem, "Orders") == "row 12, Start: '2026-13-01': is not a date"
    assert problem_line(problem, "Other") == "sheet Orders, row 12, Start: '2026-13-01': is not a date"
    assert problem_line(Problem("plan.csv", None, None, None, None, "file not found"), None) == \
        "file: file not found"
