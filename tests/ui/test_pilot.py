"""Pilot tests: press the keys an operator presses and check what the app did.

No sleeps: every wait is on workers (`app.workers.wait_for_complete()`) or on
the message queue (`pilot.pause()`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from textual.message import Message
from textual.notifications import Notification, Notify
from textual.pilot import Pilot

from oee_tui.app import OeeApp, SnapshotReady
from oee_tui.model import MachineState, PlantSnapshot
from oee_tui.screens.first_run import FirstRunScreen
from oee_tui.screens.help import HelpScreen
from oee_tui.screens.live_status import LiveScreen
from oee_tui.screens.machine_detail import NEEDS_REASON, MachineDetailScreen
from oee_tui.screens.reason_picker import ReasonPickerScreen
from oee_tui.widgets.keyed_table import KeyedTable
from tests.support.pilot import settle
from tests.ui.conftest import CONFIG_PATH, DATA_DIR, AppFactory
from tests.ui.fakes import MACHINES, NOW, OPERATOR, SHIFT_START, StaticEngine, frozen_clock, machine_snapshot


def changed_snapshot(engine: StaticEngine) -> PlantSnapshot:
    """The next tick: the Labeler runs again, the Wrapper went stale, the Capper (above the
    Labeler) left the plant and a new machine arrived."""
    machines = []
    for machine in engine.plant.machines:
        if machine.machine == "L1-CAP":
            continue
        if machine.machine == "L1-LAB":
            machine = replace(machine, state=MachineState.RUNNING, state_since=NOW - 30, good_count=9_500)
        if machine.machine == "L2-WRAP":
            machine = replace(machine, stale=True, last_data=NOW - 12)
        machines.append(machine)
    newcomer = replace(machine_snapshot(MACHINES[0]), machine="L3-NEW", name="Sealer", line="L3")
    return replace(engine.plant, machines=(newcomer, *machines))


async def show_live(pilot: Pilot[Any], app: OeeApp, engine: StaticEngine) -> KeyedTable:
    await app.workers.wait_for_complete()
    app.show_snapshot(engine.snapshot())
    await pilot.pause()
    assert isinstance(app.screen, LiveScreen)
    return app.screen.table


def _collect_notifications(into: list[Notification]) -> Callable[[Message], None]:
    def hook(message: Message) -> None:
        if isinstance(message, Notify):
            into.append(message.notification)

    return hook


def cell(table: KeyedTable, row: str, column: str) -> str:
    return table.get_cell(row, column).plain


# ---------------------------------------------------------------- live screen


async def test_live_screen_shows_one_row_per_machine_with_symbol_and_text(make_app: AppFactory,
                                                                          engine: StaticEngine) -> None:
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await show_live(pilot, app, engine)
        assert table.shown_keys() == tuple(m.id for m in MACHINES)
        assert cell(table, "L1-FILL", "state") == "► RUN"
        assert cell(table, "L1-CAP", "state") == "‖ MINOR"
        assert cell(table, "L1-LAB", "state") == "✕ DOWN"
        assert cell(table, "L2-CASE", "state") == "◷ PLANNED"
        assert cell(table, "L2-WRAP", "state") == "⇄ CHANGE"
        assert cell(table, "L2-PAL", "state") == "? OFFLINE"
        assert cell(table, "L1-FILL", "in_state") == "0:23:00"
        # At 80 columns: whole percents and short counts, so that every column fits (issue 14, item 12).
        assert cell(table, "L1-FILL", "performance") == "103!"  # over 100%: marked, never capped
        assert cell(table, "L1-FILL", "actual_target") == "14.2k/13.8k"
        assert cell(table, "L2-PAL", "data_age") == "?45s"
        assert cell(table, "L1-CAP", "data_age") == "2s"
        assert table.column_ids[-3:] == ("reject", "actual_target", "data_age")
        assert table.virtual_size.width <= 80  # nothing is off screen: no → needed to see Rej, Good/Tgt, Age
        assert table.scroll_x == 0 and table.max_scroll_x == 0


async def test_from_120_columns_the_product_and_line_totals_show(make_app: AppFactory,
                                                                 engine: StaticEngine) -> None:
    app = make_app(engine)
    async with app.run_test(size=(120, 30)) as pilot:
        table = await show_live(pilot, app, engine)
        assert "product" in table.column_ids
        assert cell(table, "L1-FILL", "performance") == "103.4!"
        assert cell(table, "L1-FILL", "actual_target") == "14,210/13,800"
        assert cell(table, "L2-PAL", "data_age") == "STALE 45s"
        lines = {result.scope: result for result in engine.snapshot().lines}
        totals = [key for key in table.shown_keys() if key.startswith("line:")]
        assert totals == [f"line:{line}" for line in lines]
        line1 = lines["L1"]
        assert cell(table, "line:L1", "machine") == "Σ L1"
        assert cell(table, "line:L1", "good") == f"{line1.good_count:,}"
        # Each total sits under the last machine of its line.
        keys = table.shown_keys()
        assert keys.index("line:L1") == max(keys.index(m.id) for m in MACHINES if m.line == "L1") + 1

        await pilot.resize_terminal(80, 24)  # narrower: the compact table, on the same rows
        await settle(pilot)
        narrow = app.screen.query_one("#machines", KeyedTable)
        assert "product" not in narrow.column_ids
        assert not [key for key in narrow.shown_keys() if key.startswith("line:")]
        assert narrow.virtual_size.width <= 80


async def test_cursor_stays_on_its_machine_and_cells_update_by_difference(make_app: AppFactory,
                                                                          engine: StaticEngine) -> None:
    app = make_app(engine)
    async with app.run_test(size=(60, 24)) as pilot:  # narrower than the table, so that it scrolls
        table = await show_live(pilot, app, engine)
        await pilot.press("down", "down")
        assert table.cursor_key == "L1-LAB"
        await pilot.press("right")  # scroll sideways; a refresh must not undo it
        scroll_x = table.scroll_x
        assert scroll_x > 0

        app.show_snapshot(changed_snapshot(engine))
        await pilot.pause()

        assert table.cursor_key == "L1-LAB"
        # The Capper above it left and the Sealer arrived at the top: the cursor followed the row.
        assert table.shown_keys()[:3] == ("L3-NEW", "L1-FILL", "L1-LAB")
        assert table.cursor_row == 2
        assert table.scroll_x == scroll_x
        assert cell(table, "L1-LAB", "good") == "9,500"
        assert cell(table, "L1-LAB", "state") == "► RUN"
        assert cell(table, "L1-LAB", "in_state") == "0:00:30"
        assert cell(table, "L2-WRAP", "state") == "? OFFLINE"  # stale: whatever it last said
        assert cell(table, "L2-WRAP", "data_age") == "?12s"
        assert "L1-CAP" not in table.shown_keys()
        assert "L3-NEW" in table.shown_keys()
        assert table.row_count == 6


async def test_an_unchanged_snapshot_touches_no_cell(make_app: AppFactory, engine: StaticEngine) -> None:
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await show_live(pilot, app, engine)
        updates: list[tuple[object, ...]] = []
        original = table.update_cell

        def counting_update_cell(*args: Any, **kwargs: Any) -> None:
            updates.append(args)
            original(*args, **kwargs)

        table.update_cell = counting_update_cell  # type: ignore[method-assign]
        app.show_snapshot(engine.snapshot())
        await pilot.pause()
        assert updates == []
        app.show_snapshot(changed_snapshot(engine))
        await pilot.pause()
        # Labeler: state, time in state, good, good/target; Wrapper: state, data age.
        assert len(updates) == 6


async def test_snapshot_message_reaches_the_live_screen_and_collapses(make_app: AppFactory,
                                                                      engine: StaticEngine) -> None:
    older, newer = SnapshotReady(engine.snapshot()), SnapshotReady(changed_snapshot(engine))
    assert older.can_replace(newer)
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        app.post_message(newer)
        await pilot.pause()
        assert isinstance(app.screen, LiveScreen)
        assert "L3-NEW" in app.screen.table.shown_keys()


async def test_refresh_interval_fills_the_live_screen_once_the_engine_started(engine: StaticEngine) -> None:
    # A long interval: the first tick is the one the app takes as soon as the engine has started.
    app = OeeApp(engine, config_path=CONFIG_PATH, data_dir=DATA_DIR, clock=frozen_clock, refresh_interval=60.0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert engine.started == 1
        assert isinstance(app.screen, LiveScreen)
        assert app.screen.table.row_count == len(MACHINES)


async def test_snapshots_are_not_rendered_under_a_modal_and_catch_up_after(make_app: AppFactory,
                                                                           engine: StaticEngine) -> None:
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await show_live(pilot, app, engine)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        app.show_snapshot(changed_snapshot(engine))
        await pilot.pause()
        assert cell(table, "L1-LAB", "good") == "9,120"  # nobody sees it: no work done
        await pilot.press("escape")
        await pilot.pause()
        assert cell(table, "L1-LAB", "good") == "9,500"


# ---------------------------------------------------------------- machine detail and reasons


async def test_enter_opens_the_detail_of_the_highlighted_machine(make_app: AppFactory,
                                                                 engine: StaticEngine) -> None:
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await show_live(pilot, app, engine)
        await pilot.press("down", "down", "enter")
        await settle(pilot)
        assert isinstance(app.screen, MachineDetailScreen)
        assert app.screen.machine_id == "L1-LAB"
        assert engine.detail_requests == ["L1-LAB"]
        stops = app.screen.query_one("#stops", KeyedTable)
        assert stops.row_count == 6
        assert cell(stops, stops.shown_keys()[0], "reason") == NEEDS_REASON
        assert cell(stops, stops.shown_keys()[0], "duration") == "0:22:00 (open)"
        assert cell(stops, stops.shown_keys()[0], "start") == "10:38:00"  # plant time, not UTC

        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, LiveScreen)
        assert app.screen.table.cursor_key == "L1-LAB"


async def test_d_opens_detail_and_backspace_returns(make_app: AppFactory, engine: StaticEngine) -> None:
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await show_live(pilot, app, engine)
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, MachineDetailScreen)
        assert app.screen.machine_id == "L1-FILL"
        await pilot.press("backspace")
        await pilot.pause()
        assert isinstance(app.screen, LiveScreen)


async def test_operator_gives_a_reason_to_a_stop(make_app: AppFactory, engine: StaticEngine,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSH_CONNECTION", "192.0.2.44 50000 192.0.2.1 22")
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await show_live(pilot, app, engine)
        await pilot.press("down", "down", "enter")
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, MachineDetailScreen)

        await pilot.press("down")  # the minor stop at 10:35 plant time
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, ReasonPickerScreen)
        # Break, Planned maintenance, No orders, Failure, then Failure's child Mechanical.
        await pilot.press("down", "down", "down", "down", "enter")
        await settle(pilot)

        minor_stop_start = SHIFT_START + 275 * 60
        assert engine.reason_calls == [("L1-LAB", minor_stop_start, "FAIL.MECH", OPERATOR)]
        assert engine.reason_origins == ["ssh 192.0.2.44"]  # for the audit trail: where the operator sat
        assert app.screen is detail
        stops = detail.query_one("#stops", KeyedTable)
        assert stops.cursor_key == repr(minor_stop_start)
        assert cell(stops, repr(minor_stop_start), "reason") == f"Mechanical · {OPERATOR}"
        assert engine.detail_requests == ["L1-LAB", "L1-LAB"]  # reloaded after the reason was set


async def test_enter_on_a_stop_opens_the_picker_and_escape_cancels(make_app: AppFactory,
                                                                   engine: StaticEngine) -> None:
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await show_live(pilot, app, engine)
        await pilot.press("down", "down", "enter")
        await settle(pilot)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ReasonPickerScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, MachineDetailScreen)
        assert engine.reason_calls == []


async def test_picker_starts_on_the_reason_a_stop_already_has(make_app: AppFactory, engine: StaticEngine) -> None:
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await show_live(pilot, app, engine)
        await pilot.press("down", "down", "enter")
        await settle(pilot)
        await pilot.press("down", "down", "down", "down")  # 08:30 down, reason FAIL.MECH
        await pilot.press("r")
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot)
        assert engine.reason_calls == [("L1-LAB", SHIFT_START + 150 * 60, "FAIL.MECH", OPERATOR)]


async def test_a_rejected_reason_is_reported_not_raised(make_app: AppFactory, engine: StaticEngine) -> None:
    async def refuse(machine: str, stop_start: float, reason: str, user: str, origin: str = "local") -> None:
        raise KeyError("the stop is gone")

    engine.set_stop_reason = refuse  # type: ignore[method-assign]
    app = make_app(engine)
    notes: list[Notification] = []
    async with app.run_test(size=(80, 24), message_hook=_collect_notifications(notes)) as pilot:
        await show_live(pilot, app, engine)
        await pilot.press("down", "down", "enter")
        await settle(pilot)
        await pilot.press("r")
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, MachineDetailScreen)  # still running, still on the detail
    assert [(n.title, n.severity) for n in notes] == [("Not saved", "error")]
    assert "the stop is gone" in notes[0].message


async def test_an_engine_that_fails_to_start_is_reported(make_app: AppFactory, engine: StaticEngine) -> None:
    async def fail() -> None:
        raise RuntimeError("port 502 refused")

    engine.start = fail  # type: ignore[method-assign]
    app = make_app(engine)
    notes: list[Notification] = []
    async with app.run_test(size=(80, 24), message_hook=_collect_notifications(notes)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, LiveScreen)
    assert [(n.title, n.severity) for n in notes] == [("Engine error", "error")]
    assert "port 502 refused" in notes[0].message


# ---------------------------------------------------------------- help and palette


async def test_f1_lists_the_keys_of_the_screen_underneath(make_app: AppFactory, engine: StaticEngine) -> None:
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await show_live(pilot, app, engine)
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        live_help = {entry.description: entry.keys for entry in app.screen.topic.entries}
        assert live_help["Detail"] == "d"
        assert "q" in live_help["Quit"]
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, LiveScreen)

        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert app.screen.topic.title == "Machine detail"
        detail_help = {entry.description: entry.keys for entry in app.screen.topic.entries}
        assert detail_help["Reason"] == "r"
        assert "esc" in detail_help["Back"]


async def test_palette_offers_the_commands_of_the_current_screen(make_app: AppFactory,
                                                                 engine: StaticEngine) -> None:
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await show_live(pilot, app, engine)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for title in ("Live status", "Open machine detail", "Help", "Quit"):
            assert title in titles
        assert titles.count("Quit") == 1
        open_detail = next(c for c in app.get_system_commands(app.screen) if c.title == "Open machine detail")
        assert "Filler" in open_detail.help

        await pilot.press("enter")
        await settle(pilot)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Give reason to the selected stop" in titles
        give_reason = next(c for c in app.get_system_commands(app.screen) if c.title.startswith("Give reason"))
        give_reason.callback()
        await pilot.pause()
        assert isinstance(app.screen, ReasonPickerScreen)
        await pilot.press("escape")
        await pilot.pause()

        live = next(c for c in app.get_system_commands(app.screen) if c.title == "Live status")
        live.callback()
        await pilot.pause()
        assert isinstance(app.screen, LiveScreen)


# ---------------------------------------------------------------- first run


async def test_first_run_d_starts_the_demo_and_shows_the_live_screen(make_app: AppFactory) -> None:
    made: list[StaticEngine] = []

    def demo_factory() -> StaticEngine:
        made.append(StaticEngine())
        return made[-1]

    app = make_app(None, demo_factory=demo_factory)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, FirstRunScreen)
        await pilot.press("d")
        await settle(pilot)
        assert len(made) == 1
        assert made[0].started == 1
        assert isinstance(app.screen, LiveScreen)
        app.show_snapshot(made[0].snapshot())
        await pilot.pause()
        assert app.screen.table.row_count == len(MACHINES)
        await pilot.press("q")
        await settle(pilot)
    assert made[0].stopped == 1


async def test_first_run_without_a_demo_factory_offers_only_the_shell_commands(make_app: AppFactory) -> None:
    app = make_app(None)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, FirstRunScreen)
        text = " ".join(str(static.render()) for static in screen.query("Static"))
        assert "Press D" not in text
        assert "oee config init" in text
        assert "/srv/oee/oee.toml" in text
        assert "/srv/oee/data" in text
        await pilot.press("d")
        await pilot.pause()
        assert app.screen is screen
        await pilot.press("q")
        await pilot.pause()
    assert app.return_value == 0


# ---------------------------------------------------------------- quitting


async def test_q_stops_the_engine_before_exit(make_app: AppFactory, engine: StaticEngine) -> None:
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await show_live(pilot, app, engine)
        await pilot.press("q")
        await settle(pilot)
    assert engine.stopped == 1
    assert app.return_value == 0


async def test_ctrl_c_stops_the_engine_too(make_app: AppFactory, engine: StaticEngine) -> None:
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await show_live(pilot, app, engine)
        await pilot.press("down", "enter")  # from the detail screen, too
        await settle(pilot)
        await pilot.press("ctrl+c")
        await settle(pilot)
    assert engine.stopped == 1


async def test_palette_quit_stops_the_engine(make_app: AppFactory, engine: StaticEngine) -> None:
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await show_live(pilot, app, engine)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"quit")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
    assert engine.stopped == 1


async def test_a_failed_stop_exits_with_1(make_app: AppFactory, engine: StaticEngine) -> None:
    async def broken_stop() -> None:
        raise OSError("disk full")

    engine.stop = broken_stop  # type: ignore[method-assign]
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await show_live(pilot, app, engine)
        await pilot.press("q")
        await settle(pilot)
    assert app.return_value == 1


async def test_any_other_exit_still_stops_the_engine(make_app: AppFactory, engine: StaticEngine) -> None:
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await show_live(pilot, app, engine)
        app.exit()  # e.g. a future code path that forgets action_quit
        await pilot.pause()
    assert engine.stopped == 1


async def test_state_colours_follow_a_theme_change(make_app: AppFactory, engine: StaticEngine) -> None:
    from oee_tui.widgets.states import state_variables

    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await show_live(pilot, app, engine)
        assert state_variables(dark=True)["state-down"] in str(table.get_cell("L1-LAB", "state").style)
        app.theme = "textual-light"
        await pilot.pause()
        assert state_variables(dark=False)["state-down"] in str(table.get_cell("L1-LAB", "state").style)
