"""Whole-file validation: every problem with file, sheet, row, column, value and why; no records then."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest

from oee_tui.config import Config
from oee_tui.drivers.registry import config_from_dict
from oee_tui.engine.oee.planning_rules import shift_config
from oee_tui.imports import (
    LoggedStop,
    Order,
    PlannedStop,
    ProductionRun,
    ProductRate,
    ReasonRecord,
    ShiftPattern,
    validate_file,
)
from oee_tui.model import Loss


@pytest.fixture
def config() -> Config:
    return config_from_dict({
        "site": {"name": "Test", "timezone": "Europe/Berlin"},
        "lines": [{"id": "L1"}, {"id": "L2"}],
        "machines": [
            {"id": "M1", "line": "L1", "ideal_cycle_time_s": 1.0, "product_cycle_times": {"A": 1.0, "B": 2.0}},
            {"id": "M2", "line": "L2", "ideal_cycle_time_s": 1.0},
        ],
    })


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def write_csv(path: Path, rows: list[list[object]], delimiter: str = ",", encoding: str = "utf-8") -> Path:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def messages(result: object) -> list[str]:
    return [str(problem) for problem in result.problems]  # type: ignore[attr-defined]


ORDER_HEADER = ["Order", "Product", "Machine", "Start", "End", "Qty"]


def test_a_clean_schedule_from_a_german_csv(tmp_path: Path, config: Config) -> None:
    path = write_csv(tmp_path / "plan.csv", [
        ["Auftrag", "Artikel", "Maschine", "Beginn", "Ende", "Menge"],
        ["00042", "A", "M1", "02.03.2026 06:00", "02.03.2026 08:00", "2.500"],
        ["00043", "B", "M1", "02.03.2026 08:00", "02.03.2026 09:30", "1.000,0"],
    ], delimiter=";", encoding="cp1252")
    result = validate_file("schedule", path, config)
    assert result.ok, messages(result)
    assert result.records == (
        Order("00042", "A", "M1", None, utc(2026, 3, 2, 5), utc(2026, 3, 2, 7), 2500, 2),
        Order("00043", "B", "M1", None, utc(2026, 3, 2, 7), utc(2026, 3, 2, 8, 30), 1000, 3),
    )


def test_every_schedule_problem_is_listed_and_nothing_is_kept(tmp_path: Path, config: Config) -> None:
    path = write_csv(tmp_path / "plan.csv", [
        ORDER_HEADER,
        ["1", "A", "M9", "2026-03-02 06:00", "2026-03-02 08:00", "10"],
        ["2", "Z", "M1", "2026-03-02 06:00", "2026-03-02 05:00", "10"],
        ["3", "A", "M1", "2026-03-02 06:00", "2026-03-02 08:00", "ten"],
        ["4", "A", "M1", "2026-03-02 06:00", "2026-03-02 08:00", "10"],
        ["5", "B", "M1", "2026-03-02 07:00", "2026-03-02 09:00", "10"],
        ["5", "B", "M2", "2026-03-02 07:00", "2026-03-02 09:00", "10"],
        ["6", "B", "M2", "2026-03-29 02:30", "2026-03-29 05:00", "10"],
        ["7", "", "M2", "2026-03-29 06:00", "2026-03-29 07:00", "10"],
        ["4", "A", "M1", "2026-03-02 06:00", "2026-03-02 08:00", "10"],
    ])
    result = validate_file("schedule", path, config)
    assert result.records == ()
    f = str(path)
    assert messages(result) == [
        f"{f}, row 2, column Machine: 'M9': is not a machine in the config; machines are M1, M2",
        f"{f}, row 3, column End: '2026-03-02 05:00': is before the start",
        f"{f}, row 3, column Product: 'Z': is not a known product (neither in the config nor "
        "imported); import the products first or fix the id",
        f"{f}, row 4, column Qty: 'ten': is not a number",
        f"{f}, row 6, column Start: '2026-03-02 07:00': overlaps order 4 in row 5 on machine M1 (which runs "
        "until 2026-03-02 08:00)",
        f"{f}, row 7, column Order: '5': is used twice: also in row 6",
        f"{f}, row 8, column Start: '2026-03-29 02:30': does not exist in Europe/Berlin: the clocks jump forward "
        "over it (spring DST change); fix the time or add the UTC offset, e.g. +01:00",
        f"{f}, row 9, column Product: is empty; this column is required",
        f"{f}, row 10: duplicates row 5",
    ]


def test_missing_columns_are_named_with_their_aliases(tmp_path: Path, config: Config) -> None:
    path = write_csv(tmp_path / "plan.csv", [["Order", "Product", "Start", "End"], ["1", "A", "x", "y"]])
    assert messages(validate_file("schedule", path, config)) == [
        f"{path}, row 1, column machine or line: column is missing; the file needs at least one of these, named one "
        "of (machine: machine id, machine, maschine, asset, equipment, workcenter, work center, work centre, "
        "resource, station, anlage, arbeitsplatz, ressource; line: line id, line, linie, production line, "
        "fertigungslinie)",
        f"{path}, row 1, column quantity: column is missing; name it one of: quantity, qty, planned quantity, "
        "target quantity, amount, pieces, pcs, menge, sollmenge, stueck, stück, order quantity",
    ]


def test_ambiguous_slashed_dates_are_reported_not_guessed(tmp_path: Path, config: Config) -> None:
    path = write_csv(tmp_path / "plan.csv", [
        ORDER_HEADER,
        ["1", "A", "M1", "03/04/2026 06:00", "03/04/2026 08:00", "10"],
        ["2", "A", "M1", "05/04/2026 06:00", "05/04/2026 08:00", "10"],
    ])
    problems = validate_file("schedule", path, config).problems
    assert [(p.row, p.column, p.value) for p in problems] == [
        (2, "End", "03/04/2026 08:00"), (2, "Start", "03/04/2026 06:00"),
        (3, "End", "05/04/2026 08:00"), (3, "Start", "05/04/2026 06:00")]
    assert problems[0].why == ("is ambiguous: no date written like it in this file tells whether it is day/month "
                               "or month/day; write dates as yyyy-mm-dd (or give oee import --date-format)")
    # One unambiguous date anywhere in the file settles the order for all of them.
    write_csv(path, [ORDER_HEADER,
                     ["1", "A", "M1", "03/04/2026 06:00", "03/04/2026 08:00", "10"],
                     ["2", "A", "M1", "05/04/2026 06:00", "13/04/2026 08:00", "10"]])
    result = validate_file("schedule", path, config)
    assert result.ok
    assert result.records[0].start_utc == utc(2026, 4, 3, 4)


def test_the_messy_workbook_validates(tmp_path: Path, config: Config) -> None:
    from tests.imports.test_reading import make_messy_workbook

    result = validate_file("schedule", make_messy_workbook(tmp_path / "plan.xlsx"), config)
    assert result.ok, messages(result)
    assert result.sheet == "Orders KW10"
    assert result.records == (
        Order("00042", "A", "M1", None, utc(2026, 3, 2, 5), utc(2026, 3, 2, 7), 100, 4),
        Order("00043", "B", "M1", None, utc(2026, 3, 2, 11), utc(2026, 3, 2, 13), 2500, 5),
    )


def test_problems_in_a_workbook_name_the_sheet(tmp_path: Path, config: Config) -> None:
    workbook = openpyxl.Workbook()
    workbook.active.title = "Notes"
    sheet = workbook.create_sheet("Log")
    sheet.append(["Machine", "Start", "End", "Total", "Rejects", "Reason"])
    sheet.append(["M1", datetime(2026, 3, 2, 6), datetime(2026, 3, 2, 8), 1000, 1200, None])
    workbook.save(tmp_path / "log.xlsx")
    assert messages(validate_file("production-log", tmp_path / "log.xlsx", config)) == [
        f"{tmp_path / 'log.xlsx'}, sheet Log, row 2, column Rejects: 1200: is more than the total count 1000"]


def test_production_log_runs_and_stops(tmp_path: Path, config: Config) -> None:
    path = write_csv(tmp_path / "log.csv", [
        ["Machine", "Type", "Product", "Start", "End", "Total", "Rejects", "Reason"],
        ["M1", "run", "A", "2026-03-02 06:00", "2026-03-02 08:00", "7 200", "12", ""],
        ["M1", "", "", "2026-03-02 08:00", "2026-03-02 08:20", "", "", "FAIL.MECH"],
        ["M1", "stop", "", "2026-03-02 08:10", "2026-03-02 08:30", "", "", "NOPE"],
        ["M1", "stop", "", "2026-03-02 08:15", "2026-03-02 08:25", "", "", "SETUP"],
        ["M2", "", "", "2026-03-02 08:15", "2026-03-02 08:25", "", "", ""],
    ])
    result = validate_file("production-log", path, config)
    assert messages(result) == [
        f"{path}, row 4, column Reason: 'NOPE': is not a reason code (in the config or imported); codes are "
        "BREAK, FAIL, FAIL.ELEC, FAIL.MECH, MATERIAL, MINOR, NO_ORDER, PM, SETUP",
        f"{path}, row 5, column Start: '2026-03-02 08:15': overlaps the stop in row 3 on machine M1 (which runs "
        "until 2026-03-02 08:20)",
        f"{path}, row 6, column Type: cannot tell a run from a stop: a run has a total count, a stop has a reason "
        "(or set the type column to run or stop)",
    ]
    write_csv(path, [["Machine", "Product", "Start", "End", "Total", "Rejects", "Reason"],
                     ["M1", "A", "2026-03-02 06:00", "2026-03-02 08:00", "7 200", "12", ""],
                     ["M1", "", "2026-03-02 08:00", "2026-03-02 08:20", "", "", "FAIL.MECH"]])
    assert validate_file("production-log", path, config).records == (
        ProductionRun("M1", "A", None, utc(2026, 3, 2, 5), utc(2026, 3, 2, 7), 7200, 12, 2),
        LoggedStop("M1", utc(2026, 3, 2, 7), utc(2026, 3, 2, 7, 20), "FAIL.MECH", 3),
    )


def test_products_with_rates_and_the_products_file_as_reference(tmp_path: Path, config: Config) -> None:
    products = write_csv(tmp_path / "products.csv", [
        ["Article", "Machine", "Cycle time (s)", "Rate", "Micro stop threshold"],
        ["C", "", "1,5", "", "2:00"],
        ["C", "M2", "", "3.600/h", ""],
        ["D", "M9", "2", "", ""],
        ["E", "", "2", "3600/h", ""],
        ["C", "", "3", "", ""],
    ], delimiter=";")
    result = validate_file("products", products, config)
    assert messages(result) == [
        f"{products}, row 4, column Machine: 'M9': is not a machine in the config; machines are M1, M2",
        f"{products}, row 5, column Rate: '3600/h': disagrees with the ideal cycle time of 2 s (this rate means 1 s); "
        "give one of them",
        f"{products}, row 6, column Article: 'C': is listed twice for all machines: also in row 2",
    ]
    write_csv(products, [["Article", "Machine", "Cycle time (s)", "Rate", "Micro stop threshold"],
                         ["C", "", "1,5", "", "2:00"], ["C", "M2", "", "3.600/h", ""]], delimiter=";")
    assert validate_file("products", products, config).records == (
        ProductRate("C", None, 1.5, 120.0, 2), ProductRate("C", "M2", 1.0, None, 3))
    orders = write_csv(tmp_path / "plan.csv", [ORDER_HEADER,
                                               ["1", "C", "M2", "2026-03-02 06:00", "2026-03-02 08:00", "10"]])
    assert validate_file("schedule", orders, config, products_path=products).ok


def test_downtime_plan(tmp_path: Path, config: Config) -> None:
    path = write_csv(tmp_path / "pm.csv", [
        ["Line", "Machine", "From", "To", "Reason", "Note"],
        ["L1", "M1", "2026-03-02 06:00", "2026-03-02 08:00", "PM", "oil change; filters"],
        ["", "M2", "2026-03-02 06:00", "2026-03-02 08:00", "FAIL", ""],
        ["L2", "M1", "2026-03-03 06:00", "2026-03-03 08:00", "", ""],
        ["L2", "", "2026-03-04 06:00", "2026-03-04 08:00", "", "no orders"],
    ])
    result = validate_file("downtime-plan", path, config)
    assert messages(result) == [
        f"{path}, row 3, column Reason: 'FAIL': is an unplanned reason; a downtime plan needs a planned one: "
        "BREAK, NO_ORDER, PM",
        f"{path}, row 4, column Line: 'L2': does not match machine M1, which is on line L1",
    ]
    write_csv(path, [["Line", "Machine", "From", "To", "Reason", "Note"],
                     ["L2", "", "2026-03-04 06:00", "2026-03-04 08:00", "", "no orders"]])
    assert validate_file("downtime-plan", path, config).records == (
        PlannedStop(None, "L2", utc(2026, 3, 4, 5), utc(2026, 3, 4, 7), "PM", "no orders", 2),)


def test_an_empty_reason_in_a_downtime_plan_is_reported_as_empty(tmp_path: Path) -> None:
    # A plant whose reasons have no PM: an empty cell stands for the default PM, which the planner never typed.
    config = config_from_dict({
        "site": {"name": "Test", "timezone": "Europe/Berlin"}, "lines": [{"id": "L1"}],
        "machines": [{"id": "M1", "line": "L1", "ideal_cycle_time_s": 1.0}],
        "reasons": [{"code": "SERVICE", "name": "Service", "planned": True},
                    {"code": "JAM", "name": "Jam", "loss": "breakdown"}],
    })
    path = write_csv(tmp_path / "pm.csv", [
        ["Machine", "From", "To", "Reason", "Note"],
        ["M1", "2026-03-02 06:00", "2026-03-02 08:00", "", "oil change"],
        ["M1", "2026-03-03 06:00", "2026-03-03 08:00", "SERVICE", ""],
    ])
    assert messages(validate_file("downtime-plan", path, config)) == [
        f"{path}, row 2, column Reason: is empty, and the default planned reason PM is not a reason code (in the "
        "config or imported); give a planned reason: SERVICE"]
    # Without a reason column, each row says so.
    write_csv(path, [["Machine", "From", "To"], ["M1", "2026-03-02 06:00", "2026-03-02 08:00"]])
    assert messages(validate_file("downtime-plan", path, config)) == [
        f"{path}, row 2: has no reason column, and the default planned reason PM is not a reason code (in the "
        "config or imported); give a planned reason: SERVICE"]


def test_shift_patterns(tmp_path: Path, config: Config) -> None:
    path = write_csv(tmp_path / "shifts.csv", [
        ["Schicht", "Von", "Bis", "Tage", "Pausen"],
        ["Früh", "06:00", "14:00", "Mo-Fr", "09:30-09:45; 12:00-12:30"],
        ["Spät", "14:00", "22:00", "mon-fri", ""],
        ["Nacht", "22:00", "06:00", "Mo-Fr", "02:00-02:30"],
        ["Wochenende", "08:00", "16:00", "Sa,So", ""],
    ])
    result = validate_file("shifts", path, config)
    assert result.ok, messages(result)
    assert result.records[0] == ShiftPattern("Früh", "06:00", "14:00", ("mon", "tue", "wed", "thu", "fri"),
                                             (("09:30", "09:45"), ("12:00", "12:30")), 2)
    assert shift_config(result.records[3]).days == ("sat", "sun")

    write_csv(path, [
        ["Shift", "Start", "End", "Days", "Breaks"],
        ["Early", "06:00", "14:00", "daily", "15:00-15:30"],
        ["Late", "14:00", "22:00", "daily", ""],
        ["Night", "22:00", "06:00", "daily", ""],
    ])
    assert messages(validate_file("shifts", path, config)) == [
        f"{path}, row 2, column Breaks: '15:00-15:30': break 15:00-15:30 is not inside the shift 06:00-14:00",
    ]
    write_csv(path, [
        ["Shift", "Start", "End", "Days"],
        ["Early", "06:00", "14:00", "daily"],
        ["Late", "14:30", "22:00", "daily"],
        ["Night", "21:00", "06:30", "daily"],
    ])
    assert messages(validate_file("shifts", path, config)) == [
        f"{path}, row 2, column Start: '06:00': overlaps shift Night (row 4, 21:00-06:30) on tue",
        f"{path}, row 3, column Start: '14:30': leaves a gap after shift Early (row 2, ends 14:00) on mon",
        f"{path}, row 4, column Start: '21:00': overlaps shift Late (row 3, 14:30-22:00) on mon",
    ]


def test_a_long_shift_overlaps_every_shift_inside_it(tmp_path: Path, config: Config) -> None:
    """Issue 13 item 10: the import's overlap rule is the config's (oee_tui.model.shift_overlaps), which
    compares each shift with every other, not only with the one before it: B was not named."""
    path = write_csv(tmp_path / "shifts.csv", [
        ["Shift", "Start", "End", "Days"],
        ["Long", "06:00", "22:00", "mon"],
        ["A", "08:00", "10:00", "mon"],
        ["B", "12:00", "14:00", "mon"],
    ])
    overlaps = [m for m in messages(validate_file("shifts", path, config)) if ": overlaps shift" in m]
    assert overlaps == [f"{path}, row 3, column Start: '08:00': overlaps shift Long (row 2, 06:00-22:00) on mon",
                        f"{path}, row 4, column Start: '12:00': overlaps shift Long (row 2, 06:00-22:00) on mon"]


def test_reason_tree(tmp_path: Path, config: Config) -> None:
    path = write_csv(tmp_path / "reasons.csv", [
        ["Code", "Name", "Parent", "Planned", "Loss"],
        ["JAM", "Jam", "", "no", "minor stop"],
        ["JAM.IN", "Infeed jam", "JAM", "", ""],
        ["CLEAN", "Cleaning", "", "yes", ""],
        ["CLEAN.X", "Extra clean", "CLEAN", "no", "breakdown"],
        ["ORPHAN", "Orphan", "NOWHERE", "no", "breakdown"],
        ["BAD", "Bad loss", "", "no", "coffee"],
        ["PM.OIL", "Oil change", "PM", "", "breakdown"],
    ])
    assert messages(validate_file("reasons", path, config)) == [
        f"{path}, row 5, column Planned: 'no': differs from its parent CLEAN, which is planned; a branch is one "
        "or the other",
        f"{path}, row 6, column Parent: 'NOWHERE': is not a reason code in this file, the config or an "
        "earlier import",
        f"{path}, row 7, column Loss: 'coffee': must be one of breakdown, setup, minor_stop, reduced_speed, "
        "defects, startup_rejects",
        f"{path}, row 8, column Loss: 'breakdown': must be empty for a planned reason (planned time is not a loss)",
    ]
    write_csv(path, [["Code", "Name", "Parent", "Planned", "Loss"],
                     ["JAM", "Jam", "", "no", "minor stop"], ["JAM.IN", "Infeed jam", "JAM", "", ""],
                     ["PM.OIL", "Oil change", "PM", "", ""]])
    assert validate_file("reasons", path, config).records == (
        ReasonRecord("JAM", "Jam", None, False, Loss.MINOR_STOP, 2),
        ReasonRecord("JAM.IN", "Infeed jam", "JAM", False, Loss.MINOR_STOP, 3),
        ReasonRecord("PM.OIL", "Oil change", "PM", True, None, 4),
    )


def test_unknown_kind_and_unreadable_file(tmp_path: Path, config: Config) -> None:
    with pytest.raises(ValueError, match="unknown import kind 'orders'"):
        validate_file("orders", tmp_path / "x.csv", config)
    assert messages(validate_file("schedule", tmp_path / "x.csv", config)) == [f"{tmp_path / 'x.csv'}: file not found"]


def test_typed_excel_cells_read_as_the_full_parsers_read_them(tmp_path: Path, config: Config) -> None:
    """Ids, counts and datetimes as Excel types them take a shortcut in validation; the cells beside them
    (padded ids, booleans, counts too large for a float, datetimes with an offset) still get the full parsers."""
    from datetime import timedelta, timezone

    from oee_tui.imports.columns import SPECS
    from oee_tui.imports.reading import RawTable
    from oee_tui.imports.validate import validate_table

    header = ("Machine", "Order", "Start", "End", "Total", "Rejects")
    plus_two = timezone(timedelta(hours=2))
    table = RawTable("log.xlsx", "Log", header, 1, (
        (2, (" M1 ", " 0042 ", datetime(2026, 3, 2, 6), datetime(2026, 3, 2, 7), 100, 0)),
        (3, ("M1", 42.0, datetime(2026, 3, 2, 7, tzinfo=plus_two), datetime(2026, 3, 2, 8), 2**53, True)),
        (4, ("M2", "7", datetime(2026, 3, 29, 2, 30), datetime(2026, 3, 29, 4), -1, 0)),
    ))
    result = validate_table("production-log", table, config)
    assert messages(result) == [
        "log.xlsx, sheet Log, row 3, column Rejects: True: is not a number",
        "log.xlsx, sheet Log, row 4, column Start: '2026-03-29 02:30:00': does not exist in "
        "Europe/Berlin: the clocks jump forward over it (spring DST change); fix the time or add the UTC offset, "
        "e.g. +01:00",
        "log.xlsx, sheet Log, row 4, column Total: -1: must not be negative",
    ]
    fixed = RawTable("log.xlsx", "Log", header, 1, (
        table.rows[0],
        (3, ("M1", 42.0, datetime(2026, 3, 2, 9, tzinfo=plus_two), datetime(2026, 3, 2, 10), 2**53 + 1, 0)),
    ))
    assert validate_table("production-log", fixed, config).records == (
        ProductionRun("M1", None, "0042", utc(2026, 3, 2, 5), utc(2026, 3, 2, 6), 100, 0, 2),
        # 2**53 + 1 goes through float, as every number did before; 09:00+02:00 is 07:00 UTC.
        ProductionRun("M1", None, "42", utc(2026, 3, 2, 7), utc(2026, 3, 2, 9), 2**53, 0, 3),
    )
    assert SPECS["production-log"].column("order_id").kind == "id"
