"""Snapshot tests of the import screen at 80x24 (a plain terminal) and 160x48 (a wide one).

Deterministic by construction: the files are written by the test into its own folder and
the test runs there, so the path on screen is relative and the same everywhere; a frozen
clock and no refresh timers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from oee_tui.app import OeeApp
from tests.ui.conftest import CONFIG_PATH, DATA_DIR
from tests.ui.fakes import StaticEngine, frozen_clock
from tests.ui.test_import_screen import BAD_ROWS, HEADER, write_csv

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]


@pytest.fixture
def import_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: StaticEngine) -> OeeApp:
    write_csv(tmp_path / "orders_bad.csv", [HEADER, *BAD_ROWS])
    write_csv(tmp_path / "orders_ok.csv", [HEADER, *BAD_ROWS[:1]])
    (tmp_path / "archive").mkdir()
    monkeypatch.chdir(tmp_path)
    return OeeApp(engine, config_path=CONFIG_PATH, data_dir=DATA_DIR, clock=frozen_clock, refresh_interval=None)


async def _open_import(pilot: Pilot[Any]) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.press("f4")
    await pilot.pause()
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False  # a blinking cursor would be caught on or off at random
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_picking_a_file(snap_compare: Any, import_app: OeeApp, size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await _open_import(pilot)
        await pilot.press("o")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(import_app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_preview_with_bad_cells_and_the_problem_list(snap_compare: Any, import_app: OeeApp,
                                                     size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await _open_import(pilot)
        await pilot.press(*"orders_bad.csv", "enter")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("down")  # the second problem: row 4, its End before its Start
        await pilot.pause()

    assert snap_compare(import_app, terminal_size=size, run_before=run_before)
