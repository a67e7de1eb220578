"""Cell value parsers for planning files, with the locale sense people's files need.

Every parser takes one raw cell (whatever the reader produced: str, int, float,
datetime, time, timedelta or None) and returns a typed value or raises
`ValueError` whose message is the *why* of a problem, worded for a planner
("is not a number", "does not exist in Europe/Berlin: ..."). The caller adds
file, sheet, row and column.

Two things cannot be decided from one cell and are decided per file first:
whether numbers use a decimal comma (`detect_decimal_comma`) and whether
slashed dates are day-first or month-first (`detect_day_first`). Guessing either
per cell would read `03/04/2026` as March in one row and April in the next. Dates
decide the order only for dates written the same way (`date_format`): a file mixing
`13.07.2026`, `25/06/26` and `12/07/2026` has more than one hand in it, and the first
two say nothing about the third. A planner's `--date-format` settles every date.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Final
from zoneinfo import ZoneInfo

from oee_tui.model import WEEKDAYS

# Excel's day 0 is 1899-12-30 (it counts the non-existent 1900-02-29, so the epoch is shifted one day).
EXCEL_EPOCH: Final = datetime(1899, 12, 30)
# Serials outside 1954..2119 are far more likely a typo or a count in the wrong column than a date.
_SERIAL_MIN: Final = 20_000.0
_SERIAL_MAX: Final = 80_000.0

# Spaces people (and Excel's "format as thousands") put inside numbers: normal, no-break, narrow no-break, thin.
_NUMBER_SPACES: Final = re.compile(r"[\s\u00a0\u202f\u2009']")
_PLAIN_NUMBER: Final = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_GROUPED_POINT: Final = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")  # 1,234,567.5
_GROUPED_COMMA: Final = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+(,\d*)?$")  # 1.234.567,5
_DECIMAL_COMMA: Final = re.compile(r"^[+-]?\d*,\d+$")  # 2,5 / ,5


def _clean(value: object) -> str:
    return str(value).strip()


def is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# ---------------------------------------------------------------- numbers

def number_evidence(text: str) -> bool | None:
    """What one number-as-text says about the file's decimal mark: True comma, False point, None nothing.

    `2,5` and `1.234,5` say comma; `2.5` and `1,234.5` say point. `2,500` and `2.500` say nothing:
    either a thousands group or three decimals.
    """
    text = _NUMBER_SPACES.sub("", text)
    if "," in text and "." in text:
        return text.rfind(",") > text.rfind(".")
    for mark, says_comma in ((",", True), (".", False)):
        if text.count(mark) == 1:
            whole, frac = text.split(mark)
            if len(frac) != 3 or not whole.lstrip("+-"):
                return says_comma
            return None
        if text.count(mark) > 1:
            return not says_comma  # 1.234.567 can only be grouping
    return None


def detect_decimal_comma(texts: Iterable[str], default: bool = False) -> bool:
    """True when the file's numbers use a decimal comma, from the values that tell.

    `default` settles a file whose numbers never tell (the reader passes True for `;`-separated
    CSV, which is what Excel writes where the comma is the decimal mark). Where values disagree,
    the majority wins and each minority value fails in `parse_number` with its own problem.
    """
    comma = point = 0
    for text in texts:
        evidence = number_evidence(text)
        if evidence is True:
            comma += 1
        elif evidence is False:
            point += 1
    if comma == point:
        return default
    return comma > point


def parse_number(value: object, decimal_comma: bool = False) -> float:
    """A number from a cell: Excel numbers as they are; text with spaces, thousands groups, either decimal mark."""
    if isinstance(value, bool):
        raise ValueError("is not a number")
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("is not a finite number")
        return float(value)
    if not isinstance(value, str):
        raise ValueError("is not a number")
    text = _NUMBER_SPACES.sub("", value)
    if not text:
        raise ValueError("is empty; a number is needed")
    if _PLAIN_NUMBER.match(text) and not decimal_comma:
        return float(text)
    if decimal_comma:
        if _GROUPED_COMMA.match(text) or _DECIMAL_COMMA.match(text) or re.fullmatch(r"[+-]?\d+", text):
            return float(text.replace(".", "").replace(",", "."))
        if "." in text and "," not in text and number_evidence(text) is False:
            raise ValueError("uses a decimal point, but the numbers in this file use a decimal comma")
    else:
        if _GROUPED_POINT.match(text):
            return float(text.replace(",", ""))
        if _DECIMAL_COMMA.match(text) or _GROUPED_COMMA.match(text):
            raise ValueError("uses a decimal comma, but the numbers in this file use a decimal point")
    raise ValueError("is not a number")


def parse_count(value: object, decimal_comma: bool = False) -> int:
    """A whole, non-negative count of pieces."""
    number = parse_number(value, decimal_comma)
    if number != int(number):
        raise ValueError("must be a whole number of pieces")
    if number < 0:
        raise ValueError("must not be negative")
    return int(number)


# ---------------------------------------------------------------- durations and rates

_DURATION_UNITS: Final = {"s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
                          "ms": 0.001, "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0,
                          "h": 3600.0, "hr": 3600.0, "hour": 3600.0, "hours": 3600.0}
_CLOCK: Final = re.compile(r"^(\d+):([0-5]\d)(?::([0-5]\d)(?:[.,](\d+))?)?$")
_WITH_UNIT: Final = re.compile(r"^(.*\d)\s*([a-z]+)$")


def parse_duration_s(value: object, decimal_comma: bool = False) -> float:
    """Seconds from `90`, `1,5`, `90 s`, `2 min`, `mm:ss` (`1:30`) or `h:mm:ss` (`0:01:30`).

    Excel turns a typed `1:30` into a time of day (01:30:00) or a duration; both count as what
    Excel shows, h:mm:ss, because that is what the person saw when they checked the sheet.
    """
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, time):
        seconds = value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6
    elif isinstance(value, str) and (clock := _CLOCK.match(value.strip())):
        first, second, third, frac = clock.groups()
        if third is None:  # mm:ss, the way cycle times are written
            seconds = int(first) * 60 + int(second)
        else:
            seconds = int(first) * 3600 + int(second) * 60 + int(third) + float(f"0.{frac or 0}")
    elif isinstance(value, str) and (unit := _WITH_UNIT.match(value.strip().lower())):
        factor = _DURATION_UNITS.get(unit.group(2))
        if factor is None:
            raise ValueError(f"has an unknown unit {unit.group(2)!r}; use s, min or h, or mm:ss")
        seconds = parse_number(unit.group(1), decimal_comma) * factor
    else:
        try:
            seconds = parse_number(value, decimal_comma)
        except ValueError as exc:
            raise ValueError("is not a duration; write seconds (90), mm:ss (1:30) or with a unit (2 min)") from exc
    if seconds < 0:
        raise ValueError("must not be negative")
    return seconds


_RATE: Final = re.compile(r"^(.*?)\s*(?:[a-z]+\s*)?(?:/|per\s+)\s*(s|sec|second|min|minute|h|hr|hour)$")
_RATE_PER: Final = {"s": 1.0, "sec": 1.0, "second": 1.0, "min": 60.0, "minute": 60.0,
                    "h": 3600.0, "hr": 3600.0, "hour": 3600.0}


def parse_rate_to_cycle_s(value: object, decimal_comma: bool = False) -> float:
    """Ideal cycle time in seconds from a rate: `3600/h`, `60 /min`, `1 pcs/s`, `50 per hour`.

    A bare number is pieces per hour, the unit rate columns carry in planning sheets.
    """
    per = 3600.0
    if isinstance(value, str):
        text = value.strip().lower()
        match = _RATE.match(text)
        if match:
            value = match.group(1)
            per = _RATE_PER[match.group(2)]
    try:
        rate = parse_number(value, decimal_comma)
    except ValueError as exc:
        raise ValueError("is not a rate; write pieces per hour (3600), or with a unit: 3600/h, 60/min") from exc
    if rate <= 0:
        raise ValueError("must be greater than 0")
    return per / rate


# ---------------------------------------------------------------- ids and text

def parse_id(value: object) -> str:
    """An id as text. Leading zeros survive because the reader never turns text into numbers;
    an id Excel stored as a number (`4711.0`) becomes `4711`."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        raise ValueError("is a date, not an id; format the column as text in the spreadsheet")
    text = _clean(value)
    if not text:
        raise ValueError("is empty")
    return text


