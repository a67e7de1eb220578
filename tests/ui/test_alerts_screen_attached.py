"""The alerts screen (F5) on a TUI attached to a real engine: the engine's live alerts, its history, and an
acknowledgement that goes through the engine's role check and audit."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input

from oee_tui.drivers.registry import parse_config
from oee_tui.model.access import Role
from oee_tui.widgets.alert_count import AlertCount
from tests.alerts.test_alerts_cmd import OFFLINE_RULE
from tests.alerts.test_rule_kinds import PLANT
from tests.mqtt.broker import free_port
from tests.support.pilot import settle, until
from tests.support.served_engine import attached_app, served_plant
from tests.ui.conftest import CONFIG_PATH
from tests.ui.fakes import frozen_clock
from tests.ui.test_alerts_screen import open_screen, rows, text_of


def offline_plant() -> str:
    """A plant whose one PLC answers on no port: its source_offline rule raises an alert at once."""
    return PLANT.replace("port = 5020", f"port = {free_port()}") + OFFLINE_RULE


async def test_the_engines_alert_is_listed_counted_and_acknowledged(tmp_path: Path) -> None:
    config = parse_config(offline_plant())
    async with served_plant(tmp_path / "data", config) as plant:
        app = attached_app(tmp_path / "data", config, clock=frozen_clock, config_path=CONFIG_PATH)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.engine is not None and len(app.engine.snapshot().alerts) == 1,
                        "the offline alert pushed")
            screen = await open_screen(pilot)
            await until(pilot, lambda: bool(screen.query(AlertCount)) and screen.query_one(AlertCount).display,
                        "the count shown")
            assert screen.query_one(AlertCount).text.startswith("!! 1 active alert (1 critical")
            [row] = rows(screen)
            assert row[3:] == ["plc-offline", "plc", "active"]
            await pilot.press("a")
            await settle(pilot)
            app.screen.query_one("#alert-input", Input).value = "cable unplugged at the cabinet"
            await pilot.press("enter")
            await until(pilot, lambda: plant.engine.snapshot().alerts[0].acked_at is not None, "acknowledged")
            [alert] = plant.engine.snapshot().alerts
            assert alert.ack_comment == "cable unplugged at the cabinet"
            assert [entry.kind for entry in plant.store.audit_entries()] == ["alert_ack"]
            await pilot.press("h")
            await settle(pilot)
            await until(pilot, lambda: text_of(screen, "#al-title").startswith("Alert history: 1"), "the history")


async def test_an_operator_is_not_offered_shelving(tmp_path: Path) -> None:
    config = parse_config(offline_plant())
    async with served_plant(tmp_path / "data", config, role=Role.OPERATOR):
        app = attached_app(tmp_path / "data", config, clock=frozen_clock, config_path=CONFIG_PATH)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.engine is not None and len(app.engine.snapshot().alerts) == 1,
                        "the offline alert pushed")
            screen = await open_screen(pilot)
            assert screen.check_action("acknowledge", ()) is True
            assert screen.check_action("shelve", ()) is False  # the engine would refuse it: not offered
            await pilot.press("s")
            await settle(pilot)
            assert app.screen is screen  # no dialog
