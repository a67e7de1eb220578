"""The import screen, driven by the keys a planner presses.

Files are written into tmp_path with the csv module and openpyxl, and the test runs in
that folder, so paths are typed the way a planner types them (relative). Commits go
through the real `write_result` into a real DuckDB store in tmp_path, handed to the
StaticEngine (tests/ui/fakes.py) as its `store`. No sleeps: waits are on workers and on
the message queue.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from textual.message import Message
from textual.notifications import Notification, Notify
from textual.pilot import Pilot
from textual.widgets import Input, OptionList, ProgressBar, Select, Static

from oee_tui.app import OeeApp
from oee_tui.imports.columns import SPECS
from oee_tui.imports.reading import read_table
from oee_tui.screens.file_import.file_picker import list_candidates
from oee_tui.screens.file_import.import_screen import ImportScreen
from oee_tui.store import Store
from tests.support.pilot import burst, settle
from tests.ui.conftest import CONFIG_PATH, DATA_DIR
from tests.ui.fakes import OPERATOR, StaticEngine, frozen_clock

HEADER = ["Order", "Product", "Machine", "Start", "End", "Qty", "Note"]
# Rows 3, 4 and 5 are wrong: an unknown machine, an end before its start, a month 13 and a quantity of "abc".
BAD_ROWS = [
    ["0001", "P-100", "L1-FILL", "2026-03-02 06:00", "2026-03-02 08:00", "500", "first of the week"],
    ["0002", "P-100", "L9-XXX", "2026-03-02 08:00", "2026-03-02 10:00", "300", ""],
    ["0003", "P-100", "L1-CAP", "2026-03-02 10:00", "2026-03-02 09:00", "200", "typed in a hurry"],
    ["0004", "P-200", "L1-LAB", "2026-13-45 06:00", "2026-03-02 12:00", "abc", ""],
    ["0005", "P-200", "L1-LAB", "2026-03-03 06:00", "2026-03-03 12:00", "800", ""],
]
GOOD_ROWS = [
    ["0001", "P-100", "L1-FILL", "2026-03-02 06:00", "2026-03-02 08:00", "500", ""],
    ["0002", "P-100", "L1-CAP", "2026-03-02 08:00", "2026-03-02 10:00", "300", ""],
    ["0003", "P-200", "L1-LAB", "2026-03-03 06:00", "2026-03-03 12:00", "800", "rush"],
]


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A planner's folder: one file with problems, one clean, a workbook, a subfolder and a stray file."""
    work = tmp_path / "plans"
    work.mkdir()
    write_csv(work / "orders_bad.csv", [HEADER, *BAD_ROWS])
    write_csv(work / "orders_ok.csv", [HEADER, *GOOD_ROWS])
    (work / "archive").mkdir()
    (work / "notes.txt").write_text("not importable", encoding="utf-8")
    book = openpyxl.Workbook()
    book.active.title = "Cover"
    book.active.append(["Plan for week 10"])
    shifts = book.create_sheet("Shifts")
    shifts.append(["Shift", "Start", "End", "Days"])
    shifts.append(["Early", "06:00", "14:00", "mon-fri"])
    shifts.append(["Late", "14:00", "22:00", "mon-fri"])
    book.save(work / "plan.xlsx")
    monkeypatch.chdir(work)
    monkeypatch.setattr("oee_tui.screens.machine_detail.getpass.getuser", lambda: OPERATOR)
    return work


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "data") as opened:
        yield opened


def make_app(engine: StaticEngine) -> OeeApp:
    return OeeApp(engine, config_path=CONFIG_PATH, data_dir=DATA_DIR, clock=frozen_clock, refresh_interval=None)


def collect(into: list[Notification]) -> Callable[[Message], None]:
    def hook(message: Message) -> None:
        if isinstance(message, Notify):
            into.append(message.notification)

    return hook


async def open_import(pilot: Pilot[Any]) -> ImportScreen:
    await settle(pilot)
    await pilot.press("f4")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, ImportScreen)
    return screen


async def open_file(pilot: Pilot[Any], name: str) -> ImportScreen:
    screen = await open_import(pilot)
    await pilot.press(*name, "enter")
    await settle(pilot)
    return screen


