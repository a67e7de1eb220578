"""Shift calendar: local-time shift patterns turned into UTC spans.

Shifts are configured in the plant's wall-clock time, but everything the
engine stores and compares is POSIX seconds (UTC). The conversion goes through
zoneinfo for every occurrence, so a night shift across the spring-forward night
is one hour shorter and across the fall-back night one hour longer, exactly as
the people on it experience it.

Wall times that do not exist (inside the spring gap) are resolved with fold=0,
which zoneinfo maps with the offset in force *before* the change, i.e. forward
(02:30 becomes 03:30 summer time). Ambiguous wall times (the repeated hour in
autumn) also take fold=0, the first occurrence. Using one rule for every
conversion keeps consecutive shifts contiguous: the end of one and the start of
the next are the same wall time and therefore the same instant.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from oee_tui.config import ShiftConfig
from oee_tui.model import WEEKDAYS, ShiftInstance, Span

DEFAULT_SHIFT_NAME = "Day"
# How far back current_or_last() looks for a finished shift: a weekly pattern
# always has one within 7 days; the 8th day covers a shift that crosses midnight.
LOOKBACK_DAYS = 8


@dataclass(frozen=True, slots=True)
class _Pattern:
    """One configured shift, parsed once: wall times and the weekdays it starts on."""

    name: str
    start: time
    end: time
    weekdays: frozenset[int]  # date.weekday() numbers, Monday = 0
    breaks: tuple[tuple[time, time], ...]


def _parse_hhmm(text: str) -> time:
    hours, _, minutes = text.partition(":")
    return time(int(hours), int(minutes))


class ShiftCalendar:
    """Answers "which shift is it" and "what time is scheduled" for UTC instants.

    With no shifts configured the plant is treated as running 24/7 and each local
    calendar day is one shift named "Day" (00:00 to 24:00 local), so reports and
    the live view always have a window to work on.
    """

    def __init__(self, shifts: Sequence[ShiftConfig], timezone: str) -> None:
        self.timezone = timezone
        self._tz = ZoneInfo(timezone)
        midnight = time(0, 0)
        if shifts:
            self._patterns = tuple(
                _Pattern(
                    name=s.name,
                    start=_parse_hhmm(s.start),
                    end=_parse_hhmm(s.end),
                    weekdays=frozenset(WEEKDAYS.index(d) for d in s.days),
                    breaks=tuple((_parse_hhmm(b.start), _parse_hhmm(b.end)) for b in s.breaks),
                )
                for s in shifts
            )
        else:
            # end == start means "the next day", so 00:00-00:00 is a full local day.
            self._patterns = (_Pattern(DEFAULT_SHIFT_NAME, midnight, midnight, frozenset(range(7)), ()),)
        # Occurrences are recomputed for every tick of the live view; zoneinfo
        # conversions are cheap but not free, so remember each one.
        self._cache: dict[tuple[int, date], ShiftInstance | None] = {}

    @property
    def names(self) -> tuple[str, ...]:
        """The shifts' names, in the order given ("Day" alone with no shifts configured)."""
        return tuple(pattern.name for pattern in self._patterns)

    # ------------------------------------------------------------ conversion

    def _instant(self, day: date, wall: time) -> float:
        # fold=0 for both gap and ambiguous wall times; see the module docstring.
        return datetime.combine(day, wall, tzinfo=self._tz).timestamp()

    def _local_date(self, ts: float) -> date:
        return datetime.fromtimestamp(ts, self._tz).date()

    def _occurrence(self, index: int, day: date) -> ShiftInstance | None:
        """The occurrence of pattern `index` that starts on local date `day`, if it runs that day."""
        key = (index, day)
        if key in self._cache:
            return self._cache[key]
        pattern = self._patterns[index]
        instance: ShiftInstance | None = None
        if day.weekday() in pattern.weekdays:
            start = self._instant(day, pattern.start)
            end_day = day + timedelta(days=1) if pattern.end <= pattern.start else day
            end = self._instant(end_day, pattern.end)
            # A shift entirely inside a spring gap collapses to nothing; it is not worked.
            if end > start:
                breaks: list[Span] = []
                for break_start, break_end in pattern.breaks:
                    # A break earlier in the day than the shift start belongs to the
                    # shift's second calendar day (the 02:00 break of a night shift).
                    b_day = day + timedelta(days=1) if break_start < pattern.start else day
                    e_day = b_day + timedelta(days=1) if break_end <= break_start else b_day
                    b0 = max(start, self._instant(b_day, break_start))
                    b1 = min(end, self._instant(e_day, break_end))
                    if b1 > b0:  # a break outside its shift is a config slip; it covers nothing
                        breaks.append(Span(b0, b1))
                breaks.sort(key=lambda s: s.start)
                instance = ShiftInstance(pattern.name, day.isoformat(), start, end, tuple(breaks))
        self._cache[key] = instance
        return instance

    # ------------------------------------------------------------ queries

    def shifts_between(self, start: float, end: float) -> list[ShiftInstance]:
        """All shift occurrences overlapping [start, end), sorted by start (then name)."""
        if end <= start:
            return []
        # An occurrence lasts at most 25 h and starts on its own local date, so
        # anything overlapping the window started at most two local days earlier.
        day = self._local_date(start) - timedelta(days=2)
        last = self._local_date(end)
        out: list[ShiftInstance] = []
        while day <= last:
            for index in range(len(self._patterns)):
                instance = self._occurrence(index, day)
                if instance is not None and instance.start < end and instance.end > start:
                    out.append(instance)
            day += timedelta(days=1)
        out.sort(key=lambda s: (s.start, s.name))
        return out

    def shift_at(self, ts: float) -> ShiftInstance | None:
        """The shift with start <= ts < end, or None between shifts.

        The config, the shifts import and the stored patterns all refuse shifts that overlap
        (oee_tui.model.shift_overlaps). Should a calendar be built of such shifts anyway, the one
        that started last wins: it is the shift that has taken over the machines.
        """
        candidates = [s for s in self.shifts_between(ts, ts + 1e-6) if s.start <= ts < s.end]
        return candidates[-1] if candidates else None

    def find(self, name: str, local_date: str) -> ShiftInstance | None:
        """The occurrence of shift `name` starting on local date `local_date` (ISO), or None."""
        try:
            day = date.fromisoformat(local_date)
        except ValueError:
            return None
        for index, pattern in enumerate(self._patterns):
            if pattern.name == name:
                return self._occurrence(index, day)
        return None

    def current_or_last(self, ts: float) -> ShiftInstance:
        """The shift at ts; between shifts, the one that ended most recently (within 8 days)."""
        current = self.shift_at(ts)
        if current is not None:
            return current
        ended = [s for s in self.shifts_between(ts - LOOKBACK_DAYS * 86400.0, ts) if s.end <= ts]
        if not ended:
            raise LookupError(f"no shift ran in the {LOOKBACK_DAYS} days before {datetime.fromtimestamp(ts, self._tz)}")
        return max(ended, key=lambda s: (s.end, s.start))

    def scheduled_spans(self, start: float, end: float) -> list[Span]:
        """Union of the shift spans inside [start, end), merged and sorted."""
        return _merge((max(s.start, start), min(s.end, end)) for s in self.shifts_between(start, end))

    def break_spans(self, start: float, end: float) -> list[Span]:
        """Breaks of the shifts inside [start, end), clipped to it, merged and sorted."""
        return _merge(
            (max(b.start, start), min(b.end, end))
            for s in self.shifts_between(start, end)
            for b in s.breaks
        )

    def planned_spans(self, start: float, end: float) -> list[Span]:
        """The time in [start, end) that the calendar makes planned, whatever a machine does: its
        breaks and the time outside every shift; merged and sorted."""
        gaps: list[tuple[float, float]] = []
        cursor = start
        for shift in self.scheduled_spans(start, end):
            gaps.append((cursor, shift.start))
            cursor = shift.end
        gaps.append((cursor, end))
        return _merge([*gaps, *((b.start, b.end) for b in self.break_spans(start, end))])


def _merge(pairs: Iterable[tuple[float, float]]) -> list[Span]:
    out: list[Span] = []
    for a, b in sorted(p for p in pairs if p[1] > p[0]):
        if out and a <= out[-1].end:
            if b > out[-1].end:
                out[-1] = Span(out[-1].start, b)
        else:
            out.append(Span(a, b))
    return out
