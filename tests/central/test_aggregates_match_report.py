"""The central aggregates' OEE equals `oee report` over the same machines and window.

The local stores are filled with crafted facts, written the way the live engine writes them (planned_stop
in breaks and outside the schedule, offline where it had no data, stop reasons given after the fact), and
pushed with `contract_copy.copy_edge`, the stand-in for the sync's push. Two edges of two sites push into
one database, so the line, site and plant views are checked across edges as well.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from oee_tui.central.analytics_ddl import LEVELS
from oee_tui.central.sync import sync_once
from oee_tui.cli import main
from oee_tui.config import CentralSettings
from oee_tui.drivers.registry import load_config
from oee_tui.store import Store
from tests.central.cluster import CentralDb
from tests.central.two_edges import DAY, at, utc


def report(config: Path, capsys: pytest.CaptureFixture[str], *window: str) -> dict[str, Any]:
    data_dir = config.parent / config.stem
    capsys.readouterr()
    assert main(["--config", str(config), "--data-dir", str(data_dir), "report", *window, "--format", "json"]) == 0
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    return data


FIGURES = ("planned_production_time_s", "run_time_s", "ideal_output_time_s", "fully_productive_time_s",
           "total_count", "good_count", "availability", "performance", "quality", "oee")
COLUMNS = ("planned_production_s", "run_s", "ideal_s", "good_ideal_s", "total_count", "good_count",
           "availability", "performance", "quality", "oee")


def sums(central: CentralDb, relation: str, where: str, params: tuple[object, ...], key: str) -> dict[str, Any]:
    """The relation's inputs summed per `key` over the rows `where` selects, ratios from the sums."""
    query = f"""
        SELECT {key}, sum(planned_production_s), sum(run_s), sum(ideal_s), sum(good_ideal_s),
               sum(total_count), sum(good_count),
               sum(run_s) / nullif(sum(planned_production_s), 0), sum(ideal_s) / nullif(sum(run_s), 0),
               sum(good_ideal_s) / nullif(sum(ideal_s), 0), sum(good_ideal_s) / nullif(sum(planned_production_s), 0)
        FROM {relation} WHERE {where} GROUP BY {key}"""
    with central.connect() as conn:
        return {row[0]: dict(zip(COLUMNS, row[1:], strict=True)) for row in conn.execute(query, params)}


def assert_same(expected: dict[str, Any], got: dict[str, Any], what: str) -> None:
    for figure, column in zip(FIGURES, COLUMNS, strict=True):
        assert got[column] == pytest.approx(expected[figure], rel=1e-9, abs=1e-9), f"{what}: {figure}"


@pytest.mark.parametrize("level", [suffix for suffix, _ in LEVELS if suffix != "1d"])
def test_each_level_gives_the_report_s_oee_per_machine_line_and_site(
        edges: dict[str, Path], central: CentralDb, capsys: pytest.CaptureFixture[str], level: str) -> None:
    # 06:00 to 22:00 Berlin: whole hours in UTC, so every level's buckets tile the window.
    window = ("--from", f"{DAY}T06:00", "--to", f"{DAY}T22:00")
    where, params = "bucket >= %s AND bucket < %s", (utc("06:00"), utc("22:00"))
    for edge, config in edges.items():
        expected = report(config, capsys, *window)
        machines = sums(central, f"oee.machine_oee_{level}", f"edge_id = '{edge}' AND {where}", params, "machine")
        for machine in expected["machines"]:
            assert_same(machine, machines[machine["scope"]], f"{edge} {machine['scope']} at {level}")
        [line] = expected["lines"]
        assert_same(line, sums(central, f"oee.line_oee_{level}", where, params, "line")[line["scope"]], line["scope"])
        site = {"edge-1": "North", "edge-2": "South"}[edge]
        assert_same(expected["plant"], sums(central, f"oee.site_oee_{level}", where, params, "site")[site], site)
    # The figures are no accident of empty data: the day has every kind of loss.
    a = report(edges["edge-1"], capsys, *window)["machines"][0]
    assert a["losses"]["breakdown_s"] == 1800 and a["losses"]["setup_s"] > 1800 and a["no_data_s"] == 600
    assert 0 < a["oee"] < 1


def test_the_day_level_gives_the_report_s_oee_over_a_utc_day(
        edges: dict[str, Path], central: CentralDb, capsys: pytest.CaptureFixture[str]) -> None:
    expected = report(edges["edge-2"], capsys, "--from", f"{DAY}T01:00", "--to", "2026-11-25T01:00")
    day = datetime(2026, 11, 24, tzinfo=UTC)
    machines = sums(central, "oee.machine_oee_1d", "edge_id = 'edge-2' AND bucket = %s", (day,), "machine")
    for machine in expected["machines"]:
        assert_same(machine, machines[machine["scope"]], f"edge-2 {machine['scope']} by day")


def test_the_shift_view_gives_the_report_of_each_shift(
        edges: dict[str, Path], central: CentralDb, capsys: pytest.CaptureFixture[str]) -> None:
    for shift in ("Early", "Late"):
        expected = report(edges["edge-1"], capsys, "--shift", f"{shift}@{DAY}")
        got = sums(central, "oee.machine_oee_by_shift", "edge_id = 'edge-1' AND shift = %s", (f"{shift}@{DAY}",),
                   "machine")
        for machine in expected["machines"]:
            assert_same(machine, got[machine["scope"]], f"{shift} {machine['scope']}")


def test_a_reason_given_later_moves_the_stop_s_time_as_in_the_report(
        edges: dict[str, Path], central: CentralDb, capsys: pytest.CaptureFixture[str]) -> None:
    window = ("--from", f"{DAY}T06:00", "--to", f"{DAY}T22:00")
    where, params = "edge_id = 'edge-1' AND bucket >= %s AND bucket < %s", (utc("06:00"), utc("22:00"))
    before = sums(central, "oee.machine_oee_1h", where, params, "machine")["B"]
    # B's 30 s minor stop at 18:00 is given a setup reason on the edge, and the next push takes it to the
    # centre: a setup is availability loss at any length, so run time loses those 30 s.
    config = load_config(edges["edge-1"])
    with Store.open(edges["edge-1"].parent / "edge-1") as store:
        store.write_stop_reason("B", at("18:00"), "SETUP", "ben", at("18:05"))
        sync_once(store, config, CentralSettings(url=central.url, edge_id="edge-1", site="North"))
    after = sums(central, "oee.machine_oee_1h", where, params, "machine")
    assert after["B"]["run_s"] == pytest.approx(before["run_s"] - 30)
    for machine in report(edges["edge-1"], capsys, *window)["machines"]:
        assert_same(machine, after[machine["scope"]], f"{machine['scope']} after the late reason")
