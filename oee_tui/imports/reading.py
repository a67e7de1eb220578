"""File -> table of raw cells with the row numbers the user sees.

CSV: the encoding is sniffed (a BOM, else strict UTF-8, else Windows-1252, the
encoding Excel on Windows writes "CSV" in), the separator is whichever of `,`
`;` and tab makes the header row match the kind's columns best, and the csv
module handles quoted separators and line breaks. XLSX: openpyxl reads the
workbook's parts (sheets, shared strings, which styles show dates, the 1904 date
system), and the sheet XML itself is read by a regex over its text (`_SheetScan`),
with ElementTree for any row in a form the regex does not know and openpyxl's
public read-only reader if its internals move; cells keep the type Excel stored
(datetime, number, text), so `00042` stays text and a date stays a date. In both,
title rows above the header are skipped: the header is the first row in which
enough cells name known columns.

Row numbers are 1-based as Excel or a text editor shows them. For CSV a record
that spans lines (a quoted line break) is numbered by its first line.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any, Final
from xml.etree import ElementTree

from oee_tui.imports.columns import KindSpec, alias_index, column_for, header_text

# How far down a sheet a header may sit under titles, logos and notes.
HEADER_SEARCH_ROWS: Final = 30
SEPARATORS: Final = (",", ";", "\t")
# `progress(rows done, rows total or 0 if unknown)` is called every this many rows (for a progress bar).
PROGRESS_EVERY: Final = 2000

Progress = Callable[[int, int], None]

Cell = object  # str | int | float | datetime | time | timedelta | bool | None


@dataclass(frozen=True, slots=True)
class RawTable:
    file: str
    sheet: str | None  # None for CSV
    header: tuple[str, ...]  # header cells as written, for naming columns in problems
    header_row: int
    rows: tuple[tuple[int, tuple[Cell, ...]], ...]  # (row number, cells), empty rows left out
    separator: str | None = None  # CSV only
    encoding: str | None = None  # CSV only
    # XLSX: formula cells saved without their value, (row number, column index) -> formula text
    # ("" for a shared formula's followers). They read as empty cells; `TableCells.parse` refuses
    # those it would use, as an empty or 0 in their place would be invented.
    uncalculated: dict[tuple[int, int], str] = field(default_factory=dict)


class ReadError(Exception):
    """The file cannot be read as a table of this kind; says where and why, like a Problem."""

    def __init__(self, file: str, why: str, sheet: str | None = None, row: int | None = None) -> None:
        self.file = file
        self.sheet = sheet
        self.row = row
        self.why = why
        where = file + (f", sheet {sheet}" if sheet else "") + (f", row {row}" if row else "")
        super().__init__(f"{where}: {why}")


def _matches(cells: tuple[Cell, ...] | list[Cell], index: dict[str, str]) -> int:
    """How many distinct known columns a row's cells name."""
    return len({column for cell in cells if isinstance(cell, str) if (column := column_for(index, cell)) is not None})


def _needed(spec: KindSpec) -> int:
    # Two matching cells tell a header from a title row ("Schedule week 12" matches nothing,
    # but a title that happens to say "Order" would match one); a one-column kind needs one.
    return min(2, len(spec.columns))


def _find_header(rows: list[tuple[int, tuple[Cell, ...]]], spec: KindSpec) -> tuple[int, int] | None:
    """(position in rows, number of matches) of the header row, or None.

    Failing a row that names enough columns, the first row that names one and looks like a header
    (`_header_like`) is taken: its columns then say which one is missing, where "no header row
    found" would send the planner looking for a problem in the column that was recognised."""
    index = alias_index(spec)
    partial: tuple[int, int] | None = None
    for position, (_, cells) in enumerate(rows[:HEADER_SEARCH_ROWS]):
        found = _matches(cells, index)
        if found >= _needed(spec):
            return position, found
        if found and partial is None and _header_like(cells):
            partial = position, found
    return partial