def text_of(screen: ImportScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def orders(store: Store) -> list[tuple[Any, ...]]:
    cur = store.cursor()
    try:
        return cur.execute("SELECT order_id, product, machine, quantity FROM orders ORDER BY order_id").fetchall()
    finally:
        cur.close()


async def test_typing_a_path_detects_the_kind_and_lists_every_problem(folder: Path, engine: StaticEngine) -> None:
    async with make_app(engine).run_test(size=(80, 24)) as pilot:
        screen = await open_file(pilot, "orders_bad.csv")
        assert screen.query_one("#import-kind", Select).value == "schedule"
        assert text_of(screen, "#import-status") == (
            "Detected schedule: 6 of 9 columns (all 5 required); production-log fits as well: check the kind.")
        problems = screen.query_one("#import-problems", OptionList)
        assert [str(problems.get_option_at_index(i).prompt) for i in range(problems.option_count)] == [
            "✕ row 3, Machine: 'L9-XXX': is not a machine in the config; machines are L1-CAP, L1-FILL, L1-LAB, "
            "L2-CASE, L2-PAL, L2-WRAP",
            "✕ row 4, End: '2026-03-02 09:00': is before the start",
            "✕ row 5, Qty: 'abc': is not a number",
            "✕ row 5, Start: '2026-13-45 06:00': is not a valid date (month must be in 1..12)",
        ]
        assert text_of(screen, "#import-summary") == "5 rows read · ✕ 4 problems in 3 rows · fix the file, then ctrl+r"
        # Every row as read, numbered as the editor numbers them; the bad cells carry the mark.
        table = screen.table
        assert table.shown_keys() == ("2", "3", "4", "5", "6")
        assert table.get_cell("3", "c2").plain == "✕ L9-XXX"
        assert table.get_cell("3", "row").plain == "✕ 3"
        assert table.get_cell("5", "c3").plain == "✕ 2026-13-45 06:00"
        assert table.get_cell("5", "c5").plain == "✕ abc"
        assert table.get_cell("2", "c2").plain == "L1-FILL"
        assert table.get_cell("2", "row").plain == "2"
        # ... and a colour too, for those who see it.
        assert table.get_cell("3", "c2").style != table.get_cell("2", "c2").style


async def test_moving_through_the_problems_moves_the_table_to_their_rows(folder: Path,
                                                                          engine: StaticEngine) -> None:
    async with make_app(engine).run_test(size=(80, 24)) as pilot:
        screen = await open_file(pilot, "orders_bad.csv")
        problems = screen.query_one("#import-problems", OptionList)
        assert problems.has_focus
        assert screen.table.cursor_key == "3"
        await pilot.press("down")
        assert screen.table.cursor_key == "4"
        assert text_of(screen, "#import-detail") == \
            "✕ orders_bad.csv, row 4, column End: '2026-03-02 09:00': is before the start"
        await pilot.press("down", "down")
        assert screen.table.cursor_key == "5"
        # Enter takes the planner into the table, on that row.
        await pilot.press("enter")
        await pilot.pause()
        assert screen.table.has_focus and screen.table.cursor_key == "5"


async def test_a_file_with_problems_is_refused_and_writes_nothing(folder: Path, engine: StaticEngine,
                                                                  store: Store) -> None:
    engine.store = store
    notes: list[Notification] = []
    async with make_app(engine).run_test(size=(80, 24), message_hook=collect(notes)) as pilot:
        await open_file(pilot, "orders_bad.csv")
        await pilot.press("ctrl+s")
        await settle(pilot)
    refused = [note for note in notes if note.title == "Not imported"]
    assert [note.message for note in refused] == [
        "orders_bad.csv has 4 problems, and a file with any problem writes nothing. Fix them in the file, then "
        "ctrl+r checks it again."]
    assert orders(store) == []
    assert engine.planning_reloads == 0


async def test_a_clean_file_is_written_to_the_store_and_the_engine_reloads(folder: Path, engine: StaticEngine,
                                                                          store: Store,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSH_CONNECTION", "192.0.2.44 50000 192.0.2.1 22")
    engine.store = store
    notes: list[Notification] = []
    async with make_app(engine).run_test(size=(80, 24), message_hook=collect(notes)) as pilot:
        screen = await open_file(pilot, "orders_ok.csv")
        assert text_of(screen, "#import-summary") == "3 rows read · no problems: ctrl+s imports it"
        assert screen.table.has_focus
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert text_of(screen, "#import-summary") == "Imported (schedule): 3 inserted, 0 updated, 0 unchanged"
        assert text_of(screen, "#import-status") == \
            "Imported orders_ok.csv as schedule: 3 inserted, 0 updated, 0 unchanged."
        # Written, the file's rows and records are let go (a big file's would stay in memory as long as the
        # TUI runs); what the screen shows stays, and ctrl+s again says it is done.
        assert screen.checked is not None and screen.checked.table is None and screen.checked.result is None
        assert screen.checked.rows_read == 3 and screen.table.row_count == 3
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert notes[-1].message == \
            "Already imported: 3 inserted, 0 updated, 0 unchanged. Ctrl+r checks the file again."
        # The same file again, after a fresh check: nothing changes, and the planner is told so.
        await pilot.press("ctrl+r")
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert text_of(screen, "#import-status") == \
            "Imported orders_ok.csv as schedule: nothing changed: all 3 rows were stored already."
    assert orders(store) == [("0001", "P-100", "L1-FILL", 500), ("0002", "P-100", "L1-CAP", 300),
                             ("0003", "P-200", "L1-LAB", 800)]
    cur = store.cursor()
    logged = cur.execute("SELECT kind, file, row_count, imported_by, length(sha256) FROM import_log").fetchall()
    cur.close()
    assert logged == [("schedule", "orders_ok.csv", 3, OPERATOR, 64)]
    # Audited once, with where the planner sat (pinned here: the test's own terminal or SSH session varies).
    [entry] = store.audit_entries()
    assert (entry.user, entry.origin, entry.kind, entry.subject) == (OPERATOR, "ssh 192.0.2.44", "import",
                                                                     "orders_ok.csv")
    assert engine.planning_reloads == 1  # only the import that changed something
    assert [note.message for note in notes if note.title == "Imported"] == [
        "orders_ok.csv: 3 inserted, 0 updated, 0 unchanged",
        "orders_ok.csv: nothing changed: all 3 rows were stored already"]


async def test_a_file_is_checked_against_the_reasons_imported_before(folder: Path, engine: StaticEngine,
                                                                    store: Store) -> None:
    from oee_tui.imports import validate_file
    from oee_tui.imports.write import write_result

    engine.store = store
    reasons = write_csv(folder / "reasons.csv", [["Code", "Name", "Planned"], ["CLEAN", "Cleaning", "yes"]])
    write_result(store, validate_file("reasons", reasons, engine.config), imported_by=OPERATOR)
    write_csv(folder / "maintenance.csv", [["Machine", "Start", "End", "Reason", "Note"],
                                           ["L1-FILL", "2026-03-02 06:00", "2026-03-02 07:00", "CLEAN", ""],
                                           ["L1-CAP", "2026-03-02 06:00", "2026-03-02 07:00", "DUST", ""]])
    async with make_app(engine).run_test(size=(80, 24)) as pilot:
        screen = await open_file(pilot, "maintenance.csv")
        assert screen.query_one("#import-kind", Select).value == "downtime-plan"
        problems = screen.query_one("#import-problems", OptionList)
        # CLEAN (imported) is known; DUST is named with every code in effect, the imported one among them.
        assert [str(problems.get_option_at_index(i).prompt) for i in range(problems.option_count)] == [
            "✕ row 3, Reason: 'DUST': is not a reason code (in the config or imported); codes are BREAK, CLEAN, "
            "FAIL, FAIL.ELEC, FAIL.MECH, MATERIAL, MINOR, NO_ORDER, PM, SETUP"]


async def test_a_note_on_a_row_is_listed_under_no_problems(folder: Path, engine: StaticEngine) -> None:
    write_csv(folder / "open_qty.csv", [["Order", "Product", "Machine", "Start", "End", "Qty"],
                                        ["1", "A", "L1-FILL", "2026-03-02 06:00", "2026-03-02 07:00", "0"]])
    async with make_app(engine).run_test(size=(100, 24)) as pilot:
        screen = await open_file(pilot, "open_qty.csv")
        problems = screen.query_one("#import-problems", OptionList)
        assert [str(problems.get_option_at_index(i).prompt) for i in range(problems.option_count)] == [
            "No problems: every row is valid.",
            "ℹ row 2, Qty: '0': no quantity target (0 or empty): the order is imported without one"]


async def test_a_file_changed_after_its_check_is_not_written(folder: Path, engine: StaticEngine,
                                                             store: Store) -> None:
    engine.store = store
    async with make_app(engine).run_test(size=(80, 24)) as pilot:
        screen = await open_file(pilot, "orders_ok.csv")
        write_csv(folder / "orders_ok.csv", [HEADER, *GOOD_ROWS[:1]])
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert text_of(screen, "#import-status") == \
            "The file changed since it was checked; press ctrl+r to check it again, then ctrl+s."
    assert orders(store) == []


async def test_without_a_store_nothing_is_written(folder: Path, engine: StaticEngine) -> None:
    notes: list[Notification] = []
    async with make_app(engine).run_test(size=(80, 24), message_hook=collect(notes)) as pilot:
        await open_file(pilot, "orders_ok.csv")
        await pilot.press("ctrl+s")
        await settle(pilot)
    assert [note.message for note in notes if note.title == "Not imported"] == [
        "This plant runs without a store, so there is nowhere to write the file."]


async def test_choosing_another_kind_checks_the_file_again(folder: Path, engine: StaticEngine) -> None:
    async with make_app(engine).run_test(size=(80, 24)) as pilot:
        screen = await open_file(pilot, "orders_ok.csv")
        kind = screen.query_one("#import-kind", Select)
        kind.focus()
        await pilot.press("enter")  # open the drop-down
        await pilot.pause()
        await pilot.press("down")  # the list opens on schedule; shifts is next
        await pilot.press("enter")
        await settle(pilot)
        assert kind.value == "shifts"
        assert text_of(screen, "#import-status") == \
            "Kind chosen by hand: shifts: 2 of 5 columns (2 of 3 required, so not complete)."
        problems = screen.query_one("#import-problems", OptionList)
        assert [str(problems.get_option_at_index(i).prompt) for i in range(problems.option_count)] == [
            "✕ row 1, name: column is missing; name it one of: shift, shift name, name, schicht, schichtname"]
        assert text_of(screen, "#import-summary") == "3 rows read · ✕ 1 problem · fix the file, then ctrl+r"


async def test_a_workbook_offers_its_sheets_and_picks_the_one_with_data(folder: Path, engine: StaticEngine) -> None:
    async with make_app(engine).run_test(size=(80, 24)) as pilot:
        screen = await open_file(pilot, "plan.xlsx")
        sheet = screen.query_one("#import-sheet", Select)
        assert not sheet.disabled and sheet.value == "Shifts"
        assert screen.query_one("#import-kind", Select).value == "shifts"
        assert text_of(screen, "#import-summary") == "2 rows read · no problems: ctrl+s imports it"
        assert screen.table.shown_keys() == ("2", "3")
        # The cover sheet holds no data: picking it says so, and there is nothing to import.
        sheet.value = "Cover"
        await settle(pilot)
        assert text_of(screen, "#import-status").startswith("plan.xlsx, sheet Cover: no row in the first 30 names")
        assert screen.query_one("#import-kind", Select).value is Select.NULL


async def test_tab_completes_the_path_and_the_list_shows_importable_files(folder: Path,
                                                                         engine: StaticEngine) -> None:
    async with make_app(engine).run_test(size=(80, 24)) as pilot:
        screen = await open_import(pilot)
        files = screen.query_one("#import-files", OptionList)
        listed = [files.get_option_at_index(i).id for i in range(files.option_count)]
        assert listed == ["archive/", "orders_bad.csv", "orders_ok.csv", "plan.xlsx"]  # no notes.txt
        await pilot.press("p")
        await settle(pilot)
        path = screen.query_one("#import-path", Input)
        await pilot.press("tab")
        assert path.value == "plan.xlsx"
        # Down into the list, Enter on a file checks it.
        await pilot.press("ctrl+a")
        path.value = "orders_o"
        await settle(pilot)
        await pilot.press("down")
        assert files.has_focus
        await pilot.press("enter")
        await settle(pilot)
        assert screen.query_one("#import-kind", Select).value == "schedule"
        assert screen.table.shown_keys() == ("2", "3", "4")
        # Escape goes back to the file, then to the live status.
        await pilot.press("escape")
        assert path.has_focus and not screen.has_class("-previewing")
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(pilot.app.screen, ImportScreen)


def test_candidates_complete_folders_and_filter_files(folder: Path) -> None:
    assert list_candidates("") == ["archive/", "orders_bad.csv", "orders_ok.csv", "plan.xlsx"]
    assert list_candidates("or") == ["orders_bad.csv", "orders_ok.csv"]
    assert list_candidates("ARCH") == ["archive/"]
    write_csv(folder / "archive" / "old.csv", [HEADER])
    assert list_candidates("archive/") == ["archive/old.csv"]
    assert list_candidates("nowhere/x") == []


async def test_a_large_file_shows_a_progress_bar_while_it_is_read(folder: Path, engine: StaticEngine) -> None:
    rows = [[f"{n:05d}", "P-100", "L1-FILL", f"2026-03-{1 + n // 1000:02d} {n % 24:02d}:00",
             f"2026-03-{1 + n // 1000:02d} {n % 24:02d}:30", "10", ""] for n in range(6000)]
    write_csv(folder / "big.csv", [HEADER, *rows])
    seen: list[tuple[float | None, float]] = []
    async with make_app(engine).run_test(size=(80, 24)) as pilot:
        screen = await open_import(pilot)
        bar = screen.query_one("#import-progress", ProgressBar)
        original = screen._show_progress

        def spy(generation: int, done: int, total: int) -> None:
            original(generation, done, total)
            seen.append((bar.total, bar.progress))
            assert screen.has_class("-working")  # the bar is on screen while the file is read

        screen._show_progress = spy  # type: ignore[method-assign]
        await pilot.press(*"big.csv", "enter")
        await settle(pilot)
        assert not screen.has_class("-working")
        assert bar.percentage == 1.0  # determinate again: no animation left running behind the preview
        assert "6,000 rows read · first 500 shown" in text_of(screen, "#import-summary")
    assert seen[0] == (6001.0, 2000.0)
    assert seen[-1] == (6001.0, 6001.0)


def test_the_reader_reports_progress_for_csv_and_xlsx(tmp_path: Path) -> None:
    rows = [["Shift", "Start", "End"], *[[f"S{n}", "06:00", "14:00"] for n in range(4500)]]
    calls: list[tuple[int, int]] = []
    read_table(write_csv(tmp_path / "s.csv", rows), SPECS["shifts"], progress=lambda d, t: calls.append((d, t)))
    assert calls == [(2000, 4501), (4000, 4501), (4501, 4501)]
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("S")
    for row in rows:
        sheet.append(row)
    book.save(tmp_path / "s.xlsx")
    calls.clear()
    read_table(tmp_path / "s.xlsx", SPECS["shifts"], progress=lambda d, t: calls.append((d, t)))
    # The total is estimated from how much of the sheet is parsed: above the rows so far, settling on the end.
    assert [done for done, _ in calls] == [2000, 4000, 4501]
    assert all(total >= done for done, total in calls[:-1]) and calls[-1] == (4501, 4501)


async def test_a_file_full_of_problems_lists_the_first_thousand_and_shows_their_rows(folder: Path,
                                                                                     engine: StaticEngine) -> None:
    rows = [[f"{n:05d}", "P-100", "M-OLD", "2026-03-02 06:00", "2026-03-02 07:00", "10", ""] for n in range(1200)]
    write_csv(folder / "old_machines.csv", [HEADER, *rows])
    async with make_app(engine).run_test(size=(80, 24)) as pilot:
        screen = await open_file(pilot, "old_machines.csv")
        assert text_of(screen, "#import-summary") == (
            "1,200 rows read · first 500 shown +500 with problems · ✕ 1,200 problems in 1,200 rows, first 1,000 "
            "listed · fix the file, then ctrl+r")
        problems = screen.query_one("#import-problems", OptionList)
        assert problems.option_count == 1000
        # The last problem listed is on row 1001, below the first 500 rows, and the table still has it.
        await pilot.press("end")
        await pilot.pause()
        assert screen.table.cursor_key == "1001"
        assert screen.table.row_count == 1000


async def test_f4_and_the_palette_open_the_screen(engine: StaticEngine, folder: Path) -> None:
    async with make_app(engine).run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app = pilot.app
        assert isinstance(app, OeeApp)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Import planning data" in titles
        await pilot.press("f4")
        await settle(pilot)
        assert isinstance(app.screen, ImportScreen)
        assert app.check_action("import", ()) is False  # F4 leaves the footer while the screen is open


async def test_a_folder_or_a_missing_file_is_said_plainly(folder: Path, engine: StaticEngine) -> None:
    async with make_app(engine).run_test(size=(80, 24)) as pilot:
        screen = await open_file(pilot, "archive")
        problems = screen.query_one("#import-problems", OptionList)
        assert str(problems.get_option_at_index(0).prompt) == \
            "✕ file: is a folder: pick a .csv or .xlsx file in it (the list under File shows them)"
        await pilot.press("escape")
        path = screen.query_one("#import-path", Input)
        path.value = "orders_typo.csv"
        await pilot.press("enter")
        await settle(pilot)
        assert str(problems.get_option_at_index(0).prompt) == "✕ file: file not found"
        assert text_of(screen, "#import-status") == "orders_typo.csv: file not found"


async def test_tab_completion_in_a_burst_completes_what_was_typed_before_it(folder: Path,
                                                                             engine: StaticEngine) -> None:
    async with make_app(engine).run_test(size=(80, 24)) as pilot:
        screen = await open_import(pilot)
        # "ar" Tab completes the folder archive/; the letters typed after Tab go after the completion.
        await burst(pilot, "a", "r", "tab", "x", "y")
        assert screen.query_one("#import-path", Input).value == "archive/xy"
        await burst(pilot, "ctrl+u", *"orders_o", "tab", "enter")
        assert screen.query_one("#import-path", Input).value == "orders_ok.csv"
        assert screen.query_one("#import-kind", Select).value == "schedule"  # Enter checked the completed path
