"""Supervisor shift review: a period's OEE by line and machine, its losses, Pareto, targets and stops.

Everything shown comes from `engine.review`, run in thread workers: stepping through
periods or drilling down never waits on DuckDB, and a newer request makes an older
result that arrives late be dropped. Each view is one table, and `e` writes that
table (the raw numbers, not the formatted text) to CSV or XLSX.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import ClassVar, Final

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import ContentSwitcher, Footer, Input, Static
from textual.worker import Worker, WorkerState, get_current_worker

from oee_tui.config import Config
from oee_tui.engine.analysis.report import Report
from oee_tui.engine.analysis.review import (
    PERIOD_SYNTAX,
    CompareRow,
    Level,
    ParetoBar,
    Period,
    PeriodKind,
    ReviewError,
    Scope,
    StopList,
    StopRow,
    TargetRow,
    compare_same_shift,
    compare_shifts_of_day,
    current_period,
    downtime_pareto,
    machine_stops,
    parse_period,
    period_of_kind,
    planned_config,
    review_report,
    six_big_losses,
    step_period,
    target_vs_actual,
    unassigned_stops,
)
from oee_tui.exports.tables import ExportError, write_table
from oee_tui.model import OeeResult
from oee_tui.screens.host import PlantScreen
from oee_tui.screens.machine_detail import operator_name
from oee_tui.screens.reason_picker import ReasonPickerScreen
from oee_tui.store import Store
from oee_tui.widgets.dialog import Dialog
from oee_tui.widgets.formatting import MISSING, count, hms, minutes, percent, percent_aligned
from oee_tui.widgets.keyed_table import KeyedTable, Row
from oee_tui.widgets.states import look, state_colour

BAR_WIDTH: Final = 20
RELOAD_AFTER_S: Final = 10.0
WIDE: Final = 150  # from this many columns the losses and the Pareto stay in view beside the table


def _right(text: str, style: str = "") -> Text:
    return Text(text, style=style, justify="right")


def bar(share: float | None, width: int = BAR_WIDTH) -> str:
    """A horizontal bar in eighths of a cell, so small differences still show."""
    if share is None or share <= 0:
        return ""
    eighths = round(min(share, 1.0) * width * 8)
    full, part = divmod(eighths, 8)
    return "█" * full + ("" if part == 0 else " ▏▎▍▌▋▊▉"[part])


OEE_COLUMNS: Final = (("oee", _right("OEE%")), ("availability", _right("A%")), ("performance", _right("P% ")),
                      ("quality", _right("Q%")), ("good", _right("Good")), ("reject", _right("Rej")),
                      ("down", _right("Down min")), ("flags", "Flags"))
STOP_COLUMNS: Final = (("start", "Start"), ("duration", _right("Duration")), ("state", "State"),
                       ("reason", "Reason"), ("by", "By"), ("at", "Given at"))


@dataclass(frozen=True, slots=True)
class View:
    id: str
    key: str
    title: str
    columns: tuple[tuple[str, str | Text], ...]


VIEWS: Final = (
    View("lines", "1", "OEE", (("line", "Line"), *OEE_COLUMNS)),
    View("machines", "1", "OEE", (("machine", "Machine"), *OEE_COLUMNS)),
    View("stops", "1", "OEE", STOP_COLUMNS),
    View("losses", "2", "Losses", (("loss", "Loss"), ("affects", "On"), ("time", _right("Time")),
                                   ("minutes", _right("Min")), ("count", _right("Count")), ("unit", "Of"),
                                   ("share", _right("% of PPT")))),
    View("pareto", "3", "Pareto", (("reason", "Reason"), ("stops", _right("Stops")), ("minutes", _right("Min")),
                                   ("share", _right("Share")), ("cumulative", _right("Cum")), ("bar", ""))),
    View("target", "4", "Target", (("scope", "Scope"), ("oee", _right("OEE%")), ("oee_target", _right("Tgt%")),
                                   ("oee_gap", _right("Gap")), ("good", _right("Good")),
                                   ("good_target", _right("Target")), ("good_share", _right("% tgt")),
                                   ("bar", ""))),
    View("compare", "5", "Compare", (("period", "Period"), ("oee", _right("OEE%")), ("availability", _right("A%")),
                                     ("performance", _right("P% ")), ("quality", _right("Q%")),
                                     ("good", _right("Good")), ("good_target", _right("Target")),
                                     ("down", _right("Down min")), ("bar", ""))),
    View("unassigned", "6", "To assign", (("machine", "Machine"), ("start", "Start"),
                                          ("duration", _right("Duration")), ("state", "State"))),
)
VIEW_BY_ID: Final = {view.id: view for view in VIEWS}
TABS: Final = (("1", "overview", "OEE"), ("2", "losses", "Losses"), ("3", "pareto", "Pareto"),
               ("4", "target", "Target"), ("5", "compare", "Compare"), ("6", "unassigned", "To assign"))


@dataclass(frozen=True, slots=True)
class Loaded:
    """One consistent answer for one (period, scope) request."""

    generation: int
    period: Period
    scope: Scope
    now: float
    config: Config  # with the imported reasons and shifts merged in
    report: Report
    pareto: tuple[ParetoBar, ...]
    targets: tuple[TargetRow, ...]
    unassigned: StopList
    stops: StopList | None


@dataclass(frozen=True, slots=True)
class Compared:
    generation: int
    title: str
    rows: list[CompareRow]
    current: str  # label of the period in view, to put the cursor on


@dataclass(slots=True)
class Exportable:
    """What `e` writes for the table in view: column names and raw values."""

    name: str
    headers: list[str] = field(default_factory=list)
    rows: list[list[object]] = field(default_factory=list)


class PeriodInputScreen(Dialog[Period | None]):
    """Type a day, an ISO week, a shift or a range; Enter goes there, Esc leaves the period as it is."""

    HELP_TITLE = "Go to a period"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="period.cancel", tooltip="Keep the period in view"),
    ]

    def __init__(self, config: Config, now: float, current: str) -> None:
        super().__init__("Go to a period")
        self.config = config
        self.now = now
        self.current = current

    def compose_body(self) -> ComposeResult:
        yield Input(self.current, id="period-input")
        yield Static(f"e.g. {PERIOD_SYNTAX}", classes="hint", markup=False)
        yield Static("", id="period-error", classes="error", markup=False)

    @on(Input.Submitted, "#period-input")
    def _submitted(self, event: Input.Submitted) -> None:
        try:
            period = parse_period(self.config, event.value, self.now)
        except ReviewError as exc:
            self.query_one("#period-error", Static).update(str(exc))
            return
        self.dismiss(period)


class ExportScreen(Dialog[Path | None]):
    """Asks where to write the table; the suffix picks CSV or XLSX."""

    HELP_TITLE = "Export the table"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="export.cancel", tooltip="Write nothing"),
    ]
    DEFAULT_CSS = """
    ExportScreen #dialog {
        width: 96;
    }
    """

    def __init__(self, what: str, default: Path) -> None:
        super().__init__(f"Export {what}")
        self.what = what
        self.default = default

    def compose_body(self) -> ComposeResult:
        yield Input(str(self.default), id="export-path")
        yield Static("Enter writes the file: .csv or .xlsx, by its name. Esc cancels.", classes="hint")
        yield Static("", id="export-error", classes="error", markup=False)

    @on(Input.Submitted, "#export-path")
    def _submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            self.query_one("#export-error", Static).update("Give a file name ending in .csv or .xlsx")
            return
        path = Path(text).expanduser()
        if path.suffix.lower() not in (".csv", ".xlsx"):
            self.query_one("#export-error", Static).update(f"{path.name}: end the name in .csv or .xlsx")
            return
        self.dismiss(path)


def _safe_name(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)


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
        self._note = ""
        self._loaded_at = 0.0

    # ------------------------------------------------------------ plumbing

    @property
    def reviewed_config(self) -> Config:
        """The config the figures were computed with: imported reasons have names and can be picked."""
        return self.loaded.config if self.loaded is not None else self.config

    def now(self) -> float:
        return self.oee_app.clock()

    def compose(self) -> ComposeResult:
        yield Static("Shift review", id="review-title")
        yield Static("Loading…", id="review-figures")
        yield Static(self._tabs(), id="review-tabs")
        with Horizontal(id="review-body"):
            with ContentSwitcher(initial="lines", id="review-views"):
                for view in VIEWS:
                    yield KeyedTable(view.columns, id=view.id, fixed_columns=1)
            yield Static("", id="review-side")
        yield Static("", id="review-note", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        try:
            self.period = current_period(self.config, PeriodKind.SHIFT, self.now())
        except (ReviewError, LookupError):  # no shift in the last 8 days: start on today
            self.period = current_period(self.config, PeriodKind.DAY, self.now())
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
        store = self.engine.store
        if store is None or self.period is None:
            self._set_note("This plant runs without a store, so there is no history to review.")
            self.query_one("#review-figures", Static).update("No store: nothing to review.")
            return
        self._generation += 1
        self._loading_main = True
        self._show_title()
        request = (self._generation, self.period, self.scope, self.now())
        self.run_worker(partial(self._load_in_thread, store, self.config, *request), thread=True, exclusive=True,
                        group="review-load", exit_on_error=False, name="review-load")
        if self.view_id == "compare":
            self.load_compare()

    def _load_in_thread(self, store: Store, config: Config, generation: int, period: Period, scope: Scope,
                        now: float) -> None:
        config, planning = planned_config(store, config)
        report = review_report(store, config, period, now, planning=planning)
        window = period.window(now)
        worker = get_current_worker()
        if worker.is_cancelled:
            return
        pareto = downtime_pareto(config, report, scope)
        unassigned = unassigned_stops(store, config, window, now, scope)
        stops = machine_stops(store, window, scope.id) if scope.level is Level.MACHINE else None
        loaded = Loaded(generation, period, scope, now, config, report, pareto, target_vs_actual(config, report, scope),
                        unassigned, stops)
        if not worker.is_cancelled:
            self.app.call_from_thread(self._show_loaded, loaded)

    def load_compare(self) -> None:
        store = self.engine.store
        if store is None or self.period is None:
            return
        self._compare_generation += 1
        self._loading_compare = True
        self._show_title()
        self.run_worker(partial(self._compare_in_thread, store, self.config, self._compare_generation, self.period,
                                self.scope, self.compare_mode, self.now()),
                        thread=True, exclusive=True, group="review-compare", exit_on_error=False,
                        name="review-compare")

    def _compare_in_thread(self, store: Store, config: Config, generation: int, period: Period, scope: Scope,
                           mode: int, now: float) -> None:
        config, planning = planned_config(store, config)
        names = [s.name for s in config.shifts] or ["Day"]
        day = period.last_day if period.kind is not PeriodKind.RANGE and period.kind is not PeriodKind.WEEK \
            else min(period.last_day, datetime.fromtimestamp(now, config.tz).date())
        if mode == 0:
            rows = compare_shifts_of_day(store, config, day, now, scope, planning)
            title = f"The shifts of {day.isoformat()} ({day.strftime('%a')})"
        else:
            # The shift in view comes first, then the others in the order the config lists them.
            first = names.index(period.shift) if period.shift in names else 0
            shift = names[(first + mode - 1) % len(names)]
            rows = compare_same_shift(store, config, shift, day, now, scope, planning=planning)
            title = f"The {shift} shift over the 7 days to {day.isoformat()}"
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_compared, Compared(generation, title, rows, period.label))

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

    def _show_loaded(self, loaded: Loaded) -> None:
        if loaded.generation != self._generation:
            return  # the supervisor has moved on; a newer answer is on its way
        self.loaded = loaded
        self._loaded_at = time.monotonic()
        self._loading_main = False
        self._stops_by_key = {}
        with self.app.batch_update():
            self._show_title()
            self._show_figures()
            self.table("lines").sync(self._line_rows(loaded))
            self.table("machines").sync(self._machine_rows(loaded))
            self.table("stops").sync(self._stop_rows(loaded.stops) if loaded.stops is not None else [])
            self.table("losses").sync(self._loss_rows(loaded))
            self.table("pareto").sync(self._pareto_rows(loaded.pareto))
            self.table("target").sync(self._target_rows(loaded.targets))
            self.table("unassigned").sync(self._unassigned_rows(loaded.unassigned))
            self.query_one("#review-tabs", Static).update(self._tabs())
            self.query_one("#review-side", Static).update(self._side(loaded))
            self._update_note()

    def _show_compared(self, compared: Compared) -> None:
        if compared.generation != self._compare_generation:
            return
        self.compared = compared
        self._loading_compare = False
        table = self.table("compare")
        table.sync(self._compare_rows(compared))
        if compared.current in table.shown_keys():
            table.move_cursor(table.get_row_index(compared.current))
        self._show_title()
        self._update_note()

    def _show_title(self) -> None:
        config = self.config
        period = self.period
        parts: list[tuple[str, str] | str] = [("Review", "bold")]
        if period is not None:
            tz = config.tz
            start = datetime.fromtimestamp(period.start, tz)
            end = datetime.fromtimestamp(period.end, tz)
            last = datetime.fromtimestamp(period.end - 1, tz)
            if period.kind is PeriodKind.SHIFT:
                span = f"{start:%a} {start:%H:%M}–{end:%H:%M}"
            elif period.kind is PeriodKind.DAY:
                span = f"{start:%A}"
            else:
                span = f"{start:%a %d %b}–{last:%a %d %b}"
            parts += [" │ ", (period.label, "bold"), f" {span}"]
        parts += [" │ ", self._breadcrumb()]
        if self._loading_main or (self.view_id == "compare" and self._loading_compare):
            parts += [" │ ", ("loading…", "bold $warning")]
        self.query_one("#review-title", Static).update(Content.assemble(*parts))

    def _breadcrumb(self) -> str:
        config = self.config
        crumbs = ["Plant"]
        if self.scope.level is not Level.PLANT:
            machine = next((m for m in config.machines if m.id == self.scope.id), None)
            line_id = self.scope.id if self.scope.level is Level.LINE else (machine.line if machine else "")
            crumbs.append(Scope(Level.LINE, line_id).name(config))
            if self.scope.level is Level.MACHINE:
                crumbs.append(self.scope.name(config))
        return " › ".join(crumbs)

    def _show_figures(self) -> None:
        loaded = self.loaded
        if loaded is None:
            return
        result = self.scope.result(loaded.report)
        if result is None:
            self.query_one("#review-figures", Static).update("No machines here.")
            return
        # The last target row is the scope's own: its total, or the machine itself.
        good_target = loaded.targets[-1].good_target if loaded.targets else 0
        oee_goal = self.config.targets.oee
        below = result.oee is not None and result.oee < oee_goal
        self.query_one("#review-figures", Static).update(Content.assemble(
            "OEE ", (percent(result.oee) + "%", "bold $error" if below else "bold $success"),
            f" tgt {oee_goal * 100:.0f}%",
            "  A ", (percent(result.availability), "bold"), "  P ", (percent(result.performance, mark_over_100=True),
                                                                     "bold"),
            "  Q ", (percent(result.quality), "bold"),
            "  Good ", (count(result.good_count), "bold"), f"/{count(good_target)}",
            "  Down ", (f"{result.unplanned_downtime_s / 60:.0f} min", "bold"),
        ))

    def _tabs(self) -> Content:
        parts: list[tuple[str, str] | str] = []
        todo = self.loaded.unassigned.total if self.loaded is not None else None
        for key, view_id, title in TABS:
            label = f"{title} ({count(todo)})" if view_id == "unassigned" and todo is not None else title
            style = "bold reverse" if view_id == self.view_id else ""
            parts += [(f" {key} ", "bold $accent"), (label, style), " "]
        return Content.assemble(*parts)

    def _set_note(self, text: str) -> None:
        self._note = text
        self.query_one("#review-note", Static).update(text)

    def _update_note(self) -> None:
        loaded = self.loaded
        table_id = self._table_id()
        hints = {
            "lines": "Enter: the line's machines   s/d/w: shift/day/week   g: type a period",
            "machines": "Enter: the machine's stops   Esc: back to the lines",
            "stops": "Enter or r: give the stop a reason   Esc: back to the machines",
            "compare": "Enter: review that shift   m: compare by day / by shift",
            "unassigned": "Enter or r: give a reason",
        }
        note = hints.get(table_id, "")
        if loaded is not None:
            if table_id == "unassigned" and loaded.unassigned.total > len(loaded.unassigned.rows):
                note = f"The longest {count(len(loaded.unassigned.rows))} of {count(loaded.unassigned.total)}. " + note
            if table_id == "stops" and loaded.stops is not None and loaded.stops.total > len(loaded.stops.rows):
                note = f"The newest {count(len(loaded.stops.rows))} of {count(loaded.stops.total)}. " + note
            if table_id == "pareto":
                note = "Unplanned stop time in scheduled time, breaks left out; planned stops are not losses."
        if table_id == "compare" and self.compared is not None:
            note = f"{self.compared.title}.  {note}"
        self._set_note(note)

    # ------------------------------------------------------------ rows

    def _c(self, variable: str, *, bold: bool = False) -> str:
        """A theme colour by name, for Rich Text cells (they take concrete colours, not $variables)."""
        colour = self.app.theme_variables.get(variable) or getattr(self.app.current_theme, variable, None) or ""
        return f"bold {colour}".strip() if bold else str(colour)

    def _oee_cells(self, result: OeeResult) -> list[Text]:
        over_100 = result.performance is not None and result.performance > 1.0
        below = result.oee is not None and result.oee < self.config.targets.oee
        return [
            _right(percent(result.oee), "bold" if not below else self._c("error", bold=True)),
            _right(percent(result.availability)),
            _right(percent_aligned(result.performance), "bold" if over_100 else ""),
            _right(percent(result.quality)),
            _right(count(result.good_count)),
            _right(count(result.reject_count)),
            _right(minutes(result.unplanned_downtime_s)),
            Text(", ".join(result.flags)),
        ]

    def _line_rows(self, loaded: Loaded) -> list[Row]:
        names = {line.id: line.name for line in self.config.lines}
        rows: list[Row] = [(r.scope, [Text(f"{r.scope} {names.get(r.scope, '')}".strip()), *self._oee_cells(r)])
                           for r in loaded.report.lines]
        if loaded.report.plant is not None:
            rows.append(("\0plant", [Text("Plant", style="bold"), *self._oee_cells(loaded.report.plant)]))
        return rows

    def _machine_rows(self, loaded: Loaded) -> list[Row]:
        if self.scope.level is Level.PLANT:
            return []
        line = self.scope.id if self.scope.level is Level.LINE else self.config.machine(self.scope.id).line
        names = {m.id: m.name for m in self.config.machines}
        wanted = {m.id for m in self.config.machines if m.line == line}
        rows: list[Row] = [(r.scope, [Text(names.get(r.scope, r.scope)), *self._oee_cells(r)])
                           for r in loaded.report.machines if r.scope in wanted]
        total = next((r for r in loaded.report.lines if r.scope == line), None)
        if total is not None:
            rows.append(("\0line", [Text(f"Line {line}", style="bold"), *self._oee_cells(total)]))
        return rows

    def _when(self, ts: float) -> str:
        moment = datetime.fromtimestamp(ts, self.config.tz)
        period = self.period
        if period is not None and period.kind is PeriodKind.SHIFT:
            return f"{moment:%H:%M:%S}"
        return f"{moment:%a %d %H:%M:%S}"

    def _duration(self, stop: StopRow, now: float) -> Text:
        text = hms(stop.duration(now)) + (" (open)" if stop.end is None else "")
        return _right(text)

    def _state(self, stop: StopRow) -> Text:
        return Text(look(stop.state).text, style=f"bold {state_colour(self.app.theme_variables, stop.state)}")

    def _stop_rows(self, stops: StopList) -> list[Row]:
        now = self.loaded.now if self.loaded else self.now()
        self._stops_by_key.update({f"{s.machine}\0{s.start!r}": s for s in stops.rows})
        rows: list[Row] = []
        for stop in stops.rows:
            if stop.reason is None:
                reason = Text("— needs reason", style="bold")
            else:
                known = self.reviewed_config.reason(stop.reason)
                reason = Text(known.name if known is not None else stop.reason)
            rows.append((f"{stop.machine}\0{stop.start!r}", [
                Text(self._when(stop.start)), self._duration(stop, now), self._state(stop), reason,
                Text(stop.reason_by or ""), Text(self._when(stop.reason_at) if stop.reason_at else ""),
            ]))
        return rows

    def _unassigned_rows(self, stops: StopList) -> list[Row]:
        now = self.loaded.now if self.loaded else self.now()
        self._stops_by_key.update({f"{s.machine}\0{s.start!r}": s for s in stops.rows})
        names = {m.id: m.name for m in self.config.machines}
        return [(f"{s.machine}\0{s.start!r}", [Text(names.get(s.machine, s.machine)), Text(self._when(s.start)),
                                               self._duration(s, now), self._state(s)]) for s in stops.rows]

    def _loss_rows(self, loaded: Loaded) -> list[Row]:
        result = self.scope.result(loaded.report)
        if result is None:
            return []
        return [(row.loss, [Text(row.name), Text(row.affects), _right(hms(row.seconds) if row.seconds >= 0
                                                                      else "-" + hms(-row.seconds)),
                            _right(minutes(row.seconds)), _right(MISSING if row.count is None else count(row.count)),
                            Text(row.unit), _right(percent(row.share_of_ppt))])
                for row in six_big_losses(result)]

    def _pareto_rows(self, bars: Sequence[ParetoBar]) -> list[Row]:
        top = max((b.share for b in bars), default=0.0)
        return [(b.reason or "\0none", [Text(b.name, style=self._c("warning", bold=True) if b.reason is None else ""),
                                        _right(count(b.stops)), _right(minutes(b.seconds)), _right(percent(b.share)),
                                        _right(percent(b.cumulative)),
                                        Text(bar(b.share / top if top else None), style=self._c("primary"))])
                for b in bars]

    def _target_rows(self, targets: Sequence[TargetRow]) -> list[Row]:
        rows: list[Row] = []
        for row in targets:
            gap = None if row.oee is None else row.oee - row.oee_target
            rows.append((row.scope + ("\0total" if row.name.startswith("Total") else ""), [
                Text(row.name, style="bold" if row.name.startswith("Total") else ""),
                _right(percent(row.oee), "bold"), _right(percent(row.oee_target)),
                _right(MISSING if gap is None else f"{gap * 100:+.1f}", self._c("error") if gap is not None and gap < 0
                       else self._c("success")),
                _right(count(row.good)), _right(count(row.good_target)), _right(percent(row.good_share)),
                Text(bar(row.good_share, 12), style=self._c("success" if (row.good_share or 0) >= 1 else "warning")),
            ]))
        return rows

    def _compare_rows(self, compared: Compared) -> list[Row]:
        rows: list[Row] = []
        goal = self.config.targets.oee
        for row in compared.rows:
            result = row.result
            if result is None:
                continue
            label = f"{row.period.label} {row.period.first_day:%a}"
            rows.append((row.period.label, [
                Text(label, style="bold" if row.period.label == compared.current else ""),
                _right(percent(result.oee), "bold"), _right(percent(result.availability)),
                _right(percent_aligned(result.performance)), _right(percent(result.quality)),
                _right(count(result.good_count)), _right(count(row.good_target)),
                _right(minutes(result.unplanned_downtime_s)),
                Text(bar(result.oee, 16), style=self._c("success" if (result.oee or 0) >= goal else "warning")),
            ]))
        return rows

    def _side(self, loaded: Loaded) -> Content:
        """Losses and the top of the Pareto, for a wide terminal: always in view beside the table."""
        result = self.scope.result(loaded.report)
        lines: list[Content] = [Content.styled("Six big losses", "bold")]
        if result is not None:
            for row in six_big_losses(result):
                n = "" if row.count is None else f"{count(row.count):>7} {row.unit}"
                lines.append(Content(f"{row.affects} {row.name:<23} {minutes(row.seconds):>8} min {n}"))
        lines += [Content(""), Content.styled("Downtime Pareto (min, cumulative)", "bold")]
        top = max((b.share for b in loaded.pareto), default=0.0)
        for b in loaded.pareto[:10]:
            name = b.name if len(b.name) <= 18 else b.name[:17] + "…"
            lines.append(Content.assemble(f"{name:<18} ", (f"{bar(b.share / top if top else None, 16):<16}",
                                                            "$warning" if b.reason is None else "$primary"),
                                          f" {minutes(b.seconds):>7} {percent(b.cumulative):>5}%"))
        if not loaded.pareto:
            lines.append(Content("No unplanned stops."))
        lines += [Content(""), Content.styled("Target against actual (OEE, good parts)", "bold")]
        for row in loaded.targets[:12]:
            name = row.name if len(row.name) <= 18 else row.name[:17] + "…"
            behind = row.oee is not None and row.oee < row.oee_target
            lines.append(Content.assemble(
                f"{name:<18} ", (f"{percent(row.oee):>5}", "$error" if behind else "$success"),
                f"/{percent(row.oee_target)}  {count(row.good):>9}/{count(row.good_target):<9} ",
                (f"{percent(row.good_share):>5}%", "bold")))
        return Content("\n").join(lines)

    # ------------------------------------------------------------ actions

    def action_step(self, steps: int) -> None:
        if self.period is None:
            return
        try:
            self.period = step_period(self.config, self.period, steps)
        except ReviewError as exc:
            self.notify(str(exc), severity="warning")
            return
        self.load()

    def action_kind(self, kind: str) -> None:
        if self.period is None:
            return
        try:
            self.period = period_of_kind(self.config, self.period, PeriodKind(kind), self.now())
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

        self.app.push_screen(PeriodInputScreen(self.config, self.now(), self.period.label), chosen)

    def action_view(self, view: str) -> None:
        self.view_id = view
        self._focus_view()
        self.query_one("#review-tabs", Static).update(self._tabs())
        if view == "compare":
            self.load_compare()
        self._show_title()
        self._update_note()

    def action_compare_mode(self) -> None:
        self.compare_mode = (self.compare_mode + 1) % (1 + max(1, len(self.config.shifts)))
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
        await self.engine.set_stop_reason(stop.machine, stop.start, code, user)
        reason = self.reviewed_config.reason(code)
        self.notify(f"{reason.name if reason else code} given to the stop at {self._when(stop.start)}",
                    title="Reason saved")
        self.load()

    def action_export(self) -> None:
        exportable = self.exportable()
        if exportable is None:
            self.notify("Nothing to export yet.", severity="warning")
            return
        store = self.engine.store
        folder = store.data_dir if store is not None else self.oee_app.data_dir
        label = self.period.label if self.period else "review"
        scope = "" if self.scope.level is Level.PLANT else f"-{self.scope.id}"
        default = folder / _safe_name(f"review-{exportable.name}{scope}-{label}.csv")

        def chosen(path: Path | None) -> None:
            if path is not None:
                self.export_to(path, exportable, path == default)

        self.app.push_screen(ExportScreen(f"{exportable.name} ({count(len(exportable.rows))} rows)", default), chosen)

    @work(thread=True, exclusive=True, exit_on_error=False, group="review-export")
    def export_to(self, path: Path, exportable: Exportable, make_folder: bool) -> None:
        if make_folder:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            rows = write_table(path, exportable.headers, exportable.rows, sheet=exportable.name)
        except (ExportError, OSError) as exc:
            self.app.call_from_thread(self.notify, str(exc), title="Not exported", severity="error", timeout=15)
            return
        self.app.call_from_thread(self.notify, f"{rows} rows written to {path}", title="Exported", timeout=10)

    # ------------------------------------------------------------ export rows

    def exportable(self) -> Exportable | None:
        loaded = self.loaded
        table_id = self._table_id()
        if table_id == "compare":
            return _compare_export(self.compared) if self.compared is not None else None
        if loaded is None:
            return None
        builders: dict[str, Callable[[Loaded], Exportable]] = {
            "lines": lambda d: _oee_export("lines", "line", [*d.report.lines, *filter(None, [d.report.plant])]),
            "machines": lambda d: _oee_export("machines", "machine", [
                r for r in d.report.machines if r.scope in set(self._machine_ids())]),
            "stops": lambda d: _stops_export("stops", d.stops, d.now),
            "losses": lambda d: _losses_export(self.scope.result(d.report)),
            "pareto": _pareto_export,
            "target": _target_export,
            "unassigned": lambda d: _stops_export("unassigned", d.unassigned, d.now),
        }
        exportable = builders[table_id](loaded)
        # Every exported row says which period it covers, so files from several periods can be stacked.
        exportable.headers = ["period", *exportable.headers]
        exportable.rows = [[loaded.period.label, *row] for row in exportable.rows]
        return exportable

    def _machine_ids(self) -> list[str]:
        if self.scope.level is Level.PLANT:
            return []
        line = self.scope.id if self.scope.level is Level.LINE else self.config.machine(self.scope.id).line
        return [m.id for m in self.config.machines if m.line == line]


_OEE_HEADERS: Final = ["oee", "availability", "performance", "quality", "good_count", "reject_count",
                       "total_count", "planned_production_time_s", "run_time_s", "unplanned_downtime_s", "no_data_s",
                       "flags"]


def _oee_values(result: OeeResult) -> list[object]:
    return [result.oee, result.availability, result.performance, result.quality, result.good_count,
            result.reject_count, result.total_count, round(result.planned_production_time_s, 3),
            round(result.run_time_s, 3), round(result.unplanned_downtime_s, 3), round(result.no_data_s, 3),
            ";".join(result.flags)]


def _oee_export(name: str, level: str, results: Sequence[OeeResult]) -> Exportable:
    return Exportable(name, [level, *_OEE_HEADERS], [[r.scope, *_oee_values(r)] for r in results])


def _stops_export(name: str, stops: StopList | None, now: float) -> Exportable:
    headers = ["machine", "start_utc", "end_utc", "duration_s", "state", "reason", "reason_by", "reason_at_utc"]
    rows: list[list[object]] = []
    for stop in stops.rows if stops is not None else ():
        rows.append([stop.machine, _utc(stop.start), _utc(stop.end), round(stop.duration(now), 3), stop.state.value,
                     stop.reason, stop.reason_by, _utc(stop.reason_at)])
    return Exportable(name, headers, rows)


def _utc(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def _losses_export(result: OeeResult | None) -> Exportable:
    rows: list[list[object]] = [] if result is None else [
        [row.loss, row.name, row.affects, round(row.seconds, 3), row.count, row.unit, row.share_of_ppt]
        for row in six_big_losses(result)]
    return Exportable("losses", ["loss", "name", "affects", "seconds", "count", "unit", "share_of_ppt"], rows)


def _pareto_export(loaded: Loaded) -> Exportable:
    return Exportable("pareto", ["reason", "name", "stops", "seconds", "share", "cumulative_share"],
                      [[b.reason or "", b.name, b.stops, round(b.seconds, 3), b.share, b.cumulative]
                       for b in loaded.pareto])


def _target_export(loaded: Loaded) -> Exportable:
    return Exportable("target", ["scope", "name", "oee", "oee_target", "good", "good_target"],
                      [[t.scope, t.name, t.oee, t.oee_target, t.good, t.good_target] for t in loaded.targets])


def _compare_export(compared: Compared) -> Exportable:
    rows: list[list[object]] = [[row.period.label, row.result.scope, *_oee_values(row.result), row.good_target]
                                for row in compared.rows if row.result is not None]
    return Exportable("compare", ["period", "scope", *_OEE_HEADERS, "good_target"], rows)
