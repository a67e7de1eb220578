"""What the checks of every import kind share: the problems list, the cells as written, the references,
and the checks of spans, duplicate rows and overlapping rows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from oee_tui.imports.cells import ParsedRow, TableCells
from oee_tui.imports.problems import ProblemList
from oee_tui.imports.references import References

RowSpan = tuple[str, float, float, int, str]  # group key (e.g. "machine M1"), start, end, row, label


def span_group(row: dict[str, Any]) -> str:
    """What a planned span belongs to, for overlaps: its machine, else its line."""
    return f"machine {row['machine']}" if row.get("machine") else f"line {row['line']}"


class RowChecks:
    def __init__(self, problems: ProblemList, cells: TableCells, references: References, tz: ZoneInfo) -> None:
        self.problems = problems
        self.cells = cells
        self.references = references
        self.tz = tz

    def check_span(self, number: int, start: float, end: float) -> bool:
        if end <= start:
            why = "is before the start" if end < start else "equals the start; a span needs a length"
            self.problems.add(number, "end", self.cells.raw(number, "end"), why)
            return False
        return True

    def check_duplicates(self, parsed: Sequence[ParsedRow]) -> set[int]:
        """The rows that repeat an earlier row exactly; each is a problem."""
        seen: dict[tuple[Any, ...], int] = {}
        duplicates: set[int] = set()
        for number, row, _ in parsed:
            key = tuple(row.values())  # same columns in the same order in every row
            if key in seen:
                self.problems.add(number, None, None, f"duplicates row {seen[key]}")
                duplicates.add(number)
            else:
                seen[key] = number
        return duplicates

    def check_overlaps(self, spans: Iterable[RowSpan]) -> None:
        """Reports each span that starts before the previous one of its group ends."""
        by_group: dict[str, list[tuple[float, float, int, str]]] = defaultdict(list)
        for group, start, end, number, label in spans:
            by_group[group].append((start, end, number, label))
        for group, items in by_group.items():
            items.sort()
            latest_end, latest_row, latest_label = items[0][1], items[0][2], items[0][3]
            for start, end, number, label in items[1:]:
                if start < latest_end:
                    later, earlier = (number, latest_row) if number > latest_row else (latest_row, number)
                    other_label = latest_label if later == number else label
                    until = datetime.fromtimestamp(latest_end, UTC).astimezone(self.tz).strftime("%Y-%m-%d %H:%M")
                    self.problems.add(later, "start", self.cells.raw(later, "start"),
                                      f"overlaps {other_label} in row {earlier} on {group} (which runs until "
                                      f"{until})")
                if end > latest_end:
                    latest_end, latest_row, latest_label = end, number, label