def parse_text(value: object) -> str:
    return _clean(value)


_TRUE: Final = {"yes", "y", "true", "1", "x", "ja", "j", "planned", "geplant", "oui", "si", "sí"}
_FALSE: Final = {"no", "n", "false", "0", "nein", "unplanned", "ungeplant", "non"}


def parse_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    text = _clean(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("must be yes or no")


# ---------------------------------------------------------------- dates and times

_ISO: Final = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6}))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$")
_LOCAL: Final = re.compile(
    r"^(\d{1,2})([./-])(\d{1,2})\2(\d{4}|\d{2})(?:[ T,]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*(Z|[+-]\d{2}:?\d{2})?$")


# How a slashed or dashed date is written: its separator and the digits of its year.
DateFormat = tuple[str, int]
# A file's day/month order: one for every date (given by the planner), or per way of writing a date
# (detected: only the formats some date decides are in it), or None (nothing decides).
DateOrder = bool | dict[DateFormat, bool] | None


def date_format(text: str) -> DateFormat | None:
    """`12/07/2026` -> ('/', 4); `12-07-26` -> ('-', 2); None for a date that is not slashed or dashed."""
    match = _LOCAL.match(text.strip())
    if not match or match.group(2) == ".":
        return None
    return match.group(2), len(match.group(4))


