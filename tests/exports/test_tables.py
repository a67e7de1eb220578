"""Report-shaped tables written to CSV and XLSX, read back as a user's spreadsheet would."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest

from oee_tui.exports.tables import ExportError, write_table

HEADERS = ("machine", "oee", "start")
ROWS = [("Füller", 0.8125, datetime(2026, 3, 1, 6, 0)), ("L2-CAP", None, datetime(2026, 3, 1, 14, 0))]


def test_csv_has_a_bom_full_precision_and_empty_cells_for_none(tmp_path: Path) -> None:
    path = tmp_path / "shift.csv"
    assert write_table(path, HEADERS, ROWS) == 2
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        assert list(csv.reader(handle)) == [
            list(HEADERS), ["Füller", "0.8125", "2026-03-01 06:00:00"], ["L2-CAP", "", "2026-03-01 14:00:00"]]


def test_xlsx_keeps_numbers_and_dates_typed(tmp_path: Path) -> None:
    path = tmp_path / "shift.xlsx"
    write_table(path, HEADERS, ROWS, sheet="Early shift")
    book = openpyxl.load_workbook(path)
    ws = book["Early shift"]
    assert [tuple(r) for r in ws.iter_rows(values_only=True)] == [HEADERS, *ROWS]


def test_xlsx_reads_at_once_percentages_durations_sized_columns_frozen_filtered_header(tmp_path: Path) -> None:
    path = tmp_path / "stops.xlsx"
    headers = ("machine", "start_utc", "duration_s", "oee", "good_count", "note")
    rows = [("L1-CAP", datetime(2026, 3, 1, 6, 0), 3725.0, 0.7479, 12_345, "a long enough note to widen"),
            ("M2", datetime(2026, 3, 1, 7, 0), None, None, 5, None)]
    assert write_table(path, headers, rows, sheet="stops") == 2
    ws = openpyxl.load_workbook(path)["stops"]
    assert [c.value for c in ws[1]] == ["machine", "start_utc", "duration (h:mm:ss)", "oee", "good_count", "note"]
    assert all(c.font.bold for c in ws[1])
    first = ws[2]
    assert [c.number_format for c in first] == [
        "General", "yyyy-mm-dd hh:mm:ss", "[h]:mm:ss", "0.00%", "#,##0", "General"]
    # a duration cell holds days, Excel's unit: 3725 s is 1:02:05
    assert first[2].value.total_seconds() == pytest.approx(3725.0)
    assert first[3].value == 0.7479  # still the number, shown as 74.79%
    assert ws[3][2].value is None and ws[3][3].value is None
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:F3"
    widths = {letter: ws.column_dimensions[letter].width for letter in "ABDF"}
    assert widths["B"] >= 19 and widths["F"] >= len("a long enough note to widen")
    assert widths["A"] < widths["B"] and widths["D"] <= 12


def test_an_unknown_format_or_missing_folder_is_refused_and_nothing_is_left(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"shift\.ods: unknown format '\.ods'; use \.csv or \.xlsx"):
        write_table(tmp_path / "shift.ods", HEADERS, ROWS)
    with pytest.raises(ExportError, match="does not exist"):
        write_table(tmp_path / "nope" / "shift.csv", HEADERS, ROWS)
    assert list(tmp_path.iterdir()) == []


def test_a_failure_mid_write_keeps_the_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "shift.csv"
    write_table(path, HEADERS, ROWS)
    before = path.read_bytes()

    def broken():
        yield ROWS[0]
        raise RuntimeError("query failed")

    with pytest.raises(RuntimeError):
        write_table(path, HEADERS, broken())
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["shift.csv"]
