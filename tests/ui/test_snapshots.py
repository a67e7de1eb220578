"""Snapshot tests of every screen at 80x24 (a plain terminal) and 160x48 (a wide one).

Deterministic by construction: StaticEngine's fixed data, a frozen clock, no
refresh timers, and snapshots delivered by hand.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from tests.ui.conftest import AppFactory
from tests.ui.fakes import StaticEngine

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]


async def _show_live(pilot: Pilot[Any], engine: StaticEngine) -> None:
    await pilot.app.workers.wait_for_complete()
    pilot.app.show_snapshot(engine.snapshot())  # type: ignore[attr-defined]
    await pilot.pause()


async def _open_detail(pilot: Pilot[Any], engine: StaticEngine) -> None:
    await _show_live(pilot, engine)
    await pilot.press("down", "down", "enter")  # the Labeler: down, with an open stop
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_live_screen(snap_compare: Any, make_app: AppFactory, engine: StaticEngine, size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await _show_live(pilot, engine)

    assert snap_compare(make_app(engine), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_machine_detail(snap_compare: Any, make_app: AppFactory, engine: StaticEngine,
                        size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await _open_detail(pilot, engine)

    assert snap_compare(make_app(engine), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_reason_picker_open(snap_compare: Any, make_app: AppFactory, engine: StaticEngine,
                            size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await _open_detail(pilot, engine)
        await pilot.press("r")
        await pilot.pause()

    assert snap_compare(make_app(engine), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_first_run_screen(snap_compare: Any, make_app: AppFactory, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(None, demo_factory=StaticEngine), terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_help_on_live_screen(snap_compare: Any, make_app: AppFactory, engine: StaticEngine,
                             size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await _show_live(pilot, engine)
        await pilot.press("f1")
        await pilot.pause()

    assert snap_compare(make_app(engine), terminal_size=size, run_before=run_before)
