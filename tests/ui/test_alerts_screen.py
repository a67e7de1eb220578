"""The alerts screen (F5) and the active-alert line on every screen: pilot tests pressing an operator's keys
over a real DuckDB store, and snapshots at 80x24 and 160x48 with fixed alerts and a frozen clock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from oee_tui.model import Alert, AlertAction, AlertEvent, AlertKind, Severity
from oee_tui.screens.alerts import AlertInput, AlertsScreen
from oee_tui.screens.devices import DevicesScreen
from oee_tui.store import Store
from oee_tui.widgets.alert_count import AlertCount
from tests.ui.conftest import AppFactory
from tests.ui.fakes import NOW, OPERATOR, StaticEngine

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]
DOWN = Alert(7, "down-10", AlertKind.MACHINE_DOWN, Severity.CRITICAL, "L1-FILL", "Filler is down", NOW - 900)
SCRAP = Alert(8, "scrap", AlertKind.SCRAP_RATE, Severity.WARNING, "L1-CAP",
              "scrap 7.5% (9 of 120) over 15 min, above 5%", NOW - 300)
CLEARED = Alert(6, "plc-offline", AlertKind.SOURCE_OFFLINE, Severity.WARNING, "plc-line1",
                "plc-line1 is offline: connection refused", NOW - 3600, cleared_at=NOW - 3000)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "data") as opened:
        opened.write_alerts([(alert, AlertEvent(alert.id, alert.raised_at, AlertAction.RAISED))
                             for alert in (CLEARED, DOWN, SCRAP)])
        yield opened


@pytest.fixture
def alerting(engine: StaticEngine, store: Store) -> StaticEngine:
    engine.store = store
    engine.plant = replace(engine.plant, alerts=(DOWN, SCRAP))
    return engine


async def open_screen(pilot: Pilot[Any]) -> AlertsScreen:
    await pilot.press("f5")
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, AlertsScreen)
    return screen


def rows(screen: AlertsScreen) -> list[list[str]]:
    table = screen.query_one("#al-table", DataTable)
    return [[str(cell) for cell in table.get_row_at(row)] for row in range(table.row_count)]


def text_of(screen: Any, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def test_every_screen_shows_the_active_count_and_f5_lists_them(make_app: AppFactory,
                                                                     alerting: StaticEngine) -> None:
    app = make_app(alerting)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.show_snapshot(alerting.snapshot())
        await pilot.pause()
        line = app.screen.query_one(AlertCount)
        assert line.display and line.text == "!! 2 active alerts (1 critical, 2 not acknowledged): F5 lists them"
        await pilot.press("f2")  # another screen: the line is there too
        await pilot.pause()
        assert type(app.screen) is DevicesScreen
        app.show_snapshot(alerting.snapshot())
        await pilot.pause()
        assert app.screen.query_one(AlertCount).text.startswith("!! 2 active alerts")
        screen = await open_screen(pilot)
        assert [row[0] for row in rows(screen)] == ["8", "7"]  # newest first
        assert rows(screen)[1][1:] == ["!!critical", "10:45:00", "down-10", "L1-FILL", "active"]
        assert text_of(screen, "#al-title").startswith("Active alerts: 2; a acknowledges")
        assert "scrap 7.5% (9 of 120) over 15 min" in text_of(screen, "#al-detail-text")
        await pilot.press("f5")
        await pilot.pause()
        assert type(app.screen) is DevicesScreen  # F5 again: back where it was


async def test_acknowledge_with_a_comment_then_shelve(make_app: AppFactory, alerting: StaticEngine,
                                                      store: Store) -> None:
    app = make_app(alerting)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_screen(pilot)
        await pilot.press("down")  # alert 7, the critical one
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, AlertInput)
        await pilot.press("enter")  # an empty comment is refused on the dialog
        await pilot.pause()
        assert isinstance(app.screen, AlertInput)
        assert "Write something first" in text_of(app.screen, "#alert-input-error")
        app.screen.query_one("#alert-input", Input).value = "fitter on the way"
        await pilot.press("enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        stored = store.alert(7)
        assert stored is not None and (stored.acked_by, stored.ack_comment) == (OPERATOR, "fitter on the way")
        assert rows(screen)[1][5] == f"active, acked by {OPERATOR}"
        await pilot.press("s")
        await pilot.pause()
        assert app.screen.query_one("#alert-input", Input).value == "30m"
        await pilot.press("enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        stored = store.alert(7)
        assert stored is not None and stored.shelved_until == NOW + 1800
        assert rows(screen)[1][5] == f"shelved until 11:30:00, acked by {OPERATOR}"
        assert text_of(screen, "#al-title").startswith("Active alerts: 2 (1 shelved)")
        assert [entry.kind for entry in store.audit_entries()] == ["alert_shelve", "alert_ack"]
        app.show_snapshot(alerting.snapshot())
        await pilot.pause()
        # The shelved one is out of the count.
        assert screen.query_one(AlertCount).text == "!! 1 active alert (1 not acknowledged): F5 lists them"


async def test_history_lists_cleared_alerts_from_the_store(make_app: AppFactory, alerting: StaticEngine) -> None:
    async with make_app(alerting).run_test(size=(80, 24)) as pilot:
        screen = await open_screen(pilot)
        await pilot.press("h")
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert [row[0] for row in rows(screen)] == ["8", "7", "6"]
        assert rows(screen)[2][5] == "cleared 10:10:00"
        assert text_of(screen, "#al-title").startswith("Alert history: 3")


async def test_a_bad_shelving_time_is_said_and_nothing_changes(make_app: AppFactory, alerting: StaticEngine,
                                                                store: Store) -> None:
    app = make_app(alerting)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_screen(pilot)
        await pilot.press("s")
        await pilot.pause()
        app.screen.query_one("#alert-input", Input).value = "soon"
        await pilot.press("enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        assert store.audit_entries() == []
        assert all(alert.shelved_until is None for alert in store.alerts())


@pytest.mark.parametrize("size", SIZES)
def test_alerts_snapshot(snap_compare: Any, make_app: AppFactory, alerting: StaticEngine,
                         size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await open_screen(pilot)
        pilot.app.show_snapshot(alerting.snapshot())  # type: ignore[attr-defined]
        await pilot.press("down")

    assert snap_compare(make_app(alerting), terminal_size=size, run_before=run_before)
