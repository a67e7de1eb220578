"""Files as planners and spreadsheets write them: formulas without saved values, headers with units.

Workbooks are written by openpyxl, which saves formulas without their values, as some
exporters do; the reader then sees exactly what such a file holds.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from oee_tui.config import Config
from oee_tui.imports import reading, validate_file
from tests.imports.test_validate import messages, write_csv

LOG_HEADER = ["Machine", "Start", "End", "Total", "Rejects", "Comment"]


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Log"
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


@pytest.mark.parametrize("reader", ["regex", "elementtree"])
def test_a_formula_without_its_saved_value_is_refused_naming_the_cell(
        tmp_path: Path, config: Config, reader: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if reader == "elementtree":  # the reader for sheets that are not UTF-8 text, and rows the regex does not know
        monkeypatch.setattr(reading, "_utf8_sheet", lambda data: None)
    path = write_xlsx(tmp_path / "log.xlsx", [
        LOG_HEADER,
        ["M1", "2026-03-02 06:00", "2026-03-02 07:00", 100, "=5*2", "=LEN(A2)"],  # a comment column is not read
        ["M1", "2026-03-02 07:00", "2026-03-02 08:00", "=SUM(D2:D2)", 1, ""],
    ])
    how = ("is a formula saved without its value (cell {}), so its value is unknown; open the file in Excel and "
           "save it, which stores the values, or export the sheet as CSV")
    assert messages(validate_file("production-log", path, config)) == [
        f"{path}, sheet Log, row 2, column Rejects: '=5*2': " + how.format("E2"),
        f"{path}, sheet Log, row 3, column Total: '=SUM(D2:D2)': " + how.format("D3"),
    ]


def test_a_formula_with_its_saved_value_is_read_as_that_value(tmp_path: Path, config: Config) -> None:
    path = write_xlsx(tmp_path / "log.xlsx", [
        LOG_HEADER, ["M1", "2026-03-02 06:00", "2026-03-02 07:00", 100, "=5*2", ""]])
    # What Excel does on save: the formula keeps its last value in <v>.
    import zipfile
    with zipfile.ZipFile(path) as book:
        parts = {name: book.read(name) for name in book.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    assert b"<f>5*2</f><v />" in parts[sheet]
    parts[sheet] = parts[sheet].replace(b"<f>5*2</f><v />", b"<f>5*2</f><v>10</v>")
    with zipfile.ZipFile(path, "w") as book:
        for name, data in parts.items():
            book.writestr(name, data)
    result = validate_file("production-log", path, config)
    assert messages(result) == []
    assert [record.reject_count for record in result.records] == [10]  # type: ignore[union-attr]


@pytest.mark.parametrize("header", ["ideal_cycle_time_s", "cycle_time_s", "Ideal cycle [s]", "Cycle time sec",
                                    "CYCLE-TIME (s)", "Ideal cycle time in s"])
def test_a_cycle_time_headed_with_its_unit_is_recognised(tmp_path: Path, config: Config, header: str) -> None:
    path = write_csv(tmp_path / "products.csv", [["Product", header], ["A", "2.5"]])
    result = validate_file("products", path, config)
    assert messages(result) == []
    assert [(record.product, record.ideal_cycle_time_s) for record in result.records] == [  # type: ignore[union-attr]
        ("A", 2.5)]


def test_a_rate_headed_with_its_unit_is_recognised(tmp_path: Path, config: Config) -> None:
    path = write_csv(tmp_path / "products.csv", [["Product", "Rate pcs/h", "Micro stop threshold_s"],
                                                ["A", "3600", "5"]])
    result = validate_file("products", path, config)
    assert messages(result) == []
    assert [(record.ideal_cycle_time_s, record.micro_stop_threshold_s)  # type: ignore[union-attr]
            for record in result.records] == [(1.0, 5.0)]


def test_a_header_without_a_required_column_names_it_and_its_accepted_names(tmp_path: Path, config: Config) -> None:
    path = write_csv(tmp_path / "products.csv", [["Product", "Zeit je Teil"], ["A", "2.5"]])
    assert messages(validate_file("products", path, config)) == [
        f"{path}, row 1, column ideal_cycle_time or rate: column is missing; the file needs at least one of these, "
        "named one of (ideal_cycle_time: ideal cycle time, cycle time, ideal cycle, ideal ct, ct, cycle, seconds "
        "per piece, s per piece, takt, taktzeit, zykluszeit, ideale zykluszeit; rate: ideal rate, rate, speed, "
        "pieces per hour, pcs per hour, pcs h, units per hour, per hour, output per hour, stueck pro stunde, "
        "stück pro stunde, leistung)"]


def test_a_header_cell_with_a_line_break_is_named_on_one_line(tmp_path: Path, config: Config) -> None:
    path = write_xlsx(tmp_path / "products.xlsx", [["Product", "Ideal cycle\ntime [s]"], ["A", "fast"]])
    assert messages(validate_file("products", path, config)) == [
        f"{path}, sheet Log, row 2, column Ideal cycle time [s]: 'fast': is not a duration; write seconds (90), "
        "mm:ss (1:30) or with a unit (2 min)"]


def test_orders_without_a_quantity_target_are_imported_with_a_note(tmp_path: Path, config: Config) -> None:
    path = write_csv(tmp_path / "plan.csv", [
        ["Order", "Product", "Machine", "Start", "End", "Qty"],
        ["1", "A", "M1", "2026-03-02 06:00", "2026-03-02 07:00", "0"],
        ["2", "A", "M1", "2026-03-02 07:00", "2026-03-02 08:00", ""],
        ["3", "A", "M1", "2026-03-02 08:00", "2026-03-02 09:00", "50"],
    ])
    result = validate_file("schedule", path, config)
    assert messages(result) == []
    assert [(record.order_id, record.quantity) for record in result.records] == [  # type: ignore[union-attr]
        ("1", None), ("2", None), ("3", 50)]
    assert [str(note) for note in result.notes] == [
        f"{path}, row 2, column Qty: '0': no quantity target (0 or empty): the order is imported without one",
        f"{path}, row 3, column Qty: no quantity target (0 or empty): the order is imported without one"]
