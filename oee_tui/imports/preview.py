"""What an import would write and what is wrong with the file, before anything is written.

`oee import` (and its --dry-run) and the Import screen (F4) both check a file here: read it,
detect its kind if need be, validate every row, and keep the file's SHA-256 so that what is
written later is what was checked. The screen also shows the file's rows with the cells a
problem names (`marked_rows`). Writing stays with `imports.write`. Nothing here imports
Textual: the screen styles what this module finds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Final

from oee_tui.config import Config
from oee_tui.engine.oee.planning_rules import Planning, PlanningSource
from oee_tui.imports.columns import SPECS
from oee_tui.imports.detect import XLSX_SUFFIXES, Detection, detect_kind, sheets
from oee_tui.imports.reading import Progress, RawTable, ReadError, read_table
from oee_tui.imports.references import stored_planning
from oee_tui.imports.validate import ImportResult, Problem, validate_table
from oee_tui.store import PlanningError

CELL_WIDTH: Final = 32  # a long note would otherwise push every other column off screen


@dataclass(frozen=True, slots=True)
class ImportPreview:
    """One file read and checked: the records an import would write, or every problem in the file."""

    path: Path
    sheet_names: tuple[str, ...]  # empty for CSV, and when the kind was given (nothing was detected)
    sheet: str | None
    detection: Detection | None  # None when the kind was given or the file could not be read
    kind: str | None
    table: RawTable | None
    result: ImportResult | None
    problems: tuple[Problem, ...]
    sha256: str | None  # of the file as it was checked; None if it was not read
    rows_released: int = 0  # rows_read of a preview whose rows were let go (`without_rows`)

    @classmethod
    def unread(cls, path: Path, problem: Problem, *, sheet: str | None = None, kind: str | None = None,
               sheet_names: tuple[str, ...] = (), detection: Detection | None = None) -> ImportPreview:
        """A file that could not be read: the one problem says why."""
        return cls(path, sheet_names, sheet, detection, kind, None, None, (problem,), None)

    @property
    def where(self) -> str:
        """The file, and the sheet of a workbook: `plan.xlsx, sheet Orders`."""
        return f"{self.path}" + (f", sheet {self.sheet}" if self.sheet else "")

    @property
    def rows_read(self) -> int:
        return len(self.table.rows) if self.table is not None else self.rows_released

    def without_rows(self) -> ImportPreview:
        """What is kept once the file is written: where it came from, its kind and counts, not its rows and
        records, which for a file of some hundred thousand rows hold hundreds of MB."""
        return replace(self, table=None, result=None, rows_released=self.rows_read)

    @property
    def rows_with_problems(self) -> int:
        """How many of the file's rows a problem names (the header row and the file as a whole left out)."""
        header_row = self.table.header_row if self.table is not None else None
        return len({problem.row for problem in self.problems if problem.row not in (None, header_row)})

    @property
    def can_import(self) -> bool:
        return self.result is not None and self.result.ok and bool(self.result.records)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def preview_file(path: Path, config: Config, kind: str, sheet: str | None = None, *,
                 progress: Progress | None = None, sheet_names: tuple[str, ...] = (),
                 detection: Detection | None = None, planning: Planning | None = None,
                 day_first: bool | None = None) -> ImportPreview:
    """Read `path` as `kind` and check every row. Without `sheet`, a workbook's first sheet with the kind's
    header is read. `progress(rows read, rows total or 0)` follows the reading. File work: call it from a thread.

    `planning` is what the store holds (`references.stored_planning`): reasons and products imported
    before count as known. `day_first`: the date order the planner gave (`validate_file`). `sheet_names` and
    `detection`, when a caller found them first, are kept."""
    try:
        table = read_table(path, SPECS[kind], sheet, progress)
    except ReadError as exc:
        problem = Problem(exc.file, exc.sheet, exc.row, None, None, exc.why)
        return ImportPreview.unread(path, problem, sheet=sheet, kind=kind, sheet_names=sheet_names,
                                    detection=detection)
    result = validate_table(kind, table, config, planning=planning, day_first=day_first)
    return ImportPreview(path, sheet_names, table.sheet, detection, kind, table, result, result.problems,
                         file_sha256(path))


