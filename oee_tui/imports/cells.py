"""A raw table read as one import kind: its header mapped to the kind's columns, its cells parsed by column kind.

Files come from many hands: the header may name a column in any of its aliases, numbers may
use a decimal comma and dates may put the day first. Both are told from the whole file
before any cell is parsed, so one file is read one way throughout.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from oee_tui.imports import values
from oee_tui.imports.columns import KindSpec, alias_index, column_for
from oee_tui.imports.problems import ProblemList
from oee_tui.imports.reading import RawTable

ParsedRow = tuple[int, dict[str, Any], tuple[object, ...]]  # row number, values by column, cells as written


class TableCells:
    def __init__(self, table: RawTable, spec: KindSpec, clock: values.PlantClock, problems: ProblemList) -> None:
        self.table = table
        self.spec = spec
        self.clock = clock
        self.problems = problems
        self.positions: dict[str, int] = {}  # canonical column -> index in the row
        self.decimal_comma = False
        self.day_first: values.DateOrder = None
        self._cells_by_row: dict[int, tuple[object, ...]] | None = None

    def has(self, column: str) -> bool:
        """Does the file have this column?"""
        return column in self.positions

    def cell(self, cells: tuple[object, ...], column: str) -> object:
        position = self.positions.get(column)
        if position is None or position >= len(cells):
            return None
        return cells[position]

    def raw(self, number: int, column: str) -> object:
        """The cell as written, for a problem found after parsing; the index is built on first need."""
        if self._cells_by_row is None:
            self._cells_by_row = dict(self.table.rows)
        cells = self._cells_by_row.get(number)
        return None if cells is None else self.cell(cells, column)

    # ------------------------------------------------------------ reading

    def map_header(self) -> bool:
        """Find each column of the kind in the header; False if one is missing or named twice."""
        index = alias_index(self.spec)
        for position, text in enumerate(self.table.header):
            name = column_for(index, text)
            if name is None:
                continue  # extra columns (comments, colours, totals) are common and harmless
            if name in self.positions:
                first = self.table.header[self.positions[name]]
                self.problems.add_as_written(self.table.header_row, text, text,
                                             f"names the same column ({name}) as {first!r}; keep one of them")
                continue
            self.positions[name] = position
            self.problems.name_column(name, text)
        ok = True
        for column in self.spec.columns:
            if column.required and column.name not in self.positions:
                self.problems.add(self.table.header_row, column.name, None,
                                  f"column is missing; name it one of: {', '.join(column.aliases)}")
                ok = False
        for group in self.spec.one_of:
            if not any(name in self.positions for name in group):
                accepted = "; ".join(f"{name}: {', '.join(self.spec.column(name).aliases)}" for name in group)
                self.problems.add(self.table.header_row, " or ".join(group), None,
                                  f"column is missing; the file needs at least one of these, named one of "
                                  f"({accepted})")
                ok = False
        return ok and not self.problems

    def detect_locale(self, day_first: bool | None = None) -> None:
        """Decimal comma or point, and day or month first, from every number and date text in the file.

        `day_first` is the planner's date order (`oee import --date-format`): given, no date overrides it."""
        numeric = [c.name for c in self.spec.columns
                   if c.kind in ("number", "count", "duration", "rate") and c.name in self.positions]
        dated = [c.name for c in self.spec.columns if c.kind == "datetime" and c.name in self.positions]
        number_texts: list[str] = []
        date_texts: list[str] = []
        for _, cells in self.table.rows:
            for column in numeric:
                raw = self.cell(cells, column)
                if isinstance(raw, str):
                    number_texts.append(raw)
            for column in dated:
                raw = self.cell(cells, column)
                if isinstance(raw, str):
                    date_texts.append(raw)
        self.decimal_comma = values.detect_decimal_comma(number_texts, default=self.table.separator == ";")
        # A planner's --date-format settles every date; else each way of writing one decides for itself.
        self.day_first = values.detect_day_first(date_texts) if day_first is None else day_first

    def parse(self) -> list[ParsedRow]:
        """Every row whose cells all parse; a cell that does not, or a required one left empty, is a problem."""
        parsed: list[ParsedRow] = []
        # Resolved once: this loop runs for every cell of the file.
        plan = [(column, self.positions[column], parse,
                 self.spec.column(column).required and not self.spec.column(column).empty_ok)
                for column, parse in self._parsers()]
        problem = self.problems.add
        uncalculated = self.table.uncalculated
        for number, cells in self.table.rows:
            row: dict[str, Any] = {}
            good = True
            width = len(cells)
            for column, position, parse, required in plan:
                raw = cells[position] if position < width else None
                if raw is None or (raw.__class__ is str and not raw.strip()):
                    if uncalculated and (number, position) in uncalculated:
                        formula = uncalculated[number, position]
                        problem(number, column, f"={formula}" if formula else None,
                                f"is a formula saved without its value (cell {_cell_name(position, number)}), so "
                                "its value is unknown; open the file in Excel and save it, which stores the "
                                "values, or export the sheet as CSV")
                        good = False
                        continue
                    if required:
                        problem(number, column, None, "is empty; this column is required")
                        good = False
                    row[column] = None
                    continue
                try:
                    row[column] = parse(raw)
                except ValueError as exc:
                    problem(number, column, raw, str(exc))
                    good = False
            if good:
                parsed.append((number, row, cells))
        return parsed

    def _parsers(self) -> list[tuple[str, Callable[[object], Any]]]:
        comma, day_first, clock = self.decimal_comma, self.day_first, self.clock
        to_utc = clock.to_utc
        # Each kind's commonest cell (text ids, whole counts and datetimes as Excel stores them) is
        # taken in the lambda itself, with the same result as the full parser, which gets the rest:
        # these run once per cell, and the full parsers' type checks were a third of the validation.
        by_kind: dict[str, Callable[[object], Any]] = {
            "id": lambda v: text if v.__class__ is str and (text := v.strip()) else values.parse_id(v),
            "text": values.parse_text,
            "number": lambda v: values.parse_number(v, comma),
            "count": lambda v: v if v.__class__ is int and 0 <= v < 2**53 else values.parse_count(v, comma),
            "duration": lambda v: values.parse_duration_s(v, comma),
            "rate": lambda v: values.parse_rate_to_cycle_s(v, comma),
            "datetime": lambda v: to_utc(v) if v.__class__ is datetime and v.tzinfo is None
            else values.parse_datetime_utc(v, day_first, clock),
            "time": values.parse_time_of_day,
            "bool": values.parse_bool,
            "days": values.parse_days,
            "breaks": values.parse_breaks,
        }
        return [(column.name, by_kind[column.kind]) for column in self.spec.columns if column.name in self.positions]


def _cell_name(position: int, row: int) -> str:
    """0, 5 -> `A5`: the cell as Excel names it."""
    letters = ""
    position += 1
    while position:
        position, rest = divmod(position - 1, 26)
        letters = chr(65 + rest) + letters
    return f"{letters}{row}"
