"""One machine's current shift: figures, state timeline, OEE trend, top stop reasons and the stops."""

from __future__ import annotations

import getpass
from typing import ClassVar, Final

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState

from oee_tui.model import MachineDetail, StateInterval
from oee_tui.screens.host import PlantScreen
from oee_tui.screens.reason_picker import ReasonPickerScreen
from oee_tui.service.session_origin import local_origin
from oee_tui.widgets.formatting import count, hms, local_time, percent_with_sign
from oee_tui.widgets.keyed_table import KeyedTable, Row
from oee_tui.widgets.state_timeline import StateTimeline
from oee_tui.widgets.states import look, state_colour
from oee_tui.widgets.top_reasons import TopReasons
from oee_tui.widgets.trend import OeeTrend

NEEDS_REASON: Final = "— needs reason"
SHORT_NEEDS_NONE: Final = "— short: none needed"
STOP_COLUMNS: Final[tuple[tuple[str, str | Text], ...]] = (
    ("start", "Start"),
    ("duration", Text("Duration", justify="right")),
    ("state", "State"),
    ("reason", "Reason"),
)


def operator_name() -> str:
    """Who gives the reason. getpass fails without a passwd entry (containers), which must not block a save."""
    try:
        return getpass.getuser()
    except Exception:
        return "operator"


def stop_key(stop: StateInterval) -> str:
    return repr(stop.start)


