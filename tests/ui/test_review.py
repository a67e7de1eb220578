"""The shift review screen: pilot tests that press a supervisor's keys, and snapshots.

The engine is the UI tests' StaticEngine (fixed snapshot data, frozen clock), given a real
DuckDB store in tmp_path that holds the same shift history plus yesterday's Late shift, so
every figure on the screen comes from the real queries.
"""

from __future__ import annotations

import csv
import threading
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from oee_tui.app import OeeApp
from oee_tui.engine.analysis.review import Level
from oee_tui.screens.help import HelpScreen
from oee_tui.screens.live_status import LiveScreen
from oee_tui.screens.reason_picker import ReasonPickerScreen
from oee_tui.screens.shift_review.dialogs import ExportScreen, PeriodInputScreen
from oee_tui.screens.shift_review.review_screen import ReviewScreen
from oee_tui.service import review_ops
from tests.support.pilot import settle
from tests.ui.conftest import AppFactory
from tests.ui.fakes import NOW, OPERATOR, StaticEngine
from tests.ui.review_history import YESTERDAY_LATE, StoreEngine

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]


async def open_review(pilot: Pilot[Any]) -> ReviewScreen:
    await settle(pilot)
    await pilot.press("f3")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, ReviewScreen)
    return screen


async def press(pilot: Pilot[Any], *keys: str) -> None:
    await pilot.press(*keys)
    await settle(pilot)


# ---------------------------------------------------------------- pilot tests


async def test_f3_opens_the_current_shift_by_line(make_app: AppFactory, store_engine: StoreEngine) -> None:
    app = make_app(store_engine)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_review(pilot)
        assert screen.period is not None and screen.period.label == "Early@2026-11-26"
        lines = screen.table("lines")
        assert lines.shown_keys() == ("L1", "L2", "\0plant")
        assert screen.loaded is not None and screen.loaded.report.plant is not None
        plant = screen.loaded.report.plant
        assert plant.good_count == sum(r.good_count for r in screen.loaded.report.machines) > 0
        assert lines.get_cell("\0plant", "good").plain == f"{plant.good_count:,}"
        # F3 again is no move: the review is where the supervisor already is.
        await press(pilot, "f3")
        assert app.screen is screen