def date_order_evidence(text: str) -> bool | None:
    """What one date-as-text says about day/month order: True day-first, False month-first, None nothing."""
    match = _LOCAL.match(text.strip())
    if not match:
        return None
    if match.group(2) == ".":
        return True  # dotted dates are day-first wherever they are written (de, ru, pl, ...)
    first, second = int(match.group(1)), int(match.group(3))
    if first > 12 >= second:
        return True
    if second > 12 >= first:
        return False
    return None


def needs_date_order(text: str) -> bool:
    """True for a slashed or dashed date whose day and month could be swapped (`03/04/2026`)."""
    match = _LOCAL.match(text.strip())
    return match is not None and match.group(2) != "." and date_order_evidence(text) is None \
        and match.group(1) != match.group(3)


def detect_day_first(texts: Iterable[str]) -> dict[DateFormat, bool]:
    """Per way of writing a date (`date_format`), day-first (True) or month-first (False), from the
    dates of that format that can only be read one way.

    A format no date decides is left out, so its dates like `03/04/2026` are reported, not guessed.
    Dotted dates decide nothing: they are day-first by convention, whoever writes slashed dates
    in the same file. With evidence both ways the majority wins; the minority values then fail
    as impossible dates.
    """
    votes: dict[DateFormat, list[int]] = {}
    for text in texts:
        evidence = date_order_evidence(text)
        if evidence is None:
            continue
        written = date_format(text)
        if written is None:
            continue
        votes.setdefault(written, [0, 0])[0 if evidence else 1] += 1
    return {written: day >= month for written, (day, month) in votes.items()}


