"""Reports over a real DuckDB store: the same numbers as the calculator, every format, clear errors."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from oee_tui.drivers.registry import config_from_dict
from oee_tui.engine.analysis.report import ReportError, build_report, resolve_window, to_csv, to_json, to_table
from oee_tui.model import CountBucket, MachineState, StateInterval
from oee_tui.store import Store

TZ = ZoneInfo("Europe/Berlin")
CONFIG = config_from_dict({
    "site": {"name": "Test", "timezone": "Europe/Berlin"},
    "lines": [{"id": "L1"}],
    "machines": [
        {"id": "A", "line": "L1", "ideal_cycle_time_s": 2.0, "micro_stop_threshold_s": 60, "startup_period_s": 120},
        {"id": "B", "line": "L1", "ideal_cycle_time_s": 1.0},
    ],
    "shifts": [{"name": "Early", "start": "06:00", "end": "14:00", "breaks": [{"start": "10:00", "end": "10:30"}]}],
})


def at(hhmm: str, day: str = "2026-11-24") -> float:
    return datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=TZ).timestamp()


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store.open(tmp_path)
    run, down = MachineState.RUNNING, MachineState.DOWN
    store.upsert_intervals([
        # A: 06:00-08:00 run, 08:00-08:30 down (breakdown), 08:30-14:00 run.
        StateInterval("A", at("06:00"), at("08:00"), run),
        StateInterval("A", at("08:00"), at("08:30"), down),
        StateInterval("A", at("08:30"), at("14:00"), run),
        # B: runs the whole shift.
        StateInterval("B", at("06:00"), at("14:00"), run),
    ])
    store.write_counts([
        CountBucket("A", at("07:00"), None, 6000, 60),
        CountBucket("A", at("08:30"), None, 100, 40),  # right after the breakdown: startup rejects
        CountBucket("A", at("13:00"), None, 1000, 0),
        CountBucket("A", at("15:00"), None, 999, 0),  # after the shift: not counted
        CountBucket("B", at("09:00"), None, 25200, 252),
    ])
    yield store
    store.close()


def test_report_for_a_named_shift_matches_hand_arithmetic(store: Store) -> None:
    window, label = resolve_window(CONFIG, at("20:00"), shift="Early@2026-11-24")
    assert label == "Early@2026-11-24"
    report = build_report(store, CONFIG, window, at("20:00"), label)
    a, b = report.machines
    # A: scheduled 8 h = 28800 s, break 1800 -> PPT 27000; down 1800 -> run 25200.
    assert a.planned_production_time_s == 27000 and a.run_time_s == 25200
    assert a.availability == pytest.approx(25200 / 27000)
    # 7100 parts x 2 s = 14200 s ideal; performance = 14200 / 25200.
    assert (a.total_count, a.reject_count, a.good_count) == (7100, 100, 7000)
    assert a.performance == pytest.approx(14200 / 25200)
    assert a.losses.startup_rejects_count == 40 and a.losses.defects_count == 60
    assert a.oee == pytest.approx(7000 * 2 / 27000)
    # B: run 27000 s, 25200 parts at 1 s, 252 rejects.
    assert b.oee == pytest.approx(24948 / 27000)
    # The line sums times and counts: (14000 + 24948) / 54000, not the mean of the two OEEs.
    line = report.lines[0]
    assert line.oee == pytest.approx((14000 + 24948) / 54000)
    assert report.plant is not None and report.plant.oee == line.oee


def test_formats_carry_every_figure(store: Store) -> None:
    window, label = resolve_window(CONFIG, at("20:00"), start="2026-11-24T06:00", end="2026-11-24T14:00")
    report = build_report(store, CONFIG, window, at("20:00"), label)
    data = json.loads(to_json(report))
    machine = data["machines"][0]
    for key in ("availability", "performance", "quality", "oee", "teep", "planned_production_time_s", "run_time_s",
                "total_count", "good_count", "losses", "flags", "no_data_s"):
        assert key in machine
    assert machine["losses"]["breakdown_s"] == 1800
    rows = list(csv.DictReader(io.StringIO(to_csv(report))))
    assert [r["level"] for r in rows] == ["machine", "machine", "line", "plant"]
    assert "A " in to_table(report) or "\nmachine  A" in to_table(report)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"shift": "Late"}, "no shift named 'Late'; shifts are Early"),
    ({"start": "2026-11-24"}, "--from and --to go together"),
    ({"start": "2026-11-25", "end": "2026-11-24"}, "must be after"),
    ({"start": "yesterday", "end": "2026-11-24"}, "ISO date"),
    ({"shift": "Early", "start": "2026-11-24", "end": "2026-11-25"}, "either --shift or --from/--to"),
])
def test_bad_windows_say_what_is_wrong(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ReportError, match=message):
        resolve_window(CONFIG, at("20:00"), **kwargs)


def test_the_report_without_the_split_by_product_and_order_gives_the_same_figures(store: Store) -> None:
    window, label = resolve_window(CONFIG, at("20:00"), shift="Early@2026-11-24")
    full = build_report(store, CONFIG, window, at("20:00"), label, attribution=True)
    lean = build_report(store, CONFIG, window, at("20:00"), label)
    assert lean.machines == full.machines and lean.attribution == ()
    assert lean.machines[0].losses.startup_rejects_count == 40
    # With no schedule, each machine's split is one share: all its time and parts, product and order unknown.
    a = full.attribution[0]
    assert [(s.key, s.total_count, s.run_time_s) for s in a.by_order] == [(None, 7100, 25200)]
