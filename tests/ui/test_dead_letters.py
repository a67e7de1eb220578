"""The dead-letter screen (F6): pilot tests pressing the keys an engineer would, on a real DuckDB store,
and snapshots at 80x24 and 160x48 with fixed letters (no live timers, a fixed plant time zone)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from oee_tui.model import DeadLetter
from oee_tui.screens.dead_letters import DeadLettersScreen
from oee_tui.screens.help import HelpScreen
from oee_tui.store import Store
from tests.ui.conftest import AppFactory
from tests.ui.fakes import StaticEngine

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]
T0 = datetime(2026, 11, 26, 7, 0, tzinfo=UTC).timestamp()  # 08:00 in the fake plant's Europe/Berlin
LETTERS = [
    DeadLetter(T0, "uns", "plant/line1/filler/counts", b'{"machine": {"count": "many"}}',
               "total_count needs a number, got a string 'many'"),
    DeadLetter(T0 + 65, "uns", "plant/line1/filler/state", b"\x00\x01\x02\xffgarbage\x10",
               "payload is not UTF-8 text (byte 3: 0xff)"),
    DeadLetter(T0 + 130, "sparkplug", "spBv1.0/Plant1/DDATA/Line1/Press1", bytes(range(40)),
               "cannot decode the Sparkplug B payload: Error parsing message with type 'Payload'; the message "
               "is kept here with its bytes"),
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "data") as opened:
        opened.write_dead_letters(LETTERS)
        yield opened


async def open_screen(pilot: Pilot[Any]) -> DeadLettersScreen:
    await pilot.press("f6")
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, DeadLettersScreen)
    return screen


def text_of(screen: DeadLettersScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def test_f6_lists_newest_first_and_the_detail_follows_the_cursor(make_app: AppFactory, engine: StaticEngine,
                                                                      store: Store) -> None:
    engine.store = store
    async with make_app(engine).run_test(size=(80, 24)) as pilot:
        screen = await open_screen(pilot)
        table = screen.query_one("#dl-table", DataTable)
        assert table.row_count == 3
        assert [str(table.get_row_at(row)[2]) for row in range(3)] == [
            "spBv1.0/Plant1/DDATA/Line1/Press1", "plant/line1/filler/state", "plant/line1/filler/counts"]
        assert str(table.get_row_at(0)[0]) == "2026-11-26 08:02:10"
        detail = text_of(screen, "#dl-detail-text")
        assert "Error: cannot decode the Sparkplug B payload: Error parsing message with type 'Payload'; the " \
               "message is kept here with its bytes" in detail
        assert "00000000  00 01 02 03 04 05 06 07  |........|" in detail
        await pilot.press("down")
        detail = text_of(screen, "#dl-detail-text")
        assert "Error: payload is not UTF-8 text (byte 3: 0xff)" in detail
        assert "00000000  00 01 02 ff 67 61 72 62  |....garb|" in detail
        assert "Text:" not in detail  # binary: shown as hex only
        await pilot.press("down")
        detail = text_of(screen, "#dl-detail-text")
        assert 'Text: {"machine": {"count": "many"}}' in detail


async def test_refresh_keeps_the_cursor_on_its_letter(make_app: AppFactory, engine: StaticEngine,
                                                      store: Store) -> None:
    engine.store = store
    async with make_app(engine).run_test(size=(80, 24)) as pilot:
        screen = await open_screen(pilot)
        await pilot.press("down")  # the state topic's letter
        store.write_dead_letters([DeadLetter(T0 + 300, "uns", "plant/new", b"x", "newest")])
        await pilot.press("r")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        table = screen.query_one("#dl-table", DataTable)
        assert table.row_count == 4
        assert str(table.get_row_at(0)[2]) == "plant/new"
        assert str(table.get_row_at(table.cursor_row)[2]) == "plant/line1/filler/state"
        assert "Dead letters: 4, newest first" in text_of(screen, "#dl-title")


async def test_detail_pane_takes_focus_and_escape_walks_back(make_app: AppFactory, engine: StaticEngine,
                                                             store: Store) -> None:
    engine.store = store
    async with make_app(engine).run_test(size=(80, 24)) as pilot:
        screen = await open_screen(pilot)
        await pilot.press("d")
        assert screen.query_one("#dl-detail").has_focus
        await pilot.press("escape")
        assert screen.query_one("#dl-table", DataTable).has_focus
        await pilot.press("f1")
        await pilot.pause()
        help_screen = pilot.app.screen
        assert isinstance(help_screen, HelpScreen)
        assert help_screen.topic.title == "Dead letters"
        assert {"Refresh", "Detail", "Back"} <= {entry.description for entry in help_screen.topic.entries}
        await pilot.press("escape")
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(pilot.app.screen, DeadLettersScreen)


async def test_no_letters_and_no_store_are_said(make_app: AppFactory, engine: StaticEngine, tmp_path: Path) -> None:
    async with make_app(engine).run_test(size=(80, 24)) as pilot:
        screen = await open_screen(pilot)  # StaticEngine has no store by default
        assert text_of(screen, "#dl-title") == "This plant has no store, so there are no dead letters to show."
        await pilot.press("f6")  # F6 again closes it
        await pilot.pause()
        assert not isinstance(pilot.app.screen, DeadLettersScreen)
    with Store.open(tmp_path / "empty") as empty:
        engine.store = empty
        async with make_app(engine).run_test(size=(80, 24)) as pilot:
            screen = await open_screen(pilot)
            assert text_of(screen, "#dl-title") == "Dead letters: 0, newest first; r refreshes"
            assert text_of(screen, "#dl-detail-text") == "No dead letters. Every payload so far was decoded."


async def test_the_command_palette_opens_it(make_app: AppFactory, engine: StaticEngine, store: Store) -> None:
    engine.store = store
    async with make_app(engine).run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"dead letters")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        assert isinstance(pilot.app.screen, DeadLettersScreen)


@pytest.mark.parametrize("size", SIZES)
def test_dead_letters_snapshot(snap_compare: Any, make_app: AppFactory, engine: StaticEngine, store: Store,
                               size: tuple[int, int]) -> None:
    engine.store = store

    async def run_before(pilot: Pilot[Any]) -> None:
        await open_screen(pilot)
        await pilot.press("down")

    assert snap_compare(make_app(engine), terminal_size=size, run_before=run_before)
