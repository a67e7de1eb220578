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
