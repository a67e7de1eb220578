"""The TUI on a full disk (issue 13, item 1): a real engine over a real store on a small tmpfs
(tests/support/small_disk.py). Every screen shows, for as long as it lasts, what is not saved,
since when and why; a reason is not called saved unless it is in the store; quitting with data
that never reached the store says how much was lost and exits 5. An engine that cannot start
says why on the screen, instead of waiting for a first snapshot for ever."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.notifications import Notification
from textual.pilot import Pilot

from oee_tui.app import EXIT_UNSAVED, OeeApp
from oee_tui.engine.live.engine import Engine
from oee_tui.model import Quality, TagSample
from oee_tui.screens.machine_detail import MachineDetailScreen
from oee_tui.screens.reason_picker import ReasonPickerScreen
from oee_tui.store import Store
from oee_tui.widgets.store_status import StoreStatus
from tests.imports.test_import_oee import at, plant
from tests.support.pilot import settle
from tests.support.small_disk import SmallDisk, small_disk
from tests.ui.conftest import CONFIG_PATH, DATA_DIR
from tests.ui.test_pilot import _collect_notifications


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    with small_disk(tmp_path / "disk") as mounted:
        yield mounted


class Clock:
    def __init__(self) -> None:
        self.now = at("06:00")

    def __call__(self) -> float:
        return self.now


def banner(app: OeeApp) -> str:
    """What the store banner of the screen in front says; '' when it is hidden or absent."""
    found = app.screen.query(StoreStatus)
    return found.first().text if found and found.first().display else ""


async def show(pilot: Pilot[Any], app: OeeApp, engine: Engine) -> None:
    app.show_snapshot(engine.tick())
    await pilot.pause()


def run_machine(engine: Engine, clock: Clock, start: str, samples: int) -> None:
    clock.now = at(start)
    engine.ingest([TagSample(clock.now, "plc", "hr:4", 1, Quality.GOOD)])
    for n in range(samples):
        clock.now += 0.5
        engine.ingest([TagSample(clock.now, "plc", "hr:0", n, Quality.GOOD)])


async def test_a_full_disk_is_shown_on_every_screen_and_no_reason_is_called_saved(disk: SmallDisk) -> None:
    clock = Clock()
    store = Store.open(disk.root / "data")
    engine = Engine(plant(with_plc=True), store, clock=clock, acquire=False)
    app = OeeApp(engine, config_path=CONFIG_PATH, data_dir=DATA_DIR, clock=clock, refresh_interval=None)
    notes: list[Notification] = []
    async with app.run_test(size=(120, 30), message_hook=_collect_notifications(notes)) as pilot:
        await settle(pilot)
        run_machine(engine, clock, "06:10", 200)
        clock.now = at("06:20")
        engine.ingest([TagSample(clock.now, "plc", "hr:4", 2, Quality.GOOD)])  # a stop, to give a reason
        await engine.flush()
        await show(pilot, app, engine)
        assert banner(app) == ""

        disk.fill()
        run_machine(engine, clock, "06:25", 2_000)
        await engine.flush()
        await show(pilot, app, engine)
        said = banner(app)
        assert said.startswith("NOT SAVED since ") and "2,001 samples" in said
        assert "Why: no space left on the disk." in said and "quitting now loses it" in said

        await pilot.press("enter")  # the machine's detail
        await settle(pilot)
        assert isinstance(app.screen, MachineDetailScreen)
        await show(pilot, app, engine)
        assert banner(app) == said  # the detail screen shows it too
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, ReasonPickerScreen)
        await pilot.press("enter")
        await settle(pilot)
        assert [(n.title, n.severity) for n in notes] == [("Not saved", "error")]
        assert "no space left on the disk" in notes[0].message

        disk.free()
        await engine.flush()
        await show(pilot, app, engine)
        assert banner(app) == ""

        disk.fill()
        run_machine(engine, clock, "06:40", 2_000)  # more than a full tmpfs takes in its last page
        await pilot.press("q")
        await settle(pilot)
    assert app.return_value == EXIT_UNSAVED  # what `oee` exits with
    assert app.stop_error is not None and "could not be written (no space left on the disk)" in app.stop_error
    assert "are lost" in app.stop_error
    store.close()


async def test_an_engine_that_cannot_start_says_why_on_the_screen(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "data")
    engine = Engine(plant(with_plc=True), store, clock=Clock(), acquire=False)
    store.close()  # the engine's start reads the store: it fails
    app = OeeApp(engine, config_path=CONFIG_PATH, data_dir=DATA_DIR, clock=Clock(), refresh_interval=None)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        assert banner(app).startswith("The engine did not start: the store in ")