def detect_and_preview(path: Path, config: Config, sheet: str | None = None, kind: str | None = None, *,
                       progress: Progress | None = None, stored: PlanningSource | None = None) -> ImportPreview:
    """List a workbook's sheets, pick the one with data unless `sheet` names one, detect the kind unless `kind`
    is given, then read and check the file as `preview_file` does, against the planning data `stored` holds
    (the store; None: the config alone). File work: call it from a thread."""
    sheet_names: tuple[str, ...] = ()
    detection: Detection | None = None
    try:
        if path.suffix.lower() in XLSX_SUFFIXES:
            found = sheets(path)
            sheet_names = found.names
            if sheet is None or sheet not in sheet_names:
                sheet = found.data_sheet or (sheet_names[0] if sheet_names else None)
        detection = detect_kind(path, sheet)
    except ReadError as exc:
        problem = Problem(exc.file, exc.sheet, exc.row, None, None, exc.why)
        return ImportPreview.unread(path, problem, sheet=sheet, kind=kind, sheet_names=sheet_names,
                                    detection=detection)
    if kind is None:
        kind = detection.kind
    if kind is None:
        return ImportPreview(path, sheet_names, sheet, detection, None, None, None, (), None)
    try:
        planning = stored_planning(stored, kind)
    except PlanningError as exc:
        problem = Problem(str(path), sheet, None, None, None, f"cannot be checked: {exc}")
        return ImportPreview.unread(path, problem, sheet=sheet, kind=kind, sheet_names=sheet_names,
                                    detection=detection)
    return preview_file(path, config, kind, sheet, progress=progress, sheet_names=sheet_names, detection=detection,
                        planning=planning)


# ---------------------------------------------------------------- the file's rows, with what is wrong in them


def cell_text(value: object) -> str:
    """A cell as the planner typed it, on one line."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        text = value.strftime("%Y-%m-%d %H:%M" if value.second == 0 and not value.microsecond
                              else "%Y-%m-%d %H:%M:%S")
        return text[:10] if value.time() == time(0) else text
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, float):
        return f"{value:g}" if abs(value) < 1e15 else repr(value)
    text = str(value).replace("\r\n", "⏎").replace("\n", "⏎").replace("\t", " ")
    return text if len(text) <= CELL_WIDTH else text[: CELL_WIDTH - 1] + "…"


def problem_line(problem: Problem, sheet: str | None) -> str:
    """`row 12, Start: '2026-13-01' is not a date…` (the file is left to a title; the sheet only if another)."""
    parts = []
    if problem.sheet and problem.sheet != sheet:
        parts.append(f"sheet {problem.sheet}")
    parts.append("file" if problem.row is None else f"row {problem.row}")
    if problem.column is not None:
        parts.append(problem.column)
    shown = "" if problem.value is None else f"{cell_text(problem.value)!r}: "
    return f"{', '.join(parts)}: {shown}{problem.why}"


@dataclass(frozen=True, slots=True)
class MarkedRow:
    number: int  # the row number Excel or an editor shows
    cells: tuple[str, ...]  # one per header column, as `cell_text` shows them
    bad_columns: frozenset[int]  # positions of the cells a problem names
    bad_row: bool  # a problem names the row, but no column of the header

    @property
    def marked(self) -> bool:
        return self.bad_row or bool(self.bad_columns)


@dataclass(frozen=True, slots=True)
class MarkedRows:
    """The top of a file and every row below it that has a problem, with the bad cells marked."""

    header: tuple[str, ...]
    rows: tuple[MarkedRow, ...]
    column_of: dict[str, int]  # header as written -> its position
    shown_rows: int  # rows from the top
    extra_rows: int  # rows with problems below those, added


def marked_rows(table: RawTable, problems: Sequence[Problem], *, top: int, max_problems: int) -> MarkedRows:
    """The first `top` rows, then the rows below them that one of the first `max_problems` problems names."""
    column_of: dict[str, int] = {}
    for position, header in enumerate(table.header):
        column_of.setdefault(header, position)
    bad_cells: dict[int, set[int | None]] = {}
    for problem in problems[:max_problems]:
        if problem.row is not None and problem.row != table.header_row:
            bad_cells.setdefault(problem.row, set()).add(column_of.get(problem.column or ""))
    shown = table.rows[:top]
    extra = [(number, cells) for number, cells in table.rows[top:] if number in bad_cells]
    width = len(table.header)
    rows = []
    for number, cells in (*shown, *extra):
        bad = bad_cells.get(number, set())
        rows.append(MarkedRow(number,
                              tuple(cell_text(cells[position] if position < len(cells) else None)
                                    for position in range(width)),
                              frozenset(position for position in bad if position is not None), None in bad))
    return MarkedRows(table.header, tuple(rows), column_of, len(shown), len(extra))
