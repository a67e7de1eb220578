"""Two TUIs and an engine on one data dir: a reason given in one shows in the other, and each says which
engine it is attached to. The engine is real (a real pymodbus device, a real store); each TUI is the real
app, attached through the real socket, driven by the keys an operator presses."""

from __future__ import annotations

from pathlib import Path

import pytest

from oee_tui.app import OeeApp
from oee_tui.screens.machine_detail import MachineDetailScreen
from oee_tui.screens.reason_picker import ReasonPickerScreen
from oee_tui.service.remote_engine import RemoteEngine
from oee_tui.widgets.engine_link import EngineLink
from oee_tui.widgets.keyed_table import KeyedTable
from tests.service.conftest import Served, me, stop_m1
from tests.support import pilot as piloting
from tests.support.waiting import until


def attached_app(served: Served) -> tuple[OeeApp, RemoteEngine]:
    remote = RemoteEngine(served.data_dir, served.engine.config, origin="tty /dev/pts/9", reattach_every_s=0.1)
    app = OeeApp(remote, config_path=Path("unused.toml"), data_dir=served.data_dir, refresh_interval=0.1)
    return app, remote


async def test_a_reason_given_in_one_tui_shows_in_the_other(served: Served) -> None:
    await stop_m1(served)

    first, first_engine = attached_app(served)
    second, second_engine = attached_app(served)
    async with first.run_test(size=(80, 24)) as one, second.run_test(size=(80, 24)) as two:
        await piloting.until(one, lambda: bool(first.latest_snapshot and first.latest_snapshot.machines),
                             "the first TUI's live table")
        link = first.screen.query_one(EngineLink)
        assert link.text == f"attached to engine pid {first_engine.pid} as {me()} (admin)"

        # The operator at the first TUI: M1 (the first row), its detail, the stop, a reason.
        await one.press("enter")
        await piloting.until(one, lambda: isinstance(first.screen, MachineDetailScreen)
                             and first.screen.query_one("#stops", KeyedTable).row_count > 0, "M1's stops")
        picked = first.screen.query_one("#stops", KeyedTable).cursor_key  # the newest stop, as the screen lists them
        assert picked is not None
        stop_start = float(picked)
        await one.press("r")
        await piloting.until(one, lambda: isinstance(first.screen, ReasonPickerScreen), "the reason picker")
        await one.press("down", "down", "down", "enter")  # Break, Planned maintenance, No orders, Failure
        await piloting.until(one, lambda: isinstance(first.screen, MachineDetailScreen), "back on the detail")

        # It is in the engine, said by whom and from where, durable in its store...
        said = [n.message for n in first._notifications]
        await until(lambda: any(i.reason == "FAIL" for i in served.engine.store.intervals(  # type: ignore[union-attr]
            stop_start - 1, stop_start + 3600, ["M1"])), what=f"the reason in the store ({said})")
        # ...and the second TUI, looking at M1, shows it.
        await two.press("enter")
        await piloting.until(two, lambda: isinstance(second.screen, MachineDetailScreen)
                             and second.screen.query_one("#stops", KeyedTable).row_count > 0, "M1 on the second")
        stops = second.screen.query_one("#stops", KeyedTable)
        await piloting.until(two, lambda: "Failure" in stops.get_cell(repr(stop_start), "reason").plain,
                             "the reason on the second TUI")
        assert stops.get_cell(repr(stop_start), "reason").plain == f"Failure · {me()}"
        assert second_engine.pid == first_engine.pid


async def test_an_attached_tui_offers_only_what_the_role_may_do(served: Served) -> None:
    from oee_tui.model.access import Role
    from oee_tui.screens.audit_screen import AuditScreen
    from oee_tui.screens.devices import DevicesScreen
    from oee_tui.screens.source_form import SourceFormScreen

    served.access.roles[me()] = Role.OPERATOR
    app, remote = attached_app(served)
    async with app.run_test(size=(100, 30)) as pilot:
        await piloting.until(pilot, lambda: remote.role is Role.OPERATOR, "attached as an operator")
        await pilot.press("f2")
        await piloting.until(pilot, lambda: isinstance(app.screen, DevicesScreen), "the devices screen")
        keys = {active.binding.action for active in app.screen.active_bindings.values() if active.enabled}
        assert "add" not in keys and "edit" not in keys and "test" not in keys
        await pilot.press("a")
        await piloting.settle(pilot)
        assert not isinstance(app.screen, SourceFormScreen)
        await pilot.press("escape", "f7")
        await piloting.settle(pilot)
        assert not isinstance(app.screen, AuditScreen)  # the audit trail is the supervisor's

    served.access.roles[me()] = Role.MAINTENANCE
    app, remote = attached_app(served)
    async with app.run_test(size=(100, 30)) as pilot:
        await piloting.until(pilot, lambda: remote.role is Role.MAINTENANCE, "attached as maintenance")
        await pilot.press("f2")
        await piloting.until(pilot, lambda: isinstance(app.screen, DevicesScreen), "the devices screen")
        keys = {active.binding.action for active in app.screen.active_bindings.values() if active.enabled}
        assert {"add", "edit", "test", "browse", "tag_maps"} <= keys


async def test_the_tui_that_owns_the_store_serves_it_and_its_quit_tells_the_attached(tmp_path: Path) -> None:
    import dataclasses

    from oee_tui.engine.live.engine import Engine
    from oee_tui.service.client import EngineClient, NoEngine
    from oee_tui.service.socket_path import socket_path
    from oee_tui.store import Store
    from tests.service.conftest import plant_config

    data_dir = tmp_path / "data"
    engine = Engine(dataclasses.replace(plant_config(), sources=()), Store.open(data_dir), tick_s=0.05)
    app = OeeApp(engine, config_path=tmp_path / "oee.toml", data_dir=data_dir, refresh_interval=0.1, serve=True)
    lost: list[str] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await piloting.until(pilot, lambda: socket_path(data_dir).exists(), "the owner's socket")
        client = await EngineClient.attach(data_dir, origin="test")
        client.on_lost = lost.append
        status = await client.call("status")
        assert status["pid"] == client.pid and status["machines"] == 2
        await pilot.press("q")
        await until(lambda: bool(lost), what="the attached client told")
        await client.close()
    assert not socket_path(data_dir).exists()
    with pytest.raises(NoEngine):
        await EngineClient.attach(data_dir, origin="test")


async def test_an_attached_tui_shows_a_pushed_change_without_waiting_for_its_timer(served: Served) -> None:
    from oee_tui.screens.live_status import LiveScreen

    remote = RemoteEngine(served.data_dir, served.engine.config, origin="test")
    # No refresh timer at all: what the live table shows can only come from the engine's pushes.
    app = OeeApp(remote, config_path=Path("unused.toml"), data_dir=served.data_dir, refresh_interval=None)
    async with app.run_test(size=(100, 30)) as pilot:
        await stop_m1(served)
        live = app.screen
        assert isinstance(live, LiveScreen)
        table = live.query_one("#machines", KeyedTable)
        await piloting.until(pilot, lambda: table.row_count == 2 and "MINOR" in table.get_cell("M1", "state").plain,
                             "M1's stop on the live table", timeout=5)
