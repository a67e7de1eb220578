"""Keys typed in a burst go to the field that had the focus when each was typed (issue 14, item 15).

Textual forwards a key to the focused widget's queue, and a key that widget does not take (Tab,
Enter, the arrows) comes back up to the app to find its binding: keys typed meanwhile used to be
forwarded to the field the cursor was leaving. Each test presses its keys in one `pilot.press`
call, with no pause between them, as a fast typist or a terminal paste delivers them.
The import screen's Tab completion in a burst is tested in test_import_screen.py.
"""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input

from oee_tui.screens.source_form import SourceFormScreen
from tests.support.pilot import burst, settle
from tests.ui.fakes import StaticEngine
from tests.ui.test_devices import make_devices_app, open_devices, write_config


async def test_a_burst_across_tab_fills_each_field_on_the_devices_form(tmp_path: Path,
                                                                       engine: StaticEngine) -> None:
    app = make_devices_app(write_config(tmp_path), engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_devices(pilot, engine)
        await pilot.press("a")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, SourceFormScreen)
        await burst(pilot, "tab", "n", "1", "tab", *"127.0.0.1")
        assert form.query_one("#field-name", Input).value == "n1"
        assert form.query_one("#field-host", Input).value == "127.0.0.1"


async def test_a_burst_across_enter_and_the_arrows_keeps_each_key_in_its_place(tmp_path: Path,
                                                                               engine: StaticEngine) -> None:
    app = make_devices_app(write_config(tmp_path), engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_devices(pilot, engine)
        await pilot.press("a")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, SourceFormScreen)
        # Enter moves on as Tab does; Left moves the cursor before the next letter is typed.
        await burst(pilot, "tab", "n", "2", "left", "x", "enter", *"10.0.0.7")
        assert form.query_one("#field-name", Input).value == "nx2"
        assert form.query_one("#field-host", Input).value == "10.0.0.7"

