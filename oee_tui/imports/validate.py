"""Kind + raw table + config -> validated records, or every problem in the file.

The whole file is checked before anything is written, and a file with any
problem yields no records: a planner fixes the list in one pass instead of
meeting the errors one import at a time. Each problem names file, sheet, row,
column, the value as written, and why it is wrong (oee_tui.imports.problems).

The checks go in steps: the header and the cells (cells.py), then the rows of each
kind (kind_checks.py, reason_checks.py, shift_checks.py) against what the config
names and earlier imports stored (references.py). Records are the planning records of oee_tui.model, times in
UTC POSIX seconds, ready for the store to write in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from oee_tui.config import Config
from oee_tui.engine.oee.planning_rules import Planning
from oee_tui.imports import values
from oee_tui.imports.cells import ParsedRow, TableCells
from oee_tui.imports.columns import SPECS
from oee_tui.imports.kind_checks import build_downtime_plan, build_production_log, build_products
from oee_tui.imports.problems import Problem, ProblemList
from oee_tui.imports.reading import RawTable, ReadError, read_table
from oee_tui.imports.reason_checks import build_reasons
from oee_tui.imports.references import References
from oee_tui.imports.row_checks import RowChecks
from oee_tui.imports.schedule_checks import build_schedule
from oee_tui.imports.shift_checks import build_shifts
from oee_tui.model import ImportRecord, ProductRate

__all__ = ["ImportResult", "Problem", "validate_file", "validate_table"]


@dataclass(frozen=True, slots=True)
class ImportResult:
    kind: str
    file: str
    sheet: str | None
    records: tuple[ImportRecord, ...]  # empty whenever problems is not
    problems: tuple[Problem, ...]
    notes: tuple[Problem, ...] = ()  # said of a file without problems too; they refuse nothing

    @property
    def ok(self) -> bool:
        return not self.problems


_BUILDERS: Final[dict[str, Callable[[RowChecks, list[ParsedRow]], list[ImportRecord]]]] = {
    "products": build_products,
    "schedule": build_schedule,
    "shifts": build_shifts,
    "downtime-plan": build_downtime_plan,
    "reasons": build_reasons,
    "production-log": build_production_log,
}


def validate_file(kind: str, path: Path | str, config: Config, sheet: str | None = None,
                  products_path: Path | str | None = None,
                  progress: Callable[[int, int], None] | None = None, *,
                  planning: Planning | None = None, day_first: bool | None = None) -> ImportResult:
    """Read and check one file. `products_path`: a products file whose products count as known.
    `planning`: what the store holds (references.stored_planning); without it, the config alone.
    `day_first`: the date order the planner gave (True dd/mm/yyyy, False mm/dd/yyyy); None: told by the dates.

    `progress(rows read, rows total or 0 if unknown)` follows the reading, the slow part of a large file."""
    if kind not in SPECS:
        raise ValueError(f"unknown import kind {kind!r}; kinds are {', '.join(SPECS)}")
    extra_products: set[str] | None = None
    problems: list[Problem] = []
    if products_path is not None:
        products = validate_file("products", products_path, config, planning=planning)
        if products.problems:
            problems.extend(products.problems)
        extra_products = {record.product for record in products.records if isinstance(record, ProductRate)}
    try:
        table = read_table(path, SPECS[kind], sheet, progress)
    except ReadError as exc:
        problems.append(Problem(exc.file, exc.sheet, exc.row, None, None, exc.why))
        return ImportResult(kind, str(path), sheet, (), tuple(sorted(problems, key=Problem.sort_key)))
    result = validate_table(kind, table, config, extra_products, planning=planning, day_first=day_first)
    if problems:
        merged = tuple(sorted((*problems, *result.problems), key=Problem.sort_key))
        return ImportResult(kind, table.file, table.sheet, (), merged)
    return result


def validate_table(kind: str, table: RawTable, config: Config, extra_products: set[str] | None = None, *,
                   planning: Planning | None = None, day_first: bool | None = None) -> ImportResult:
    problems = ProblemList(table.file, table.sheet)
    cells = TableCells(table, SPECS[kind], values.PlantClock(config.tz), problems)
    records: list[ImportRecord] = []
    if cells.map_header():
        cells.detect_locale(day_first)
        parsed = cells.parse()
        references = References(config, planning or Planning.empty(), extra_products, cells, problems)
        checks = RowChecks(problems, cells, references, config.tz)
        records = _BUILDERS[kind](checks, parsed)
    found = problems.in_order()
    return ImportResult(kind, table.file, table.sheet, () if found else tuple(records), found,
                        problems.notes_in_order())
