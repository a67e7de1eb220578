"""The one rule for a week of shifts: no two of them may run at the same wall-clock time.

The config's `[[shifts]]`, a shifts import and the shift patterns the store holds are each
checked with it, so whichever set is the plant's calendar, no instant is in two shifts (a part
would count in both). It works on wall times: a shift is "HH:MM" to "HH:MM" local on the weekdays
it starts on, ending the next day when its end is at or before its start. The calendar turns wall
times into instants with one monotonic rule (oee_tui.engine.oee.shifts), so shifts apart on the
wall clock stay apart across a DST change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Generic, NamedTuple, Protocol, TypeVar

from oee_tui.model.planning import WEEKDAYS

_DAY: Final = 24 * 60
_WEEK: Final = 7 * _DAY


class WeeklyShift(Protocol):
    """What the rule reads of a shift: the config's ShiftConfig and the import's ShiftPattern both are one."""

    @property
    def name(self) -> str: ...
    @property
    def start(self) -> str: ...  # "HH:MM" plant local time
    @property
    def end(self) -> str: ...  # at or before start: the next day
    @property
    def days(self) -> tuple[str, ...]: ...  # the weekdays it starts on


ShiftT = TypeVar("ShiftT", bound=WeeklyShift)


@dataclass(frozen=True, slots=True)
class ShiftOverlap(Generic[ShiftT]):
    """`shift` starts on `day` while `other`, which started earlier, still runs."""

    shift: ShiftT
    other: ShiftT
    day: str  # from WEEKDAYS

    def why(self, where: str = "") -> str:
        """The words every source uses; `where` tells where `other` is written ("row 4, ")."""
        return f"overlaps shift {self.other.name} ({where}{self.other.start}-{self.other.end}) on {self.day}"


class _Occurrence(NamedTuple):
    start: int  # minutes from Monday 00:00
    end: int
    day: int  # index into WEEKDAYS
    number: int  # its shift's position in the input


def _minutes(hhmm: str) -> int:
    hours, _, minutes = hhmm.partition(":")
    return int(hours) * 60 + int(minutes)


def _week(shifts: Sequence[WeeklyShift]) -> list[_Occurrence]:
    """Every start of every shift in one week, in minutes from Monday 00:00, sorted by start, then by input order."""
    out: list[_Occurrence] = []
    for number, shift in enumerate(shifts):
        start, end = _minutes(shift.start), _minutes(shift.end)
        length = end - start if end > start else end - start + _DAY
        for day, weekday in enumerate(WEEKDAYS):
            if weekday in shift.days:
                out.append(_Occurrence(start + day * _DAY, start + day * _DAY + length, day, number))
    out.sort(key=lambda occurrence: (occurrence.start, occurrence.number))
    return out


def shift_overlaps(shifts: Sequence[ShiftT]) -> list[ShiftOverlap[ShiftT]]:
    """Each pair of shifts that overlap, once, on the first day of the week it happens (empty: none do).

    The later-starting shift of a pair is `shift`. The week wraps: Sunday's night shift running
    into Monday's early one is found on Monday, after the rest of the week.
    """
    occurrences = _week(shifts)
    # Next week's copies come after every start of this week, each compared with this week's shifts only.
    following = [o._replace(start=o.start + _WEEK, end=o.end + _WEEK) for o in occurrences]
    found: dict[tuple[int, int], ShiftOverlap[ShiftT]] = {}
    for position, later in enumerate(occurrences + following):
        earlier_ones = occurrences[:position] if position < len(occurrences) else occurrences
        for earlier in earlier_ones:
            if earlier.number != later.number and earlier.start <= later.start < earlier.end:
                pair = (later.number, earlier.number)
                if pair not in found:
                    found[pair] = ShiftOverlap(shifts[later.number], shifts[earlier.number], WEEKDAYS[later.day])
    return list(found.values())
