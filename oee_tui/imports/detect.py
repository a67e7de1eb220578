"""Which import kind a file holds, judged from its header row, and which workbook sheet holds the data.

A planner who picks a file should not have to know our kind names: the header
already says what the file is. Each kind is scored by how many of its columns
the header names (through the same aliases the import uses), on the same header
row the import would find. A kind whose required columns are all there beats one
that merely names more columns; then the one naming more columns wins, then the
one of which more are required columns, then the one naming the larger share of
its own columns (a file with order, product, machine, start, end and quantity is
a schedule more than a production log, though both fit; `Detection.ambiguous`
says when the runner-up fits just as well, so a person should look).

Only the top of the file is read (the header sits within the first
`HEADER_SEARCH_ROWS` rows), so detecting a 100,000-row file costs no more than a
10-row one. Nothing here imports Textual.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from oee_tui.imports.columns import SPECS, KindSpec, alias_index, column_for
from oee_tui.imports.reading import (
    HEADER_SEARCH_ROWS,
    Cell,
    ReadError,
    _find_header,
    _records,
    _sniff_separator,
    _Workbook,
    decode,
)

XLSX_SUFFIXES: Final = (".xlsx", ".xlsm")
# The header is near the top: a CSV is read this far (cut at a line end, so no character is split).
CSV_HEAD_BYTES: Final = 256 * 1024


@dataclass(frozen=True, slots=True)
class KindScore:
    kind: str
    named: tuple[str, ...]  # canonical columns the header names, in the kind's column order
    required_named: int
    required_total: int
    optional_named: int
    optional_total: int
    complete: bool  # every required column, and one of each "at least one of" group, is named
    header_row: int

    @property
    def score(self) -> int:
        """How many of the kind's columns the header names."""
        return len(self.named)

    @property
    def rank(self) -> tuple[bool, int, int, float]:
        share = self.score / (self.required_total + self.optional_total)
        return (self.complete, self.score, self.required_named, share)

    def describe(self) -> str:
        """`schedule: 6 of 9 columns (all 5 required)`."""
        total = self.required_total + self.optional_total
        if self.complete:
            need = f"all {self.required_total} required" if self.required_total else "no column is required"
        else:
            need = f"{self.required_named} of {self.required_total} required, so not complete"
        return f"{self.kind}: {self.score} of {total} columns ({need})"


@dataclass(frozen=True, slots=True)
class Detection:
    file: str
    sheet: str | None  # the sheet judged (XLSX), None for CSV
    ranking: tuple[KindScore, ...]  # every kind the header names at least two columns of, best first

    @property
    def best(self) -> KindScore | None:
        return self.ranking[0] if self.ranking else None

    @property
    def kind(self) -> str | None:
        return self.ranking[0].kind if self.ranking else None

    @property
    def score(self) -> int:
        return self.ranking[0].score if self.ranking else 0

    @property
    def runners_up(self) -> tuple[KindScore, ...]:
        return self.ranking[1:]

    @property
    def ambiguous(self) -> bool:
        """The runner-up fits as well: just as complete, naming as many columns. Someone should look."""
        if len(self.ranking) < 2:
            return False
        first, second = self.ranking[0], self.ranking[1]
        return first.rank[:2] == second.rank[:2]

    @property
    def message(self) -> str:
        where = self.file + (f", sheet {self.sheet}" if self.sheet else "")
        best = self.best
        if best is None:
            return (f"{where}: no row in the first {HEADER_SEARCH_ROWS} names the columns of any import kind "
                    f"(kinds are {', '.join(SPECS)}); pick the kind by hand, or see `oee import --help` for the "
                    "column names each kind accepts")
        text = f"{where} looks like {best.describe()}"
        if self.ambiguous:
            text += f"; {self.ranking[1].describe()} fits as well, so check the kind"
        elif not best.complete:
            missing = [column.name for column in SPECS[best.kind].columns
                       if column.required and column.name not in best.named]
            text += f"; missing {', '.join(missing)}" if missing else "; a column of an either-or group is missing"
        return text


@dataclass(frozen=True, slots=True)
class Sheets:
    names: tuple[str, ...]
    data_sheet: str | None  # the first sheet whose header names a kind's columns, None if none does


