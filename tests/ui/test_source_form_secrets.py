"""The source form with a password taken from outside the file (password_env, password_file): an edit
keeps the reference and never writes a plain password beside it. Real config files in tmp_path, driven
by the keys a technician presses."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Select

from oee_tui.drivers.broker_source import BrokerSource
from oee_tui.drivers.registry import load_config
from oee_tui.screens.devices import DevicesScreen
from oee_tui.screens.source_form import SourceFormScreen
from tests.support.pilot import settle
from tests.ui.fakes import StaticEngine
from tests.ui.test_devices import cursor_to, make_devices_app, open_devices, problem, type_into, write_config

SECRET = "hall-a-S3cret"
VARIABLE = "OEE_TEST_UNS_PASSWORD"
SOURCE = f"""
[[sources]]
name = "uns"
kind = "sparkplug"
host = "192.0.2.50"
host_id = "hall-a"
username = "oee"
password_env = "{VARIABLE}"   # set in the engine's unit
"""


def uns_table(path: Path) -> dict[str, Any]:
    return next(table for table in tomllib.loads(path.read_text(encoding="utf-8"))["sources"]
                if table["name"] == "uns")


async def edit_uns(pilot: Pilot[Any], engine: StaticEngine) -> SourceFormScreen:
    devices = await open_devices(pilot, engine)
    await cursor_to(pilot, devices.table, "uns")
    await pilot.press("e")
    await pilot.pause()
    form = pilot.app.screen
    assert isinstance(form, SourceFormScreen)
    return form


@pytest.fixture(autouse=True)
def _variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VARIABLE, SECRET)


async def test_an_edit_keeps_password_env_and_writes_no_password(tmp_path: Path, engine: StaticEngine) -> None:
    path = write_config(tmp_path, extra=SOURCE)
    app = make_devices_app(path, engine)
    async with app.run_test(size=(100, 40)) as pilot:
        form = await edit_uns(pilot, engine)
        password = form.query_one("#field-password", Input)
        assert password.value == ""
        assert password.placeholder == f"from the environment variable {VARIABLE} (password_env); leave blank"
        form.query_one("#field-host", Input).focus()  # select-on-focus: typing replaces the host
        await pilot.pause()
        await type_into(pilot, "broker.hall-a")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, DevicesScreen)
    table = uns_table(path)
    assert table["host"] == "broker.hall-a" and table["password_env"] == VARIABLE and "password" not in table
    text = path.read_text(encoding="utf-8")
    assert SECRET not in text and "# set in the engine's unit" in text
    source = load_config(path).source("uns")
    assert isinstance(source, BrokerSource) and source.password == SECRET


async def test_a_typed_password_is_refused_while_the_file_names_its_source(tmp_path: Path,
                                                                          engine: StaticEngine) -> None:
    path = write_config(tmp_path, extra=SOURCE.replace(f'password_env = "{VARIABLE}"',
                                                       f'password_file = "{tmp_path / "uns-password"}"'))
    (tmp_path / "uns-password").write_text(SECRET + "\n")
    before = path.read_text(encoding="utf-8")
    app = make_devices_app(path, engine)
    async with app.run_test(size=(100, 40)) as pilot:
        form = await edit_uns(pilot, engine)
        form.query_one("#field-password", Input).focus()
        await pilot.pause()
        await type_into(pilot, "typed-pw")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form
        said = problem(form, "password")
        assert said is not None and said.startswith(f"comes from the file {tmp_path / 'uns-password'} "
                                                    "(password_file); change it there")
    assert path.read_text(encoding="utf-8") == before


async def test_a_new_kind_with_a_password_keeps_where_it_comes_from(tmp_path: Path, engine: StaticEngine) -> None:
    path = write_config(tmp_path, extra=SOURCE)
    app = make_devices_app(path, engine)
    async with app.run_test(size=(100, 40)) as pilot:
        form = await edit_uns(pilot, engine)
        form.query_one("#field-kind", Select).value = "mqtt"  # sparkplug -> generic MQTT on the same broker
        await pilot.pause()
        assert form.kind == "mqtt"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, DevicesScreen)
    table = uns_table(path)
    assert table["kind"] == "mqtt" and table["password_env"] == VARIABLE and "password" not in table
    assert "host_id" not in table  # the old kind's own settings go, as before
