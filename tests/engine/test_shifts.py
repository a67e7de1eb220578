"""Shift calendar: local wall times to UTC spans, across midnight and DST changes.

Europe/Berlin is UTC+1 in winter (CET) and UTC+2 in summer (CEST). In 2026 the
clocks go forward on Sunday 29 March (02:00 -> 03:00) and back on Sunday
25 October (03:00 -> 02:00).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oee_tui.config import BreakConfig, ShiftConfig
from oee_tui.engine.oee.shifts import ShiftCalendar
from oee_tui.model import WEEKDAYS, Span, shift_overlaps

BERLIN = ZoneInfo("Europe/Berlin")
THREE_SHIFTS = (
    ShiftConfig("Early", "06:00", "14:00", breaks=(BreakConfig("09:00", "09:15"),)),
    ShiftConfig("Late", "14:00", "22:00"),
    ShiftConfig("Night", "22:00", "06:00", breaks=(BreakConfig("02:00", "02:30"),)),
)


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()  # type: ignore[misc]


def local(*args: int) -> float:
    return datetime(*args, tzinfo=BERLIN).timestamp()  # type: ignore[misc]


@pytest.fixture
def calendar() -> ShiftCalendar:
    return ShiftCalendar(THREE_SHIFTS, "Europe/Berlin")


def test_night_shift_crosses_midnight(calendar: ShiftCalendar) -> None:
    # Wednesday 2026-01-14 22:00 CET = 21:00Z to Thursday 06:00 CET = 05:00Z: 8 h.
    night = calendar.find("Night", "2026-01-14")
    assert night is not None
    assert night.label == "Night@2026-01-14"
    assert (night.start, night.end) == (utc(2026, 1, 14, 21), utc(2026, 1, 15, 5))
    # Its 02:00 break is earlier than 22:00, so it is on the next day: 01:00Z-01:30Z on the 15th.
    assert night.breaks == (Span(utc(2026, 1, 15, 1), utc(2026, 1, 15, 1, 30)),)


def test_shift_at_across_the_midnight_boundary(calendar: ShiftCalendar) -> None:
    instants = (local(2026, 1, 14, 22), local(2026, 1, 14, 23, 59, 59),
                local(2026, 1, 15, 0), local(2026, 1, 15, 5, 59))
    for ts in instants:
        shift = calendar.shift_at(ts)
        assert shift is not None and shift.label == "Night@2026-01-14", ts
    # The end is exclusive, the start inclusive: 06:00 belongs to Early of the 15th.
    early = calendar.shift_at(local(2026, 1, 15, 6))
    assert early is not None and early.label == "Early@2026-01-15"
    late = calendar.shift_at(local(2026, 1, 14, 21, 59, 59))
    assert late is not None and late.label == "Late@2026-01-14"


def test_night_shift_on_spring_forward_lasts_7_hours(calendar: ShiftCalendar) -> None:
    # Sat 2026-03-28 22:00 CET = 21:00Z; Sun 06:00 CEST = 04:00Z -> 7 h.
    night = calendar.find("Night", "2026-03-28")
    assert night is not None
    assert (night.start, night.end) == (utc(2026, 3, 28, 21), utc(2026, 3, 29, 4))
    assert night.end - night.start == 7 * 3600
    # The 02:00 break does not exist that night; it moves forward with the clock:
    # 02:00 -> 03:00 CEST = 01:00Z, still 30 minutes long.
    assert night.breaks == (Span(utc(2026, 3, 29, 1), utc(2026, 3, 29, 1, 30)),)
    # The shifts either side still join without a gap or an overlap.
    late = calendar.find("Late", "2026-03-28")
    early = calendar.find("Early", "2026-03-29")
    assert late is not None and early is not None
    assert late.end == night.start and night.end == early.start


def test_night_shift_on_fall_back_lasts_9_hours(calendar: ShiftCalendar) -> None:
    # Sat 2026-10-24 22:00 CEST = 20:00Z; Sun 06:00 CET = 05:00Z -> 9 h.
    night = calendar.find("Night", "2026-10-24")
    assert night is not None
    assert (night.start, night.end) == (utc(2026, 10, 24, 20), utc(2026, 10, 25, 5))
    assert night.end - night.start == 9 * 3600
    # 02:00 happens twice; the break takes the first occurrence (CEST): 00:00Z-00:30Z.
    assert night.breaks == (Span(utc(2026, 10, 25, 0), utc(2026, 10, 25, 0, 30)),)
    # Every instant of the long night belongs to it, including the repeated hour.
    for hours in (0, 1, 2, 3, 4, 5, 6, 7, 8.99):
        shift = calendar.shift_at(night.start + hours * 3600)
        assert shift is not None and shift.label == "Night@2026-10-24"


def test_nonexistent_and_ambiguous_shift_starts() -> None:
    cal = ShiftCalendar([ShiftConfig("Odd", "02:30", "10:00")], "Europe/Berlin")
    spring = cal.find("Odd", "2026-03-29")
    # 02:30 does not exist: it maps forward to 03:30 CEST = 01:30Z; 10:00 CEST = 08:00Z.
    assert spring is not None and (spring.start, spring.end) == (utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 8))
    autumn = cal.find("Odd", "2026-10-25")
    # 02:30 happens twice: the first (CEST) = 00:30Z; 10:00 CET = 09:00Z.
    assert autumn is not None and (autumn.start, autumn.end) == (utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 9))


def test_find_by_name_and_date() -> None:
    cal = ShiftCalendar([ShiftConfig("Early", "06:00", "14:00", days=("mon", "tue", "wed", "thu", "fri"))],
                        "Europe/Berlin")
    friday = cal.find("Early", "2026-01-16")
    assert friday is not None and friday.local_date == "2026-01-16" and friday.start == local(2026, 1, 16, 6)
    assert cal.find("Early", "2026-01-17") is None  # Saturday: not worked
    assert cal.find("Late", "2026-01-16") is None  # no such shift
    assert cal.find("Early", "not a date") is None


def test_current_or_last_between_shifts() -> None:
    cal = ShiftCalendar([ShiftConfig("Early", "06:00", "14:00", days=("mon", "tue", "wed", "thu", "fri"))],
                        "Europe/Berlin")
    # Saturday noon: no shift; the last one is Friday's Early.
    assert cal.shift_at(local(2026, 1, 17, 12)) is None
    assert cal.current_or_last(local(2026, 1, 17, 12)).label == "Early@2026-01-16"
    # Monday 10:00: inside Monday's Early.
    assert cal.current_or_last(local(2026, 1, 19, 10)).label == "Early@2026-01-19"
    # Monday 05:59: before it starts, still Friday's.
    assert cal.current_or_last(local(2026, 1, 19, 5, 59)).label == "Early@2026-01-16"


def test_shifts_between_scheduled_and_break_spans(calendar: ShiftCalendar) -> None:
    start, end = local(2026, 1, 14, 0), local(2026, 1, 15, 0)
    names = [s.label for s in calendar.shifts_between(start, end)]
    # Tuesday's night runs until 06:00 on the 14th, then Early, Late and the night starting at 22:00.
    assert names == ["Night@2026-01-13", "Early@2026-01-14", "Late@2026-01-14", "Night@2026-01-14"]
    # Three shifts back to back cover the whole day: one merged span, clipped to the window.
    assert calendar.scheduled_spans(start, end) == [Span(start, end)]
    # Breaks in the window: the 13th's night break at 02:00 and Early's at 09:00; the 14th's night
    # break (02:00 on the 15th) is outside.
    assert calendar.break_spans(start, end) == [
        Span(local(2026, 1, 14, 2), local(2026, 1, 14, 2, 30)),
        Span(local(2026, 1, 14, 9), local(2026, 1, 14, 9, 15)),
    ]
    # Clipping: a window from 09:10 to 09:20 holds 5 minutes of break.
    assert calendar.break_spans(local(2026, 1, 14, 9, 10), local(2026, 1, 14, 9, 20)) == [
        Span(local(2026, 1, 14, 9, 10), local(2026, 1, 14, 9, 15))
    ]


def test_gaps_between_shifts_are_not_scheduled() -> None:
    cal = ShiftCalendar([ShiftConfig("Early", "06:00", "14:00"), ShiftConfig("Late", "15:00", "23:00")],
                        "Europe/Berlin")
    day = cal.scheduled_spans(local(2026, 1, 14, 0), local(2026, 1, 15, 0))
    assert day == [Span(local(2026, 1, 14, 6), local(2026, 1, 14, 14)),
                   Span(local(2026, 1, 14, 15), local(2026, 1, 14, 23))]
    assert cal.shift_at(local(2026, 1, 14, 14, 30)) is None
    assert cal.current_or_last(local(2026, 1, 14, 14, 30)).label == "Early@2026-01-14"


def test_no_shifts_means_24_7_day_shifts() -> None:
    cal = ShiftCalendar([], "Europe/Berlin")
    day = cal.shift_at(local(2026, 1, 14, 13))
    assert day is not None and day.label == "Day@2026-01-14"
    assert (day.start, day.end) == (local(2026, 1, 14, 0), local(2026, 1, 15, 0))
    assert day.end - day.start == 24 * 3600
    spring = cal.find("Day", "2026-03-29")
    autumn = cal.find("Day", "2026-10-25")
    assert spring is not None and spring.end - spring.start == 23 * 3600
    assert autumn is not None and autumn.end - autumn.start == 25 * 3600
    assert cal.current_or_last(local(2026, 10, 25, 2, 30)).label == "Day@2026-10-25"
    # Always scheduled: a week is one merged span.
    week = cal.scheduled_spans(local(2026, 3, 23, 0), local(2026, 3, 30, 0))
    assert week == [Span(local(2026, 3, 23, 0), local(2026, 3, 30, 0))]
    assert cal.break_spans(local(2026, 3, 23, 0), local(2026, 3, 30, 0)) == []


def test_every_instant_of_a_year_is_in_exactly_one_shift(calendar: ShiftCalendar) -> None:
    # Three 8 h shifts cover the clock: scheduled time over a year equals the year, DST included.
    start, end = local(2026, 1, 1, 0), local(2027, 1, 1, 0)
    assert calendar.scheduled_spans(start, end) == [Span(start, end)]
    shifts = calendar.shifts_between(start, end)
    assert all(a.end == b.start for a, b in pairwise(shifts))


# ---------------------------------------------------------------- one rule: no two shifts at once


def overlap_words(shifts: list[ShiftConfig]) -> list[str]:
    return [f"{overlap.shift.name} {overlap.why()}" for overlap in shift_overlaps(shifts)]


def test_three_shifts_that_join_do_not_overlap() -> None:
    assert overlap_words(list(THREE_SHIFTS)) == []
    assert overlap_words([ShiftConfig("All day", "00:00", "00:00")]) == []  # 24 h each day: one day joins the next


def test_an_overlap_names_both_shifts_and_the_first_day_it_happens() -> None:
    shifts = [ShiftConfig("Early", "06:00", "14:00", days=("wed", "thu")), ShiftConfig("Late", "13:30", "22:00")]
    assert overlap_words(shifts) == ["Late overlaps shift Early (06:00-14:00) on wed"]  # once, not for thu again


def test_overlaps_across_midnight_and_the_week_end() -> None:
    night = ShiftConfig("Night", "22:00", "06:30", days=("sun",))
    assert overlap_words([ShiftConfig("Early", "06:00", "14:00", days=("mon",)), night]) == [
        "Early overlaps shift Night (22:00-06:30) on mon"]
    assert overlap_words([ShiftConfig("Early", "06:00", "14:00", days=("tue",)), night]) == []


def test_a_long_shift_is_compared_with_every_shift_inside_it_not_only_the_next() -> None:
    shifts = [ShiftConfig("Long", "06:00", "22:00"), ShiftConfig("A", "08:00", "10:00"),
              ShiftConfig("B", "12:00", "14:00")]
    assert overlap_words(shifts) == ["A overlaps shift Long (06:00-22:00) on mon",
                                     "B overlaps shift Long (06:00-22:00) on mon"]


def test_two_shifts_starting_together_overlap_the_first_given() -> None:
    shifts = [ShiftConfig("Early", "06:00", "14:00"), ShiftConfig("Früh", "06:00", "12:00")]
    assert overlap_words(shifts) == ["Früh overlaps shift Early (06:00-14:00) on mon"]


_WALL_TIMES = st.integers(0, 47).map(lambda half_hours: f"{half_hours // 2:02d}:{half_hours % 2 * 30:02d}")
_SHIFTS = st.lists(st.tuples(_WALL_TIMES, _WALL_TIMES, st.sets(st.sampled_from(WEEKDAYS), min_size=1)),
                   min_size=1, max_size=4)


@settings(max_examples=300, deadline=None)
@given(_SHIFTS, st.sampled_from([local(2026, 1, 12), local(2026, 3, 23), local(2026, 10, 19)]))
def test_the_rule_holds_exactly_when_the_calendar_has_no_instant_in_two_shifts(
        raw: list[tuple[str, str, set[str]]], monday: float) -> None:
    # Weeks without a DST change, and the weeks of both changes (the spring night is an hour short).
    shifts = [ShiftConfig(f"S{n}", start, end, days=tuple(d for d in WEEKDAYS if d in days))
              for n, (start, end, days) in enumerate(raw)]
    occurrences = ShiftCalendar(shifts, "Europe/Berlin").shifts_between(monday, monday + 8 * 86400)
    clash = any(a.end > b.start for a, b in itertools.combinations(occurrences, 2) if a.start <= b.start)
    if not shift_overlaps(shifts):
        assert not clash
    elif monday == local(2026, 1, 12):  # a wall-clock overlap is an overlap in time, away from the gap
        assert clash
