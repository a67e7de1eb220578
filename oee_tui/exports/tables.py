"""Write a small, report-shaped table (what a screen or report shows) to CSV or XLSX.

Bulk data (samples, intervals) never comes through here: it streams through DuckDB's
COPY. This is for tables a person reads: a header row and at most some thousands of rows.
The file is written beside its destination and renamed into place, so a reader never sees
half a file and an existing file is replaced whole or not at all.
"""

from __future__ import annotations

import csv
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


def _write_xlsx(path: Path, headers: Sequence[str], rows: Iterable[Sequence[object]], sheet: str) -> int:
    from openpyxl import Workbook  # only here: CSV exports and reports never need it

    book = Workbook(write_only=True)
    ws = book.create_sheet(title=sheet[:31])  # Excel's limit on sheet names
    ws.append(list(headers))
    count = 0
    for row in rows:
        ws.append([cell.replace(tzinfo=None) if isinstance(cell, datetime) else cell for cell in row])
        count += 1
    book.save(path)
    return count