class MachineDetailScreen(PlantScreen[None]):
    """Loads `engine.machine_detail()` in a worker on show, every few seconds, and after a reason is set."""

    HELP_TITLE = "Machine detail"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "give_reason", "Reason", id="detail.reason",
                tooltip="Give a reason to the highlighted stop (also Enter)"),
        Binding("escape,backspace", "back", "Back", id="detail.back", tooltip="Back to the live status"),
    ]
    DEFAULT_CSS = """
    MachineDetailScreen #detail-title {
        height: 1;
        background: $panel;
        padding: 0 1;
    }
    MachineDetailScreen #detail-figures {
        height: auto;  /* a second line when a counter reset or jumped this shift */
        padding: 0 1;
    }
    MachineDetailScreen StateTimeline {
        margin: 0 1;
    }
    MachineDetailScreen #detail-panels {
        height: auto;
        max-height: 12;
    }
    MachineDetailScreen .panel {
        border: round $primary;
        border-title-color: $text;
        height: auto;
        max-height: 12;
        overflow-y: auto;
        padding: 0;
    }
    MachineDetailScreen #trend-box {
        width: 3fr;
    }
    MachineDetailScreen #reasons-box {
        width: 2fr;
    }
    MachineDetailScreen #stops {
        height: 1fr;
        min-height: 4;
        border-top: solid $primary;
        border-title-align: left;
    }
    """

    def __init__(self, machine_id: str) -> None:
        super().__init__()
        self.machine_id = machine_id
        self.detail: MachineDetail | None = None
        self._stops: dict[str, StateInterval] = {}

    def compose(self) -> ComposeResult:
        config = self.config
        yield Static(self._title(None), id="detail-title")
        yield Static("Loading…", id="detail-figures")
        yield StateTimeline(config.tz, id="timeline")
        with Horizontal(id="detail-panels"):
            with Vertical(id="trend-box", classes="panel") as trend_box:
                trend_box.border_title = f"OEE per hour (target {config.targets.oee * 100:.0f}%)"
                yield OeeTrend(config.tz, config.targets.oee, id="trend")
            with Vertical(id="reasons-box", classes="panel") as reasons_box:
                reasons_box.border_title = "Top stop reasons"
                yield TopReasons(id="top-reasons")
        stops = KeyedTable(STOP_COLUMNS, id="stops")
        stops.border_title = "Stops (newest first)"
        yield stops
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#stops", KeyedTable).focus()
        self.load()
        interval = self.oee_app.detail_refresh_interval
        if interval is not None:
            self.set_interval(interval, self._auto_reload, name="detail-reload")

    def _auto_reload(self) -> None:
        # Only while shown: behind the reason picker the table must not move under the operator.
        if self.app.screen is self:
            self.load()

    @work(exclusive=True, exit_on_error=False, group="detail")
    async def load(self) -> None:
        detail = await self.engine.machine_detail(self.machine_id)
        # An async worker runs on the app's event loop, so widgets may be touched here.
        self.show_detail(detail)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is not WorkerState.ERROR:
            return
        if event.worker.group == "detail":
            self.notify(f"Could not load {self.machine_id}: {event.worker.error}", severity="error")
        elif event.worker.group == "reason":
            self.notify(f"The reason was not saved: {event.worker.error}", title="Not saved", severity="error",
                        timeout=15)

    # ------------------------------------------------------------ rendering

    def show_detail(self, detail: MachineDetail) -> None:
        self.detail = detail
        with self.app.batch_update():
            self.query_one("#detail-title", Static).update(self._title(detail))
            self.query_one("#detail-figures", Static).update(self._figures(detail))
            self.query_one(StateTimeline).show(detail.intervals, detail.shift_start, detail.shift_end, detail.now)
            self.query_one(OeeTrend).show(detail.trend)
            self.query_one(TopReasons).show(detail.top_reasons)
            self._stops = {stop_key(stop): stop for stop in detail.stops}
            rows: list[Row] = [(stop_key(stop), self._stop_cells(stop, detail.now)) for stop in detail.stops]
            self.query_one("#stops", KeyedTable).sync(rows)

    def _title(self, detail: MachineDetail | None) -> Content:
        if detail is None:
            return Content.assemble((self.machine_id, "bold"), " │ loading…")
        parts: list[tuple[str, str] | str] = [(detail.name, "bold"), f" ({detail.machine}) │ Shift ",
                                              (detail.shift or "none", "bold")]
        current = detail.intervals[-1] if detail.intervals and detail.intervals[-1].end is None else None
        if current is not None:
            state_look = look(current.state)
            parts += [" │ now ", (state_look.text, f"bold ${state_look.variable}"),
                      f" for {hms(detail.now - current.start)}"]
        return Content.assemble(*parts)

    def _figures(self, detail: MachineDetail) -> Content:
        result = detail.oee
        return Content.assemble(
            "OEE ", (percent_with_sign(result.oee), "bold"),
            "  A ", (percent_with_sign(result.availability), "bold"),
            "  P ", (percent_with_sign(result.performance, mark_over_100=True), "bold"),
            "  Q ", (percent_with_sign(result.quality), "bold"),
            "  Good ", (count(result.good_count), "bold"),
            "  Rej ", (count(result.reject_count), "bold"),
            *self._events(detail),
        )

    def _events(self, detail: MachineDetail) -> list[tuple[str, str] | str]:
        """The shift's counter resets and jumps: how many, and the last in words."""
        if not detail.events:
            return []
        last = detail.events[-1]
        when = local_time(last.ts, self.config.tz)
        many = len(detail.events)
        return ["\n", (f"⚠ {many} counter event{'s' if many > 1 else ''} this shift", "bold"),
                f"; last at {when}: {last.text}"]

    def _stop_cells(self, stop: StateInterval, now: float) -> list[Text]:
        state_look = look(stop.state)
        duration = hms((stop.end if stop.end is not None else now) - stop.start)
        if stop.end is None:
            duration += " (open)"
        if stop.needs_reason(now, self.config.site.reason_min_stop_s):
            reason = Text(NEEDS_REASON, style="bold")
        elif stop.reason is None:
            reason = Text(SHORT_NEEDS_NONE, style="dim")
        else:
            known = self.config.reason(stop.reason)
            reason = Text(known.name if known is not None else stop.reason)
            if stop.reason_by:
                reason.append(f" · {stop.reason_by}", style="dim")
        return [
            Text(local_time(stop.start, self.config.tz)),
            Text(duration, justify="right"),
            Text(state_look.text, style=f"bold {state_colour(self.app.theme_variables, stop.state)}"),
            reason,
        ]

    # ------------------------------------------------------------ reasons

    def selected_stop(self) -> StateInterval | None:
        key = self.query_one("#stops", KeyedTable).cursor_key
        return None if key is None else self._stops.get(key)

    def selected_stop_label(self) -> str | None:
        stop = self.selected_stop()
        if stop is None:
            return None
        return f"{look(stop.state).text} at {local_time(stop.start, self.config.tz)}"

    def action_give_reason(self) -> None:
        stop = self.selected_stop()
        if stop is None:
            self.notify("There is no stop to give a reason to.", severity="warning")
            return
        self._pick_reason(stop)

    @on(KeyedTable.RowSelected, "#stops")
    def _stop_selected(self, event: KeyedTable.RowSelected) -> None:
        stop = self._stops.get(event.key)
        if stop is not None:
            self._pick_reason(stop)

    def _pick_reason(self, stop: StateInterval) -> None:
        label = f"{look(stop.state).text} at {local_time(stop.start, self.config.tz)}"

        def picked(code: str | None) -> None:
            if code is not None:
                self.save_reason(stop, code)

        self.app.push_screen(ReasonPickerScreen(self.config.reasons, label, current=stop.reason), picked)

    @work(exclusive=True, exit_on_error=False, group="reason")
    async def save_reason(self, stop: StateInterval, code: str) -> None:
        await self.engine.set_stop_reason(self.machine_id, stop.start, code, operator_name(), local_origin())
        reason = self.config.reason(code)
        self.notify(f"{reason.name if reason else code} given to the stop at {local_time(stop.start, self.config.tz)}",
                    title="Reason saved")
        self.load()

    def action_back(self) -> None:
        self.dismiss()
