"""Import planning data: pick a file, see its kind, see every problem in place, then write it in one go.

The planner types or picks a path (Tab completes it, the list under it shows the
folder's .csv and .xlsx files: file_picker.py), the kind is detected from the header
(and can be changed), and the whole file is read and validated in a thread worker
(`imports.preview`, the check `oee import` runs too) while a progress bar follows the
read. The preview shows the file's rows as read, with the row numbers Excel or an
editor shows, every cell a problem names marked (preview_table.py), and the problem
list beside it (below it at 80 columns): moving through the list moves the table to
the problem's row. A file with any problem cannot be written; a clean one is written
by ctrl+s through `write_result`, in one transaction, from a thread. On a TUI attached to an
engine, the file is checked here against the engine's stored planning data and written by the
engine (engine_import.py); ctrl+s is offered only to a role that may import.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Final

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Input, Label, OptionList, ProgressBar, Select, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from oee_tui.config import Config
from oee_tui.engine.oee.planning_rules import PlanningSource
from oee_tui.freed_memory import give_back
from oee_tui.imports.columns import KINDS
from oee_tui.imports.preview import ImportPreview, detect_and_preview, file_sha256, problem_line
from oee_tui.imports.reading import Progress
from oee_tui.imports.validate import Problem
from oee_tui.model import MachineState
from oee_tui.screens.file_import.engine_import import EnginePlanning, ImportRefused, import_in_engine, role_refusal
from oee_tui.screens.file_import.file_picker import PathInput, list_candidates
from oee_tui.screens.file_import.preview_table import (
    MARK,
    MAX_PROBLEMS_SHOWN,
    NOTE_MARK,
    PreviewTable,
    preview_table,
)
from oee_tui.screens.file_import.status_lines import status_text, summary_text
from oee_tui.screens.host import PlantScreen
from oee_tui.screens.machine_detail import operator_name
from oee_tui.service.client import EngineLost, EngineRefused
from oee_tui.service.remote_engine import RemoteEngine
from oee_tui.service.session_origin import local_origin
from oee_tui.store import Store
from oee_tui.widgets.form import FORM_GUARDS
from oee_tui.widgets.keyed_table import KeyedTable
from oee_tui.widgets.states import state_colour

if TYPE_CHECKING:
    from oee_tui.imports.write import WriteSummary

WIDE: Final = 120  # from this width the problem list stands beside the table, not below it


class ImportScreen(PlantScreen[None]):
    """File, sheet and kind at the top; the preview with marked cells and the problem list below."""

    HELP_TITLE = "Import planning data"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "commit", "Import", id="import.commit", priority=True,
                tooltip="Write the checked file to the store in one transaction (refused while it has problems)"),
        Binding("ctrl+r", "recheck", "Check again", id="import.recheck", priority=True,
                tooltip="Read and check the file again, after fixing it in Excel or an editor"),
        Binding("escape", "back", "Back", id="import.back",
                tooltip="From the preview back to the file; from the file back to the live status"),
        *FORM_GUARDS,
    ]
    DEFAULT_CSS = """
    ImportScreen #import-top {
        height: auto;
        background: $panel;
        padding: 0 1;
    }
    ImportScreen #import-top Horizontal {
        height: 1;
    }
    ImportScreen #import-top Label {
        width: 7;
        color: $text-muted;
    }
    ImportScreen #import-top Horizontal:focus-within > Label {
        color: $foreground;
        text-style: bold reverse;
    }
    ImportScreen #import-path {
        width: 1fr;
    }
    ImportScreen #import-sheet {
        width: 1fr;
        max-width: 32;
        margin-right: 2;
    }
    ImportScreen #import-kind {
        width: 1fr;
        max-width: 24;
    }
    ImportScreen #import-status {
        height: auto;
        max-height: 2;
        padding: 0 1;
    }
    ImportScreen #import-progress {
        display: none;
        height: 1;
        padding: 0 1;
    }
    ImportScreen.-working #import-progress {
        display: block;
    }
    ImportScreen #import-files {
        height: 1fr;
        border: none;
    }
    ImportScreen #import-preview {
        display: none;
        height: 1fr;
    }
    ImportScreen.-previewing #import-files {
        display: none;
    }
    ImportScreen.-previewing #import-preview {
        display: block;
    }
    ImportScreen #import-preview KeyedTable {
        height: 1fr;
        max-height: 100%;
    }
    ImportScreen #import-detail {
        height: auto;
        max-height: 2;
        padding: 0 1;
        color: $text-muted;
    }
    ImportScreen.-wide #import-detail {
        display: none;
    }
    ImportScreen #import-problems {
        height: 8;
        border: none;
        border-top: solid $panel-lighten-2;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    ImportScreen.-wide #import-preview {
        layout: horizontal;
    }
    ImportScreen.-wide #import-problems {
        text-wrap: wrap;  /* room enough for whole messages; the detail line is hidden */
        height: 1fr;
        width: 45%;
        border-top: none;
        border-left: solid $panel-lighten-2;
    }
    ImportScreen #import-summary {
        height: auto;
        max-height: 3;
        background: $panel;
        padding: 0 1;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.checked: ImportPreview | None = None
        self.preview_table: PreviewTable | None = None
        self.summary: WriteSummary | None = None
        self._generation = 0
        self._chosen_kind: str | None = None  # set when the planner overrides the detected kind
        self._shown_sheet: str | None = None
        self._shown_kind: str | None = None
        # The file's header decides the columns, so each file gets a new table (see _show_table).
        self._table = KeyedTable((("row", "Row"),), fixed_columns=1)

    @property
    def table(self) -> KeyedTable:
        """The preview table of the file shown now."""
        return self._table

    def compose(self) -> ComposeResult:
        with Vertical(id="import-top"):
            with Horizontal():
                yield Label("File")
                yield PathInput(placeholder="path to a .csv or .xlsx file; Tab completes, Enter checks it",
                                files_id="import-files", id="import-path")
            with Horizontal():
                yield Label("Sheet")
                yield Select[str]([], prompt="(CSV: no sheets)", id="import-sheet", compact=True, disabled=True)
                yield Label("Kind")
                yield Select[str]([(kind, kind) for kind in KINDS], prompt="detect", id="import-kind",
                                  compact=True)
        yield Static("Pick a file: type its path, or move down into the list and press Enter.",
                     id="import-status", markup=False)
        # A total from the start: an indeterminate bar animates at 15 fps even while hidden.
        yield ProgressBar(total=1, id="import-progress", show_eta=False)
        yield OptionList(id="import-files")
        with Vertical(id="import-preview"):
            yield self._table
            yield OptionList(id="import-problems")
            yield Static("", id="import-detail", markup=False)
        yield Static("", id="import-summary", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#import-path", Input).focus()
        self._list_files("")

    def on_resize(self) -> None:
        self.set_class(self.size.width >= WIDE, "-wide")

    # ------------------------------------------------------------ picking the file

    @on(Input.Changed, "#import-path")
    def _path_changed(self, event: Input.Changed) -> None:
        self._list_files(event.value)

    @work(thread=True, exclusive=True, group="import-list", exit_on_error=False)
    def _list_files(self, typed: str) -> None:
        candidates = list_candidates(typed)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_files, candidates)

    def _show_files(self, candidates: list[str]) -> None:
        files = self.query_one("#import-files", OptionList)
        files.set_options(Option(name, id=name) for name in candidates)
        if candidates:
            files.highlighted = 0  # Enter in the list picks at once
        else:
            files.add_option(Option("(no folder or .csv/.xlsx file starts like this)", disabled=True))

    @on(OptionList.OptionSelected, "#import-files")
    def _file_picked(self, event: OptionList.OptionSelected) -> None:
        picked = event.option.id
        if picked is None:
            return
        path_input = self.query_one("#import-path", Input)
        path_input.value = picked
        path_input.cursor_position = len(picked)
        if picked.endswith("/"):
            path_input.focus()
        else:
            self._chosen_kind = None
            self._start_check(Path(os.path.expanduser(picked)), sheet=None, kind=None)

    @on(Input.Submitted, "#import-path")
    def _path_submitted(self, event: Input.Submitted) -> None:
        typed = event.value.strip()
        if not typed:
            self._set_status("Type the path of a .csv or .xlsx file first.")
            return
        if typed.endswith(("/", os.sep)):
            self.query_one("#import-files", OptionList).focus()
            return
        self._chosen_kind = None
        self._start_check(Path(os.path.expanduser(typed)), sheet=None, kind=None)

    @on(Select.Changed, "#import-sheet")
    def _sheet_changed(self, event: Select.Changed) -> None:
        if self.checked is None or event.value is Select.NULL or event.value == self._shown_sheet:
            return
        # Another sheet may hold another kind: detect again, unless the planner chose the kind.
        self._start_check(self.checked.path, sheet=str(event.value), kind=self._chosen_kind)

    @on(Select.Changed, "#import-kind")
    def _kind_changed(self, event: Select.Changed) -> None:
        if self.checked is None or event.value is Select.NULL or event.value == self._shown_kind:
            return
        self._chosen_kind = str(event.value)
        self._start_check(self.checked.path, sheet=self.checked.sheet, kind=self._chosen_kind)

    # ------------------------------------------------------------ checking

    def _start_check(self, path: Path, *, sheet: str | None, kind: str | None) -> None:
        engine = self.oee_app.engine
        if engine is None:
            self._set_status("There is no plant yet to check the file against.")
            return
        if self._writing():
            return
        self._generation += 1
        self.summary = None
        self.add_class("-working")
        progress = self.query_one("#import-progress", ProgressBar)
        progress.update(total=None, progress=0)
        self._set_status(f"Reading {path}…")
        report = partial(self._report_progress, self._generation)
        bad_style = f"bold {state_colour(self.app.theme_variables, MachineState.DOWN)}"
        stored: PlanningSource | None = EnginePlanning(engine) if isinstance(engine, RemoteEngine) else engine.store
        self.run_worker(partial(self._check_in_thread, self._generation, path, engine.config, stored, sheet,
                                kind, report, bad_style),
                        thread=True, exclusive=True, group="import-check", exit_on_error=False,
                        name=f"check {path}")

    def _report_progress(self, generation: int, done: int, total: int) -> None:
        # Called in the worker thread by the reader, every couple of thousand rows.
        self.app.call_from_thread(self._show_progress, generation, done, total)

    def _show_progress(self, generation: int, done: int, total: int) -> None:
        if generation != self._generation:
            return
        bar = self.query_one("#import-progress", ProgressBar)
        bar.update(total=total or None, progress=done)
        of = f" of about {total:,}" if total and total != done else ""
        self._set_status(f"Reading row {done:,}{of}…" if done != total else f"Checking {done:,} rows…")

    def _check_in_thread(self, generation: int, path: Path, config: Config, stored: PlanningSource | None,
                         sheet: str | None, kind: str | None, progress: Progress, bad_style: str) -> None:
        try:
            if path.is_dir():
                checked = ImportPreview.unread(path, Problem(
                    str(path), None, None, None, None,
                    "is a folder: pick a .csv or .xlsx file in it (the list under File shows them)"), kind=kind)
            else:
                # Against what the store holds too (the engine's, attached): reasons and products imported before
                # are known.
                checked = detect_and_preview(path, config, sheet, kind, progress=progress, stored=stored)
        except (EngineLost, EngineRefused) as exc:  # attached: the stored planning data did not come
            problem = Problem(str(path), sheet, None, None, None,
                              f"could not be checked against the engine's planning data: {exc}")
            checked = ImportPreview.unread(path, problem, sheet=sheet, kind=kind)
        except Exception as exc:  # a reader bug must still end in words on the screen, not a frozen bar
            problem = Problem(str(path), sheet, None, None, None, f"could not be read: {exc}")
            checked = ImportPreview.unread(path, problem, sheet=sheet, kind=kind)
        # Built here too: picking the rows to show walks the whole file.
        table = preview_table(checked.table, checked.problems, bad_style) if checked.table is not None else None
        give_back()  # the reader's cells and the workbook are garbage now: a big file's peak need not stay
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_checked, generation, checked, table)

    def _show_checked(self, generation: int, checked: ImportPreview, table: PreviewTable | None) -> None:
        if generation != self._generation:
            return  # an older check that finished after a newer one started
        self.remove_class("-working")
        self.query_one("#import-progress", ProgressBar).update(total=1, progress=1)  # stops the animation
        self.checked = checked
        self.preview_table = table
        with self.app.batch_update():
            self._show_choices(checked)
            self._show_table()
            self._show_problems()
            self.set_class(True, "-previewing")
            self._set_status(status_text(checked, self._chosen_kind))
            self._show_summary()
        self.refresh_bindings()  # the role may have come since the screen opened (attaching)
        if checked.problems:
            self.query_one("#import-problems", OptionList).focus()
        elif self.preview_table is not None:
            self.table.focus()
        else:
            self.query_one("#import-kind", Select).focus()

    def _show_choices(self, checked: ImportPreview) -> None:
        self._shown_sheet, self._shown_kind = checked.sheet, checked.kind
        sheet_select = self.query_one("#import-sheet", Select)
        with sheet_select.prevent(Select.Changed):
            sheet_select.set_options([(name, name) for name in checked.sheet_names])
            sheet_select.disabled = not checked.sheet_names
            if checked.sheet is not None and checked.sheet in checked.sheet_names:
                sheet_select.value = checked.sheet
        kind_select = self.query_one("#import-kind", Select)
        with kind_select.prevent(Select.Changed):
            if checked.kind is None:
                kind_select.clear()
            else:
                kind_select.value = checked.kind

    def _show_table(self) -> None:
        preview = self.preview_table
        columns = preview.columns if preview is not None else (("row", "Row"),)
        old, self._table = self._table, KeyedTable(columns, fixed_columns=1)
        self.query_one("#import-preview", Vertical).mount(self._table, before=old)
        old.remove()
        if preview is not None:
            self._table.sync(preview.rows)

    def _show_problems(self) -> None:
        problems_list = self.query_one("#import-problems", OptionList)
        checked = self.checked
        assert checked is not None
        options = [Option(f"{MARK} {problem_line(problem, checked.sheet)}", id=str(index))
                   for index, problem in enumerate(checked.problems[:MAX_PROBLEMS_SHOWN])]
        if not options:
            options = [Option("No problems: every row is valid.", disabled=True)]
            # Notes refuse nothing (an order without a quantity target), but the planner should read them first.
            notes = checked.result.notes if checked.result is not None else ()
            options += [Option(f"{NOTE_MARK} {problem_line(note, checked.sheet)}", disabled=True)
                        for note in notes[:MAX_PROBLEMS_SHOWN]]
        problems_list.set_options(options)
        self.query_one("#import-detail", Static).update("")
        if checked.problems:
            problems_list.highlighted = 0

    def _show_summary(self) -> None:
        checked = self.checked
        text = "" if checked is None else summary_text(checked, self.preview_table, self.summary,
                                                       role_refusal(self.oee_app.engine))
        self.query_one("#import-summary", Static).update(text)

    def _set_status(self, text: str) -> None:
        self.query_one("#import-status", Static).update(text)

    # ------------------------------------------------------------ going to a problem

    @on(OptionList.OptionHighlighted, "#import-problems")
    def _problem_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._go_to_problem(event.option.id, full_text=True)

    @on(OptionList.OptionSelected, "#import-problems")
    def _problem_selected(self, event: OptionList.OptionSelected) -> None:
        if self._go_to_problem(event.option.id, full_text=True):
            self.table.focus()

    def _go_to_problem(self, option_id: str | None, *, full_text: bool) -> bool:
        """Put the table's cursor on the problem's row and its column in view; True if the row is shown."""
        checked, preview = self.checked, self.preview_table
        if option_id is None or checked is None:
            return False
        problem = checked.problems[int(option_id)]
        if full_text:
            # The list cuts long lines at the edge; the whole problem is spelled out under it.
            self.query_one("#import-detail", Static).update(f"{MARK} {problem}")
        if preview is None or problem.row is None or problem.row not in preview.keys_by_row:
            return False
        table = self.table
        table.move_cursor(table.get_row_index(preview.keys_by_row[problem.row]))
        position = preview.column_of.get(problem.column or "")
        if position is not None:
            table.scroll_column_into_view(position)  # the row numbers stay fixed at the left
        return True

    # ------------------------------------------------------------ writing

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Not offered to a role that may not import (the engine refuses it too): the footer hides ctrl+s.
        return action != "commit" or role_refusal(self.oee_app.engine) is None

    def _writing(self) -> bool:
        busy = any(worker.group == "import-write" and not worker.is_finished for worker in self.workers)
        if busy:
            self.notify("Still writing the last import…", severity="warning")
        return busy

    def action_commit(self) -> None:
        checked = self.checked
        if self._writing():
            return
        if any(worker.group == "import-check" and not worker.is_finished for worker in self.workers):
            self.notify("The file is still being checked.", title="Not imported", severity="warning")
            return
        if checked is None:
            self.notify("Pick a file first: type its path and press Enter.", title="Not imported",
                        severity="warning")
            return
        if checked.problems:
            count = len(checked.problems)
            self.notify(f"{checked.path} has {count} problem{'s' if count != 1 else ''}, and a file with any "
                        "problem writes nothing. Fix them in the file, then ctrl+r checks it again.",
                        title="Not imported", severity="error", timeout=12)
            return
        if self.summary is not None:
            self.notify(f"Already imported: {self.summary}. Ctrl+r checks the file again.", title="Import")
            return
        if not checked.can_import or checked.result is None:
            self.notify("There is nothing to import: pick the kind, or a file with rows.", title="Not imported",
                        severity="warning")
            return
        engine = self.oee_app.engine
        target: Store | RemoteEngine | None = engine if isinstance(engine, RemoteEngine) else \
            engine.store if engine is not None else None
        if target is None:
            self.notify("This plant runs without a store, so there is nowhere to write the file.",
                        title="Not imported", severity="error", timeout=12)
            return
        self._set_status(f"Writing {len(checked.result.records):,} {checked.kind} rows…")
        # Handed over in a box the worker empties: Textual keeps a finished worker's callable (and so its
        # arguments) alive, and a big file's rows and records must not outlive the write.
        self.run_worker(partial(self._write_in_thread, target, [checked], self._generation), thread=True,
                        exclusive=True, group="import-write", exit_on_error=False, name="import write")

    def _write_in_thread(self, target: Store | RemoteEngine, box: list[ImportPreview], generation: int) -> None:
        """Into the store this TUI owns, or through the engine it is attached to (which says who imports)."""
        from oee_tui.imports.write import write_result

        checked = box.pop()
        assert checked.result is not None
        try:
            # The file may have been saved again since it was checked; what was checked is what is written.
            content = checked.path.read_bytes() if isinstance(target, RemoteEngine) else None
            sha256 = file_sha256(checked.path) if content is None else hashlib.sha256(content).hexdigest()
            if sha256 != checked.sha256:
                self.app.call_from_thread(self._write_refused, "The file changed since it was checked; press "
                                          "ctrl+r to check it again, then ctrl+s.")
                return
            if isinstance(target, RemoteEngine):
                assert content is not None
                summary = import_in_engine(target, checked, content)
            else:
                summary = write_result(target, checked.result, imported_by=operator_name(), sha256=checked.sha256,
                                       origin=local_origin())
        except ImportRefused as exc:
            self.app.call_from_thread(self._write_refused, f"The engine wrote nothing: {exc}")
            return
        except EngineLost as exc:  # it may have written the file before it went: say only what is known
            self.app.call_from_thread(self._write_refused, f"The import was not confirmed: {exc}. Once the "
                                      "engine is back, ctrl+r checks the file against what it holds.")
            return
        except Exception as exc:  # EngineRefused: the role, in the engine's words
            self.app.call_from_thread(self._write_refused, f"Nothing was written: {exc}")
            return
        self.app.call_from_thread(self._written, generation, summary)

    def _write_refused(self, why: str) -> None:
        self._set_status(why)
        self.notify(why, title="Not imported", severity="error", timeout=15)

    def _written(self, generation: int, summary: WriteSummary) -> None:
        checked = self.checked
        self.summary = summary
        if checked is not None:
            # The rows and records are written; keeping them would keep the file's size in memory for as long
            # as the TUI runs. The 500 rows on screen stay in the table.
            self.checked = checked.without_rows()
        where = "" if checked is None else checked.where
        said = f"{summary}" if summary.changed else f"nothing changed: all {summary.unchanged} rows were stored already"
        self._set_status(f"Imported {where} as {summary.kind}: {said}.")
        self._show_summary()
        self.notify(f"{where}: {said}", title="Imported", timeout=10)
        self.run_worker(self._reload_planning(summary.changed), group="import-reload", exit_on_error=False)

    async def _reload_planning(self, changed: bool) -> None:
        """Let the running engine use what was imported (shifts, orders, cycle times) without a restart, then
        give the memory of the import back."""
        engine = self.oee_app.engine
        reload = getattr(engine, "reload_planning", None)
        try:
            if changed and reload is not None:
                await reload()
        except Exception as exc:
            self.notify(f"The import is stored, but the running engine did not take it: {exc}. It is used when "
                        "oee next starts.", title="Engine", severity="warning", timeout=20)
        finally:
            # After the reload: the engine's new plan then takes pages the import freed, not fresh ones.
            await asyncio.to_thread(give_back)

    # ------------------------------------------------------------ other keys

    def action_recheck(self) -> None:
        if self.checked is None:
            typed = self.query_one("#import-path", Input).value.strip()
            if typed:
                self._start_check(Path(os.path.expanduser(typed)), sheet=None, kind=None)
            return
        self._start_check(self.checked.path, sheet=self.checked.sheet, kind=self._chosen_kind)

    def action_back(self) -> None:
        if self.has_class("-previewing"):
            self.set_class(False, "-previewing")
            self.query_one("#import-path", Input).focus()
            self._set_status("Pick a file: type its path, or move down into the list and press Enter.")
            return
        self.oee_app.action_live()
