"""The shift review (F3) on a TUI attached to a real engine: the figures are read in the engine, and are
the same as a TUI that owns the store shows; reasons go through the engine; exports are the user's files.

The served engine's store holds the UI tests' shift history (review_history.py), as the standalone
tests' store does, and the TUI runs on their frozen clock, so both show the same periods.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static

from oee_tui.app import OeeApp
from oee_tui.model.access import Role
from oee_tui.screens.reason_picker import ReasonPickerScreen
from oee_tui.screens.shift_review.dialogs import ExportScreen
from oee_tui.screens.shift_review.review_screen import ReviewScreen
from oee_tui.service.client import EngineClient, EngineRefused
from oee_tui.store import Store
from oee_tui.widgets.keyed_table import KeyedTable
from tests.service.conftest import me
from tests.support.pilot import until
from tests.support.served_engine import ServedPlant, attached_app, served_plant, served_plant_in_thread
from tests.ui.conftest import CONFIG_PATH, AppFactory
from tests.ui.fakes import NOW, StaticEngine, frozen_clock, plant_config
from tests.ui.review_history import YESTERDAY_LATE, StoreEngine, fill
from tests.ui.test_review import open_review, press


def history(store: Store) -> None:
    fill(store, StaticEngine())


def attached(plant: ServedPlant) -> OeeApp:
    return attached_app(plant.data_dir, plant_config(), clock=frozen_clock, config_path=CONFIG_PATH)


async def wait_attached(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, OeeApp)
    await until(pilot, lambda: app.engine is not None and app.engine.snapshot().ts > 0, "attached")


def table_text(table: KeyedTable) -> list[tuple[str, ...]]:
    return [(key, *(str(table.get_cell(key, column)) for column in table.column_ids))
            for key in table.shown_keys()]


# The keys a supervisor presses, and after each, what the screen shows.
TOUR = ("", "2", "3", "4", "5", "m", "6", "1", "p", "6", "1", "enter", "down", "enter", "d", "w")


async def tour(app: OeeApp, pilot: Pilot[Any]) -> list[tuple[object, ...]]:
    screen = await open_review(pilot)
    seen: list[tuple[object, ...]] = []
    for key in TOUR:
        if key:
            await press(pilot, key)
        assert screen.period is not None
        seen.append((key, screen.period.label, screen.scope, screen.view_id,
                     str(screen.query_one("#review-title", Static).render()),
                     str(screen.query_one("#review-figures", Static).render()),
                     str(screen.query_one("#review-tabs", Static).render()),
                     str(screen.query_one("#review-note", Static).render()),
                     table_text(screen.table())))
    return seen


async def test_the_review_shows_the_same_figures_attached_as_standalone(make_app: AppFactory,
                                                                        store_engine: StoreEngine,
                                                                        tmp_path: Path) -> None:
    standalone_app = make_app(store_engine)
    async with standalone_app.run_test(size=(120, 40)) as pilot:
        standalone = await tour(standalone_app, pilot)
    async with served_plant(tmp_path / "served", plant_config(), prepare=history) as plant:
        app = attached(plant)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_attached(pilot)
            seen = await tour(app, pilot)
            screen = app.screen
            assert isinstance(screen, ReviewScreen) and screen.loaded is not None
            assert screen.loaded.report.machines  # figures, not an empty answer twice
    assert [step[:4] for step in seen] == [step[:4] for step in standalone]
    for mine, theirs in zip(seen, standalone, strict=True):
        assert mine == theirs, f"after {mine[0]!r}"


async def test_a_reason_given_in_the_review_is_stored_by_the_engine_with_who_gave_it(tmp_path: Path) -> None:
    async with served_plant(tmp_path / "served", plant_config(), prepare=history) as plant:
        app = attached(plant)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_attached(pilot)
            screen = await open_review(pilot)
            await press(pilot, "p", "6")  # yesterday's Late shift: its stops are in the engine's store
            assert screen.loaded is not None and screen.loaded.unassigned.total == 6
            first = screen.loaded.unassigned.rows[0]
            await press(pilot, "enter")
            assert isinstance(app.screen, ReasonPickerScreen)
            await press(pilot, "enter")  # the first reason in the tree: Break
            assert app.screen is screen
            assert screen.loaded.unassigned.total == 5  # read again from the engine, without the stop
        stops = plant.store.intervals(YESTERDAY_LATE, YESTERDAY_LATE + 1)
        # Who gave it is the engine's word (the socket's peer), not what the TUI says.
        assert [(s.machine, s.start, s.reason, s.reason_by) for s in stops if s.reason] == [
            (first.machine, first.start, "BREAK", me())]


async def test_an_export_is_written_by_the_tui_where_it_was_started(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    monkeypatch.chdir(mine)  # the engine's data dir is its user's; the file is this user's
    async with served_plant(tmp_path / "served", plant_config(), prepare=history) as plant:
        app = attached(plant)
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await wait_attached(pilot)
            screen = await open_review(pilot)
            await press(pilot, "e")
            assert isinstance(app.screen, ExportScreen)
            default = mine / "review-lines-Early_2026-11-26.csv"
            assert app.screen.query_one(Input).value == str(default)
            await press(pilot, "enter")
            assert f"3 rows written to {default}" in [n.message for n in app._notifications]
            assert screen.loaded is not None and screen.loaded.report.plant is not None
            plant_figures = screen.loaded.report.plant
    with default.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["line"] for row in rows] == ["L1", "L2", "plant"]
    assert (float(rows[2]["oee"]), int(rows[2]["good_count"])) == (plant_figures.oee, plant_figures.good_count)
    assert not list(plant.data_dir.glob("review-*"))


def test_review_attached_snapshot(snap_compare: Any, tmp_path: Path) -> None:
    """The review of an attached TUI, with the engine-link line on top (the engine on a loop of its own)."""
    with served_plant_in_thread(tmp_path / "served", plant_config(), role=Role.SUPERVISOR, prepare=history) as plant:
        app = attached(plant)

        async def run_before(pilot: Pilot[Any]) -> None:
            await wait_attached(pilot)
            engine = pilot.app.engine
            client = getattr(engine, "client", None)
            assert client is not None
            # The engine's pid and this OS user change from run to run; a snapshot must not.
            client.hello.update(pid=4242, user="anna")
            await open_review(pilot)
            app.show_store_status()  # what the app's 1 s tick does (no timers in the tests)
            await pilot.pause()

        assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


async def test_a_request_for_no_period_is_refused_in_words(tmp_path: Path) -> None:
    async with served_plant(tmp_path / "served", plant_config()) as plant:
        client = await EngineClient.attach(plant.data_dir, origin="test")
        try:
            with pytest.raises(EngineRefused, match=r"not a period to review: .*'fortnight'") as refused:
                await client.call("review_period", kind="fortnight", label="x", start=0.0, end=1.0,
                                  first_day="2026-11-26", last_day="2026-11-26", shift=None, level="plant",
                                  scope="plant", now=NOW)
            assert refused.value.code == "bad_request"
            with pytest.raises(EngineRefused, match="start must be a number"):
                await client.call("review_compare", kind="day", label="x", start="noon", end=1.0,
                                  first_day="2026-11-26", last_day="2026-11-26", level="plant", scope="plant", mode=0)
        finally:
            await client.close()
