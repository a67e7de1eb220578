"""Leaving a form and what a save says (issue 14, item 16): Esc on an edited form asks before the edits are
thrown away; deleting a source is not reported as a reconnect. The delete runs on a real Engine, whose reload
stops the deleted source's link (to a loopback port nothing listens on)."""

from __future__ import annotations

from pathlib import Path

from textual.notifications import Notification
from textual.widgets import Input

from oee_tui.app import OeeApp
from oee_tui.drivers.registry import load_config
from oee_tui.engine.live.engine import Engine
from oee_tui.screens.devices import DevicesScreen
from oee_tui.screens.source_form import SourceFormScreen
from oee_tui.widgets.confirm_dialog import ConfirmScreen
from tests.support.pilot import settle, until
from tests.ui.conftest import DATA_DIR
from tests.ui.fakes import StaticEngine, frozen_clock
from tests.ui.test_devices import SPARE, collect, cursor_to, make_devices_app, open_devices, write_config


async def test_esc_on_an_edited_form_asks_and_keeps_the_edits_on_no(tmp_path: Path, engine: StaticEngine) -> None:
    path = write_config(tmp_path)
    before = path.read_text(encoding="utf-8")
    app = make_devices_app(path, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        devices = await open_devices(pilot, engine)
        await cursor_to(pilot, devices.table, "plc1")
        await pilot.press("e")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, SourceFormScreen)
        await pilot.press("escape")  # nothing changed: leaves at once
        await settle(pilot)
        assert app.screen is devices

        await pilot.press("e")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, SourceFormScreen)
        form.query_one("#field-host", Input).focus()
        await pilot.press(*"10.9.9.9")
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.question == "Leave without saving? Your changes to Host are thrown away."
        await pilot.press("n")  # keep editing: the form and its text are as they were
        await settle(pilot)
        assert app.screen is form
        assert form.query_one("#field-host", Input).value == "10.9.9.9"

        await pilot.press("ctrl+u", *"127.0.0.1")  # typed back to what the file says: nothing to lose
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is devices

        await pilot.press("e")
        await settle(pilot)
        app.screen.query_one("#field-host", Input).focus()
        await pilot.press(*"10.9.9.9", "escape")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
        assert app.screen is devices
    assert path.read_text(encoding="utf-8") == before
    assert engine.reloads == []


async def test_deleting_a_source_says_disconnected_not_reconnected(tmp_path: Path, unused_tcp_port: int) -> None:
    path = write_config(tmp_path, port=unused_tcp_port, extra=SPARE.replace('"192.0.2.11"', '"127.0.0.1"')
                        + f"port = {unused_tcp_port}\n")
    engine = Engine(load_config(path), None)
    notes: list[Notification] = []
    app = OeeApp(engine, config_path=path, data_dir=DATA_DIR, clock=frozen_clock, refresh_interval=None)
    async with app.run_test(size=(80, 24), message_hook=collect(notes)) as pilot:
        await settle(pilot)
        app.show_snapshot(engine.snapshot())
        await pilot.press("f2")
        await settle(pilot)
        devices = app.screen
        assert isinstance(devices, DevicesScreen)
        await cursor_to(pilot, devices.table, "spare")
        await pilot.press("x")
        await settle(pilot)
        await pilot.press("y")
        await until(pilot, lambda: any(note.title == "Config saved" for note in notes), "the save's message")
        [saved] = [note for note in notes if note.title == "Config saved"]
        assert "Disconnected: spare (deleted)." in saved.message
        assert "Reconnected" not in saved.message
        assert [source.name for source in engine.config.sources] == ["plc1"]
