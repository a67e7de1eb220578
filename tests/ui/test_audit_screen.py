"""The audit screen (F7): pilot tests pressing the keys a supervisor would, on a real DuckDB store, and
snapshots at 80x24 and 160x48 with fixed entries (no live timers, a fixed plant time zone and clock)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from oee_tui.screens.audit_filter import AuditFilterScreen
from oee_tui.screens.audit_screen import AuditScreen
from oee_tui.screens.help import HelpScreen
from oee_tui.store import Store
from tests.ui.conftest import AppFactory
from tests.ui.fakes import NOW, StaticEngine

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]
# Three hours, two hours and one hour before the frozen clock: 08:00, 09:00 and 10:00 in Europe/Berlin.
ENTRIES = [
    ("anna (line3)", "tty /dev/pts/4", "stop_reason", "L1-FILL@2026-11-26T06:55:00+00:00", None, "FAIL.MECH"),
    ("maint", "ssh 10.1.2.3", "device", "plc1", {"host": "192.0.2.10"}, {"host": "192.0.2.11"}),
    ("sup", "local", "import", "plan.xlsx", None, {"kind": "schedule", "rows": 12}),
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "data") as opened:
        for hours_ago, (user, origin, kind, subject, before, after) in zip((3, 2, 1), ENTRIES, strict=True):
            opened.append_audit(user=user, origin=origin, kind=kind, subject=subject, before=before, after=after,
                                ts=NOW - hours_ago * 3600)
        yield opened


async def settle(pilot: Pilot[Any]) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def open_screen(pilot: Pilot[Any]) -> AuditScreen:
    await pilot.press("f7")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, AuditScreen)
    return screen


def text_of(screen: AuditScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def seqs(screen: AuditScreen) -> list[str]:
    table = screen.query_one("#au-table", DataTable)
    return [str(table.get_row_at(row)[0]) for row in range(table.row_count)]


async def test_f7_lists_newest_first_and_the_detail_follows_the_cursor(make_app: AppFactory, engine: StaticEngine,
                                                                      store: Store) -> None:
    engine.store = store
    async with make_app(engine).run_test(size=(80, 24)) as pilot:
        screen = await open_screen(pilot)
        assert seqs(screen) == ["3", "2", "1"]
        table = screen.query_one("#au-table", DataTable)
        assert [str(cell) for cell in table.get_row_at(0)[:4]] == ["3", "2026-11-26 10:00:00", "sup", "import"]
        assert text_of(screen, "#au-title") == "Audit trail: 3, newest first; filter: none"
        detail = text_of(screen, "#au-detail-text")
        assert "seq 3  2026-11-26 10:00:00  sup from local" in detail
        assert 'After:  {"kind":"schedule","rows":12}' in detail
        await pilot.press("down")
        detail = text_of(screen, "#au-detail-text")
        assert "seq 2  2026-11-26 09:00:00  maint from ssh 10.1.2.3" in detail
        assert 'Before: {"host":"192.0.2.10"}' in detail
        assert f"Hash:     {store.audit_entries(limit=2)[1].hash}" in detail


async def test_the_filter_narrows_by_user_kind_and_time(make_app: AppFactory, engine: StaticEngine,
                                                       store: Store) -> None:
    engine.store = store
    async with make_app(engine).run_test(size=(80, 24)) as pilot:
        screen = await open_screen(pilot)
        await pilot.press("f")
        await pilot.pause()
        assert isinstance(pilot.app.screen, AuditFilterScreen)
        pilot.app.screen.query_one("#filter-user", Input).value = "line3"
        pilot.app.screen.query_one("#filter-user", Input).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert pilot.app.screen is screen
        assert seqs(screen) == ["1"]
        assert text_of(screen, "#au-title") == "Audit trail: 1, newest first; filter: user line3"

        await pilot.press("f")
        await pilot.pause()
        dialog = pilot.app.screen
        dialog.query_one("#filter-user", Input).value = ""
        dialog.query_one("#filter-start", Input).value = "yesterday"
        dialog.query_one("#filter-start", Input).focus()
        await pilot.press("enter")
        await pilot.pause()
        assert pilot.app.screen is dialog  # refused, said, and kept open to be corrected
        assert str(dialog.query_one("#filter-error", Static).render()).startswith("From 'yesterday': give a duration")
        dialog.query_one("#filter-start", Input).value = "150m"  # 08:30 in the plant
        await pilot.press("enter")
        await settle(pilot)
        assert seqs(screen) == ["3", "2"]

        await pilot.press("f")
        await pilot.pause()
        pilot.app.screen.query_one("#filter-kind", Input).value = "device"
        pilot.app.screen.query_one("#filter-kind", Input).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert seqs(screen) == ["2"]
        assert text_of(screen, "#au-title") == "Audit trail: 1, newest first; filter: kind device, from 150m"


async def test_v_checks_the_chain_and_names_what_is_wrong(make_app: AppFactory, engine: StaticEngine,
                                                         store: Store) -> None:
    engine.store = store
    async with make_app(engine).run_test(size=(80, 24)) as pilot:
        screen = await open_screen(pilot)
        assert text_of(screen, "#au-verdict") == "Chain not checked yet: v checks it"
        await pilot.press("v")
        await settle(pilot)
        head = store.audit_head()
        assert text_of(screen, "#au-verdict") == (f"✓ Chain intact: 3 entries checked; head 3:{head[1][:16]}…")
        assert screen.query_one("#au-verdict").has_class("intact")

        cur = store.cursor()
        cur.execute("UPDATE audit_log SET after = '\"SETUP\"' WHERE seq = 1")
        cur.execute("DELETE FROM audit_log WHERE seq = 2")
        cur.close()
        await pilot.press("v")
        await settle(pilot)
        assert text_of(screen, "#au-verdict") == ("✗ CHAIN BROKEN: 2 problems in 2 entries, the first at seq 1 "
                                                  "(listed below)")
        assert screen.query_one("#au-verdict").has_class("broken")
        detail = text_of(screen, "#au-detail-text")
        assert "seq 1: edited (its fields do not match its hash)" in detail
        assert "seq 2: removed (seq 2 missing between 1 and 3)" in detail


async def test_keys_help_and_back(make_app: AppFactory, engine: StaticEngine, store: Store) -> None:
    engine.store = store
    async with make_app(engine).run_test(size=(80, 24)) as pilot:
        screen = await open_screen(pilot)
        await pilot.press("d")
        assert screen.query_one("#au-detail").has_focus
        await pilot.press("escape")
        assert screen.query_one("#au-table", DataTable).has_focus
        await pilot.press("f1")
        await pilot.pause()
        help_screen = pilot.app.screen
        assert isinstance(help_screen, HelpScreen)
        assert help_screen.topic.title == "Audit trail"
        assert {"Filter", "Verify", "Refresh", "Detail", "Back"} <= {
            entry.description for entry in help_screen.topic.entries}
        await pilot.press("escape")
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(pilot.app.screen, AuditScreen)


async def test_no_store_and_an_empty_trail_are_said(make_app: AppFactory, engine: StaticEngine,
                                                    tmp_path: Path) -> None:
    async with make_app(engine).run_test(size=(80, 24)) as pilot:
        screen = await open_screen(pilot)  # StaticEngine has no store by default
        assert text_of(screen, "#au-title") == "This plant has no store, so there is no audit trail to show."
        await pilot.press("f7")  # F7 again closes it
        await pilot.pause()
        assert not isinstance(pilot.app.screen, AuditScreen)
    with Store.open(tmp_path / "empty") as empty:
        engine.store = empty
        async with make_app(engine).run_test(size=(80, 24)) as pilot:
            screen = await open_screen(pilot)
            assert text_of(screen, "#au-title") == "Audit trail: 0, newest first; filter: none"
            assert text_of(screen, "#au-detail-text") == "No audit entries. Changes people make are listed here."


async def test_the_command_palette_opens_it(make_app: AppFactory, engine: StaticEngine, store: Store) -> None:
    engine.store = store
    async with make_app(engine).run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"audit trail")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(pilot.app.screen, AuditScreen)


@pytest.mark.parametrize("size", SIZES)
def test_audit_snapshot(snap_compare: Any, make_app: AppFactory, engine: StaticEngine, store: Store,
                        size: tuple[int, int]) -> None:
    engine.store = store

    async def run_before(pilot: Pilot[Any]) -> None:
        await open_screen(pilot)
        await pilot.press("down")
        await pilot.press("v")
        await settle(pilot)

    assert snap_compare(make_app(engine), terminal_size=size, run_before=run_before)