def _offset(text: str | None) -> timezone | None:
    if text is None:
        return None
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def parse_naive_datetime(value: object, day_first: DateOrder) -> tuple[datetime, timezone | None]:
    """A wall-clock datetime and the UTC offset the cell carried, if any.

    `day_first`: the file's order (`DateOrder`); where it says nothing for a date's format, an
    ambiguous slashed date fails.
    """
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            # To UTC: 09:00+02:00 is 07:00 UTC, so the offset is taken off, not added.
            return value.replace(tzinfo=None) - (value.utcoffset() or timedelta()), UTC
        return value, None
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day), None
    if isinstance(value, bool):
        raise ValueError("is not a date")
    if isinstance(value, int | float):
        return _from_serial(float(value)), None
    if not isinstance(value, str):
        raise ValueError("is not a date")
    text = value.strip()
    try:
        if match := _ISO.match(text):
            year, month, day, hour, minute, second, frac, offset = match.groups()
            micro = int((frac or "0").ljust(6, "0"))
            return datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                            int(second or 0), micro), _offset(offset)
        if match := _LOCAL.match(text):
            first, sep, second_part, year, hour, minute, second, offset = match.groups()
            # The order that dates written like this one follow in this file, if anything says.
            order = day_first.get((sep, len(year))) if isinstance(day_first, dict) else day_first
            if sep == ".":
                day, month = int(first), int(second_part)
            elif date_order_evidence(text) is not None:
                if date_order_evidence(text) != order and order is not None:
                    written = "day/month/year" if order else "month/day/year"
                    if isinstance(day_first, bool):
                        raise ValueError(f"cannot be a date read {written}, as --date-format says")
                    raise ValueError(f"cannot be a date: the other dates in this file are {written}")
                day_first_here = bool(date_order_evidence(text))
                day, month = (int(first), int(second_part)) if day_first_here else (int(second_part), int(first))
            elif first == second_part:
                day = month = int(first)
            elif order is None:
                raise ValueError("is ambiguous: no date written like it in this file tells whether it is day/month "
                                 "or month/day; write dates as yyyy-mm-dd (or give oee import --date-format)")
            else:
                day, month = (int(first), int(second_part)) if order else (int(second_part), int(first))
            full_year = int(year) + 2000 if len(year) == 2 else int(year)
            return datetime(full_year, month, day, int(hour or 0), int(minute or 0), int(second or 0)), \
                _offset(offset)
    except ValueError as exc:
        if "ambiguous" in str(exc) or "cannot be a date" in str(exc):
            raise
        raise ValueError(f"is not a valid date ({exc})") from exc
    try:
        serial = parse_number(text)
    except ValueError:
        raise ValueError("is not a date; write yyyy-mm-dd hh:mm, dd.mm.yyyy hh:mm or dd/mm/yyyy hh:mm") from None
    return _from_serial(serial), None


def _from_serial(serial: float) -> datetime:
    if not _SERIAL_MIN <= serial <= _SERIAL_MAX:
        raise ValueError("is not a date: as an Excel date serial it would be outside the years 1954 to 2119")
    # Round to the millisecond: serials are binary fractions of a day, 06:00 is 0.25 but 06:01 is not exact.
    return EXCEL_EPOCH + timedelta(milliseconds=round(serial * 86_400_000))


