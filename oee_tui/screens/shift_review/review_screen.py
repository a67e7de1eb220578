"""Supervisor shift review: a period's OEE by line and machine, its losses, Pareto, targets and stops.

Everything shown comes from `engine.analysis.review`, loaded in thread workers (period_loading.py) from
the store, or from the engine when this TUI is attached to one. Stepping through periods or drilling
down never waits on DuckDB, and a newer request makes an older result that arrives late be dropped.
Each view is one table (rows.py), and `e` writes that table (the raw numbers, not the formatted text:
export.py) to CSV or XLSX.
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import ClassVar, Final

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import ContentSwitcher, Footer, Static
from textual.worker import Worker, WorkerState, get_current_worker

from oee_tui.config import Config
from oee_tui.engine.analysis.review import (
    Level,
    Period,
    PeriodKind,
    ReviewError,
    Scope,
    StopRow,
    current_period,
    period_of_kind,
    step_period,
)
from oee_tui.exports.tables import ExportError, write_table
from oee_tui.screens.host import PlantScreen
from oee_tui.screens.machine_detail import operator_name
from oee_tui.screens.reason_picker import ReasonPickerScreen
from oee_tui.screens.shift_review import panels, rows
from oee_tui.screens.shift_review.dialogs import ExportScreen, PeriodInputScreen
from oee_tui.screens.shift_review.export import Exportable, default_path, table_export
from oee_tui.screens.shift_review.period_loading import (
    Loaded,
    ReviewReads,
    load_comparison,
    load_period,
    review_reads,
)
from oee_tui.service.central_plant import READ_ONLY, CentralPlant
from oee_tui.service.remote_engine import RemoteEngine
from oee_tui.service.review_ops import Compared
from oee_tui.service.session_origin import local_origin
from oee_tui.widgets.formatting import count
from oee_tui.widgets.keyed_table import KeyedTable
from oee_tui.widgets.states import look

RELOAD_AFTER_S: Final = 10.0
WIDE: Final = 150  # from this many columns the losses and the Pareto stay in view beside the table
THEME_COLOURS: Final = ("error", "warning", "success", "primary")  # the ones the tables' cells use


class ReviewScreen(PlantScreen[None]):
    """A period's OEE by line, machine and stop, with losses, Pareto, targets, comparisons and the to-do list."""

    HELP_TITLE = "Shift review"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "step(-1)", "Prev", id="review.prev", tooltip="The previous shift, day, week or range"),
        Binding("n", "step(1)", "Next", id="review.next", tooltip="The next shift, day, week or range"),
        Binding("s", "kind('shift')", "Shift", show=False, id="review.shift", tooltip="Review one shift"),
        Binding("d", "kind('day')", "Day", show=False, id="review.day",
                tooltip="Review a whole day (local midnight to midnight)"),
        Binding("w", "kind('week')", "Week", show=False, id="review.week",
                tooltip="Review an ISO week, Monday to Sunday"),
        Binding("g", "go_to", "Go to", id="review.go-to",
                tooltip="Type a day, a week (2026-W48), a shift (Early@2026-11-26) or a range (FIRST..LAST)"),
        Binding("e", "export", "Export", id="review.export", tooltip="Write the table in view to CSV or XLSX"),
        Binding("r", "give_reason", "Reason", show=False, id="review.reason",
                tooltip="Give a reason to the highlighted stop (also Enter on a stop)"),
        Binding("m", "compare_mode", "Compare by", id="review.compare-mode", show=False,
                tooltip="Compare: the shifts of the day, or one shift across the last 7 days"),
        Binding("escape,backspace", "up", "Back", id="review.back",
                tooltip="Up one level (machine > line > plant); at the plant, back to the live status"),
        Binding("1", "view('overview')", "OEE", show=False, id="review.view-oee",
                tooltip="OEE, A, P, Q per line; Enter drills to machines, then stops"),
        Binding("2", "view('losses')", "Losses", show=False, id="review.view-losses",
                tooltip="The six big losses in time and counts"),
        Binding("3", "view('pareto')", "Pareto", show=False, id="review.view-pareto",
                tooltip="Downtime by reason, largest first, with cumulative share"),
        Binding("4", "view('target')", "Target", show=False, id="review.view-target",
                tooltip="OEE and good parts against target"),
        Binding("5", "view('compare')", "Compare", show=False, id="review.view-compare",
                tooltip="The same shift across days, or the shifts of one day"),
        Binding("6", "view('unassigned')", "To assign", show=False, id="review.view-unassigned",
                tooltip="Stops without a reason, longest first; Enter gives one"),
    ]
    DEFAULT_CSS = """
    ReviewScreen #review-title, ReviewScreen #review-tabs { height: 1; background: $panel; padding: 0 1; }
    ReviewScreen #review-figures { height: 1; padding: 0 1; }
    ReviewScreen #review-body { height: 1fr; }
    ReviewScreen #review-views { height: 1fr; width: 1fr; }
    ReviewScreen #review-views > KeyedTable { height: 1fr; }
    ReviewScreen #review-side { display: none; width: 62; border-left: solid $primary; padding: 0 1; }
    ReviewScreen.wide #review-side { display: block; }
    ReviewScreen #review-note { height: 1; color: $text-muted; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.period: Period | None = None
        self.scope = Scope()
        self.view_id = "overview"
        self.compare_mode = 0  # 0: the shifts of the day; 1..n: shift n-1 across the last days
        self.loaded: Loaded | None = None
        self.compared: Compared | None = None
        self._loading_main = False
        self._loading_compare = False
        self._generation = 0
        self._compare_generation = 0
        self._stops_by_key: dict[str, StopRow] = {}
        self._loaded_at = 0.0

    # ------------------------------------------------------------ plumbing

    @property
    def reviewed_config(self) -> Config:
        """The config the figures were computed with: imported reasons have names and can be picked."""
        return self.loaded.config if self.loaded is not None else self.config

    @property
    def calendar_config(self) -> Config:
        """The config with the plant's one shift calendar, the engine's (imported shift patterns, once there
        are any, in place of the file's): periods are looked up in it, as the live screen's shift is."""
        return self.engine.planning.with_shifts(self.config)

    def now(self) -> float:
        return self.oee_app.clock()

    def compose(self) -> ComposeResult:
        yield Static("Shift review", id="review-title")
        yield Static("Loading…", id="review-figures")
        yield Static(self._tabs(), id="review-tabs")
        with Horizontal(id="review-body"):
            with ContentSwitcher(initial="lines", id="review-views"):
                for table_id, columns in rows.TABLE_COLUMNS.items():
                    yield KeyedTable(columns, id=table_id, fixed_columns=1)
            yield Static("", id="review-side")
        yield Static("", id="review-note", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        try:
            self.period = current_period(self.calendar_config, PeriodKind.SHIFT, self.now())
        except (ReviewError, LookupError):  # no shift in the last 8 days: start on today
            self.period = current_period(self.calendar_config, PeriodKind.DAY, self.now())
        self.set_class(self.app.size.width >= WIDE, "wide")
        self._focus_view()
        self.load()

    def on_screen_resume(self) -> None:
        # Back from the live screen (or devices) after a while: the period so far has moved on.
        # Not after a quick modal such as the reason picker, which reloads by itself.
        if self.loaded is not None and time.monotonic() - self._loaded_at > RELOAD_AFTER_S:
            self.load()

    def on_resize(self) -> None:
        self.set_class(self.app.size.width >= WIDE, "wide")

    def table(self, view_id: str | None = None) -> KeyedTable:
        return self.query_one(f"#{view_id or self._table_id()}", KeyedTable)

    def _table_id(self) -> str:
        if self.view_id != "overview":
            return self.view_id
        return {Level.PLANT: "lines", Level.LINE: "machines", Level.MACHINE: "stops"}[self.scope.level]

    def _focus_view(self) -> None:
        table_id = self._table_id()
        self.query_one(ContentSwitcher).current = table_id
        self.table(table_id).focus()

    # ------------------------------------------------------------ loading

    def load(self) -> None:
        """Ask for the period and scope in view; a result for an older request is dropped when it lands."""
        reads = review_reads(self.engine)
        if reads is None or self.period is None:
            self._set_note("This plant runs without a store, so there is no history to review.")
            self.query_one("#review-figures", Static).update("No store: nothing to review.")
            return
        self._generation += 1
        self._loading_main = True
        self._show_title()
        self.run_worker(partial(self._load_in_thread, reads, self.config, self._generation, self.period, self.scope,
                                self.now()),
                        thread=True, exclusive=True, group="review-load", exit_on_error=False, name="review-load")
        if self.view_id == "compare":
            self.load_compare()

    def _load_in_thread(self, reads: ReviewReads, config: Config, generation: int, period: Period, scope: Scope,
                        now: float) -> None:
        worker = get_current_worker()
        loaded = load_period(reads, config, period, scope, now, lambda: worker.is_cancelled)
        if loaded is not None and not worker.is_cancelled:
            self.app.call_from_thread(self._show_loaded, generation, loaded)

    def load_compare(self) -> None:
        reads = review_reads(self.engine)
        if reads is None or self.period is None:
            return
        self._compare_generation += 1
        self._loading_compare = True
        self._show_title()
        self.run_worker(partial(self._compare_in_thread, reads, self.config, self._compare_generation, self.period,
                                self.scope, self.compare_mode, self.now()),
                        thread=True, exclusive=True, group="review-compare", exit_on_error=False,
                        name="review-compare")

    def _compare_in_thread(self, reads: ReviewReads, config: Config, generation: int, period: Period, scope: Scope,
                           mode: int, now: float) -> None:
        compared = load_comparison(reads, config, period, scope, mode, now)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_compared, generation, compared)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        group = event.worker.group
        if event.state is WorkerState.ERROR:
            if group == "review-load":
                self._loading_main = False
                self._show_title()
                self._set_note(f"Could not load {self.period.label if self.period else ''}: {event.worker.error}")
                self.notify(f"The review did not load: {event.worker.error}", title="Review", severity="error",
                            timeout=15)
            elif group == "review-compare":
                self._loading_compare = False
                self._show_title()
                self.notify(f"The comparison did not load: {event.worker.error}", severity="error", timeout=15)
            elif group == "review-reason":
                self.notify(f"The reason was not saved: {event.worker.error}", title="Not saved", severity="error",
                            timeout=15)
            elif group == "review-export":
                self.notify(f"Not exported: {event.worker.error}", title="Export", severity="error", timeout=15)

    # ------------------------------------------------------------ rendering

    def _palette(self) -> rows.Palette:
        variables = self.app.theme_variables
        theme = self.app.current_theme
        return rows.Palette({name: str(variables.get(name) or getattr(theme, name, None) or "")
                             for name in THEME_COLOURS}, variables)

    def _show_loaded(self, generation: int, loaded: Loaded) -> None:
        if generation != self._generation:
            return  # the supervisor has moved on; a newer answer is on its way
        self.loaded = loaded
        self._loaded_at = time.monotonic()
        self._loading_main = False
        stops = [*(loaded.stops.rows if loaded.stops is not None else ()), *loaded.unassigned.rows]
        self._stops_by_key = {rows.stop_key(stop): stop for stop in stops}
        palette = self._palette()
        with self.app.batch_update():
            self._show_title()
            self._show_figures()
            self.table("lines").sync(rows.line_rows(loaded, palette))
            self.table("machines").sync(rows.machine_rows(loaded, palette))
            self.table("stops").sync(rows.stop_rows(loaded, palette))
            self.table("losses").sync(rows.loss_rows(loaded))
            self.table("pareto").sync(rows.pareto_rows(loaded, palette))
            self.table("target").sync(rows.target_rows(loaded, palette))
            self.table("unassigned").sync(rows.unassigned_rows(loaded, palette))
            self.query_one("#review-tabs", Static).update(self._tabs())
            self.query_one("#review-side", Static).update(panels.side(loaded, self.scope))
            self._update_note()

    def _show_compared(self, generation: int, compared: Compared) -> None:
        if generation != self._compare_generation:
            return
        self.compared = compared
        self._loading_compare = False
        table = self.table("compare")
        table.sync(rows.compare_rows(compared, self.config.targets.oee, self._palette()))
        if compared.current in table.shown_keys():
            table.move_cursor(table.get_row_index(compared.current))
        self._show_title()
        self._update_note()

    def _show_title(self) -> None:
        loading = self._loading_main or (self.view_id == "compare" and self._loading_compare)
        self.query_one("#review-title", Static).update(panels.title(self.config, self.period, self.scope,
                                                                    loading=loading))

    def _show_figures(self) -> None:
        if self.loaded is not None:
            self.query_one("#review-figures", Static).update(panels.figures(self.loaded, self.scope,
                                                                            self.config.targets.oee))

    def _tabs(self) -> Content:
        return panels.tabs(self.view_id, self.loaded.unassigned.total if self.loaded is not None else None)

    def _set_note(self, text: str) -> None:
        self.query_one("#review-note", Static).update(text)

    def _update_note(self) -> None:
        self._set_note(panels.note(self._table_id(), self.loaded, self.compared))

    # ------------------------------------------------------------ actions

    def action_step(self, steps: int) -> None:
        if self.period is None:
            return
        try:
            self.period = step_period(self.calendar_config, self.period, steps)
        except ReviewError as exc:
            self.notify(str(exc), severity="warning")
            return
        self.load()

    def action_kind(self, kind: str) -> None:
        if self.period is None:
            return
        try:
            self.period = period_of_kind(self.calendar_config, self.period, PeriodKind(kind), self.now())
        except (ReviewError, LookupError) as exc:  # LookupError: no shift ran in the 8 days before
            self.notify(str(exc), severity="warning")
            return
        self.load()

    def action_go_to(self) -> None:
        if self.period is None:
            return

        def chosen(period: Period | None) -> None:
            if period is not None:
                self.period = period
                self.load()

        self.app.push_screen(PeriodInputScreen(self.calendar_config, self.now(), self.period.label), chosen)

    def action_view(self, view: str) -> None:
        self.view_id = view
        self._focus_view()
        self.query_one("#review-tabs", Static).update(self._tabs())
        if view == "compare":
            self.load_compare()
        self._show_title()
        self._update_note()

    def action_compare_mode(self) -> None:
        self.compare_mode = (self.compare_mode + 1) % (1 + max(1, len(self.calendar_config.shifts)))
        if self.view_id != "compare":
            self.action_view("compare")
        else:
            self.load_compare()

    def action_up(self) -> None:
        if self.view_id != "overview":
            self.action_view("overview")
            return
        if self.scope.level is Level.PLANT:
            self.oee_app.action_live()
            return
        if self.scope.level is Level.MACHINE:
            self._set_scope(Scope(Level.LINE, self.config.machine(self.scope.id).line))
        else:
            self._set_scope(Scope())

    def _set_scope(self, scope: Scope) -> None:
        self.scope = scope
        self._focus_view()
        self.load()

    @on(KeyedTable.RowSelected)
    def _row_selected(self, event: KeyedTable.RowSelected) -> None:
        table_id = event.table.id
        key = event.key
        if table_id == "lines" and not key.startswith("\0"):
            self._set_scope(Scope(Level.LINE, key))
        elif table_id == "machines" and not key.startswith("\0"):
            self._set_scope(Scope(Level.MACHINE, key))
        elif table_id in ("stops", "unassigned"):
            self._pick_reason(key)
        elif table_id == "compare" and self.compared is not None:
            row = next((r for r in self.compared.rows if r.period.label == key), None)
            if row is not None:
                self.period = row.period
                self.action_view("overview")
                self.load()

    def action_give_reason(self) -> None:
        table_id = self._table_id()
        key = self.table(table_id).cursor_key if table_id in ("stops", "unassigned") else None
        if key is None:
            self.notify("Highlight a stop first (6: the stops without a reason).", severity="warning")
            return
        self._pick_reason(key)

    def _pick_reason(self, key: str) -> None:
        stop = self._stops_by_key.get(key)
        if stop is None:
            return
        if isinstance(self.engine, CentralPlant):
            self.notify(READ_ONLY, severity="warning")
            return
        name = next((m.name for m in self.config.machines if m.id == stop.machine), stop.machine)
        label = f"{name}: {look(stop.state).text} at {self._when(stop.start)}"

        def picked(code: str | None) -> None:
            if code is not None:
                self.save_reason(stop, code)

        self.app.push_screen(ReasonPickerScreen(self.reviewed_config.reasons, label, current=stop.reason), picked)

    @work(exclusive=True, exit_on_error=False, group="review-reason")
    async def save_reason(self, stop: StopRow, code: str) -> None:
        user = operator_name()
        # The engine checks the stop (in memory for this shift, in the store for older ones) and records who.
        await self.engine.set_stop_reason(stop.machine, stop.start, code, user, local_origin())
        reason = self.reviewed_config.reason(code)
        self.notify(f"{reason.name if reason else code} given to the stop at {self._when(stop.start)}",
                    title="Reason saved")
        self.load()

    def _when(self, ts: float) -> str:
        return rows.when(ts, self.config, self.period)

    def action_export(self) -> None:
        exportable = table_export(self._table_id(), self.loaded, self.compared, self.config, self.scope)
        if exportable is None:
            self.notify("Nothing to export yet.", severity="warning")
            return
        default = default_path(self._export_folder(), exportable, self.period, self.scope)

        def chosen(path: Path | None) -> None:
            if path is not None:
                self.export_to(path, exportable, path == default)

        self.app.push_screen(ExportScreen(f"{exportable.name} ({count(len(exportable.rows))} rows)", default), chosen)

    def _export_folder(self) -> Path:
        engine = self.engine
        if isinstance(engine, RemoteEngine):
            # The data dir is the engine's (its user's); the file is this user's: it goes where oee was started.
            return Path.cwd()
        return engine.store.data_dir if engine.store is not None else self.oee_app.data_dir

    @work(thread=True, exclusive=True, exit_on_error=False, group="review-export")
    def export_to(self, path: Path, exportable: Exportable, make_folder: bool) -> None:
        if make_folder:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            written = write_table(path, exportable.headers, exportable.rows, sheet=exportable.name)
        except (ExportError, OSError) as exc:
            self.app.call_from_thread(self.notify, str(exc), title="Not exported", severity="error", timeout=15)
            return
        self.app.call_from_thread(self.notify, f"{written} rows written to {path}", title="Exported", timeout=10)
