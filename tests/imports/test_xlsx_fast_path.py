"""The XLSX fast path (a regex over the sheet XML) against openpyxl's public reader, on sheets written by hand.

Each workbook here is assembled from raw XML parts, so every form the fast path reads (and every form
it hands to ElementTree) is visible in the test. The oracle is `openpyxl.load_workbook(read_only=True)`,
reached by making the fast path's openpyxl internals look moved, as `test_reading.py` does.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest

from oee_tui.imports import reading
from oee_tui.imports.columns import SPECS
from oee_tui.imports.reading import read_table

SCHEDULE = SPECS["schedule"]
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
HEADER = ('<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c>'
          '<c r="D1" t="s"><v>3</v></c><c r="E1" t="s"><v>4</v></c><c r="F1" t="s"><v>5</v></c></row>')
SHARED = ["Order", "Product", "Machine", "Start", "End", "Qty", "00042", "Äpfel & <Birnen>"]
# Style 0 General, 1 a built-in date (numFmtId 14), 2 a custom date-time, 3 a custom duration, 4 a number.
STYLES = (f'<styleSheet xmlns="{MAIN}"><numFmts count="2"><numFmt numFmtId="164" formatCode="dd.mm.yyyy hh:mm"/>'
          '<numFmt numFmtId="165" formatCode="[h]:mm:ss"/></numFmts><fonts count="1"><font/></fonts>'
          '<fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
          '<borders count="1"><border/></borders><cellStyleXfs count="1"><xf/></cellStyleXfs>'
          '<cellXfs count="5"><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/>'
          '<xf numFmtId="164" applyNumberFormat="1"/><xf numFmtId="165" applyNumberFormat="1"/>'
          '<xf numFmtId="3" applyNumberFormat="1"/></cellXfs>'
          '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>')


def write_book(path: Path, sheet_xml: str, *, date1904: bool = False, shared: list[str] | None = None) -> Path:
    """A one-sheet workbook named `Data` whose sheet part is `sheet_xml` exactly."""
    from xml.sax.saxutils import escape

    strings = SHARED if shared is None else shared
    parts = {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            '<Override PartName="/xl/styles.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'),
        "_rels/.rels": (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
        "xl/workbook.xml": (
            f'<workbook xmlns="{MAIN}" xmlns:r="{REL}">'
            + ('<workbookPr date1904="1"/>' if date1904 else "")
            + '<sheets><sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>'),
        "xl/_rels/workbook.xml.rels": (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{REL}/styles" Target="styles.xml"/>'
            f'<Relationship Id="rId3" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/></Relationships>'),
        "xl/styles.xml": STYLES,
        "xl/sharedStrings.xml": (f'<sst xmlns="{MAIN}" count="{len(strings)}" uniqueCount="{len(strings)}">'
                                 + "".join(f"<si><t>{escape(s)}</t></si>" for s in strings) + "</sst>"),
        "xl/worksheets/sheet1.xml": sheet_xml,
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
        for name, data in parts.items():
            book.writestr(name, data)
    return path


def sheet(rows: str, root: str = f'<worksheet xmlns="{MAIN}">', close: str = "</worksheet>") -> str:
    return f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n{root}<sheetData>{rows}</sheetData>{close}'


def read_both(path: Path, monkeypatch: pytest.MonkeyPatch,
              via_elementtree: list[int] | None = None) -> tuple[reading.RawTable, reading.RawTable]:
    """(fast path, openpyxl's public read-only reader) for the same file.

    `via_elementtree` collects the numbers of the rows the fast path left to ElementTree."""
    parse = reading._sheet_rows

    def watched(*args: object) -> Iterator[tuple[int, tuple[object, ...]]]:
        for number, cells in parse(*args):  # type: ignore[arg-type]
            (via_elementtree if via_elementtree is not None else []).append(number)
            yield number, cells

    with monkeypatch.context() as patch:
        patch.setattr(reading, "_sheet_rows", watched)
        fast = read_table(path, SCHEDULE)

    def moved(self: object, path: Path) -> None:
        raise AttributeError("_date_formats")

    with monkeypatch.context() as patch:
        patch.setattr(reading._Workbook, "_open_fast", moved)
        public = read_table(path, SCHEDULE)
    return fast, public


# Rows as Excel writes them: shared strings, a date with a built-in and a custom format, a duration,
# inline strings with entities and kept spaces, a formula with its cached text, booleans, an error,
# cells missing from the middle of a row (C, E) and rows missing between (3, 5 to 6).
EXCEL_ROWS = (
    HEADER
    + '<row r="2" spans="1:6" x14ac:dyDescent="0.25"><c r="A2" t="s"><v>6</v></c><c r="B2" t="s"><v>7</v></c>'
    '<c r="C2" t="inlineStr"><is><t xml:space="preserve"> M1 </t></is></c><c r="D2" s="1"><v>46083</v></c>'
    '<c r="E2" s="2"><v>46083.5</v></c><c r="F2" s="4"><v>2500</v></c></row>'
    '<row r="4"><c r="A4" t="inlineStr"><is><t>A &amp; B &#8364; &#x41;</t></is></c>'
    '<c r="B4" t="str"><f>"x"&amp;"y"</f><v>xy</v></c><c r="D4" s="3"><v>1.5</v></c>'
    '<c r="F4"><f t="shared" ref="F4:F5" si="0">F2*2</f><v>5000</v></c></row>'
    '<row r="7"><c r="A7" t="b"><v>1</v></c><c r="B7" t="e"><v>#N/A</v></c><c r="D7" s="1" cm="1"><v>0.25</v></c>'
    '<c r="E7" s="2"><v>46083.999999</v></c><c r="F7" s="2"/></row>'
    '<row r="8" spans="1:6"><c r="A8" t="s"><v>6</v></c><c r="F8"><v>1E-3</v></c></row>'
)


def test_excel_forms_read_as_openpyxl_reads_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_book(tmp_path / "excel.xlsx", sheet(EXCEL_ROWS, root=(
        f'<worksheet xmlns="{MAIN}" xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac">')))
    via_elementtree: list[int] = []
    fast, public = read_both(path, monkeypatch, via_elementtree)
    assert fast == public
    assert via_elementtree == []  # every form here is one the regex reads
    assert fast.header == ("Order", "Product", "Machine", "Start", "End", "Qty")
    assert fast.rows == (
        (2, ("00042", "Äpfel & <Birnen>", " M1 ", datetime(2026, 3, 2), datetime(2026, 3, 2, 12), 2500)),
        (4, ("A & B € A", "xy", None, timedelta(hours=36), None, 5000)),
        (7, (True, "#N/A", None, time(6, 0), datetime(2026, 3, 2, 23, 59, 59, 914000), None)),
        (8, ("00042", None, None, None, None, 0.001)),
    )


def test_1904_date_system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = HEADER + '<row r="2"><c r="A2" t="s"><v>6</v></c><c r="D2" s="2"><v>44621.25</v></c></row>'
    path = write_book(tmp_path / "mac.xlsx", sheet(rows), date1904=True)
    via_elementtree: list[int] = []
    fast, public = read_both(path, monkeypatch, via_elementtree)
    assert fast == public and via_elementtree == []
    # 1904 serials run 1462 days behind 1900 ones: 44621.25 is 2026-03-02 06:00, not 2022-03-01.
    assert fast.rows[0][1][3] == datetime(2026, 3, 2, 6, 0)


def test_rows_the_regex_does_not_read_go_to_elementtree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich text, attributes in another order and an empty <t/> are read by ElementTree from that row on."""
    rows = (HEADER
            + '<row r="2"><c r="A2" t="s"><v>6</v></c><c r="D2" s="1"><v>46083</v></c></row>'
            '<row r="3"><c r="A3" t="inlineStr"><is><r><rPr><b/><color rgb="FFFF0000"/></rPr><t>Rich</t></r>'
            '<r><t xml:space="preserve"> text</t></r></is></c><c t="inlineStr" r="B3"><is><t/></is></c>'
            '<c r="D3" s="2"><v>46083.25</v></c></row>'
            '<row r="9"><c r="A9" t="inlineStr"><is><t>after</t></is></c><c r="F9"><v>3</v></c></row>')
    path = write_book(tmp_path / "rich.xlsx", sheet(rows))
    via_elementtree: list[int] = []
    fast, public = read_both(path, monkeypatch, via_elementtree)
    assert fast == public
    assert via_elementtree == [3, 9]
    assert fast.rows == (
        (2, ("00042", None, None, datetime(2026, 3, 2), None, None)),
        (3, ("Rich text", "", None, datetime(2026, 3, 2, 6), None, None)),
        (9, ("after", None, None, None, None, 3)),
    )


def test_prefixed_namespace_and_missing_references(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer using `x:` prefixes and leaving out cell and row references: all of it via ElementTree."""
    rows = ('<x:row><x:c t="s"><x:v>0</x:v></x:c><x:c t="s"><x:v>1</x:v></x:c><x:c t="s"><x:v>2</x:v></x:c>'
            '<x:c t="s"><x:v>3</x:v></x:c><x:c t="s"><x:v>4</x:v></x:c><x:c t="s"><x:v>5</x:v></x:c></x:row>'
            '<x:row><x:c t="s"><x:v>6</x:v></x:c><x:c t="inlineStr"><x:is><x:t>B</x:t></x:is></x:c></x:row>')
    xml = (f'<x:worksheet xmlns:x="{MAIN}"><x:sheetData>{rows}</x:sheetData></x:worksheet>')
    path = write_book(tmp_path / "prefixed.xlsx", xml)
    via_elementtree: list[int] = []
    fast, public = read_both(path, monkeypatch, via_elementtree)
    assert fast == public
    assert via_elementtree == [1, 2]
    assert fast.rows == ((2, ("00042", "B", None, None, None, None)),)


def test_progress_follows_the_sheet_to_its_end(tmp_path: Path) -> None:
    body = "".join(f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>{n:05d}</t></is></c>'
                   f'<c r="D{n}" s="2"><v>{46083 + n / 1440}</v></c></row>' for n in range(2, 5002))
    path = write_book(tmp_path / "long.xlsx", sheet(HEADER + body))
    calls: list[tuple[int, int]] = []
    table = read_table(path, SCHEDULE, progress=lambda done, total: calls.append((done, total)))
    assert len(table.rows) == 5000 and table.rows[-1][1][0] == "05001"
    assert [done for done, _ in calls] == [2000, 4000, 5001]
    # The total is estimated from the share of the sheet parsed: close to the real 5001 rows, then exact.
    assert all(4900 <= total <= 5100 for _, total in calls[:-1]) and calls[-1] == (5001, 5001)


def test_a_sheet_not_in_utf8_is_read_by_elementtree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = HEADER + '<row r="2"><c r="A2" t="inlineStr"><is><t>Süd</t></is></c><c r="F2"><v>5</v></c></row>'
    xml = sheet(rows).replace('encoding="UTF-8"', 'encoding="ISO-8859-1"')
    path = tmp_path / "latin1.xlsx"
    write_book(path, "placeholder")
    with zipfile.ZipFile(path) as book:
        parts = {name: book.read(name) for name in book.namelist()}
    parts["xl/worksheets/sheet1.xml"] = xml.encode("iso-8859-1")
    with zipfile.ZipFile(path, "w") as book:
        for name, data in parts.items():
            book.writestr(name, data)
    via_elementtree: list[int] = []
    fast, public = read_both(path, monkeypatch, via_elementtree)
    assert fast == public and via_elementtree == [1, 2]
    assert fast.rows == ((2, ("Süd", None, None, None, None, 5)),)


def test_a_broken_sheet_is_a_read_error_naming_the_sheet(tmp_path: Path) -> None:
    past_the_strings = HEADER + '<row r="2"><c r="A2" t="s"><v>99</v></c></row>'
    path = write_book(tmp_path / "strings.xlsx", sheet(past_the_strings))
    with pytest.raises(reading.ReadError) as caught:
        read_table(path, SCHEDULE)
    assert str(caught.value) == (f"{path}, sheet Data: is not a readable .xlsx workbook: the sheet's XML is broken "
                                 "after row 1 (list index out of range)")
    # Cut off in the middle of a row the regex cannot read, so ElementTree meets the end of the file.
    truncated = sheet(HEADER + '<row r="2"><c r="A2" t="inlineStr"><is><r><t>x</t></r></is></c>')[:-30]
    path = write_book(tmp_path / "truncated.xlsx", truncated)
    with pytest.raises(reading.ReadError) as caught:
        read_table(path, SCHEDULE)
    assert str(caught.value).startswith(f"{path}, sheet Data: is not a readable .xlsx workbook: the sheet's XML is "
                                        "broken after row 1 (")


def test_a_prefixed_root_around_plain_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ElementTree takes over under the root as written, `x:` prefix and all, when a row needs it."""
    rows = (HEADER + '<row r="2"><c r="A2" t="s"><v>6</v></c></row>'
            '<row r="3"><c r="A3" t="inlineStr"><is><r><t>rich</t></r></is></c></row>')
    xml = sheet(rows, root=f'<x:worksheet xmlns:x="{MAIN}" xmlns="{MAIN}">', close="</x:worksheet>")
    path = write_book(tmp_path / "root.xlsx", xml)
    via_elementtree: list[int] = []
    fast, public = read_both(path, monkeypatch, via_elementtree)
    assert fast == public and via_elementtree == [3]
    assert [cells[0] for _, cells in fast.rows] == ["00042", "rich"]