def _header_like(cells: tuple[Cell, ...]) -> bool:
    """Two or more cells, all text and none starting with a digit: a row of names, not of data or a title."""
    written = [cell for cell in cells if cell is not None and not (isinstance(cell, str) and not cell.strip())]
    return len(written) >= 2 and all(isinstance(cell, str) and not cell.lstrip()[0].isdigit() for cell in written)


def _is_empty(cells: tuple[Cell, ...]) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells)


def read_table(path: Path | str, spec: KindSpec, sheet: str | None = None,
               progress: Progress | None = None) -> RawTable:
    path = Path(path)
    if not path.is_file():
        raise ReadError(str(path), "file not found")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return read_xlsx(path, spec, sheet, progress)
    if suffix == ".xls":
        raise ReadError(str(path), "is an old Excel 97-2003 file; save it as .xlsx or .csv")
    if sheet is not None:
        raise ReadError(str(path), f"--sheet {sheet} applies to .xlsx files only; this is read as CSV")
    return read_csv(path, spec, progress)


# ---------------------------------------------------------------- CSV

def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding name). UTF-8 is tried strictly first: cp1252 decodes any bytes, so it must come last."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8", errors="strict"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        # cp1252 leaves five bytes undefined; map them rather than refuse a whole file over one.
        return data.decode("cp1252", errors="replace"), "cp1252"


def _records(text: str, separator: str, limit: int | None = None,
             progress: Progress | None = None) -> list[tuple[int, tuple[Cell, ...]]]:
    """csv records with the line number each starts on (a quoted line break spans lines).

    `progress` counts in lines, which are rows except where a quoted cell holds a line break."""
    lines = (text.count("\n") + (not text.endswith("\n"))) if progress is not None else 0
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, quotechar='"', doublequote=True,
                        skipinitialspace=False, strict=False)
    out: list[tuple[int, tuple[Cell, ...]]] = []
    first_line = 1
    for record in reader:
        out.append((first_line, tuple(record)))
        first_line = reader.line_num + 1
        if limit is not None and len(out) >= limit:
            break
        if progress is not None and len(out) % PROGRESS_EVERY == 0:
            progress(reader.line_num, lines)
    if progress is not None:
        progress(lines, lines)
    return out


def _sniff_separator(text: str, spec: KindSpec) -> str:
    """The separator under which a header row names the most columns; ties go to consistent field counts."""
    best: tuple[int, int, str] | None = None
    for separator in SEPARATORS:
        try:
            head = _records(text, separator, limit=HEADER_SEARCH_ROWS + 20)
        except csv.Error:
            continue
        found = _find_header(head, spec)
        matched = found[1] if found else 0
        widths = [len(cells) for _, cells in head if not _is_empty(cells)]
        consistent = sum(1 for width in widths if width == max(widths, default=0) and width > 1)
        score = (matched, consistent, separator)
        if best is None or score[:2] > best[:2]:
            best = score
    return best[2] if best else ","


