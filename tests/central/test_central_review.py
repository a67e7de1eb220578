"""The review's figures read from the central database (`service.central_review`), across two edges: the
same per-machine figures as each edge's `oee report`, every machine and line of both edges, read only."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import psycopg
import pytest

from oee_tui.drivers.registry import load_config
from oee_tui.engine.analysis.review import Level, Scope, shift_period
from oee_tui.service.central_review import CentralReads, central_config, connect
from tests.central.cluster import CentralDb
from tests.central.test_aggregates_match_report import FIGURES, report
from tests.central.two_edges import DAY, at

OURS = ("planned_production_time_s", "run_time_s", "ideal_output_time_s", "fully_productive_time_s",
        "total_count", "good_count", "availability", "performance", "quality", "oee")


def test_the_review_of_a_shift_shows_both_edges_with_their_report_s_figures(
        edges: dict[str, Path], central: CentralDb, capsys: pytest.CaptureFixture[str]) -> None:
    with connect(central.url) as conn:
        config = central_config(conn, load_config(edges["edge-1"]))
    assert [m.id for m in config.machines] == ["edge-1/A", "edge-1/B", "edge-2/A", "edge-2/B"]
    assert [line.id for line in config.lines] == ["North/L1", "South/L9"]
    reads = CentralReads(central.url)
    day = date.fromisoformat(DAY)
    period = shift_period(config, "Early", day)
    loaded = reads.period(config, period, Scope(), at("23:00"), lambda: False)
    assert loaded is not None
    results = {r.scope: r for r in loaded.report.machines}
    for edge, config_file in edges.items():
        expected = report(config_file, capsys, "--shift", f"Early@{DAY}")
        for machine in expected["machines"]:
            got = results[f"{edge}/{machine['scope']}"]
            for figure in FIGURES:
                assert getattr(got, figure) == pytest.approx(machine[figure], rel=1e-9, abs=1e-9), figure
    plant = loaded.report.plant
    assert plant is not None and plant.planned_production_time_s == pytest.approx(
        sum(r.planned_production_time_s for r in loaded.report.machines))
    # The Pareto of the shift: every loss stop of A on both edges came without a reason (the 30 min breakdown,
    # the 40 s minor stop, the 30 min changeover); the maintenance stop with a planned reason is no loss.
    assert [(bar.reason, bar.seconds, bar.stops) for bar in loaded.pareto] == [(None, 2 * (1800 + 40 + 1800), 6)]
    # Stops nobody gave a reason, longest first, from both edges.
    assert [(s.machine, s.end - s.start) for s in loaded.unassigned.rows[:2] if s.end] == [
        ("edge-1/A", 1800.0), ("edge-2/A", 1800.0)]
    # One machine's stops, with their newest reason.
    machine = reads.period(config, period, Scope(Level.MACHINE, "edge-2/A"), at("23:00"), lambda: False)
    assert machine is not None and machine.stops is not None
    assert {s.reason for s in machine.stops.rows} == {None, "PM"}
    compared = reads.comparison(config, period, Scope(), 0, at("23:00"))
    assert [row.period.label for row in compared.rows] == [f"Early@{DAY}", f"Late@{DAY}"]


def test_the_central_view_cannot_write(edges: dict[str, Path], central: CentralDb) -> None:
    with connect(central.url) as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        conn.execute("DELETE FROM oee.stop_reasons")
