"""Snapshot tests of the device screens at 80x24 (a plain terminal) and 160x48 (a wide one).

Deterministic by construction: StaticEngine's fixed source health, a frozen clock,
no refresh timers, and a config file whose path is relative (the test runs in
its own tmp dir), so the header reads the same on every machine.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from oee_tui.app import OeeApp
from tests.ui.conftest import DATA_DIR
from tests.ui.fakes import StaticEngine, frozen_clock
from tests.ui.test_devices import write_config

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]

# A Modbus PLC with health, an OPC-UA server that is down, and an S7 PLC the engine does not
# report on (no tag maps): the three ways a row can look.
EXTRA_SOURCES = """
[[sources]]
name = "ua"
kind = "opcua"
endpoint = "opc.tcp://192.0.2.20:4840/line2"

[[sources]]
name = "press3"
kind = "s7"
host = "192.0.2.30"
rack = 0
slot = 1
"""


def devices_snapshot_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: StaticEngine,
                         extra: str) -> OeeApp:
    """The app on a config with the usual source plus `extra`, at a relative path: the header
    reads the same on every machine."""
    write_config(tmp_path, extra=extra)
    monkeypatch.chdir(tmp_path)
    config_path = Path("oee.toml")
    engine.config = replace(engine.config, path=config_path)
    return OeeApp(engine, config_path=config_path, data_dir=DATA_DIR, clock=frozen_clock, refresh_interval=None)


@pytest.fixture
def devices_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: StaticEngine) -> OeeApp:
    return devices_snapshot_app(tmp_path, monkeypatch, engine, EXTRA_SOURCES)


async def open_devices_for_snapshot(pilot: Pilot[Any]) -> None:
    """F2 once the app has shown its first snapshot and every worker has finished."""
    app = pilot.app
    assert isinstance(app, OeeApp) and app.engine is not None
    await app.workers.wait_for_complete()
    app.show_snapshot(app.engine.snapshot())
    await pilot.press("f2")
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_devices_list(snap_compare: Any, devices_app: OeeApp, size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await open_devices_for_snapshot(pilot)

    assert snap_compare(devices_app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_source_form_with_a_bad_port(snap_compare: Any, devices_app: OeeApp, size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await open_devices_for_snapshot(pilot)
        await pilot.press("e")  # plc1, the first row
        await pilot.pause()
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False  # a blinking cursor would be caught on or off at random
        pilot.app.screen.query_one("#field-port", Input).focus()
        await pilot.pause()
        await pilot.press(*"70000")
        await pilot.pause()

    assert snap_compare(devices_app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_add_opcua_source_form(snap_compare: Any, devices_app: OeeApp, size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await open_devices_for_snapshot(pilot)
        await pilot.press("a", "enter", "down", "enter")  # the kind list: modbus -> opcua
        await pilot.pause()

    assert snap_compare(devices_app, terminal_size=size, run_before=run_before)
