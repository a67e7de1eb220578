"""The device screens, driven by the keys a maintenance technician presses.

The config file is a real file in tmp_path (the sample `oee config init` writes,
comments and all); saves go through ConfigDocument to disk and the engine's
reload is recorded by StaticEngine. Test connection and browse talk to real
in-process servers (pymodbus, asyncua) over loopback TCP.

No sleeps: waits are on workers (`app.workers.wait_for_complete()`) and on the
message queue (`pilot.pause()`).
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.message import Message
from textual.notifications import Notification, Notify
from textual.pilot import Pilot
from textual.widgets import Input, Select, Tree

from oee_tui.app import OeeApp
from oee_tui.cli import SAMPLE_CONFIG
from oee_tui.drivers.registry import KINDS, load_config
from oee_tui.screens.browse import BrowseScreen
from oee_tui.screens.connection_check import ConnectionCheckScreen
from oee_tui.screens.devices import DevicesScreen
from oee_tui.screens.help import HelpScreen
from oee_tui.screens.live_status import LiveScreen
from oee_tui.screens.source_form import SourceFormScreen
from oee_tui.screens.tag_map_form import TagMapEditScreen
from oee_tui.screens.tag_maps import TagMapScreen
from oee_tui.store import Store
from oee_tui.widgets.confirm_dialog import ConfirmScreen
from oee_tui.widgets.form import FieldRow
from oee_tui.widgets.keyed_table import KeyedTable
from tests.drivers.conftest import ModbusSim, OpcUaSim
from tests.support.pilot import settle, until
from tests.ui.conftest import DATA_DIR
from tests.ui.fakes import StaticEngine, frozen_clock

COMMENT = "kind = \"modbus\"             # modbus | opcua | s7 | logix"
SPARE = '\n[[sources]]\nname = "spare"   # kept for the second line\nkind = "modbus"\nhost = "192.0.2.11"\n'


def write_config(tmp_path: Path, *, port: int = 502, extra: str = "") -> Path:
    text = SAMPLE_CONFIG.replace('host = "192.0.2.10"\nport = 502', f'host = "127.0.0.1"\nport = {port}')
    assert COMMENT in text
    path = tmp_path / "oee.toml"
    path.write_text(text + extra, encoding="utf-8")
    return path


def make_devices_app(config_path: Path, engine: StaticEngine) -> OeeApp:
    # The engine runs on this very file, as `oee --config FILE` would: only then does a save reload it.
    engine.config = replace(engine.config, path=config_path)
    return OeeApp(engine, config_path=config_path, data_dir=DATA_DIR, clock=frozen_clock, refresh_interval=None)


def collect(into: list[Notification]) -> Callable[[Message], None]:
    def hook(message: Message) -> None:
        if isinstance(message, Notify):
            into.append(message.notification)

    return hook


async def open_devices(pilot: Pilot[Any], engine: StaticEngine) -> DevicesScreen:
    app = pilot.app
    assert isinstance(app, OeeApp)
    await app.workers.wait_for_complete()
    app.show_snapshot(engine.snapshot())
    await pilot.press("f2")
    await settle(pilot)
    assert isinstance(app.screen, DevicesScreen)
    return app.screen


async def cursor_to(pilot: Pilot[Any], table: KeyedTable, key: str) -> None:
    while table.cursor_key != key:
        assert table.cursor_row < table.row_count - 1, f"{key} is not in the table"
        await pilot.press("down")


async def type_into(pilot: Pilot[Any], text: str) -> None:
    await pilot.press(*text)


def problem(screen: Any, key: str) -> str | None:
    return screen.query_one(f"#row-{key}", FieldRow).problem


def cell(table: KeyedTable, row: str, column: str) -> str:
    return table.get_cell(row, column).plain


@pytest.fixture
async def modbus_server() -> AsyncIterator[ModbusSim]:
    """A real pymodbus server on a free loopback port, on the test's event loop (the app's too)."""
    sim = ModbusSim()
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


@pytest.fixture
def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------- the list


async def test_f2_opens_the_sources_with_their_health(tmp_path: Path, engine: StaticEngine) -> None:
    app = make_devices_app(write_config(tmp_path, extra=SPARE), engine)
    async with app.run_test(size=(80, 24)) as pilot:
        devices = await open_devices(pilot, engine)
        table = devices.table
        assert table.shown_keys() == ("plc1", "spare")
        # plc1 is in the engine's snapshot; spare is not (no tag maps, so nothing reads it).
        assert cell(table, "plc1", "link") == "● online"
        assert cell(table, "plc1", "p95") == "18.7"
        assert cell(table, "plc1", "maps") == "4"
        assert cell(table, "spare", "link") == "—"
        assert cell(table, "spare", "rate") == "—"
        assert cell(table, "spare", "address") == "192.0.2.11"
        titles = [command.title for command in app.get_system_commands(devices)]
        assert "Devices" in titles
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, LiveScreen)


async def test_f1_lists_the_device_keys(tmp_path: Path, engine: StaticEngine) -> None:
    app = make_devices_app(write_config(tmp_path), engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_devices(pilot, engine)
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert app.screen.topic.title == "Devices"
        described = {entry.description for entry in app.screen.topic.entries}
        assert {"Add", "Edit", "Delete", "Test", "Browse", "Maps", "Re-read file"} <= described


# ---------------------------------------------------------------- add, edit, delete


async def test_add_a_modbus_source_checks_the_port_as_typed_and_saves_atomically(
        tmp_path: Path, engine: StaticEngine) -> None:
    path = write_config(tmp_path)
    before = path.read_text(encoding="utf-8")
    app = make_devices_app(path, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_devices(pilot, engine)
        await pilot.press("a")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, SourceFormScreen)
        await pilot.press("tab")  # from the kind (Modbus) to the name
        await type_into(pilot, "press2")
        await pilot.press("tab")
        await type_into(pilot, "10.0.0.7")
        await pilot.press("tab")  # the port field selects its default on focus, so typing replaces it
        await type_into(pilot, "70000")
        await pilot.pause()
        assert problem(form, "port") == "70000 is out of range: must be from 1 to 65535"
        assert problem(form, "host") is None

        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form  # refused: the form stays, the file is untouched
        assert "Not saved" in str(form.query_one("#form-status").render())
        assert path.read_text(encoding="utf-8") == before
        assert engine.reloads == []

        port = form.query_one("#field-port", Input)
        assert port.has_focus  # Save put the cursor on the field to fix
        await pilot.press("ctrl+u")
        await type_into(pilot, "5020")
        await pilot.pause()
        assert problem(form, "port") is None
        await pilot.press("ctrl+s")
        await settle(pilot)

        assert isinstance(app.screen, DevicesScreen)
        assert app.screen.table.shown_keys() == ("plc1", "press2")
    saved = path.read_text(encoding="utf-8")
    assert COMMENT in saved  # the user's comments survive
    assert (tmp_path / "oee.toml.bak").read_text(encoding="utf-8") == before
    added = load_config(path).source("press2")
    assert (added.kind, added.host, added.port) == ("modbus", "10.0.0.7", 5020)
    assert "unit_id" not in saved.split("press2")[1]  # defaults left out of the user's file
    assert [config.source("press2").port for config in engine.reloads] == [5020]


async def test_the_form_shows_only_the_fields_of_the_kind(tmp_path: Path, engine: StaticEngine) -> None:
    app = make_devices_app(write_config(tmp_path), engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_devices(pilot, engine)
        await pilot.press("a")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, SourceFormScreen)
        shown = {row.key for row in form.query(FieldRow) if row.display}
        assert {"host", "port", "unit_id"} <= shown and "endpoint" not in shown and "rack" not in shown
        await pilot.press("q")  # on the kind drop-down: must not quit and lose the form
        await pilot.pause()
        assert app.screen is form and app.return_code is None
        await pilot.press("tab", "q", "a")  # in a text field q is just a letter
        assert form.query_one("#field-name", Input).value == "qa"
        await pilot.press("shift+tab")
        await pilot.press("enter")  # open the kind list, then pick s7 (third) with the keys
        await pilot.press("down", "down", "enter")
        await pilot.pause()
        assert form.kind == "s7"
        shown = {row.key for row in form.query(FieldRow) if row.display}
        assert {"host", "port", "rack", "slot", "local_tsap"} <= shown and "unit_id" not in shown
        assert form.query_one("#field-port", Input).value == "102"  # followed the kind's usual port
        form.query_one("#field-rack", Input).focus()
        await pilot.pause()
        await type_into(pilot, "9")
        await pilot.pause()
        assert problem(form, "rack") == "9 is out of range: must be from 0 to 7"
        form.query_one("#field-local_tsap", Input).focus()
        await pilot.pause()
        await type_into(pilot, "1.00")
        await pilot.pause()
        assert problem(form, "local_tsap") is not None and "01.00" in str(problem(form, "local_tsap"))
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)  # the form was edited: leaving asks first
        await pilot.press("y")
        await pilot.pause()
        assert isinstance(app.screen, DevicesScreen)
    assert engine.reloads == []


async def test_edit_a_source_keeps_its_tag_maps(tmp_path: Path, engine: StaticEngine) -> None:
    path = write_config(tmp_path)
    app = make_devices_app(path, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        devices = await open_devices(pilot, engine)
        await cursor_to(pilot, devices.table, "plc1")
        await pilot.press("enter")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, SourceFormScreen)
        assert form.query_one("#field-host", Input).value == "127.0.0.1"
        form.query_one("#field-host", Input).focus()  # select-on-focus: typing replaces the host
        await pilot.pause()
        await type_into(pilot, "plc-1.")
        await pilot.pause()
        assert problem(form, "host") is None
        await type_into(pilot, ".")
        await pilot.pause()
        assert "not a valid host name" in str(problem(form, "host"))
        await pilot.press("backspace")  # "plc-1.." -> "plc-1."
        await type_into(pilot, "local")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, DevicesScreen)
        assert cell(devices.table, "plc1", "address") == "plc-1.local:502"
    config = load_config(path)
    assert config.source("plc1").host == "plc-1.local"
    assert len(config.machine("L1-FILL").signals) == 4
    assert engine.reloads[-1].source("plc1").host == "plc-1.local"


async def test_delete_is_refused_while_tag_maps_use_the_source_and_done_after(
        tmp_path: Path, engine: StaticEngine) -> None:
    path = write_config(tmp_path, extra=SPARE)
    notes: list[Notification] = []
    app = make_devices_app(path, engine)
    async with app.run_test(size=(80, 24), message_hook=collect(notes)) as pilot:
        devices = await open_devices(pilot, engine)
        await cursor_to(pilot, devices.table, "plc1")
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, DevicesScreen)  # refused before asking
        assert any("still feeds L1-FILL" in note.message for note in notes)

        # Unmap every signal plc1 feeds, in its tag map screen.
        await pilot.press("m")
        await pilot.pause()
        maps = app.screen
        assert isinstance(maps, TagMapScreen)
        assert maps.table.row_count == 4
        for remaining in (3, 2, 1, 0):
            await pilot.press("x")
            await pilot.pause()
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("y")
            await settle(pilot)
            assert maps.table.row_count == remaining
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, DevicesScreen)
        assert cell(devices.table, "plc1", "maps") == "0"

        await cursor_to(pilot, devices.table, "plc1")
        await pilot.press("delete")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")  # changed their mind: nothing happens
        await settle(pilot)
        assert devices.table.shown_keys() == ("plc1", "spare")
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert devices.table.shown_keys() == ("spare",)
    text = path.read_text(encoding="utf-8")
    assert "plc1" not in text
    assert "# kept for the second line" in text
    assert [source.name for source in load_config(path).sources] == ["spare"]
    assert [source.name for source in engine.reloads[-1].sources] == ["spare"]


async def test_a_save_refused_by_the_file_changing_on_disk_is_reported(tmp_path: Path,
                                                                       engine: StaticEngine) -> None:
    path = write_config(tmp_path, extra=SPARE)
    notes: list[Notification] = []
    app = make_devices_app(path, engine)
    async with app.run_test(size=(80, 24), message_hook=collect(notes)) as pilot:
        devices = await open_devices(pilot, engine)
        edited = path.read_text(encoding="utf-8").replace('name = "My Plant"', 'name = "My Plant (edited)"')
        path.write_text(edited, encoding="utf-8")  # by hand, while the screen is open
        await cursor_to(pilot, devices.table, "spare")
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert any(note.severity == "error" and "changed by someone else" in note.message for note in notes)
        assert engine.reloads == []
        await pilot.press("r")  # read it again, then the delete goes through
        await settle(pilot)
        await cursor_to(pilot, devices.table, "spare")
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert devices.table.shown_keys() == ("plc1",)
    assert load_config(path).site.name == "My Plant (edited)"


# ---------------------------------------------------------------- tag maps


async def test_tag_map_form_checks_address_type_and_width_as_typed(tmp_path: Path, engine: StaticEngine) -> None:
    path = write_config(tmp_path)
    app = make_devices_app(path, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_devices(pilot, engine)
        await pilot.press("m")
        await pilot.pause()
        maps = app.screen
        assert isinstance(maps, TagMapScreen)
        await cursor_to(pilot, maps.table, "L1-FILL/state_code")
        await pilot.press("enter")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, TagMapEditScreen)
        tag = form.query_one("#field-tag", Input)
        assert tag.has_focus and tag.value == "hr:3"
        await type_into(pilot, "hr:70000")
        await pilot.pause()
        assert "out of range" in str(problem(form, "tag"))
        await pilot.press("ctrl+u")
        await type_into(pilot, "co:7")
        await pilot.press("tab")
        await type_into(pilot, "uint16")
        await pilot.pause()
        assert problem(form, "tag") is None
        assert problem(form, "type") == "must be bool for a co: (single bit) address"
        await pilot.press("ctrl+u")
        await type_into(pilot, "bool")
        await pilot.press("tab")
        await type_into(pilot, "32")  # state_code is not a counter
        await pilot.pause()
        assert problem(form, "type") is None
        assert "counters only" in str(problem(form, "width"))
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is form
        await pilot.press("ctrl+u")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is maps
        assert cell(maps.table, "L1-FILL/state_code", "tag") == "co:7"
    mapping = load_config(path).machine("L1-FILL").signals
    assert [(m.tag, m.type) for s, m in mapping.items() if s == "state_code"] == [("co:7", "bool")]


# ---------------------------------------------------------------- test connection and browse


async def test_test_connection_reads_every_tag_of_a_real_modbus_server(tmp_path: Path, engine: StaticEngine,
                                                                       modbus_server: ModbusSim) -> None:
    await modbus_server.set("hr", 3, [4])  # the state code reads 4
    await modbus_server.set("co", 0, [True])
    app = make_devices_app(write_config(tmp_path, port=modbus_server.port), engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_devices(pilot, engine)
        await pilot.press("t")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ConnectionCheckScreen)
        assert screen.failure is None
        table = screen.query_one("#test-readings", KeyedTable)
        assert set(table.shown_keys()) == {"hr:0", "hr:2", "hr:3", "co:0"}
        assert cell(table, "hr:3", "value") == "4"
        assert cell(table, "hr:3", "type") == "uint16"
        assert cell(table, "hr:0", "type") == "uint32"
        assert cell(table, "co:0", "value") == "True"
        assert all(cell(table, tag, "quality") == "✓ good" for tag in table.shown_keys())
        assert float(cell(table, "hr:3", "latency")) >= 0
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, DevicesScreen)
    assert modbus_server.requests > 0


async def test_test_connection_says_plainly_when_the_device_does_not_answer(tmp_path: Path, engine: StaticEngine,
                                                                            free_port: int) -> None:
    app = make_devices_app(write_config(tmp_path, port=free_port), engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_devices(pilot, engine)
        await pilot.press("t")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ConnectionCheckScreen)
        assert screen.failure is not None
        assert screen.failure.startswith(f"Could not read from plc1 at 127.0.0.1:{free_port}")
        assert not screen.query_one("#test-readings").display


async def test_browse_is_refused_for_modbus(tmp_path: Path, engine: StaticEngine) -> None:
    notes: list[Notification] = []
    app = make_devices_app(write_config(tmp_path), engine)
    async with app.run_test(size=(80, 24), message_hook=collect(notes)) as pilot:
        await open_devices(pilot, engine)
        await pilot.press("b")
        await pilot.pause()
        assert isinstance(app.screen, DevicesScreen)
        assert any("no browsable address space" in note.message for note in notes)


@pytest.fixture
async def opcua_sim() -> AsyncIterator[OpcUaSim]:
    sim = OpcUaSim()
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


async def test_pick_an_opcua_node_from_a_real_server_into_a_tag_map(tmp_path: Path, engine: StaticEngine,
                                                                    opcua_sim: OpcUaSim) -> None:
    extra = f'\n[[sources]]\nname = "ua"\nkind = "opcua"\nendpoint = "{opcua_sim.endpoint}"\ntimeout_s = 5\n'
    path = write_config(tmp_path, extra=extra)
    app = make_devices_app(path, engine)
    async with app.run_test(size=(100, 30)) as pilot:
        devices = await open_devices(pilot, engine)
        await cursor_to(pilot, devices.table, "ua")
        assert cell(devices.table, "ua", "link") == "✕ offline"  # from the snapshot's health
        await pilot.press("m")
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, TagMapEditScreen)
        await pilot.press("tab")  # machine (L1-FILL) -> signal
        await pilot.press("enter", *["down"] * 5, "enter")  # total_count -> speed, in Signal order
        await pilot.pause()
        assert form.query_one("#field-signal", Select).value == "speed"
        await pilot.press("f3")
        await settle(pilot)
        browse = app.screen
        assert isinstance(browse, BrowseScreen)
        tree: Tree[Any] = browse.query_one(Tree)

        def labels(node: Any) -> list[str]:
            return [str(child.label).split()[0] for child in node.children]

        await until(pilot, lambda: "Filler" in labels(tree.root), "the Objects folder listed")
        assert "Server" in labels(tree.root)
        while tree.cursor_node is None or str(tree.cursor_node.label) != "Filler":
            await pilot.press("down")
        filler = tree.cursor_node
        await pilot.press("space")  # open it: its children are fetched now
        await until(pilot, lambda: "Speed" in labels(filler), "the Filler's variables listed")
        while str(tree.cursor_node.label).split()[0] != "Speed":
            await pilot.press("down")
        assert str(tree.cursor_node.label) == "Speed  Double"
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is form
        assert form.query_one("#field-tag", Input).value == opcua_sim.node_id("Speed")
        assert problem(form, "tag") is None
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, TagMapScreen)
    speed = load_config(path).machine("L1-FILL").signals
    assert [(m.source, m.tag) for s, m in speed.items() if s == "speed"] == [("ua", opcua_sim.node_id("Speed"))]


async def test_pick_a_logix_udt_member_from_the_uploaded_tag_list(tmp_path: Path, engine: StaticEngine) -> None:
    from tests.drivers.logix.logix_server import LogixServer

    server = LogixServer()  # a minimal EtherNet/IP controller; pycomm3 uploads its tag list over TCP
    server.start()
    try:
        extra = (f'\n[[sources]]\nname = "clx"\nkind = "logix"\nhost = "127.0.0.1"\nport = {server.port}\n'
                 "timeout_s = 5\n")
        path = write_config(tmp_path, extra=extra)
        app = make_devices_app(path, engine)
        async with app.run_test(size=(100, 30)) as pilot:
            devices = await open_devices(pilot, engine)
            await cursor_to(pilot, devices.table, "clx")
            await pilot.press("m")
            await pilot.pause()
            await pilot.press("a")
            await pilot.pause()
            form = app.screen
            assert isinstance(form, TagMapEditScreen)
            await pilot.press("tab")  # machine (L1-FILL) -> signal
            await pilot.press("enter", *["down"] * 5, "enter")  # total_count -> speed, in Signal order
            await pilot.pause()
            await pilot.press("f3")
            await settle(pilot)
            browse = app.screen
            assert isinstance(browse, BrowseScreen)
            tree: Tree[Any] = browse.query_one(Tree)

            def labels(node: Any) -> list[str]:
                return [str(child.label).split()[0] for child in node.children]

            await until(pilot, lambda: "Filler" in labels(tree.root), "the controller tags listed")
            assert "Program:MainProgram" in labels(tree.root)
            while tree.cursor_node is None or str(tree.cursor_node.label).split()[0] != "Filler":
                await pilot.press("down")
            filler = tree.cursor_node
            await pilot.press("space")  # its members come from the UDT's template
            await until(pilot, lambda: "Speed" in labels(filler), "the UDT's members listed")
            while str(tree.cursor_node.label).split()[0] != "Speed":
                await pilot.press("down")
            await pilot.press("enter")
            await settle(pilot)
            assert app.screen is form
            assert form.query_one("#field-tag", Input).value == "Filler.Speed"
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert isinstance(app.screen, TagMapScreen)
    finally:
        server.stop()
    signals = load_config(path).machine("L1-FILL").signals
    assert [(m.source, m.tag) for s, m in signals.items() if s == "speed"] == [("clx", "Filler.Speed")]


# ---------------------------------------------------------------- what the engine does with a save


async def test_no_config_file_yet_is_said_plainly(tmp_path: Path, engine: StaticEngine) -> None:
    notes: list[Notification] = []
    app = make_devices_app(tmp_path / "missing.toml", engine)
    async with app.run_test(size=(80, 24), message_hook=collect(notes)) as pilot:
        devices = await open_devices(pilot, engine)
        assert devices.load_problem is not None and "oee config init" in devices.load_problem
        assert devices.table.row_count == 0
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, DevicesScreen)
        assert any("oee config init" in note.message for note in notes)


async def test_a_failed_engine_reload_is_reported_and_the_file_still_saved(
        tmp_path: Path, engine: StaticEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    async def refuse(config: Any) -> None:
        raise RuntimeError("source plc1 would lose its counters")

    monkeypatch.setattr(engine, "reload", refuse)
    path = write_config(tmp_path, extra=SPARE)
    notes: list[Notification] = []
    app = make_devices_app(path, engine)
    async with app.run_test(size=(80, 24), message_hook=collect(notes)) as pilot:
        devices = await open_devices(pilot, engine)
        await cursor_to(pilot, devices.table, "spare")
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
    assert "spare" not in path.read_text(encoding="utf-8")
    errors = [note.message for note in notes if note.severity == "error"]
    assert any("keeps running on the previous one: source plc1 would lose its counters" in m for m in errors)


async def test_an_engine_on_another_config_is_not_reloaded(tmp_path: Path, engine: StaticEngine) -> None:
    path = write_config(tmp_path, extra=SPARE)
    notes: list[Notification] = []
    # As with the demo plant: the engine's config is not read from the file being edited.
    app = OeeApp(engine, config_path=path, data_dir=DATA_DIR, clock=frozen_clock, refresh_interval=None)
    async with app.run_test(size=(80, 24), message_hook=collect(notes)) as pilot:
        devices = await open_devices(pilot, engine)
        await cursor_to(pilot, devices.table, "spare")
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
    assert engine.reloads == []
    assert any("not read from this file" in note.message for note in notes)


async def test_browse_says_why_when_the_server_does_not_answer(tmp_path: Path, engine: StaticEngine,
                                                               free_port: int) -> None:
    extra = (f'\n[[sources]]\nname = "ua"\nkind = "opcua"\nendpoint = "opc.tcp://127.0.0.1:{free_port}/"\n'
             "timeout_s = 1\n")
    app = make_devices_app(write_config(tmp_path, extra=extra), engine)
    async with app.run_test(size=(80, 24)) as pilot:
        devices = await open_devices(pilot, engine)
        await cursor_to(pilot, devices.table, "ua")
        await pilot.press("b")
        await pilot.pause()
        browse = app.screen
        assert isinstance(browse, BrowseScreen)
        tree: Tree[Any] = browse.query_one(Tree)
        await until(pilot, lambda: any(str(child.label).startswith("✕") for child in tree.root.children),
                    "the failure shown on the root")
        message = str(tree.root.children[0].label)
        assert message.startswith("✕ could not browse ua: ")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, DevicesScreen)


async def test_the_demo_plants_built_in_devices_are_shown_read_only(tmp_path: Path, engine: StaticEngine) -> None:
    from oee_tui.demo.servers import DemoPlant

    plant = DemoPlant(seed=3)  # not started: only its config (with this run's ports) is needed
    engine.built_in_config_text = plant.config_text()  # what DemoEngine offers
    notes: list[Notification] = []
    # A config file of the user's exists, but the demo does not run on it: the demo's devices are shown.
    app = make_devices_app(write_config(tmp_path), engine)
    async with app.run_test(size=(80, 24), message_hook=collect(notes)) as pilot:
        devices = await open_devices(pilot, engine)
        assert devices.table.shown_keys() == tuple(source.name for source in plant.config.sources)
        assert cell(devices.table, "demo-modbus", "address") == f"127.0.0.1:{plant.modbus_port}"
        assert "demo plant (built in, read-only)" in str(devices.query_one("#devices-header").render())
        for key in ("a", "e", "x", "m", "enter"):
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, DevicesScreen), key
        assert sum("built in and not saved" in note.message for note in notes) == 5
    assert (tmp_path / "oee.toml").read_text(encoding="utf-8") == write_config(tmp_path).read_text(encoding="utf-8")


def test_the_demo_engine_offers_exactly_the_config_it_runs() -> None:
    from oee_tui.config.edit import ConfigDocument
    from oee_tui.runtime import DemoEngine

    demo = DemoEngine(None, seed=3)
    shown = ConfigDocument(Path("demo"), demo.built_in_config_text, KINDS).validate()
    assert shown.sources == demo.config.sources
    assert [m.id for m in shown.machines] == [m.id for m in demo.config.machines]


async def test_a_device_saved_on_the_tui_that_owns_the_store_is_in_the_audit_trail(
        tmp_path: Path, engine: StaticEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSH_CONNECTION", "192.0.2.7 50000 192.0.2.1 22")
    engine.store = Store.open(tmp_path / "data")
    path = write_config(tmp_path)
    app = make_devices_app(path, engine)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await open_devices(pilot, engine)
            await pilot.press("a")
            await pilot.pause()
            await pilot.press("tab")
            await type_into(pilot, "press2")
            await pilot.press("tab")
            await type_into(pilot, "10.0.0.7")
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert isinstance(app.screen, DevicesScreen)
        [entry] = engine.store.audit_entries(kind="config")
        assert (entry.subject, entry.origin) == (str(path), "ssh 192.0.2.7")
        diff = entry.after_value()["diff"]  # type: ignore[index]
        assert '+name = "press2"' in diff and '+host = "10.0.0.7"' in diff
    finally:
        engine.store.close()


def test_a_cleared_error_is_still_said_with_its_time_dim() -> None:
    """`Errors 2` and an empty Last error left a technician guessing (issue 14, item 10)."""
    from zoneinfo import ZoneInfo

    from oee_tui.screens.devices import error_cell
    from tests.ui.fakes import NOW, source_status

    utc = ZoneInfo("UTC")
    failing = source_status("plc1", "modbus", connected=False, last_error="connection refused", errors=2)
    assert error_cell(failing, utc).plain == "connection refused"
    back = dataclasses.replace(source_status("plc1", "modbus", errors=2), previous_error="timed out connecting",
                               previous_error_at=NOW - 30)
    cell = error_cell(back, utc)
    assert cell.plain == "09:59:30 timed out connecting" and cell.style == "dim"
    assert error_cell(source_status("plc1", "modbus"), utc).plain == ""
