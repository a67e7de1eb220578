"""An order's own cycle time weighs the parts made while it runs, startup rejects and defects included,
the same in the report (counts summed per order by the store) and the live calculator (count buckets).

A real store in a tmp dir, written by its own writers; the schedule as the import stores it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from oee_tui.drivers.registry import config_from_dict
from oee_tui.engine.analysis.day_summaries import fingerprints
from oee_tui.engine.analysis.report import build_report
from oee_tui.engine.oee.calculator import machine_oee_from_counts
from oee_tui.engine.oee.planning_rules import Planning
from oee_tui.model import CountBucket, MachineState, Order, PlanningRecords, ProductRate, Span, StateInterval
from oee_tui.store import Store

CONFIG = config_from_dict({
    "site": {"name": "Test", "timezone": "UTC"},
    "lines": [{"id": "L1"}],
    "sources": [{"name": "plc", "kind": "modbus"}],
    "machines": [{"id": "D", "line": "L1", "ideal_cycle_time_s": 5.0, "micro_stop_threshold_s": 60,
                  "startup_period_s": 120}],
    "shifts": [{"name": "Early", "start": "06:00", "end": "14:00"}],
})
NOW = datetime(2026, 11, 24, 23, 0, tzinfo=UTC).timestamp()


def at(hhmm: str) -> float:
    return datetime.fromisoformat(f"2026-11-24T{hhmm}+00:00").timestamp()


INTERVALS = [
    StateInterval("D", at("06:00"), at("07:00"), MachineState.RUNNING),
    StateInterval("D", at("07:00"), at("07:10"), MachineState.DOWN),  # a breakdown: startup rejects after it
    StateInterval("D", at("07:10"), at("14:00"), MachineState.RUNNING),
]
# P1 throughout: order O1 (06:00-10:00) at 2 s a part, O2 (10:00-14:00) at the product's 1 s.
COUNTS = [
    CountBucket("D", at("06:30"), "P1", 600, 0),
    CountBucket("D", at("07:10"), "P1", 100, 10),  # startup rejects, in O1
    CountBucket("D", at("07:30"), "P1", 100, 5),  # defects, in O1
    CountBucket("D", at("11:00"), "P1", 1000, 20),  # defects, in O2
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(tmp_path)
    store.write_import("products", [ProductRate("P1", None, 1.0, None)], file="p.csv", sheet=None, imported_by="t")
    store.write_import("schedule", [Order("O1", "P1", "D", None, at("06:00"), at("10:00"), 800, None, 2.0),
                                    Order("O2", "P1", "D", None, at("10:00"), at("14:00"), 1000)],
                       file="s.csv", sheet=None, imported_by="t")
    store.upsert_intervals(INTERVALS)
    store.write_counts(COUNTS)
    yield store
    store.close()


def test_the_report_and_the_live_calculator_weigh_each_order_by_its_cycle_time(store: Store) -> None:
    window = Span(at("06:00"), at("14:00"))
    planning = Planning.load(store)
    assert [order.ideal_cycle_time_s for order in planning.orders] == [2.0, None]  # read back as stored
    plan = planning.machine_plan(CONFIG.machines[0])
    assert (plan.cycle_time_at(at("07:00"), "P1"), plan.cycle_time_at(at("11:00"), "P1")) == (2.0, 1.0)

    reported = build_report(store, CONFIG, window, NOW, "test").machines[0]
    live = machine_oee_from_counts(plan.machine, window, [window], [], INTERVALS, COUNTS,
                                   planning.reason_tree(CONFIG), NOW, plan.order_cycles)
    for result in (reported, live):
        assert result.ideal_output_time_s == (600 + 100 + 100) * 2.0 + 1000 * 1.0
        assert result.losses.startup_rejects_count == 10 and result.losses.startup_rejects_s == 10 * 2.0
        assert result.losses.defects_s == 5 * 2.0 + 20 * 1.0
        assert result.fully_productive_time_s == 2600 - 30 - 20
    assert reported.to_dict() == live.to_dict()


def test_a_saved_days_fingerprint_changes_with_an_orders_cycle_time() -> None:
    """A day saved under one cycle time of an order is not used under another, however the store changed."""
    def keys(cycle_time: float | None) -> dict[str, str]:
        order = Order("O1", "P1", "D", None, at("06:00"), at("10:00"), 800, None, cycle_time)
        return fingerprints(CONFIG, Planning.from_records(PlanningRecords(orders=(order,))))

    assert keys(2.0) != keys(3.0) != keys(None)
    assert keys(2.0) == keys(2.0)
