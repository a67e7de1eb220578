"""The import screen (F4) on a TUI attached to a real engine: the file is checked against the engine's
stored planning data, written by the engine into its store and its running plan, and offered for writing
only to a role that may import."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input, OptionList

from oee_tui.app import OeeApp
from oee_tui.imports import validate_file
from oee_tui.imports.write import write_result
from oee_tui.model.access import Role
from oee_tui.store import Store
from tests.service.conftest import me
from tests.support.pilot import settle, until
from tests.support.served_engine import ServedPlant, attached_app, served_plant
from tests.ui.conftest import CONFIG_PATH
from tests.ui.fakes import OPERATOR, frozen_clock, plant_config
from tests.ui.test_import_screen import HEADER, folder, open_file, orders, text_of, write_csv

__all__ = ["folder"]  # the planner's folder fixture, shared with the standalone tests


def attached(plant: ServedPlant) -> OeeApp:
    return attached_app(plant.data_dir, plant_config(), clock=frozen_clock, config_path=CONFIG_PATH)


async def wait_attached(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, OeeApp)
    await until(pilot, lambda: app.engine is not None and app.engine.snapshot().ts > 0, "attached")


def shown_keys(pilot: Pilot[Any]) -> set[str]:
    return {binding.key for (_, binding, enabled, _) in pilot.app.screen.active_bindings.values() if enabled}


def cleaning_reason(folder: Path) -> Any:
    def prepare(store: Store) -> None:
        reasons = write_csv(folder / "reasons.csv", [["Code", "Name", "Planned"], ["CLEAN", "Cleaning", "yes"]])
        write_result(store, validate_file("reasons", reasons, plant_config()), imported_by=OPERATOR)

    return prepare


async def test_a_file_is_checked_against_the_engines_planning_and_written_by_the_engine(folder: Path,
                                                                                      tmp_path: Path) -> None:
    async with served_plant(tmp_path / "served", plant_config(), role=Role.SUPERVISOR,
                            prepare=cleaning_reason(folder)) as plant:
        app = attached(plant)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_attached(pilot)
            write_csv(folder / "maintenance.csv", [["Machine", "Start", "End", "Reason", "Note"],
                                                   ["L1-FILL", "2026-03-02 06:00", "2026-03-02 07:00", "CLEAN", ""],
                                                   ["L1-CAP", "2026-03-02 06:00", "2026-03-02 07:00", "DUST", ""]])
            screen = await open_file(pilot, "maintenance.csv")
            problems = screen.query_one("#import-problems", OptionList)
            # CLEAN is known from the engine's store (this TUI's process never opened it); DUST is not.
            assert [str(problems.get_option_at_index(i).prompt) for i in range(problems.option_count)] == [
                "✕ row 3, Reason: 'DUST': is not a reason code (in the config or imported); codes are BREAK, "
                "CLEAN, FAIL, FAIL.ELEC, FAIL.MECH, MATERIAL, MINOR, NO_ORDER, PM, SETUP"]

            await pilot.press("escape")  # back to the file's path
            screen.query_one("#import-path", Input).value = ""
            await pilot.press(*"orders_ok.csv", "enter")
            await settle(pilot)
            assert text_of(screen, "#import-summary") == "3 rows read · no problems: ctrl+s imports it"
            assert "ctrl+s" in shown_keys(pilot)
            await pilot.press("ctrl+s")
            await until(pilot, lambda: screen.summary is not None, "written")
            assert text_of(screen, "#import-summary") == "Imported (schedule): 3 inserted, 0 updated, 0 unchanged"
            assert text_of(screen, "#import-status") == \
                "Imported orders_ok.csv as schedule: 3 inserted, 0 updated, 0 unchanged."
            # The running plant took it, and this TUI's copy of the plan too.
            assert sorted(order.order_id for order in plant.engine.planning.orders) == ["0001", "0002", "0003"]
            assert app.engine is not None
            await until(pilot, lambda: len(app.engine.planning.orders) == 3 if app.engine else False, "TUI's plan")
        assert orders(plant.store) == [("0001", "P-100", "L1-FILL", 500), ("0002", "P-100", "L1-CAP", 300),
                                       ("0003", "P-200", "L1-LAB", 800)]
        cur = plant.store.cursor()
        try:
            logged = cur.execute("SELECT kind, file, row_count, imported_by FROM import_log "
                                 "WHERE kind = 'schedule'").fetchall()
        finally:
            cur.close()
        # The file as the planner named it (not the engine's copy); who imported: the engine's word, from the socket.
        assert logged == [("schedule", "orders_ok.csv", 3, me())]


async def test_an_operator_may_check_a_file_but_is_not_offered_the_import(folder: Path, tmp_path: Path) -> None:
    async with served_plant(tmp_path / "served", plant_config(), role=Role.OPERATOR) as plant:
        app = attached(plant)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_attached(pilot)
            screen = await open_file(pilot, "orders_ok.csv")
            assert text_of(screen, "#import-summary") == \
                "3 rows read · no problems; importing needs the supervisor role (you are operator)"
            assert "ctrl+s" not in shown_keys(pilot)
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert screen.summary is None
        assert orders(plant.store) == []


async def test_the_engines_refusal_is_said_and_nothing_is_written(folder: Path, tmp_path: Path) -> None:
    async with served_plant(tmp_path / "served", plant_config(), role=Role.SUPERVISOR) as plant:
        app = attached(plant)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_attached(pilot)
            screen = await open_file(pilot, "orders_ok.csv")
            # The engine decides, whatever a screen offers: here the role was lowered after this TUI attached.
            for session in plant.server.sessions:
                session.role = Role.OPERATOR
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert screen.summary is None
            assert text_of(screen, "#import-status") == (
                f"Nothing was written: {me()} (operator) may not import planning data; it needs the supervisor role")
        assert orders(plant.store) == []


async def test_a_problem_the_engine_finds_on_its_own_check_is_said(folder: Path, tmp_path: Path) -> None:
    async with served_plant(tmp_path / "served", plant_config(), role=Role.SUPERVISOR) as plant:
        app = attached(plant)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_attached(pilot)
            screen = await open_file(pilot, "orders_ok.csv")
            assert text_of(screen, "#import-summary") == "3 rows read · no problems: ctrl+s imports it"
            # Meanwhile someone else's schedule takes the Filler's morning: the engine checks again and refuses.
            other = write_csv(folder / "other.csv", [HEADER, ["9001", "P-100", "L1-FILL", "2026-03-02 05:00",
                                                              "2026-03-02 09:00", "100", ""]])
            write_result(plant.store, validate_file("schedule", other, plant_config()), imported_by="someone")
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert screen.summary is None
            status = text_of(screen, "#import-status")
            assert status.startswith("The engine wrote nothing: "), status
            assert "9001" in status and "nothing was written" in status
        assert [row[0] for row in orders(plant.store)] == ["9001"]


async def test_a_file_cannot_be_checked_while_the_engine_is_gone(folder: Path, tmp_path: Path) -> None:
    async with served_plant(tmp_path / "served", plant_config(), role=Role.SUPERVISOR) as plant:
        app = attached(plant)
        async with app.run_test(size=(100, 24)) as pilot:
            await wait_attached(pilot)
            await plant.server.close()
            await until(pilot, lambda: app.engine is not None and getattr(app.engine, "lost", None) is not None,
                        "the engine lost")
            screen = await open_file(pilot, "orders_ok.csv")
            problems = screen.query_one("#import-problems", OptionList)
            said = str(problems.get_option_at_index(0).prompt)
            assert said.startswith("✕ file: could not be checked against the engine's planning data: not "
                                   "sent: the engine (pid "), said
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert screen.summary is None
        assert orders(plant.store) == []
