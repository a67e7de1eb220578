"""Cell parsers: numbers, durations, rates, ids, dates and the plant's DST edges."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from oee_tui.imports import values

BERLIN = values.PlantClock(ZoneInfo("Europe/Berlin"))


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(("raw", "comma", "expected"), [
    (" 2 500 ", False, 2500.0),
    ("2\u00a0500", True, 2500.0),
    ("1,234.5", False, 1234.5),
    ("2.500,5", True, 2500.5),
    ("2,5", True, 2.5),
    ("2.500", True, 2500.0),
    ("2,500", False, 2500.0),
    ("-3", False, -3.0),
    (12, False, 12.0),
    (1.5, True, 1.5),
])
def test_numbers(raw: object, comma: bool, expected: float) -> None:
    assert values.parse_number(raw, comma) == expected


@pytest.mark.parametrize(("raw", "comma", "why"), [
    ("2,5", False, "uses a decimal comma, but the numbers in this file use a decimal point"),
    ("2.5", True, "uses a decimal point, but the numbers in this file use a decimal comma"),
    ("abc", False, "is not a number"),
    ("", False, "is empty; a number is needed"),
    (True, False, "is not a number"),
])
def test_number_errors(raw: object, comma: bool, why: str) -> None:
    with pytest.raises(ValueError) as caught:
        values.parse_number(raw, comma)
    assert str(caught.value) == why


def test_decimal_comma_detected_from_the_values_that_tell() -> None:
    assert values.detect_decimal_comma(["2.500", "1,5", "3"]) is True
    assert values.detect_decimal_comma(["2,500", "1.5"]) is False
    # Nothing tells: the caller's default (True for ;-separated CSV) decides.
    assert values.detect_decimal_comma(["2.500", "7"], default=True) is True
    assert values.detect_decimal_comma(["2.500", "7"]) is False


def test_counts() -> None:
    assert values.parse_count(" 2 500 ") == 2500
    with pytest.raises(ValueError, match=r"^must be a whole number of pieces$"):
        values.parse_count("2.5")
    with pytest.raises(ValueError, match=r"^must not be negative$"):
        values.parse_count("-1")


@pytest.mark.parametrize(("raw", "expected"), [
    ("90", 90.0), ("1,5", 1.5), ("1:30", 90.0), ("0:01:30", 90.0), ("2 min", 120.0), ("1,5 s", 1.5),
    (time(0, 1, 30), 90.0), (timedelta(seconds=4), 4.0), (2.4, 2.4),
])
def test_durations(raw: object, expected: float) -> None:
    assert values.parse_duration_s(raw, decimal_comma=True) == pytest.approx(expected)


def test_duration_errors() -> None:
    with pytest.raises(ValueError) as caught:
        values.parse_duration_s("5 parsecs")
    assert str(caught.value) == "has an unknown unit 'parsecs'; use s, min or h, or mm:ss"
    with pytest.raises(ValueError) as caught:
        values.parse_duration_s("fast")
    assert str(caught.value) == "is not a duration; write seconds (90), mm:ss (1:30) or with a unit (2 min)"


@pytest.mark.parametrize(("raw", "cycle"), [
    ("3600/h", 1.0), ("60 /min", 1.0), ("2 pcs/s", 0.5), ("1800 per hour", 2.0), (7200, 0.5), ("1.800/h", 2.0),
])
def test_rates_become_cycle_times(raw: object, cycle: float) -> None:
    assert values.parse_rate_to_cycle_s(raw, decimal_comma=True) == pytest.approx(cycle)


def test_rate_errors() -> None:
    with pytest.raises(ValueError, match=r"^must be greater than 0$"):
        values.parse_rate_to_cycle_s("0/h")


def test_ids_keep_leading_zeros() -> None:
    assert values.parse_id(" 00042 ") == "00042"
    assert values.parse_id(4711.0) == "4711"
    with pytest.raises(ValueError) as caught:
        values.parse_id(datetime(2026, 3, 1))
    assert str(caught.value) == "is a date, not an id; format the column as text in the spreadsheet"


@pytest.mark.parametrize(("raw", "day_first", "expected"), [
    ("2026-03-02 06:00", None, utc(2026, 3, 2, 5, 0)),
    ("2026-03-02T06:00:00+00:00", None, utc(2026, 3, 2, 6, 0)),
    ("2026-03-02 06:00Z", None, utc(2026, 3, 2, 6, 0)),
    ("02.03.2026 06:00", None, utc(2026, 3, 2, 5, 0)),
    ("02/03/2026 06:00", True, utc(2026, 3, 2, 5, 0)),
    ("03/02/2026 06:00", False, utc(2026, 3, 2, 5, 0)),
    ("13/03/2026", None, utc(2026, 3, 12, 23, 0)),
    ("07/07/2026 08:00", None, utc(2026, 7, 7, 6, 0)),
    (46083.25, None, utc(2026, 3, 2, 5, 0)),
    ("46083.25", None, utc(2026, 3, 2, 5, 0)),
    (datetime(2026, 7, 1, 8, 0), None, utc(2026, 7, 1, 6, 0)),
])
def test_dates_in_the_plant_time_zone(raw: object, day_first: bool | None, expected: float) -> None:
    assert values.parse_datetime_utc(raw, day_first, BERLIN) == expected


def test_day_first_decided_per_file() -> None:
    assert values.detect_day_first(["01/02/2026", "25/02/2026"]) == {("/", 4): True}
    assert values.detect_day_first(["01/02/2026", "02/25/2026"]) == {("/", 4): False}
    assert values.detect_day_first(["01/02/2026", "03/04/2026"]) == {}


def test_a_date_decides_only_for_dates_written_like_it() -> None:
    # Dotted dates are day-first by convention and say nothing of slashed ones; a two-digit year or a dash
    # is another way of writing, maybe another hand.
    assert values.detect_day_first(["12/07/2026", "13.07.2026", "25/06/26", "13-07-2026"]) == {
        ("/", 2): True, ("-", 4): True}
    order = values.detect_day_first(["12/07/2026", "25/06/26"])
    with pytest.raises(ValueError, match="is ambiguous: no date written like it"):
        values.parse_datetime_utc("12/07/2026", order, BERLIN)
    assert values.parse_datetime_utc("12/07/26", order, BERLIN) == utc(2026, 7, 11, 22, 0)
    # Given by the planner (--date-format), the order holds for every date, and one that cannot follow it fails.
    assert values.parse_datetime_utc("12/07/2026", False, BERLIN) == utc(2026, 12, 6, 23, 0)
    with pytest.raises(ValueError) as caught:
        values.parse_datetime_utc("13/07/2026", False, BERLIN)
    assert str(caught.value) == "cannot be a date read month/day/year, as --date-format says"
    assert values.needs_date_order("01/02/2026") and not values.needs_date_order("01.02.2026")


@pytest.mark.parametrize(("raw", "day_first", "why"), [
    ("03/04/2026 06:00", None,
     "is ambiguous: no date written like it in this file tells whether it is day/month or month/day; write dates "
     "as yyyy-mm-dd (or give oee import --date-format)"),
    ("02/25/2026", {("/", 4): True}, "cannot be a date: the other dates in this file are day/month/year"),
    ("31.02.2026", None, "is not a valid date (day is out of range for month)"),
    ("next monday", None, "is not a date; write yyyy-mm-dd hh:mm, dd.mm.yyyy hh:mm or dd/mm/yyyy hh:mm"),
    (123, None, "is not a date: as an Excel date serial it would be outside the years 1954 to 2119"),
    ("2026-03-29 02:30", None,
     "does not exist in Europe/Berlin: the clocks jump forward over it (spring DST change); fix the time or add "
     "the UTC offset, e.g. +01:00"),
    ("25.10.2026 02:30", None,
     "is ambiguous in Europe/Berlin: it happens twice when the clocks go back (autumn DST change); add the UTC "
     "offset, e.g. +02:00 for the first or +01:00 for the second"),
])
def test_date_errors(raw: object, day_first: values.DateOrder, why: str) -> None:
    with pytest.raises(ValueError) as caught:
        values.parse_datetime_utc(raw, day_first, BERLIN)
    assert str(caught.value) == why


def test_times_around_the_dst_changes_that_do_exist() -> None:
    assert values.parse_datetime_utc("2026-03-29 01:59", None, BERLIN) == utc(2026, 3, 29, 0, 59)
    assert values.parse_datetime_utc("2026-03-29 03:00", None, BERLIN) == utc(2026, 3, 29, 1, 0)
    assert values.parse_datetime_utc("2026-10-25 01:59", None, BERLIN) == utc(2026, 10, 24, 23, 59)
    assert values.parse_datetime_utc("2026-10-25 03:00", None, BERLIN) == utc(2026, 10, 25, 2, 0)
    assert values.parse_datetime_utc("2026-12-24 12:00", None, BERLIN) == utc(2026, 12, 24, 11, 0)


def test_an_offset_settles_the_autumn_fold() -> None:
    first = values.parse_datetime_utc("2026-10-25 02:30+02:00", None, BERLIN)
    second = values.parse_datetime_utc("2026-10-25 02:30+01:00", None, BERLIN)
    assert second - first == 3600


@pytest.mark.parametrize(("raw", "expected"), [
    ("6:00", "06:00"), ("22.00", "22:00"), (time(14, 0), "14:00"), (0.25, "06:00"), ("24:00", "00:00"),
])
def test_time_of_day(raw: object, expected: str) -> None:
    assert values.parse_time_of_day(raw) == expected


def test_booleans() -> None:
    assert values.parse_bool("Ja") is True
    assert values.parse_bool("no") is False
    with pytest.raises(ValueError, match=r"^must be yes or no$"):
        values.parse_bool("maybe")