def read_csv(path: Path, spec: KindSpec, progress: Progress | None = None) -> RawTable:
    try:
        text, encoding = decode(path.read_bytes())
    except OSError as exc:
        raise ReadError(str(path), f"cannot be read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ReadError(str(path), f"starts with a UTF-8 byte order mark but is not UTF-8 ({exc.reason})") from exc
    separator = _sniff_separator(text, spec)
    try:
        records = _records(text, separator, progress=progress)
    except csv.Error as exc:
        raise ReadError(str(path), f"is not readable as CSV: {exc}") from exc
    found = _find_header(records, spec)
    if found is None:
        raise ReadError(str(path), _no_header_why(spec))
    position, _ = found
    header_row, header = records[position]
    rows = tuple((number, cells) for number, cells in records[position + 1:] if not _is_empty(cells))
    return RawTable(str(path), None, tuple(header_text(h) for h in header), header_row, rows,
                    separator=separator, encoding=encoding)


def _no_header_why(spec: KindSpec) -> str:
    names = ", ".join(column.name for column in spec.columns if column.required)
    names += "".join(f", and {' or '.join(group)}" for group in spec.one_of)
    return (f"no header row found in the first {HEADER_SEARCH_ROWS} rows: a {spec.kind} file needs a row naming "
            f"its columns ({names}); see `oee import --help` for the accepted names")


# ---------------------------------------------------------------- XLSX

def read_xlsx(path: Path, spec: KindSpec, sheet: str | None, progress: Progress | None = None) -> RawTable:
    # Imported here: openpyxl costs a quarter of a second to import, and CSV imports never need it.
    import zipfile

    try:
        book = _Workbook(path)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ReadError(str(path), f"is not a readable .xlsx workbook ({exc})") from exc
    try:
        if sheet is not None:
            if sheet not in book.sheet_names:
                raise ReadError(str(path), f"has no sheet {sheet!r}; its sheets are {', '.join(book.sheet_names)}")
            candidates = [sheet]
        else:
            candidates = list(book.sheet_names)
        for name in candidates:
            uncalculated: dict[tuple[int, int], str] = {}
            rows_iter = _guarded(book.rows(name, uncalculated), str(path), name)
            # Read only the top of each sheet to find the header; the rest is read once, below.
            head: list[tuple[int, tuple[Cell, ...]]] = []
            for number, cells in rows_iter:
                head.append((number, cells))
                if number >= HEADER_SEARCH_ROWS:
                    break
            found = _find_header(head, spec)
            if found is None:
                continue
            position, _ = found
            header_row, header = head[position]
            width = max((i + 1 for i, cell in enumerate(header) if cell is not None), default=0)
            data: list[tuple[int, tuple[Cell, ...]]] = []
            # Every row gets the header's width: the sheet XML leaves out empty cells at a row's end.
            padding = (None,) * width
            for number, cells in itertools.chain(head[position + 1:], rows_iter):
                row = cells[:width] if len(cells) >= width else cells + padding[len(cells):]
                first = row[0]
                # Most rows start with a value; the full check only for those that do not.
                if (first is not None and (first.__class__ is not str or first.strip())) or not _is_empty(row):
                    data.append((number, row))
                if progress is not None and number % PROGRESS_EVERY == 0:
                    # The sheet does not say how many rows it has; the share of its XML parsed so far does.
                    share = book.share_read()
                    progress(number, round(number / share) if share else 0)
            if progress is not None:
                last = data[-1][0] if data else header_row
                progress(last, last)
            return RawTable(str(path), name, tuple(header_text(h) for h in header[:width]),
                            header_row, tuple(data), uncalculated=uncalculated)
        if sheet is not None:
            raise ReadError(str(path), _no_header_why(spec), sheet=sheet)
        raise ReadError(str(path), f"no sheet has a {spec.kind} header row; " + _no_header_why(spec))
    finally:
        book.close()


def _guarded(rows: Iterator[tuple[int, tuple[Cell, ...]]], file: str,
             sheet: str) -> Iterator[tuple[int, tuple[Cell, ...]]]:
    """`rows`, with a sheet whose XML is broken (or points past its shared strings) as a ReadError."""
    last = 0
    try:
        for last, cells in rows:
            yield last, cells
    except (ElementTree.ParseError, ValueError, IndexError, KeyError, OverflowError) as exc:
        raise ReadError(file, f"is not a readable .xlsx workbook: the sheet's XML is broken after row {last} "
                              f"({exc})", sheet=sheet) from exc


class _Workbook:
    """The parts of an .xlsx that a table read needs: sheet names and paths, shared strings, date styles.

    Built from openpyxl's own ExcelReader steps, minus `read_worksheets`: in read-only mode that
    step looks for each sheet's `<dimension>`, and a sheet written without one (openpyxl's write-only
    mode, many exporters) is parsed end to end just to size it, which cost 3.4 s on 100k rows.
    The cells are then read by `_SheetScan` (a regex, 1.8 s for 100k rows of 8 cells) or, for
    a sheet that is not UTF-8, `_sheet_rows` (ElementTree, 4.5 s; openpyxl's per-cell objects
    are three times slower still). Both lean on openpyxl 3.1 internals; if they move, the
    public `load_workbook(read_only=True)` path is used instead, slower but correct.
    """

    def __init__(self, path: Path) -> None:
        self._fallback: Any = None
        try:
            self._open_fast(path)
        except (ImportError, AttributeError):
            import openpyxl

            self._fallback = openpyxl.load_workbook(path, read_only=True, data_only=True)
            self.sheet_names = list(self._fallback.sheetnames)

    def _open_fast(self, path: Path) -> None:
        from openpyxl.reader.excel import ExcelReader
        from openpyxl.styles.stylesheet import apply_stylesheet

        reader = ExcelReader(path, read_only=True, data_only=True)
        reader.read_manifest()
        reader.read_strings()
        reader.read_workbook()
        reader.read_theme()
        apply_stylesheet(reader.archive, reader.wb)
        self._archive = reader.archive
        self._paths = {sheet.name: rel.target for sheet, rel in reader.parser.find_sheets()
                       if rel.target in reader.valid_files and "worksheet" in rel.Type}
        self.sheet_names = list(self._paths)
        self._shared = list(reader.shared_strings)
        self._date_styles = frozenset(reader.wb._date_formats)
        self._timedelta_styles = frozenset(reader.wb._timedelta_formats)
        self._epoch = reader.wb.epoch
        self._scan: _SheetScan | None = None

    def rows(self, name: str,
             uncalculated: dict[tuple[int, int], str] | None = None) -> Iterator[tuple[int, tuple[Cell, ...]]]:
        """The sheet's rows; formula cells without a saved value read as None and are noted in `uncalculated`.

        (openpyxl's public reader, the fallback, gives None for them too but cannot tell them from empty cells.)"""
        if uncalculated is None:
            uncalculated = {}
        if self._fallback is not None:
            # tuple(): for a row missing between others in a sheet without a <dimension>, openpyxl yields [].
            return ((number, tuple(cells))
                    for number, cells in enumerate(self._fallback[name].iter_rows(values_only=True), start=1))
        self._scan = None
        data = self._archive.read(self._paths[name])
        text = _utf8_sheet(data)
        if text is not None:
            self._scan = _SheetScan(text, self._shared, self._date_styles, self._timedelta_styles, self._epoch,
                                    uncalculated)
            return iter(self._scan)
        self._stream = io.BytesIO(data)
        self._stream_size = len(data)
        return _sheet_rows(self._stream, self._shared, self._date_styles, self._timedelta_styles, self._epoch,
                           uncalculated)

    def share_read(self) -> float | None:
        """How much of the sheet last opened by `rows` has been parsed (0-1), or None if that is unknown."""
        # Both looked up with a default: the openpyxl fallback of __init__ sets neither.
        scan: _SheetScan | None = getattr(self, "_scan", None)
        if scan is not None:
            return scan.share_read()
        stream: io.BytesIO | None = getattr(self, "_stream", None)
        if stream is None or not self._stream_size:
            return None
        try:
            return min(1.0, stream.tell() / self._stream_size)
        except (OSError, ValueError):  # closed, or not seekable
            return None

    def close(self) -> None:
        if self._fallback is not None:
            self._fallback.close()
        else:
            self._archive.close()


_MAIN_NS: Final = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_ROW_TAG: Final = _MAIN_NS + "row"
_CELL_TAG: Final = _MAIN_NS + "c"
_VALUE_TAG: Final = _MAIN_NS + "v"
_FORMULA_TAG: Final = _MAIN_NS + "f"
_TEXT_TAG: Final = _MAIN_NS + "t"


def _sheet_rows(source: IO[bytes], shared: list[str], date_styles: frozenset[int], timedelta_styles: frozenset[int],
                epoch: datetime, uncalculated: dict[tuple[int, int], str]) -> Iterator[tuple[int, tuple[Cell, ...]]]:
    """(row number, values) for each row the sheet stores, values typed as openpyxl types them:
    shared and inline strings as str, numbers as int or float, date-styled numbers as datetime
    (or timedelta for duration styles), booleans as bool, error cells as their text (`#N/A`).
    A formula without a saved value is None, noted in `uncalculated`."""
    from openpyxl.utils.datetime import from_excel

    column_of: dict[str, int] = {}
    next_row = 1
    with source:
        # Only "end" events: a row is complete when it ends, and start events would double the Python work.
        for _, element in ElementTree.iterparse(source, events=("end",)):
            if element.tag != _ROW_TAG:
                continue
            number = int(element.get("r") or next_row)
            next_row = number + 1
            values: list[Cell] = []
            for cell in element.iter(_CELL_TAG):
                reference = cell.get("r")
                if reference is not None:
                    letters = reference.rstrip("0123456789")
                    index = column_of.get(letters)
                    if index is None:
                        index = column_of[letters] = _column_index(letters)
                    if index > len(values):
                        values.extend([None] * (index - len(values)))
                kind = cell.get("t", "n")
                if kind == "inlineStr":
                    value: Cell = "".join(t.text or "" for t in cell.iter(_TEXT_TAG))
                else:
                    raw = cell.findtext(_VALUE_TAG)
                    if not raw:  # no <v>, or an empty one
                        value = None
                        formula = cell.find(_FORMULA_TAG)
                        if formula is not None and kind != "str":  # "str": a formula whose saved value is ""
                            uncalculated[(number, len(values))] = formula.text or ""
                    elif kind == "n":
                        value = float(raw) if "." in raw or "E" in raw or "e" in raw else int(raw)
                        style = int(cell.get("s", 0))
                        if style in date_styles:
                            value = from_excel(value, epoch, timedelta=style in timedelta_styles)
                    elif kind == "s":
                        value = shared[int(raw)]
                    elif kind == "b":
                        value = raw == "1"
                    elif kind == "d":
                        value = datetime.fromisoformat(raw)
                    else:  # "str" (a formula's text result) and "e" (an error such as #N/A)
                        value = raw
                values.append(value)
            # Free the row's cells: a 100k-row sheet would otherwise stay in memory as a tree
            # (the emptied row elements stay, at a few dozen bytes each).
            element.clear()
            yield number, tuple(values)


def _column_index(letters: str) -> int:
    """`A` -> 0, `AB` -> 27."""
    index = 0
    for letter in letters:
        index = index * 26 + ord(letter) - 64
    return index - 1


# ---------------------------------------------------------------- XLSX fast path

# The cell forms Excel, LibreOffice and openpyxl write, attributes in the order they write them:
# r, then s, then t (cm/vm/ph, which carry no value, may follow), holding nothing, a <v>, a formula and
# its <v>, or a plain inline string. A regex over the sheet's text reads these about three times
# faster than ElementTree's events; any row holding something else goes to ElementTree (`_SheetScan`).
_XLSX_CELL: Final = re.compile(
    r'<c r="([A-Z]{1,3})\d+"(?: s="(\d+)")?(?: t="(\w+)")?(?: (?:cm|vm|ph)="\w+")*\s*'
    r'(?:/>|>(<f>[^<]*</f>|<f [^>]*?/>|<f [^>]*>[^<]*</f>)?'
    r'(?:<v>([^<]*)</v>|<v\s*/>|<is><t(?: xml:space="preserve")?>([^<]*)</t></is>)?</c>)')
_ROW_NUMBER: Final = re.compile(r'\sr="(\d+)"')
_SHEET_DATA: Final = re.compile(r'<sheetData\s*>|<sheetData\s*/>')
_ROOT_TAG: Final = re.compile(r'<(?:[\w.-]+:)?worksheet\b[^>]*>')
_XML_DECLARATION: Final = re.compile(rb'^<\?xml[^>]*?encoding=["\']([\w.-]+)["\']')
_ENTITY: Final = re.compile(r"&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);")
_NAMED: Final = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_DAY_MS: Final = 86_400_000
_SHOWS_NUMBER: Final = "number"
_SHOWS_DATE: Final = "date"
_SHOWS_DURATION: Final = "duration"


def _utf8_sheet(data: bytes) -> str | None:
    """The sheet XML as text if it is UTF-8 (every writer we know of), else None for ElementTree to decode."""
    declared = _XML_DECLARATION.match(data)
    if declared is not None and declared.group(1).lower() not in (b"utf-8", b"utf8"):
        return None
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _formula_text(element: str) -> str:
    """`<f>5*2</f>` -> `5*2`; a shared formula's follower (`<f t="shared" si="0"/>`) has no text of its own."""
    if element.endswith("/>"):
        return ""
    return _xml_text(element[element.index(">") + 1:-len("</f>")])


def _xml_text(raw: str) -> str:
    """Character data as an XML parser gives it: line ends normalised, entities and character references replaced."""
    if "\r" in raw:
        raw = raw.replace("\r\n", "\n").replace("\r", "\n")
    if "&" not in raw:
        return raw
    return _ENTITY.sub(_entity, raw)


def _entity(match: re.Match[str]) -> str:
    name = match.group(1)
    if name in _NAMED:
        return _NAMED[name]
    return chr(int(name[2:], 16) if name[1] == "x" else int(name[1:]))


class _SheetScan:
    """(row number, values) from a sheet's XML text, typed exactly as `_sheet_rows` types them.

    Each row is checked to hold only cell forms `_XLSX_CELL` reads (one match per `<c`); from the
    first row that does not, the rest of the sheet is parsed by `_sheet_rows` under the sheet's own
    root element, so namespace prefixes declared there still resolve.
    """

    def __init__(self, text: str, shared: list[str], date_styles: frozenset[int],
                 timedelta_styles: frozenset[int], epoch: datetime, uncalculated: dict[tuple[int, int], str]) -> None:
        self._text = text
        self._uncalculated = uncalculated
        self._shared = shared
        self._date_styles = date_styles
        self._timedelta_styles = timedelta_styles
        self._epoch = epoch
        self._position = 0
        self._fallback_stream: io.BytesIO | None = None
        self._fallback_base = 0

    def share_read(self) -> float | None:
        if not self._text:
            return None
        if self._fallback_stream is not None:
            rest = len(self._fallback_stream.getbuffer())
            done = self._fallback_stream.tell() / rest if rest else 1.0
            return min(1.0, (self._fallback_base + done * (len(self._text) - self._fallback_base)) / len(self._text))
        return self._position / len(self._text)

    def __iter__(self) -> Iterator[tuple[int, tuple[Cell, ...]]]:
        from openpyxl.utils.datetime import WINDOWS_EPOCH, from_excel

        text = self._text
        sheet_data = _SHEET_DATA.search(text)
        if sheet_data is None:  # namespace-prefixed elements (`<x:sheetData>`): ElementTree resolves those
            self._fallback_stream = io.BytesIO(text.encode("utf-8"))
            yield from _sheet_rows(self._fallback_stream, self._shared, self._date_styles, self._timedelta_styles,
                                   self._epoch, self._uncalculated)
            return
        if sheet_data.group().endswith("/>"):
            return
        end = text.find("</sheetData>", sheet_data.end())
        if end < 0:
            end = len(text)
        shared, date_styles, timedelta_styles, epoch = (self._shared, self._date_styles,
                                                       self._timedelta_styles, self._epoch)
        # Serials at or after 61 (1900-03-01) are plain day counts from the epoch; from_excel's special
        # cases (times of day, the 1900 leap-year bug) are all below that and stay with from_excel.
        plain_from = 61.0 if epoch == WINDOWS_EPOCH else 1.0
        column_of: dict[str, int] = {}
        style_shows: dict[str, str] = {}  # a cell's s attribute -> what its number format shows
        midnights: dict[float, datetime] = {}  # serial day -> its datetime; a log has few days, many rows
        cell_matches = _XLSX_CELL.findall
        next_row = 1
        position = sheet_data.end()
        find = text.find
        # Rows are found with str.find rather than a regex: four times faster on 100k rows.
        while (opening := find("<row", position, end)) >= 0:
            tag_end = find(">", opening, end)
            self_closed = text[tag_end - 1] == "/"
            close = tag_end if self_closed else find("</row>", tag_end, end)
            attributes = text[opening + 4:tag_end - self_closed]
            body = "" if self_closed else text[tag_end + 1:close]
            cells = cell_matches(body) if body else []
            if (tag_end < 0 or close < 0 or text[position:opening].strip() or "<" in attributes
                    or (attributes and not attributes[0].isspace())
                    or (body and (len(cells) != body.count("<c") or "<row" in body))):
                yield from self._rest(position, end)
                return
            numbered = _ROW_NUMBER.search(attributes) if "r=" in attributes else None
            number = int(numbered.group(1)) if numbered else next_row
            next_row = number + 1
            values: list[Cell] = []
            for letters, style, kind, formula, raw, inline in cells:
                index = column_of.get(letters)
                if index is None:
                    index = column_of[letters] = _column_index(letters)
                if index > len(values):
                    values.extend([None] * (index - len(values)))
                value: Cell
                if kind == "inlineStr":
                    value = _xml_text(inline) if "&" in inline or "\r" in inline else inline
                elif not raw:  # no <v>, or an empty one
                    value = None
                    if formula and kind != "str":  # "str": a formula whose saved value is ""
                        self._uncalculated[(number, index)] = _formula_text(formula)
                elif kind == "" or kind == "n":
                    number_value: float = float(raw) if "." in raw or "E" in raw or "e" in raw else int(raw)
                    shows = style_shows.get(style)
                    if shows is None:
                        style_id = int(style) if style else 0
                        shows = style_shows[style] = (
                            _SHOWS_DURATION if style_id in timedelta_styles else _SHOWS_DATE
                        ) if style_id in date_styles else _SHOWS_NUMBER
                    if shows is _SHOWS_NUMBER:
                        value = number_value
                    elif shows is _SHOWS_DURATION or number_value < plain_from:
                        value = from_excel(number_value, epoch, timedelta=shows is _SHOWS_DURATION)
                    else:
                        day, fraction = divmod(number_value, 1)
                        midnight = midnights.get(day)
                        if midnight is None:
                            midnight = midnights[day] = epoch + timedelta(days=day)
                        value = midnight + timedelta(milliseconds=round(fraction * _DAY_MS))
                elif kind == "s":
                    value = shared[int(raw)]
                elif kind == "b":
                    value = raw == "1"
                elif kind == "d":
                    value = datetime.fromisoformat(raw)
                else:  # "str" (a formula's text result) and "e" (an error such as #N/A)
                    value = _xml_text(raw)
                values.append(value)
            position = tag_end + 1 if self_closed else close + 6
            self._position = position
            yield number, tuple(values)
        if text[position:end].strip():
            yield from self._rest(position, end)

    def _rest(self, start: int, end: int) -> Iterator[tuple[int, tuple[Cell, ...]]]:
        """ElementTree for the sheet from `start` on, inside the sheet's own root tag and a sheetData."""
        root = _ROOT_TAG.search(self._text)
        if root is None:
            raise ValueError("the sheet XML has no <worksheet> root")
        close = self._text.rfind("</", 0, len(self._text))
        closing = self._text[close:].strip() if close >= 0 else "</worksheet>"
        xml = root.group() + "<sheetData>" + self._text[start:end] + "</sheetData>" + closing
        self._fallback_base = start
        self._fallback_stream = io.BytesIO(xml.encode("utf-8"))
        yield from _sheet_rows(self._fallback_stream, self._shared, self._date_styles, self._timedelta_styles,
                               self._epoch, self._uncalculated)
