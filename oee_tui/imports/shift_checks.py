"""The rows of a shifts file checked as one week of shift patterns, and made into records."""

from __future__ import annotations

import itertools

from oee_tui.imports.cells import ParsedRow
from oee_tui.imports.problems import ProblemList
from oee_tui.imports.row_checks import RowChecks
from oee_tui.model import WEEKDAYS, ImportRecord, ShiftPattern, shift_overlaps


def build_shifts(checks: RowChecks, parsed: list[ParsedRow]) -> list[ImportRecord]:
    problem, raw = checks.problems.add, checks.cells.raw
    names: dict[str, int] = {}
    patterns: list[ShiftPattern] = []
    for number, row, _ in parsed:
        name = row["name"]
        if name in names:
            problem(number, "name", name, f"is used twice: also in row {names[name]}")
            continue
        names[name] = number
        start, end = row["start"], row["end"]
        breaks = row.get("breaks") or ()
        ok = True
        for break_start, break_end in breaks:
            if not (_inside(break_start, start, end) and _inside(break_end, start, end, end_ok=True)):
                problem(number, "breaks", raw(number, "breaks"),
                        f"break {break_start}-{break_end} is not inside the shift {start}-{end}")
                ok = False
        if ok:
            patterns.append(ShiftPattern(name, start, end, row.get("days") or WEEKDAYS, tuple(breaks), number))
    _check_week(patterns, checks.problems)
    return list(patterns)


def _check_week(patterns: list[ShiftPattern], problems: ProblemList) -> None:
    """Over the week, shifts must not overlap, and within a day one must follow the other without a gap.

    Overlaps are the rule the config's shifts follow too (oee_tui.model.shift_overlaps), across
    midnight and the week's end. The time after a day's last shift until the next day's first is
    the plant being closed, not a gap; a gap is a stretch between two shifts that start on the same day.
    """
    for overlap in shift_overlaps(patterns):
        problems.add(overlap.shift.source_row, "start", overlap.shift.start,
                     overlap.why(f"row {overlap.other.source_row}, "))
    spans: list[tuple[int, int, int, ShiftPattern]] = []
    for day_index, day in enumerate(WEEKDAYS):
        for pattern in patterns:
            if day in pattern.days:
                start = _minutes(pattern.start) + day_index * 1440
                end = _minutes(pattern.end) + day_index * 1440
                if end <= start:
                    end += 1440
                spans.append((start, end, day_index, pattern))
    spans.sort(key=lambda span: (span[0], span[3].source_row or 0))
    for (_, previous_end, previous_day, previous), (start, _, day_index, pattern) in itertools.pairwise(spans):
        if start > previous_end and day_index == previous_day:
            problems.add(pattern.source_row, "start", pattern.start,
                         f"leaves a gap after shift {previous.name} (row {previous.source_row}, ends "
                         f"{previous.end}) on {WEEKDAYS[day_index]}")
    # Report each (row, why) once: a Mon-Fri pattern would otherwise repeat the same problem five times.
    problems.once_each(lambda problem: (problem.row, problem.column, problem.why.rsplit(" on ", 1)[0]))


def _minutes(hhmm: str) -> int:
    hours, _, minutes = hhmm.partition(":")
    return int(hours) * 60 + int(minutes)


def _inside(moment: str, start: str, end: str, end_ok: bool = False) -> bool:
    """Is a wall time within a shift that may cross midnight?"""
    at, lo, hi = _minutes(moment), _minutes(start), _minutes(end)
    if hi <= lo:
        hi += 1440
        if at < lo:
            at += 1440
    return lo <= at < hi or (end_ok and at == hi)
