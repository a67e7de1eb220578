"""The faster paths of the report and the Pareto give the figures of the rules they replace.

The count query tests scheduled minutes with a range when scheduled time is one run of
minutes (a plant working round the clock, or one shift) and joins with the minutes
otherwise; the Pareto measures each stop's open time in numpy; the store reads intervals
and their newest reasons in two queries and merges them. Hand arithmetic here, in UTC.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from oee_tui.config import Config
from oee_tui.drivers.registry import config_from_dict
from oee_tui.engine.analysis.report import build_report
from oee_tui.engine.analysis.review import NO_REASON, Level, ParetoBar, Scope, downtime_pareto
from oee_tui.engine.oee.planning_rules import Planning
from oee_tui.model import CountBucket, MachineState, Span, StateInterval
from oee_tui.store import Store


def pareto(store: Store, config: Config, window: Span, now: float, scope: Scope | None = None,
           planning: Planning | None = None) -> tuple[ParetoBar, ...]:
    """The Pareto as the review screen gets it: from the plant report over the window."""
    report = build_report(store, config, window, now, "test", planning=planning)
    return downtime_pareto(config, report, scope or Scope())


def at(text: str) -> float:
    return datetime.fromisoformat(f"{text}+00:00").timestamp()


def config(shifts: list[dict[str, Any]]) -> Config:
    return config_from_dict({
        "site": {"name": "Test", "timezone": "UTC"},
        "lines": [{"id": "L1"}],
        "machines": [{"id": m, "line": "L1", "ideal_cycle_time_s": 1.0, "micro_stop_threshold_s": 60}
                     for m in ("A", "B", "C")],
        "shifts": shifts,
        "reasons": [{"code": "FAIL", "name": "Failure", "loss": "breakdown"}],
    })


ROUND_THE_CLOCK = config([
    {"name": "Night", "start": "22:00", "end": "06:00"},
    {"name": "Early", "start": "06:00", "end": "14:00"},
    {"name": "Late", "start": "14:00", "end": "22:00"},
])
TWO_SHIFTS = config([
    {"name": "Early", "start": "06:00", "end": "14:00", "breaks": [{"start": "10:00", "end": "10:30"}]},
    {"name": "Late", "start": "14:00", "end": "22:00"},
])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(tmp_path)
    yield store
    store.close()


def counted(store: Store, cfg: Config, start: str, end: str, buckets: list[tuple[str, int]]) -> int:
    store.write_counts([CountBucket("A", at(minute), None, total, 0) for minute, total in buckets])
    report = build_report(store, cfg, Span(at(start), at(end)), at("2026-12-01T00:00"), "test")
    return report.machines[0].total_count


def test_round_the_clock_counts_whole_minutes_inside_the_window(store: Store) -> None:
    # Three back-to-back shifts: scheduled time is one run of minutes over the two days.
    total = counted(store, ROUND_THE_CLOCK, "2026-11-24T06:00:30", "2026-11-26T00:00", [
        ("2026-11-24T06:00", 1_000_000),  # starts before the window
        ("2026-11-24T06:01", 1),
        ("2026-11-24T07:00:30", 500_000),  # not on a whole minute: never a scheduled minute
        ("2026-11-24T23:59", 10),
        ("2026-11-25T00:00", 100),  # across midnight and a shift change
        ("2026-11-25T23:59", 1000),
        ("2026-11-26T00:00", 2_000_000),  # the window's end
    ])
    assert total == 1111


def test_shifts_with_a_gap_count_only_scheduled_minutes(store: Store) -> None:
    # Early and Late back to back, nothing from 22:00 to 06:00: two runs of minutes.
    total = counted(store, TWO_SHIFTS, "2026-11-24T00:00", "2026-11-26T00:00", [
        ("2026-11-24T05:59", 1_000_000),
        ("2026-11-24T06:00", 1),
        ("2026-11-24T10:15", 10),  # in the break: scheduled all the same
        ("2026-11-24T14:00", 100),
        ("2026-11-24T21:59", 1000),
        ("2026-11-24T22:00", 2_000_000),
        ("2026-11-25T03:00", 3_000_000),
        ("2026-11-25T06:00", 10_000),
    ])
    assert total == 11_111


def test_pareto_measures_open_time_of_stops_across_breaks_edges_and_still_open(store: Store) -> None:
    down = MachineState.DOWN
    store.upsert_intervals([
        StateInterval("A", at("2026-11-24T09:50"), at("2026-11-24T10:40"), down),  # 20 of 50 min in the break
        StateInterval("A", at("2026-11-24T21:30"), None, down),  # still open: 30 min until the shift ends
        StateInterval("B", at("2026-11-24T05:00"), at("2026-11-24T06:10"), down),  # before the shift: 10 min
        StateInterval("B", at("2026-11-24T10:05"), at("2026-11-24T10:25"), down),  # all in the break: no cost
        StateInterval("C", at("2026-11-24T12:00"), at("2026-11-24T12:05"), MachineState.PLANNED_STOP),
    ])
    for machine, start in (("A", "2026-11-24T09:50"), ("B", "2026-11-24T05:00"), ("B", "2026-11-24T10:05")):
        store.write_stop_reason(machine, at(start), "FAIL", "alice", at(start) + 60)
    window = Span(at("2026-11-24T00:00"), at("2026-11-24T23:00"))
    bars = pareto(store, TWO_SHIFTS, window, at("2026-11-24T23:00"))
    assert [(b.reason, b.name, b.seconds, b.stops) for b in bars] == [
        ("FAIL", "Failure", 1800.0, 2), (None, NO_REASON, 1800.0, 1)]
    assert [b.share for b in bars] == [0.5, 0.5]
    only_c = pareto(store, TWO_SHIFTS, window, at("2026-11-24T23:00"), Scope(Level.MACHINE, "C"))
    assert only_c == ()


def test_pareto_names_a_stop_by_a_code_the_reason_tree_no_longer_has(store: Store) -> None:
    # A reason given before the tree was edited still names its stop; it counts as a breakdown.
    store.upsert_intervals([
        StateInterval("A", at("2026-11-24T07:00"), at("2026-11-24T07:30"), MachineState.DOWN),
        StateInterval("A", at("2026-11-24T08:00"), at("2026-11-24T08:10"), MachineState.DOWN),
    ])
    store.write_stop_reason("A", at("2026-11-24T07:00"), "OLD.JAM", "alice", at("2026-11-24T07:40"))
    store.write_stop_reason("A", at("2026-11-24T08:00"), "FAIL", "alice", at("2026-11-24T08:20"))
    window = Span(at("2026-11-24T06:00"), at("2026-11-24T14:00"))
    report = build_report(store, TWO_SHIFTS, window, at("2026-11-24T23:00"), "test")
    bars = downtime_pareto(TWO_SHIFTS, report, Scope())
    assert [(b.reason, b.name, b.seconds, b.stops) for b in bars] == [
        ("OLD.JAM", "OLD.JAM", 1800.0, 1), ("FAIL", "Failure", 600.0, 1)]
    assert report.machines[0].losses.breakdown_s == 2400.0


def test_interval_codes_carry_each_stops_newest_known_reason(store: Store) -> None:
    down, run = MachineState.DOWN, MachineState.RUNNING
    store.upsert_intervals([
        StateInterval("A", at("2026-11-23T22:00"), at("2026-11-24T07:00"), down),  # began before the window
        StateInterval("A", at("2026-11-24T07:00"), at("2026-11-24T08:00"), run),
        StateInterval("A", at("2026-11-24T08:00"), None, down),
        StateInterval("B", at("2026-11-24T06:00"), at("2026-11-24T06:30"), down),
        StateInterval("B", at("2026-11-24T06:30"), at("2026-11-24T09:00"), MachineState.MINOR_STOP),
        StateInterval("B", at("2026-11-24T09:00"), None, run),
    ])
    store.write_stop_reason("A", at("2026-11-23T22:00"), "FAIL", "alice", at("2026-11-24T07:05"))
    store.write_stop_reason("A", at("2026-11-24T08:00"), "FAIL", "alice", at("2026-11-24T08:05"))
    store.write_stop_reason("A", at("2026-11-24T08:00"), "SETUP", "bob", at("2026-11-24T08:10"))  # newest wins
    store.write_stop_reason("B", at("2026-11-24T06:00"), "SETUP", "bob", at("2026-11-24T06:40"))
    store.write_stop_reason("B", at("2026-11-24T06:00"), "OTHER", "carol", at("2026-11-24T06:50"))  # not known: none
    store.write_stop_reason("B", at("2026-11-24T07:00"), "FAIL", "bob", at("2026-11-24T07:01"))  # no such stop
    codes = store.interval_codes(at("2026-11-24T06:00"), at("2026-11-24T12:00"), ["B", "A"],
                                 ["running", "down", "minor_stop"], ["FAIL", "SETUP"])
    assert np.asarray(codes["machine"]).tolist() == [0, 0, 0, 1, 1, 1]
    assert np.asarray(codes["s"]).tolist() == [at("2026-11-24T06:00"), at("2026-11-24T06:30"), at("2026-11-24T09:00"),
                                               at("2026-11-23T22:00"), at("2026-11-24T07:00"), at("2026-11-24T08:00")]
    ends = np.asarray(codes["e"])
    assert ends[:2].tolist() == [at("2026-11-24T06:30"), at("2026-11-24T09:00")]
    assert np.isnan(ends[2]) and np.isnan(ends[5])
    assert np.asarray(codes["state"]).tolist() == [1, 2, 0, 1, 0, 1]
    assert np.asarray(codes["reason"]).tolist() == [-1, -1, -1, 0, -1, 1]
