"""Reading files as people make them: encodings, separators, quoting, Excel layouts.

Every file is built here with the csv module or openpyxl, so each quirk is visible in the test.
"""

from __future__ import annotations

import codecs
import csv
import io
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from openpyxl.styles import Font, PatternFill

from oee_tui.imports.columns import SPECS, aliases_doc, normalize_header
from oee_tui.imports.reading import ReadError, read_table

SCHEDULE = SPECS["schedule"]


def write_csv(path: Path, rows: list[list[str]], delimiter: str = ",", encoding: str = "utf-8") -> Path:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def test_utf8_with_bom_and_commas(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows([["Order", "Product", "Machine", "Start", "End", "Qty"],
                                  ["00042", "Müsli", "M1", "2026-03-02 06:00", "2026-03-02 08:00", "100"]])
    path.write_bytes(codecs.BOM_UTF8 + buffer.getvalue().encode("utf-8"))
    table = read_table(path, SCHEDULE)
    assert (table.encoding, table.separator, table.header_row) == ("utf-8-sig", ",", 1)
    assert table.header[0] == "Order"  # the BOM is not glued to the first header
    assert table.rows == ((2, ("00042", "Müsli", "M1", "2026-03-02 06:00", "2026-03-02 08:00", "100")),)


def test_cp1252_semicolons_and_decimal_commas(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "plan.csv", [
        ["Auftrag", "Artikel", "Maschine", "Beginn", "Ende", "Menge"],
        ["0815", "Weißbrot €", "M1", "02.03.2026 06:00", "02.03.2026 08:00", "2.500,5"],
    ], delimiter=";", encoding="cp1252")
    table = read_table(path, SCHEDULE)
    assert (table.encoding, table.separator) == ("cp1252", ";")
    assert table.rows[0][1][1] == "Weißbrot €"
    assert table.rows[0][1][5] == "2.500,5"


def test_tabs(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "plan.txt", [["order id", "product", "line", "start", "end", "quantity"],
                                             ["1", "A", "L1", "2026-03-02 06:00", "2026-03-02 07:00", "1,5"]],
                     delimiter="\t")
    table = read_table(path, SCHEDULE)
    assert table.separator == "\t"
    assert table.rows[0][1][5] == "1,5"


def test_quoted_separators_and_line_breaks_keep_row_numbers(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "plan.csv", [
        ["Order", "Product", "Machine", "Start", "End", "Qty", "Comment"],
        ["1", "A, large", "M1", "2026-03-02 06:00", "2026-03-02 07:00", "5", "first line\nsecond line"],
        ["2", "B", "M1", "2026-03-02 07:00", "2026-03-02 08:00", "5", "x"],
    ])
    table = read_table(path, SCHEDULE)
    assert [number for number, _ in table.rows] == [2, 4]  # row 2 spans lines 2-3 in an editor
    assert table.rows[0][1][1] == "A, large"
    assert table.rows[0][1][6] == "first line\nsecond line"


def test_title_rows_above_a_csv_header(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "plan.csv", [["Production plan week 10"], [],
                                             ["Order", "Product", "Line", "Start", "End", "Qty"],
                                             ["1", "A", "L1", "2026-03-02 06:00", "2026-03-02 07:00", "5"]])
    table = read_table(path, SCHEDULE)
    assert table.header_row == 3
    assert table.rows[0][0] == 4


def make_messy_workbook(path: Path) -> Path:
    """A title, merged header cells above the header, data on the second sheet, styled empty rows below."""
    workbook = openpyxl.Workbook()
    cover = workbook.active
    cover.title = "Cover"
    cover["A1"] = "Plant Süd - production plan"
    sheet = workbook.create_sheet("Orders KW10")
    sheet["A1"] = "Production plan KW 10"
    sheet["A1"].font = Font(bold=True, size=16)
    sheet.merge_cells("A1:F1")
    sheet["A2"] = "Order data"
    sheet.merge_cells("A2:C2")
    sheet["D2"] = "Planned"
    sheet.merge_cells("D2:E2")
    sheet.append(["Order No.", " PRODUCT ", "Machine", "Planned start", "Planned end", "Qty (pcs)"])
    sheet.append(["00042", "A", "M1", datetime(2026, 3, 2, 6, 0), datetime(2026, 3, 2, 8, 0), 100])
    sheet.append(["00043", "B", "M1", 46083.5, "02.03.2026 14:00", " 2 500 "])
    for row in range(6, 30):  # formatted but empty: Excel keeps them in the sheet's dimension
        for column in "ABCDEF":
            sheet[f"{column}{row}"].fill = PatternFill("solid", fgColor="FFFF00")
    workbook.save(path)
    return path


def test_messy_xlsx(tmp_path: Path) -> None:
    table = read_table(make_messy_workbook(tmp_path / "plan.xlsx"), SCHEDULE)
    assert (table.sheet, table.header_row) == ("Orders KW10", 3)
    assert table.header == ("Order No.", "PRODUCT", "Machine", "Planned start", "Planned end", "Qty (pcs)")
    assert table.rows == (
        (4, ("00042", "A", "M1", datetime(2026, 3, 2, 6, 0), datetime(2026, 3, 2, 8, 0), 100)),
        (5, ("00043", "B", "M1", 46083.5, "02.03.2026 14:00", " 2 500 ")),
    )


def test_sheet_by_name_and_errors(tmp_path: Path) -> None:
    path = make_messy_workbook(tmp_path / "plan.xlsx")
    assert read_table(path, SCHEDULE, sheet="Orders KW10").rows[0][0] == 4
    with pytest.raises(ReadError) as caught:
        read_table(path, SCHEDULE, sheet="Nope")
    assert str(caught.value) == f"{path}: has no sheet 'Nope'; its sheets are Cover, Orders KW10"
    with pytest.raises(ReadError) as caught:
        read_table(path, SCHEDULE, sheet="Cover")
    assert str(caught.value) == (
        f"{path}, sheet Cover: no header row found in the first 30 rows: a schedule file needs a row naming its "
        "columns (order_id, product, start, end, quantity, and machine or line); see `oee import --help` for the "
        "accepted names")


def test_gaps_inside_the_data_keep_excel_row_numbers(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Order", "Product", "Line", "Start", "End", "Qty"])
    sheet.append(["1", "A", "L1", "2026-03-02 06:00", "2026-03-02 07:00", 5])
    sheet["A7"] = "2"
    workbook.save(tmp_path / "gaps.xlsx")
    assert [number for number, _ in read_table(tmp_path / "gaps.xlsx", SCHEDULE).rows] == [2, 7]


def test_file_level_errors(tmp_path: Path) -> None:
    with pytest.raises(ReadError) as caught:
        read_table(tmp_path / "missing.csv", SCHEDULE)
    assert str(caught.value) == f"{tmp_path / 'missing.csv'}: file not found"
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf")
    with pytest.raises(ReadError) as caught:
        read_table(tmp_path / "old.xls", SCHEDULE)
    assert str(caught.value) == f"{tmp_path / 'old.xls'}: is an old Excel 97-2003 file; save it as .xlsx or .csv"
    (tmp_path / "broken.xlsx").write_bytes(b"not a zip")
    with pytest.raises(ReadError, match=r"is not a readable \.xlsx workbook"):
        read_table(tmp_path / "broken.xlsx", SCHEDULE)


def test_header_normalisation_and_alias_doc() -> None:
    assert normalize_header("  Order_No. ") == "order no"
    assert normalize_header("Cycle Time [s]") == "cycle time"
    assert "order_id (required, id): order id, order, order no" in aliases_doc()


def test_the_fast_sheet_reader_types_cells_as_openpyxl_does(tmp_path: Path) -> None:
    """The XLSX fast path parses the sheet XML itself; it must give what openpyxl's own reader gives."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Data"
    sheet.append(["Order", "Product", "Line", "Start", "End", "Qty", "Flag", "Ratio", "Formula"])
    sheet.append(["007", "Äpfel & <Birnen>", "L1", datetime(2026, 3, 2, 6, 30), 46083.5, 12, True, 0.125, "=F2*2"])
    sheet.append([None, "x", None, None, None, -3, False, 1e-7, None])
    sheet["D3"].number_format = "yyyy-mm-dd hh:mm"
    sheet["D3"] = 46083.75
    workbook.save(tmp_path / "types.xlsx")
    table = read_table(tmp_path / "types.xlsx", SCHEDULE)
    reference = openpyxl.load_workbook(tmp_path / "types.xlsx", read_only=True, data_only=True)
    expected = [row for row in reference["Data"].iter_rows(values_only=True)]
    reference.close()
    assert table.header == expected[0]
    assert [cells for _, cells in table.rows] == [tuple(row) for row in expected[1:]]
    assert table.rows[0][1][:4] == ("007", "Äpfel & <Birnen>", "L1", datetime(2026, 3, 2, 6, 30))
    assert table.rows[1][1][3] == datetime(2026, 3, 2, 18, 0)


def to_shared_strings(path: Path) -> None:
    """Rewrite openpyxl's inline strings as a shared-string table, the way Excel itself stores text."""
    import re
    import zipfile
    from xml.sax.saxutils import escape, unescape

    with zipfile.ZipFile(path) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    strings: list[str] = []

    def shared(match: re.Match[str]) -> str:
        strings.append(unescape(match.group(2)))
        return f'<c r="{match.group(1)}" t="s"><v>{len(strings) - 1}</v></c>'

    for name in [n for n in parts if n.startswith("xl/worksheets/sheet")]:
        text = parts[name].decode("utf-8")
        parts[name] = re.sub(r'<c r="([A-Z]+\d+)" t="inlineStr"><is><t>(.*?)</t></is></c>', shared, text).encode()
    items = "".join(f"<si><t>{escape(s)}</t></si>" for s in strings)
    parts["xl/sharedStrings.xml"] = (
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        f'count="{len(strings)}" uniqueCount="{len(strings)}">{items}</sst>').encode()
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(b"</Types>", (
        b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'))
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(b"</Relationships>", (
        b'<Relationship Id="rIdShared" Target="sharedStrings.xml" Type="http://schemas.openxmlformats.org/'
        b'officeDocument/2006/relationships/sharedStrings"/></Relationships>'))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            target.writestr(name, data)


def test_shared_strings_as_excel_writes_them(tmp_path: Path) -> None:
    path = make_messy_workbook(tmp_path / "plan.xlsx")
    to_shared_strings(path)
    assert b't="s"' in __import__("zipfile").ZipFile(path).read("xl/worksheets/sheet2.xml")
    table = read_table(path, SCHEDULE)
    assert table.header == ("Order No.", "PRODUCT", "Machine", "Planned start", "Planned end", "Qty (pcs)")
    assert table.rows[0] == (4, ("00042", "A", "M1", datetime(2026, 3, 2, 6, 0), datetime(2026, 3, 2, 8, 0), 100))
    assert table.rows[1][1][4:] == ("02.03.2026 14:00", " 2 500 ")


def test_public_openpyxl_path_when_its_internals_move(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path uses openpyxl 3.1 internals; without them the public read-only reader gives the same table."""
    path = make_messy_workbook(tmp_path / "plan.xlsx")
    fast = read_table(path, SCHEDULE)
    from oee_tui.imports import reading

    def moved(self: object, path: Path) -> None:
        raise AttributeError("_date_formats")

    monkeypatch.setattr(reading._Workbook, "_open_fast", moved)
    assert read_table(path, SCHEDULE) == fast
