"""Write a small, report-shaped table (what a screen or report shows) to CSV or XLSX.

Bulk data (samples, intervals) never comes through here: it streams through DuckDB's
COPY. This is for tables a person reads: a header row and at most some thousands of rows.
The file is written beside its destination and renamed into place, so a reader never sees
half a file and an existing file is replaced whole or not at all.
"""

from __future__ import annotations

import csv
import itertools
import os
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Final

FORMATS: Final = (".csv", ".xlsx")


class ExportError(ValueError):
    """An export that cannot be written, worded for the user."""


def write_table(path: Path, headers: Sequence[str], rows: Iterable[Sequence[object]], sheet: str = "report") -> int:
    """Write `rows` under `headers` to `path` (.csv or .xlsx, by suffix); return the number of rows.

    CSV is UTF-8 with a BOM, so Excel opens accents correctly; numbers keep full precision.
    XLSX keeps numbers as numbers and datetimes as dates, so they can be charted.
    """
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ExportError(f"{path}: unknown format {path.suffix or '(none)'!r}; use .csv or .xlsx")
    tmp = temp_beside(path)
    try:
        count = _write_csv(tmp, headers, rows) if suffix == ".csv" else _write_xlsx(tmp, headers, rows, sheet)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return count


def write_table_as(path: Path, fmt: str, headers: Sequence[str], rows: Iterable[Sequence[object]],
                   sheet: str = "report") -> int:
    """`write_table` in format `fmt` ("csv" or "xlsx") whatever `path`'s suffix says (`--format` decided it)."""
    suffix = f".{fmt}"
    if path.suffix.lower() == suffix:
        return write_table(path, headers, rows, sheet)
    # write_table picks the format by suffix: write a sibling with the right one, then rename it.
    tmp = temp_beside(path)
    named = tmp.with_suffix(suffix)
    try:
        count = write_table(named, headers, rows, sheet)
        named.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
        named.unlink(missing_ok=True)
    return count


def temp_beside(path: Path) -> Path:
    """An empty hidden file in the destination's folder, so the final rename stays on one filesystem.

    Created as any file the user makes is, 0666 less the umask (0644 under the usual 022), so that
    every export ends up with the same mode whatever writes it (csv, openpyxl, pyarrow, DuckDB's
    COPY); `tempfile.mkstemp` would make it 0600 whatever the umask says.
    """
    if not path.parent.is_dir():
        raise ExportError(f"{path}: folder {path.parent} does not exist")
    for _ in range(100):
        candidate = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return candidate
    raise ExportError(f"{path}: no free temporary name in {path.parent}")


def _write_csv(path: Path, headers: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(headers)
        for row in rows:
            writer.writerow(["" if cell is None else cell.isoformat(sep=" ") if isinstance(cell, datetime)
                             else cell for cell in row])
            count += 1
    return count


# Fractions (0.8881) shown as percentages; everything else a person reads as a percentage is named here.
_RATIO_COLUMNS: Final = frozenset({"oee", "availability", "performance", "quality", "quality_count_ratio", "teep",
                                   "oee_target", "share", "cumulative_share", "share_of_ppt"})
_PERCENT: Final = "0.00%"
_DURATION: Final = "[h]:mm:ss"
_DATETIME: Final = "yyyy-mm-dd hh:mm:ss"
_COUNT: Final = "#,##0"
_WIDTH_SAMPLE: Final = 200  # rows looked at to size the columns: a sheet of a million rows is not read twice
_MAX_WIDTH: Final = 40
XLSX_ROW_LIMIT: Final = 1_048_576
"""Rows in one Excel sheet, the header's included."""


def check_fits_sheet(path: Path, rows: int, what: str, narrowing: str) -> None:
    """Refuse, before anything is written, an XLSX export of more rows than a sheet holds under its header;
    `narrowing` names the options that would make it fit."""
    if rows >= XLSX_ROW_LIMIT:
        raise ExportError(f"{path}: {rows:,} {what} do not fit in one XLSX sheet (at most {XLSX_ROW_LIMIT - 1:,} "
                          f"under the header); narrow {narrowing}, or write .csv or .parquet")


def _is_duration(header: str) -> bool:
    return header.endswith("_s") or header == "seconds"


def _xlsx_title(header: str) -> str:
    # A duration cell holds days (Excel's time unit), shown h:mm:ss: the name must not say seconds.
    if header == "seconds":
        return "duration (h:mm:ss)"
    return f"{header[:-2]} (h:mm:ss)" if _is_duration(header) else header


def _write_xlsx(path: Path, headers: Sequence[str], rows: Iterable[Sequence[object]], sheet: str) -> int:
    """A sheet a person can read at once: percentages, durations and dates formatted, columns sized to their
    contents, the header frozen and filterable. Values stay numbers, so they sum, sort and chart."""
    from openpyxl import Workbook  # only here: CSV exports and reports never need it
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    iterator = iter(rows)
    head = [list(row) for row in itertools.islice(iterator, _WIDTH_SAMPLE)]
    book = Workbook(write_only=True)
    ws = book.create_sheet(title=sheet[:31])  # Excel's limit on sheet names
    titles = [_xlsx_title(h) for h in headers]
    formats: list[str | None] = []
    for index, header in enumerate(headers):
        column = [row[index] for row in head if index < len(row) and row[index] is not None]
        if header in _RATIO_COLUMNS:
            formats.append(_PERCENT)
        elif _is_duration(header):
            formats.append(_DURATION)
        elif column and all(isinstance(v, datetime) for v in column):
            formats.append(_DATETIME)
        elif column and all(isinstance(v, int) and not isinstance(v, bool) for v in column):
            formats.append(_COUNT)
        else:
            formats.append(None)
        shown = [len(titles[index]) + 3]  # room for the filter's arrow
        shown += [19 if isinstance(v, datetime) else 11 if formats[-1] in (_PERCENT, _DURATION) else len(str(v))
                  for v in column]
        ws.column_dimensions[get_column_letter(index + 1)].width = min(max(shown) + 1, _MAX_WIDTH)
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    header_cells = []
    for title in titles:
        cell = WriteOnlyCell(ws, value=title)
        cell.font = bold
        header_cells.append(cell)
    ws.append(header_cells)
    formatted = [(index, fmt) for index, fmt in enumerate(formats) if fmt is not None]
    count = 0
    for row in itertools.chain(head, iterator):
        values: list[object] = [cell.replace(tzinfo=None) if isinstance(cell, datetime) else cell for cell in row]
        for index, fmt in formatted:
            value = values[index]
            if value is None:
                continue
            if fmt is _DURATION and isinstance(value, int | float):
                value = value / 86_400
            cell = WriteOnlyCell(ws, value=value)
            cell.number_format = fmt
            values[index] = cell
        ws.append(values)
        count += 1
    ws.auto_filter.ref = f"A1:{get_column_letter(max(len(headers), 1))}{count + 1}"
    book.save(path)
    return count
