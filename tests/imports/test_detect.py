"""Telling the import kind from a file's header, and finding the data sheet of a workbook.

Every file is built here with the csv module or openpyxl, headed as planners head them.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import openpyxl
import pytest

from oee_tui.imports.columns import KINDS
from oee_tui.imports.detect import detect_kind, sheets
from oee_tui.imports.reading import ReadError


def write_csv(path: Path, rows: list[list[str]], delimiter: str = ",", encoding: str = "utf-8") -> Path:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def write_xlsx(path: Path, sheets_rows: dict[str, list[list[object]]]) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets_rows.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


# One header per kind, the way people write them (aliases, German, units in brackets).
HEADERS: dict[str, list[str]] = {
    "products": ["Article No", "Machine", "Cycle time (s)", "Micro stop threshold"],
    "schedule": ["Order No.", "Product", "Line", "Planned start", "Planned end", "Qty"],
    "shifts": ["Shift", "Start", "End", "Days", "Breaks"],
    "downtime-plan": ["Anlage", "Beginn", "Ende", "Grund", "Bemerkung"],
    "reasons": ["Code", "Description", "Parent", "Planned", "Loss type"],
    "production-log": ["Machine", "Type", "Product", "Start", "End", "Total count", "Rejects", "Reason"],
}
ROWS: dict[str, list[str]] = {
    "products": ["P-100", "", "0.5", "10"],
    "schedule": ["00042", "P-100", "L1", "2026-03-02 06:00", "2026-03-02 08:00", "500"],
    "shifts": ["Early", "06:00", "14:00", "mon-fri", "09:00-09:15"],
    "downtime-plan": ["L1-FILL", "2026-03-02 06:00", "2026-03-02 08:00", "PM", "filter change"],
    "reasons": ["FAIL", "Failure", "", "no", "breakdown"],
    "production-log": ["M9", "run", "P-100", "2026-03-02 06:00", "2026-03-02 08:00", "1200", "12", ""],
}
assert set(HEADERS) == set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_is_detected_from_a_csv(tmp_path: Path, kind: str) -> None:
    path = write_csv(tmp_path / f"{kind}.csv", [HEADERS[kind], ROWS[kind]], delimiter=";")
    detection = detect_kind(path)
    assert detection.kind == kind
    assert detection.score == len(HEADERS[kind])
    assert detection.best is not None and detection.best.complete
    assert detection.best.header_row == 1
    assert not detection.ambiguous


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_is_detected_from_a_workbook_with_a_title_row(tmp_path: Path, kind: str) -> None:
    path = write_xlsx(tmp_path / f"{kind}.xlsx", {"Data": [[f"{kind} for week 12"], [], HEADERS[kind], ROWS[kind]]})
    detection = detect_kind(path)
    assert (detection.kind, detection.sheet) == (kind, "Data")
    assert detection.best is not None and detection.best.header_row == 3


def test_the_runners_up_are_ranked_and_the_message_names_the_best(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "orders.csv", [HEADERS["schedule"], ROWS["schedule"]])
    detection = detect_kind(path)
    # A schedule names product, start and end as a production log does, but a log needs a machine.
    assert [score.kind for score in detection.ranking][:2] == ["schedule", "downtime-plan"]
    assert detection.runners_up[0].complete
    assert detection.message == f"{path} looks like schedule: 6 of 9 columns (all 5 required)"


def test_an_ambiguous_header_says_which_kinds_fit(tmp_path: Path) -> None:
    # Machine, start, end and reason: planned maintenance, or stops written down by hand?
    path = write_csv(tmp_path / "stops.csv", [["Machine", "Start", "End", "Reason"],
                                              ["M9", "2026-03-02 06:00", "2026-03-02 07:00", "PM"]])
    detection = detect_kind(path)
    assert detection.ambiguous
    assert {score.kind for score in detection.ranking[:2]} == {"downtime-plan", "production-log"}
    # Both name four columns; the log goes first as three of them are columns it requires.
    assert detection.kind == "production-log"
    assert detection.message == (
        f"{path} looks like production-log: 4 of 9 columns (all 3 required); "
        "downtime-plan: 4 of 6 columns (all 2 required) fits as well, so check the kind")


def test_an_incomplete_header_names_what_is_missing(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "orders.csv", [["Order", "Product", "Line", "Start", "End"],
                                               ["1", "P", "L1", "2026-03-02 06:00", "2026-03-02 07:00"]])
    detection = detect_kind(path)
    assert detection.kind == "downtime-plan"  # complete (line, start, end) beats an incomplete schedule
    schedule = next(score for score in detection.ranking if score.kind == "schedule")
    assert not schedule.complete
    assert schedule.describe() == "schedule: 5 of 9 columns (4 of 5 required, so not complete)"


def test_a_file_matching_no_kind_says_so(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "prices.csv", [["Colour", "Price", "Supplier"], ["red", "3.20", "ACME"]])
    detection = detect_kind(path)
    assert detection.kind is None and detection.ranking == () and detection.score == 0
    assert detection.message == (
        f"{path}: no row in the first 30 names the columns of any import kind (kinds are products, schedule, "
        "shifts, downtime-plan, reasons, production-log); pick the kind by hand, or see `oee import --help` "
        "for the column names each kind accepts")


def test_a_cp1252_file_with_tabs(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "plan.txt", [["Auftrag", "Artikel", "Maschine", "Beginn", "Ende", "Stückzahl"],
                                             ["0815", "Weißbrot", "M1", "02.03.2026 06:00", "02.03.2026 08:00", "5"]],
                     delimiter="\t", encoding="cp1252")
    # "Stückzahl" is a production log's total count, not a schedule's quantity: the log fits completely.
    detection = detect_kind(path)
    assert detection.kind == "production-log"
    assert detection.best is not None and detection.best.named == (
        "machine", "product", "order_id", "start", "end", "total_count")


def test_only_the_top_of_a_large_csv_is_read(tmp_path: Path) -> None:
    rows = [HEADERS["production-log"]] + [ROWS["production-log"]] * 20_000  # about 1 MB
    path = write_csv(tmp_path / "log.csv", rows)
    assert path.stat().st_size > 256 * 1024
    assert detect_kind(path).kind == "production-log"


def test_the_data_sheet_is_found_after_a_cover_sheet(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "plan.xlsx", {
        "Cover": [["Production plan"], ["Made by planning, week 12"]],
        "Orders": [HEADERS["schedule"], ROWS["schedule"]],
        "Shifts": [HEADERS["shifts"], ROWS["shifts"]],
    })
    assert sheets(path).names == ("Cover", "Orders", "Shifts")
    assert sheets(path).data_sheet == "Orders"
    assert (detect_kind(path).kind, detect_kind(path).sheet) == ("schedule", "Orders")
    assert (detect_kind(path, "Shifts").kind, detect_kind(path, "Shifts").sheet) == ("shifts", "Shifts")
    cover = detect_kind(path, "Cover")
    assert cover.kind is None and cover.message.startswith(f"{path}, sheet Cover: no row in the first 30")


def test_a_workbook_without_data(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "empty.xlsx", {"Notes": [["nothing to see"]]})
    assert sheets(path).data_sheet is None
    assert detect_kind(path).kind is None


def test_files_that_cannot_be_judged(tmp_path: Path) -> None:
    with pytest.raises(ReadError) as missing:
        detect_kind(tmp_path / "nope.csv")
    assert str(missing.value) == f"{tmp_path / 'nope.csv'}: file not found"
    old = tmp_path / "old.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(ReadError) as legacy:
        detect_kind(old)
    assert str(legacy.value) == f"{old}: is an old Excel 97-2003 file; save it as .xlsx or .csv"
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a zip")
    with pytest.raises(ReadError) as not_zip:
        detect_kind(broken)
    assert str(not_zip.value) == f"{broken}: is not a readable .xlsx workbook (File is not a zip file)"
    csv_path = write_csv(tmp_path / "a.csv", [HEADERS["shifts"]])
    with pytest.raises(ReadError) as no_sheets:
        sheets(csv_path)
    assert str(no_sheets.value) == f"{csv_path}: is not a workbook (.xlsx or .xlsm), so it has no sheets"
    book = write_xlsx(tmp_path / "b.xlsx", {"Data": [HEADERS["shifts"]]})
    with pytest.raises(ReadError) as no_such:
        detect_kind(book, "Plan")
    assert str(no_such.value) == f"{book}: has no sheet 'Plan'; its sheets are Data"
