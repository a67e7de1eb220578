"""What is wrong with an import file: each problem names file, sheet, row, column, the value as written, and why."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    sheet: str | None
    row: int | None  # as the user sees it; None for the file as a whole
    column: str | None  # the header as written in the file, or the canonical name of a missing column
    value: object
    why: str

    def sort_key(self) -> tuple[str, str, int, str, str]:
        return (self.file, self.sheet or "", self.row or 0, self.column or "", self.why)

    def __str__(self) -> str:
        parts = [self.file]
        if self.sheet:
            parts.append(f"sheet {self.sheet}")
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column {self.column}")
        shown = "" if self.value is None else f"{_show(self.value)}: "
        return f"{', '.join(parts)}: {shown}{self.why}"


def _show(value: object) -> str:
    if isinstance(value, datetime):
        return repr(value.isoformat(sep=" "))
    return repr(value)


class ProblemList:
    """Every problem found in one file, in the order found; a column is named as the file heads it.

    Notes are said the same way but refuse nothing: what a planner's file means that a reader
    might not expect (an order without a quantity target is imported without one)."""

    def __init__(self, file: str, sheet: str | None) -> None:
        self.file = file
        self.sheet = sheet
        self.found: list[Problem] = []
        self.notes: list[Problem] = []
        self._headers: dict[str, str] = {}  # canonical column -> header as written

    def __bool__(self) -> bool:
        return bool(self.found)

    def name_column(self, column: str, header: str) -> None:
        """From now on, call `column` by the header the file gives it."""
        self._headers[column] = header

    def add(self, row: int | None, column: str | None, value: object, why: str) -> None:
        """A problem with a column, given by its canonical name (or a name of its own, such as "machine or line")."""
        self.add_as_written(row, self._headers.get(column, column) if column else None, value, why)

    def add_as_written(self, row: int | None, header: str | None, value: object, why: str) -> None:
        """A problem with a column named exactly as given."""
        self.found.append(Problem(self.file, self.sheet, row, header, value, why))

    def note(self, row: int | None, column: str | None, value: object, why: str) -> None:
        """Something the import does with a row that the planner should know, which is not a problem."""
        header = self._headers.get(column, column) if column else None
        self.notes.append(Problem(self.file, self.sheet, row, header, value, why))

    def notes_in_order(self) -> tuple[Problem, ...]:
        return tuple(sorted(self.notes, key=Problem.sort_key))

    def once_each(self, key: Callable[[Problem], Hashable]) -> None:
        """Keep the first problem of each key."""
        unique: dict[Hashable, Problem] = {}
        for problem in self.found:
            unique.setdefault(key(problem), problem)
        self.found = list(unique.values())

    def in_order(self) -> tuple[Problem, ...]:
        """By file, sheet, row, column and why: the order a planner fixes them in."""
        return tuple(sorted(self.found, key=Problem.sort_key))


def listing(items: Iterable[str]) -> str:
    """Names for a message: sorted, at most twelve, then how many more."""
    names = sorted(items)
    if not names:
        return "(none defined)"
    return ", ".join(names[:12]) + (f" and {len(names) - 12} more" if len(names) > 12 else "")