_POSIX_EPOCH: Final = datetime(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class PlantClock:
    """Turns the plant's wall-clock times into UTC seconds, refusing times DST makes meaningless."""

    tz: ZoneInfo
    # Local date -> its UTC offset in seconds, or None on a day the offset changes. Two zoneinfo
    # lookups per cell were a fifth of the validation time of a 100k-row log; days repeat.
    _day_offsets: dict[date, float | None] = field(default_factory=dict, compare=False, repr=False)

    def to_utc(self, naive: datetime, offset: timezone | None = None) -> float:
        if offset is not None:
            return naive.replace(tzinfo=offset).timestamp()
        day = naive.date()
        if day in self._day_offsets:
            fixed = self._day_offsets[day]
        else:
            fixed = self._day_offsets[day] = self._steady_offset(day)
        if fixed is not None:
            return (naive - _POSIX_EPOCH).total_seconds() - fixed
        first = naive.replace(tzinfo=self.tz)
        second = naive.replace(tzinfo=self.tz, fold=1)
        if first.utcoffset() != second.utcoffset():
            back = first.astimezone(UTC).astimezone(self.tz).replace(tzinfo=None)
            if back != naive:
                raise ValueError(f"does not exist in {self.tz.key}: the clocks jump forward over it (spring DST "
                                 "change); fix the time or add the UTC offset, e.g. +01:00")
            raise ValueError(f"is ambiguous in {self.tz.key}: it happens twice when the clocks go back (autumn DST "
                             "change); add the UTC offset, e.g. +02:00 for the first or +01:00 for the second")
        return first.timestamp()

    def _steady_offset(self, day: date) -> float | None:
        """The day's one UTC offset, or None if it changes within the day (then each time is checked)."""
        start = datetime(day.year, day.month, day.day)
        offsets = set()
        for moment in (start, start + timedelta(days=1)):
            for fold in (0, 1):
                utcoffset = moment.replace(tzinfo=self.tz, fold=fold).utcoffset()
                offsets.add(utcoffset.total_seconds() if utcoffset is not None else 0.0)
        return offsets.pop() if len(offsets) == 1 else None


def parse_datetime_utc(value: object, day_first: DateOrder, clock: PlantClock) -> float:
    naive, offset = parse_naive_datetime(value, day_first)
    return clock.to_utc(naive, offset)


_HHMM_TEXT: Final = re.compile(r"^(\d{1,2})[:.h](\d{2})(?::00)?$")


def parse_time_of_day(value: object) -> str:
    """A local wall time as `HH:MM`, the form ShiftConfig keeps; `24:00` is accepted as midnight."""
    if isinstance(value, datetime):
        value = value.time()
    if isinstance(value, time):
        if value.second or value.microsecond:
            raise ValueError("must be whole minutes (HH:MM)")
        return f"{value.hour:02d}:{value.minute:02d}"
    if isinstance(value, float | int) and not isinstance(value, bool) and 0 <= value < 1:
        minutes = round(value * 1440)  # Excel keeps a time of day as a fraction of a day
        return f"{minutes // 60:02d}:{minutes % 60:02d}"
    match = _HHMM_TEXT.match(_clean(value))
    if not match:
        raise ValueError("is not a time of day; write HH:MM, e.g. 06:00")
    hour, minute = int(match.group(1)), int(match.group(2))
    if (hour, minute) == (24, 0):
        return "00:00"
    if hour > 23 or minute > 59:
        raise ValueError("is not a time of day; hours go from 00 to 23 and minutes from 00 to 59")
    return f"{hour:02d}:{minute:02d}"


_DAY_NAMES: Final = {
    **{day: day for day in WEEKDAYS},
    "monday": "mon", "tuesday": "tue", "wednesday": "wed", "thursday": "thu", "friday": "fri",
    "saturday": "sat", "sunday": "sun", "mo": "mon", "di": "tue", "mi": "wed", "do": "thu", "fr": "fri",
    "sa": "sat", "so": "sun", "montag": "mon", "dienstag": "tue", "mittwoch": "wed", "donnerstag": "thu",
    "freitag": "fri", "samstag": "sat", "sonntag": "sun", "tu": "tue", "we": "wed", "th": "thu", "su": "sun",
}


def parse_days(value: object) -> tuple[str, ...]:
    """`mon-fri`, `Mo, Di, Mi`, `daily`, `sat,sun` -> weekday names in week order."""
    text = str(value).strip().lower()
    if text in ("daily", "all", "every day", "täglich", "taeglich", "mon-sun"):
        return WEEKDAYS
    days: set[str] = set()
    for part in text.replace(";", ",").replace("/", ",").replace(" ", ",").split(","):
        part = part.strip().rstrip(".")
        if not part:
            continue
        first, dash, last = part.partition("-")
        if first not in _DAY_NAMES or (dash and last not in _DAY_NAMES):
            raise ValueError("is not a list of weekdays; write e.g. mon-fri or mon,wed,fri")
        lo = WEEKDAYS.index(_DAY_NAMES[first])
        hi = WEEKDAYS.index(_DAY_NAMES[last]) if dash else lo
        index = lo
        while True:  # a range may wrap the week: fri-mon
            days.add(WEEKDAYS[index])
            if index == hi:
                break
            index = (index + 1) % 7
    return tuple(day for day in WEEKDAYS if day in days)


def parse_breaks(value: object) -> tuple[tuple[str, str], ...]:
    """`09:30-09:45; 12:00-12:30` -> (("09:30", "09:45"), ("12:00", "12:30"))."""
    breaks = []
    for part in str(value).replace(",", ";").split(";"):
        part = part.strip()
        if not part:
            continue
        start, dash, end = part.replace("–", "-").partition("-")
        if not dash:
            raise ValueError("is not a list of breaks; write e.g. 09:30-09:45; 12:00-12:30")
        breaks.append((parse_time_of_day(start.strip()), parse_time_of_day(end.strip())))
    return tuple(breaks)
