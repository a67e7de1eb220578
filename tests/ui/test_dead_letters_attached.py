"""The dead-letter screen (F6) on a TUI attached to a real engine: the letters come from the engine's store."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from oee_tui.model import DeadLetter
from oee_tui.service.remote_engine import RemoteEngine
from oee_tui.store import Store
from tests.support.pilot import settle, until
from tests.support.served_engine import attached_app, served_plant
from tests.ui.conftest import CONFIG_PATH
from tests.ui.fakes import NOW, frozen_clock, plant_config
from tests.ui.test_dead_letters import LETTERS, open_screen, text_of


def _letters(store: Store) -> None:
    store.write_dead_letters(LETTERS)


async def test_f6_lists_the_engines_dead_letters_newest_first(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    async with served_plant(data_dir, plant_config(), prepare=_letters) as plant:
        app = attached_app(data_dir, plant_config(), clock=frozen_clock, config_path=CONFIG_PATH)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.engine is not None and app.engine.snapshot().ts > 0, "attached")
            screen = await open_screen(pilot)
            table = screen.query_one("#dl-table", DataTable)
            assert [str(table.get_row_at(row)[2]) for row in range(table.row_count)] == [
                "spBv1.0/Plant1/DDATA/Line1/Press1", "plant/line1/filler/state", "plant/line1/filler/counts"]
            assert text_of(screen, "#dl-title") == "Dead letters: 3, newest first; r refreshes"
            assert "00000000  00 01 02 03 04 05 06 07  |........|" in text_of(screen, "#dl-detail-text")
            # A letter the engine stores later shows on `r`, as it does standalone.
            plant.store.write_dead_letters([DeadLetter(NOW, "uns", "plant/line2/late", b"{", "not JSON")])
            await pilot.press("r")
            await settle(pilot)
            assert table.row_count == 4 and str(table.get_row_at(0)[2]) == "plant/line2/late"


async def test_f6_says_when_the_engine_is_gone(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    async with served_plant(data_dir, plant_config(), prepare=_letters) as plant:
        app = attached_app(data_dir, plant_config(), clock=frozen_clock, config_path=CONFIG_PATH)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.engine is not None and app.engine.snapshot().ts > 0, "attached")
            screen = await open_screen(pilot)
            await plant.server.close()
            await until(pilot, lambda: "ENGINE LOST" in str(app.screen.query_one("#engine-link", Static).render()),
                        "the loss shown")
            await pilot.press("r")
            await settle(pilot)
            title = text_of(screen, "#dl-title")
            assert title.startswith("Cannot read the dead letters: not sent: the engine (pid "), title
            # What was listed stays listed: the screen does not pretend the letters are gone.
            assert screen.query_one("#dl-table", DataTable).row_count == 3


async def test_a_screens_thread_asks_the_engine_and_the_loop_may_not(tmp_path: Path) -> None:
    """RemoteEngine.call_from_thread, which the attached screens' thread workers use: it blocks the worker's
    thread until the engine answers, and refuses the loop's own thread, which it would block for good."""
    data_dir = tmp_path / "data"
    async with served_plant(data_dir, plant_config(), prepare=_letters):
        engine = RemoteEngine(data_dir, plant_config(), origin="test")
        await engine.start()
        try:
            letters = await asyncio.to_thread(engine.call_from_thread, "dead_letters", limit=2)
            assert [letter.topic for letter in letters] == [LETTERS[2].topic, LETTERS[1].topic]
            with pytest.raises(RuntimeError, match="would wait forever"):
                engine.call_from_thread("dead_letters", limit=2)
        finally:
            await engine.stop()