def _score(spec: KindSpec, header_row: int, header: tuple[Cell, ...]) -> KindScore:
    index = alias_index(spec)
    found = {column for cell in header if isinstance(cell, str) and (column := column_for(index, cell)) is not None}
    named = tuple(column.name for column in spec.columns if column.name in found)
    required = [column.name for column in spec.columns if column.required]
    optional_total = len(spec.columns) - len(required)
    complete = all(name in found for name in required) and all(
        any(name in found for name in group) for group in spec.one_of)
    return KindScore(spec.kind, named, sum(1 for name in required if name in found), len(required),
                     len(named) - sum(1 for name in required if name in found), optional_total, complete,
                     header_row)


def rank_head(head: list[tuple[int, tuple[Cell, ...]]]) -> tuple[KindScore, ...]:
    """Every kind whose header is found in these top rows, best first (ties keep KINDS order)."""
    scores = []
    for spec in SPECS.values():
        found = _find_header(head, spec)
        if found is None:
            continue
        header_row, header = head[found[0]]
        scores.append(_score(spec, header_row, header))
    return tuple(sorted(scores, key=lambda score: score.rank, reverse=True))


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise ReadError(str(path), "file not found")
    if path.suffix.lower() == ".xls":
        raise ReadError(str(path), "is an old Excel 97-2003 file; save it as .xlsx or .csv")


def _open_workbook(path: Path) -> _Workbook:
    import zipfile

    try:
        return _Workbook(path)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ReadError(str(path), f"is not a readable .xlsx workbook ({exc})") from exc


def _sheet_head(book: _Workbook, name: str) -> list[tuple[int, tuple[Cell, ...]]]:
    head: list[tuple[int, tuple[Cell, ...]]] = []
    for number, cells in book.rows(name):
        head.append((number, cells))
        if number >= HEADER_SEARCH_ROWS:
            break
    return head


def sheets(path: Path | str) -> Sheets:
    """A workbook's sheet names and the one that holds data (the one `read_table` would pick)."""
    path = Path(path)
    _check_file(path)
    if path.suffix.lower() not in XLSX_SUFFIXES:
        raise ReadError(str(path), "is not a workbook (.xlsx or .xlsm), so it has no sheets")
    book = _open_workbook(path)
    try:
        names = tuple(book.sheet_names)
        data_sheet = next((name for name in names if rank_head(_sheet_head(book, name))), None)
        return Sheets(names, data_sheet)
    finally:
        book.close()


def _csv_head(path: Path) -> list[tuple[int, tuple[Cell, ...]]]:
    try:
        with path.open("rb") as handle:
            data = handle.read(CSV_HEAD_BYTES + 1)
    except OSError as exc:
        raise ReadError(str(path), f"cannot be read: {exc.strerror}") from exc
    if len(data) > CSV_HEAD_BYTES:
        data = data[:data.rfind(b"\n", 0, CSV_HEAD_BYTES) + 1] or data[:CSV_HEAD_BYTES]
    try:
        text, _ = decode(data)
    except UnicodeDecodeError as exc:
        raise ReadError(str(path), f"starts with a UTF-8 byte order mark but is not UTF-8 ({exc.reason})") from exc
    # Each kind picks its own separator, as the import would: take the one that names most columns of any kind.
    best: list[tuple[int, tuple[Cell, ...]]] = []
    best_named = -1
    for separator in dict.fromkeys(_sniff_separator(text, spec) for spec in SPECS.values()):
        head = _records(text, separator, limit=HEADER_SEARCH_ROWS)
        ranking = rank_head(head)
        named = ranking[0].score if ranking else 0
        if named > best_named:
            best, best_named = head, named
    return best


def detect_kind(path: Path | str, sheet: str | None = None) -> Detection:
    """Rank the import kinds by how well the file's header names their columns.

    For a workbook without `sheet`, the first sheet with a recognisable header is judged
    (the one the import reads). Raises ReadError when the file cannot be read at all.
    """
    path = Path(path)
    _check_file(path)
    if path.suffix.lower() not in XLSX_SUFFIXES:
        if sheet is not None:
            raise ReadError(str(path), f"sheet {sheet} applies to .xlsx files only; this is read as CSV")
        return Detection(str(path), None, rank_head(_csv_head(path)))
    book = _open_workbook(path)
    try:
        if sheet is not None:
            if sheet not in book.sheet_names:
                raise ReadError(str(path), f"has no sheet {sheet!r}; its sheets are {', '.join(book.sheet_names)}")
            return Detection(str(path), sheet, rank_head(_sheet_head(book, sheet)))
        for name in book.sheet_names:
            ranking = rank_head(_sheet_head(book, name))
            if ranking:
                return Detection(str(path), name, ranking)
        return Detection(str(path), book.sheet_names[0] if book.sheet_names else None, ())
    finally:
        book.close()