async def test_a_slow_query_shows_loading_and_the_keys_still_work(make_app: AppFactory, store_engine: StoreEngine,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # The real query, held back until the test lets it go: a store that answers slowly.
    gate = threading.Event()
    real_report = review_ops.review_report

    def slow_report(*args: Any, **kwargs: Any) -> Any:
        gate.wait(10)
        return real_report(*args, **kwargs)

    monkeypatch.setattr(review_ops, "review_report", slow_report)
    app = make_app(store_engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("f3")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ReviewScreen)
        assert "loading…" in str(screen.query_one("#review-title").render())
        await pilot.press("2", "p")  # the screen follows the keys while the query runs
        await pilot.pause()
        assert screen.view_id == "losses"
        assert screen.period is not None and screen.period.label == "Late@2026-11-25"
        assert screen.loaded is None
        gate.set()
        await settle(pilot)
        # Only the newest request is shown; the first one's answer is dropped.
        assert screen.loaded is not None and screen.loaded.period.label == "Late@2026-11-25"
        assert "loading…" not in str(screen.query_one("#review-title").render())


async def test_keys_step_through_shifts_days_weeks_and_a_typed_range(make_app: AppFactory,
                                                                     store_engine: StoreEngine) -> None:
    app = make_app(store_engine)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_review(pilot)
        seen = []
        for key in ("p", "p", "n", "n", "d", "p", "w", "n", "s"):
            await press(pilot, key)
            assert screen.period is not None
            seen.append(screen.period.label)
        assert seen == ["Late@2026-11-25", "Early@2026-11-25", "Late@2026-11-25", "Early@2026-11-26", "2026-11-26",
                        "2026-11-25", "2026-W48", "2026-W49", "Early@2026-11-26"]
        assert screen.loaded is not None and screen.loaded.period.label == "Early@2026-11-26"

        await press(pilot, "g")
        assert isinstance(app.screen, PeriodInputScreen)
        app.screen.query_one(Input).value = ""
        await pilot.press(*"2026-11-31")
        await press(pilot, "enter")
        assert isinstance(app.screen, PeriodInputScreen)  # a wrong date keeps the box open and says why
        assert "'2026-11-31' is not a period" in str(app.screen.query_one("#period-error").render())
        app.screen.query_one(Input).value = ""
        await pilot.press(*"2026-11-20..2026-11-26")
        await press(pilot, "enter")
        assert app.screen is screen
        assert screen.period is not None and screen.period.label == "2026-11-20..2026-11-26"


async def test_enter_drills_from_line_to_machine_to_stops_and_escape_comes_back(
        make_app: AppFactory, store_engine: StoreEngine) -> None:
    app = make_app(store_engine)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_review(pilot)
        await press(pilot, "enter")  # L1
        assert (screen.scope.level, screen.scope.id) == (Level.LINE, "L1")
        machines = screen.table("machines")
        assert machines.has_focus
        assert machines.shown_keys() == ("L1-FILL", "L1-CAP", "L1-LAB", "\0line")
        await press(pilot, "down", "down", "enter")  # the Labeler
        assert (screen.scope.level, screen.scope.id) == (Level.MACHINE, "L1-LAB")
        stops = screen.table("stops")
        assert stops.has_focus
        assert stops.row_count == 6  # five stops of its history and the breakdown going on now
        assert stops.get_cell(stops.shown_keys()[0], "duration").plain == "0:22:00"
        await press(pilot, "escape")
        assert screen.scope.level is Level.LINE and screen.table("machines").has_focus
        await press(pilot, "backspace")
        assert screen.scope.level is Level.PLANT and screen.table("lines").has_focus
        await press(pilot, "escape")
        assert isinstance(app.screen, LiveScreen)


async def test_a_reason_given_to_a_stop_on_the_list_takes_it_off(make_app: AppFactory,
                                                                  store_engine: StoreEngine) -> None:
    app = make_app(store_engine)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_review(pilot)
        await press(pilot, "6")
        todo = screen.table("unassigned")
        assert todo.has_focus
        before = todo.shown_keys()
        assert screen.loaded is not None
        total = screen.loaded.unassigned.total
        first = screen.loaded.unassigned.rows[0]
        await press(pilot, "enter")
        assert isinstance(app.screen, ReasonPickerScreen)
        await press(pilot, "enter")  # the first reason in the tree: Break
        assert app.screen is screen
        assert store_engine.reason_calls == [(first.machine, first.start, "BREAK", OPERATOR)]
        assert screen.loaded.unassigned.total == total - 1
        assert todo.shown_keys() == before[1:]
        assert f"({total - 1})" in str(screen.query_one("#review-tabs").render())


async def test_an_older_stop_gets_its_reason_through_the_engine_from_the_store(make_app: AppFactory,
                                                                store_engine: StoreEngine) -> None:
    app = make_app(store_engine)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_review(pilot)
        await press(pilot, "p", "6")  # yesterday's Late shift: the engine no longer holds its stops
        assert screen.loaded is not None and screen.loaded.unassigned.total == 6
        await press(pilot, "enter")
        await press(pilot, "enter")
        assert store_engine.reason_calls == []
        assert [call[2:] for call in store_engine.stored_reason_calls] == [("BREAK", OPERATOR)]
        assert screen.loaded.unassigned.total == 5
        assert store_engine.store is not None
        stops = store_engine.store.intervals(YESTERDAY_LATE, YESTERDAY_LATE + 1)
        assert [(s.reason, s.reason_by, s.reason_at) for s in stops if s.reason] == [("BREAK", OPERATOR, NOW)]


async def test_e_exports_the_table_in_view_and_it_reads_back(make_app: AppFactory, store_engine: StoreEngine,
                                                             tmp_path: Path) -> None:
    app = make_app(store_engine)
    notes: list[str] = []
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await open_review(pilot)
        await press(pilot, "e")
        assert isinstance(app.screen, ExportScreen)
        assert store_engine.store is not None
        default = store_engine.store.data_dir / "review-lines-Early_2026-11-26.csv"
        assert app.screen.query_one(Input).value == str(default)
        await press(pilot, "enter")
        notes += [n.message for n in app._notifications]
        assert f"3 rows written to {default}" in notes
        with default.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert screen.loaded is not None and screen.loaded.report.plant is not None
        assert [row["line"] for row in rows] == ["L1", "L2", "plant"]
        assert {row["period"] for row in rows} == {"Early@2026-11-26"}
        plant = screen.loaded.report.plant
        assert (float(rows[2]["oee"]), int(rows[2]["good_count"])) == (plant.oee, plant.good_count)

        await press(pilot, "3", "e")  # the Pareto, to XLSX
        target = tmp_path / "pareto.xlsx"
        app.screen.query_one(Input).value = str(target)
        await press(pilot, "enter")
        from openpyxl import load_workbook

        sheet = load_workbook(target)["pareto"]
        values = list(sheet.values)
        assert values[0] == ("period", "reason", "name", "stops", "duration (h:mm:ss)", "share", "cumulative_share")
        assert sheet["E2"].number_format == "[h]:mm:ss" and sheet["F2"].number_format == "0.00%"
        bars = screen.loaded.pareto
        assert [(v[1] or None, v[3], pytest.approx(v[4].total_seconds(), abs=1e-3)) for v in values[1:]] == [
            (b.reason, b.stops, round(b.seconds, 3)) for b in bars]


async def test_an_export_to_a_missing_folder_says_so(make_app: AppFactory, store_engine: StoreEngine,
                                                     tmp_path: Path) -> None:
    app = make_app(store_engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await open_review(pilot)
        await press(pilot, "e")
        app.screen.query_one(Input).value = str(tmp_path / "nowhere" / "lines.csv")
        await press(pilot, "enter")
        messages = [n.message for n in app._notifications]
        assert f"{tmp_path / 'nowhere' / 'lines.csv'}: folder {tmp_path / 'nowhere'} does not exist" in messages


async def test_compare_lists_the_shifts_and_enter_opens_one(make_app: AppFactory, store_engine: StoreEngine) -> None:
    app = make_app(store_engine)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_review(pilot)
        await press(pilot, "5")
        # The shifts of the day: only the Early shift has begun.
        assert screen.table("compare").shown_keys() == ("Early@2026-11-26",)
        await press(pilot, "m")  # the Early shift over the last 7 days
        keys = screen.table("compare").shown_keys()
        assert keys == tuple(f"Early@2026-11-{day}" for day in range(20, 27))
        assert screen.table("compare").cursor_key == "Early@2026-11-26"
        await press(pilot, "up", "enter")
        assert screen.period is not None and screen.period.label == "Early@2026-11-25"
        assert screen.table("lines").has_focus


async def test_imported_shifts_are_the_periods_in_place_of_the_configs(make_app: AppFactory,
                                                                     store_engine: StoreEngine) -> None:
    """Issue 13 item 10: the review took its periods from the config file, beside or instead of what the
    engine and the report run on. It takes the engine's calendar: the imported shifts, once there are any."""
    assert store_engine.store is not None
    cursor = store_engine.store.cursor()
    cursor.execute("INSERT INTO shift_patterns VALUES ('Früh', '06:00', '14:00', '', '[]'), "
                   "('Spät', '14:00', '22:00', '', '[]')")
    cursor.close()
    app = make_app(store_engine)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_review(pilot)
        assert screen.period is not None and screen.period.label == "Früh@2026-11-26"
        await press(pilot, "p")
        assert screen.period.label == "Spät@2026-11-25"
        await press(pilot, "n", "5")
        assert screen.table("compare").shown_keys() == ("Früh@2026-11-26",)  # not Early beside it


async def test_f1_lists_the_review_keys(make_app: AppFactory, store_engine: StoreEngine) -> None:
    app = make_app(store_engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_review(pilot)
        await press(pilot, "f1")
        assert isinstance(app.screen, HelpScreen)
        assert app.screen.topic.title == "Shift review"
        described = {entry.description: entry.keys for entry in app.screen.topic.entries}
        assert described["Prev"] == "p" and described["Next"] == "n" and described["Export"] == "e"
        assert described["Week"] == "w" and described["Pareto"] == "3" and described["Back"] == "esc / ⌫"


async def test_without_a_store_the_screen_says_there_is_no_history(make_app: AppFactory,
                                                                    engine: StaticEngine) -> None:
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_review(pilot)
        assert "no history to review" in str(screen.query_one("#review-note").render())


# ---------------------------------------------------------------- snapshots


def _app(make_app: AppFactory, engine: StaticEngine) -> OeeApp:
    return make_app(engine)


@pytest.mark.parametrize("size", SIZES)
def test_review_lines(snap_compare: Any, make_app: AppFactory, store_engine: StoreEngine,
                      size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await open_review(pilot)

    assert snap_compare(_app(make_app, store_engine), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_review_pareto_of_a_line(snap_compare: Any, make_app: AppFactory, store_engine: StoreEngine,
                                 size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await open_review(pilot)
        await press(pilot, "enter", "3")

    assert snap_compare(_app(make_app, store_engine), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_review_stops_to_assign(snap_compare: Any, make_app: AppFactory, store_engine: StoreEngine,
                                size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await open_review(pilot)
        await press(pilot, "6")

    assert snap_compare(_app(make_app, store_engine), terminal_size=size, run_before=run_before)
