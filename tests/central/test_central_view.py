"""`oee --central URL`: the review screen over the central database, two edges' data, read only (pilot tests
that press a plant manager's keys, and a snapshot at 80x24). The data is the two edges' day of
tests/central/two_edges.py, pushed into a real PostgreSQL (with TimescaleDB and without)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from oee_tui.central_app import CentralApp
from oee_tui.cli import main
from oee_tui.drivers.registry import load_config
from oee_tui.screens.reason_picker import ReasonPickerScreen
from oee_tui.screens.shift_review.review_screen import ReviewScreen
from oee_tui.service.central_plant import READ_ONLY, CentralPlant
from tests.central.cluster import CentralDb
from tests.central.two_edges import at
from tests.support.pilot import settle


def central_app(edges: dict[str, Path], central: CentralDb) -> CentralApp:
    # The plant's calendar and time zone from an edge's config file; the clock frozen after the Late shift.
    def clock() -> float:
        return at("23:00")

    config = edges["edge-1"]
    plant = CentralPlant(central.url, load_config(config), clock)
    return CentralApp(plant, config_path=config, data_dir=config.parent, clock=clock)


async def review(pilot: Pilot[Any]) -> ReviewScreen:
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, ReviewScreen)
    return screen


async def test_the_review_shows_every_edge_and_site_and_drills_into_their_machines(
        edges: dict[str, Path], central: CentralDb) -> None:
    app = central_app(edges, central)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await review(pilot)
        assert screen.period is not None and screen.period.label == "Late@2026-11-24"
        assert screen.table("lines").shown_keys() == ("North/L1", "South/L9", "\0plant")
        loaded = screen.loaded
        assert loaded is not None and loaded.report.plant is not None
        assert loaded.report.plant.good_count == sum(r.good_count for r in loaded.report.machines) > 0
        await pilot.press("enter")
        await settle(pilot)
        assert screen.table("machines").shown_keys()[:2] == ("edge-1/A", "edge-1/B")
        await pilot.press("p")  # the shift before: Early
        await settle(pilot)
        assert screen.period.label == "Early@2026-11-24"


async def test_giving_a_reason_is_refused_with_a_word_on_where_to_do_it(
        edges: dict[str, Path], central: CentralDb) -> None:
    app = central_app(edges, central)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await review(pilot)
        await pilot.press("p", "6")  # the Early shift's stops without a reason, from both edges
        await settle(pilot)
        shown = screen.table("unassigned").shown_keys()
        assert len(shown) >= 4
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(app.screen, ReasonPickerScreen)
        assert [n.message for n in app._notifications] == [READ_ONLY]


def test_the_central_view_of_two_edges(snap_compare: Any, edges: dict[str, Path], central: CentralDb) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await review(pilot)

    assert snap_compare(central_app(edges, central), terminal_size=(80, 24), run_before=run_before)


def test_a_central_database_that_cannot_be_reached_is_said_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(tmp_path / "none.toml"), "--central",
                 "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("oee: the central database cannot be read: ")
