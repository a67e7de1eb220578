"""F5: the alerts, active ones (as the engine holds them now) or the history (from the store), newest first,
with the highlighted one whole below; `a` acknowledges it with a comment, `s` shelves it for a while.

Reads run in thread workers (`record_list.py`), acknowledgements and shelvings in async workers that await
the engine (which answers once the change is durable); nothing here blocks the screen.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Final

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Input, Static

from oee_tui.alerts.alert_text import SEVERITY_MARKS, clock_time, state_text
from oee_tui.dead_letter_text import duration_s, local_time
from oee_tui.model import Alert
from oee_tui.model.access import Action
from oee_tui.screens.machine_detail import operator_name
from oee_tui.screens.record_list import Loaded, RecordListScreen
from oee_tui.service.remote_engine import RemoteEngine
from oee_tui.service.session_origin import local_origin
from oee_tui.widgets.dialog import Dialog

SHOWN: Final = 500  # of the history; `oee alerts --all --limit` reaches further back


class AlertsScreen(RecordListScreen[Alert]):
    HELP_TITLE = "Alerts"
    ID_PREFIX = "al"
    COLUMNS = ("ID", "Severity", "Raised", "Rule", "Subject", "State")
    NOUN = "the alerts"
    NONE_YET = "No alerts."
    NO_STORE = "This plant has no store, so there is no alert history to show."
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "acknowledge", "Acknowledge", id="alerts.acknowledge",
                tooltip="Acknowledge the highlighted alert, with a comment"),
        Binding("s", "shelve", "Shelve", id="alerts.shelve",
                tooltip="Shelve the highlighted alert for a while: out of the active count until then"),
        Binding("h", "toggle_history", "History", id="alerts.history",
                tooltip="Switch between the active alerts and the history (cleared ones too)"),
        Binding("r", "reload", "Refresh", id="alerts.refresh", tooltip="Read the alerts again now"),
        Binding("escape,backspace", "back", "Back", id="alerts.back",
                tooltip="Back to the list, or to the screen you came from"),
    ]

    def __init__(self, *, refresh_s: float | None = 2.0) -> None:
        super().__init__(refresh_s=refresh_s)
        self.history = False
        self._read: tuple[Alert, ...] = ()  # the active alerts last read, for the heading

    # ------------------------------------------------------------ the list

    def read(self) -> Sequence[Alert] | None:
        engine = self.oee_app.engine
        if engine is None:
            return ()
        if not self.history:
            self._read = tuple(sorted(engine.snapshot().alerts, key=lambda alert: alert.id, reverse=True))
            return self._read
        if isinstance(engine, RemoteEngine):
            listed: Sequence[Alert] = engine.call_from_thread("alerts", all=True, limit=SHOWN)
        elif engine.store is None:
            return None
        else:
            listed = engine.store.alerts(limit=SHOWN)
        return tuple(sorted(listed, key=lambda alert: alert.id, reverse=True))

    def heading(self, count: int) -> str:
        snapshot = self.oee_app.latest_snapshot
        problem = None if snapshot is None else snapshot.alert_problem
        return self._heading(count) + (f"\nPROBLEM: {problem}" if problem else "")

    def _heading(self, count: int) -> str:
        if self.history:
            return f"Alert history: {count}, newest first; h shows the active ones"
        now = self.oee_app.clock()
        shelved = sum(1 for alert in self._read if alert.shelved(now))
        said = f"Active alerts: {count}" + (f" ({shelved} shelved)" if shelved else "")
        return said + "; a acknowledges, s shelves, h shows the history"

    def key_of(self, index_from_oldest: int, record: Alert) -> str:
        # The state is part of the key: an acknowledgement or a shelving shows at the next read.
        return f"{record.id}:{record.acked_at}:{record.shelved_until}:{record.cleared_at}"

    def cells(self, record: Alert) -> tuple[str | Text, ...]:
        now = self.oee_app.clock()
        return (Text(str(record.id), justify="right"), f"{SEVERITY_MARKS[record.severity]}{record.severity.value}",
                clock_time(record.raised_at, self.tz, now), record.rule, record.subject,
                state_text(record, self.tz, now))

    def detail(self, record: Alert) -> Text:
        body = Text()
        body.append(f"{record.message}\n", style="bold")
        body.append(f"{record.severity.value} · rule {record.rule} ({record.kind.value}) · {record.subject}\n")
        body.append(f"Raised {local_time(record.raised_at, self.tz)}")
        if record.cleared_at is not None:
            body.append(f", cleared {local_time(record.cleared_at, self.tz)}")
        body.append("\n")
        if record.acked_at is not None:
            body.append(f"Acknowledged {local_time(record.acked_at, self.tz)} by {record.acked_by}: "
                        f"{record.ack_comment}\n")
        if record.shelved_until is not None and record.shelved(self.oee_app.clock()):
            body.append(f"Shelved by {record.shelved_by} until {local_time(record.shelved_until, self.tz)}\n")
        return body

    def show_records(self, loaded: Loaded[Alert]) -> None:
        """As every record list, but the cursor stays on its alert when the alert's state (so its key) changed."""
        selected = self._highlighted_alert()
        super().show_records(loaded)
        if selected is None or not self._order:
            return
        row = next((row for row, key in enumerate(self._order) if key.startswith(f"{selected.id}:")), None)
        if row is not None and row != self.list_table.cursor_row:
            self.list_table.move_cursor(row=row, animate=False)

    def action_toggle_history(self) -> None:
        self.history = not self.history
        self._order = None
        self.load()

    # ------------------------------------------------------------ acting on an alert

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "acknowledge":
            return self.may(Action.ACKNOWLEDGE)
        if action == "shelve":
            return self.may(Action.SHELVE)
        return True

    def _highlighted_alert(self) -> Alert | None:
        key = self._selected_key()
        return None if key is None else self.records.get(key)

    def action_acknowledge(self) -> None:
        alert = self._highlighted_alert()
        if alert is None:
            self.notify("No alert is highlighted.", severity="warning")
            return

        def answered(comment: str | None) -> None:
            if comment:
                self._acknowledge(alert.id, comment)

        self.app.push_screen(AlertInput(f"Acknowledge alert {alert.id}", alert.message,
                                        "Comment: what was done, or who is on it", ""), answered)

    def action_shelve(self) -> None:
        alert = self._highlighted_alert()
        if alert is None:
            self.notify("No alert is highlighted.", severity="warning")
            return

        def answered(text: str | None) -> None:
            seconds = None if text is None else duration_s(text)
            if text is not None and seconds is None:
                self.notify(f"{text!r} is not a duration such as 30m, 2h or 1d: not shelved.", severity="error")
            elif seconds is not None:
                self._shelve(alert.id, self.oee_app.clock() + seconds)

        self.app.push_screen(AlertInput(f"Shelve alert {alert.id}", alert.message,
                                        "For how long: 30m, 2h, 1d (0s unshelves)", "30m"), answered)

    @work(exclusive=True, exit_on_error=False, group="alert-action")
    async def _acknowledge(self, alert_id: int, comment: str) -> None:
        try:
            await self.engine.acknowledge_alert(alert_id, comment, operator_name(), local_origin())
        except Exception as exc:  # refused, lost, not stored: said, and nothing shown as done
            self.notify(f"Alert {alert_id} not acknowledged: {exc}", severity="error", timeout=15)
            return
        self.notify(f"Alert {alert_id} acknowledged.")
        self.load()

    @work(exclusive=True, exit_on_error=False, group="alert-action")
    async def _shelve(self, alert_id: int, until: float) -> None:
        try:
            await self.engine.shelve_alert(alert_id, until, operator_name(), local_origin())
        except Exception as exc:
            self.notify(f"Alert {alert_id} not shelved: {exc}", severity="error", timeout=15)
            return
        self.notify(f"Alert {alert_id} shelved until {clock_time(until, self.tz, self.oee_app.clock())}.")
        self.load()


class AlertInput(Dialog[str | None]):
    """One line of text about one alert: Enter gives it, Escape gives nothing."""

    HELP_TITLE = "Alert"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="alert-input.cancel"),
    ]

    def __init__(self, title: str, message: str, prompt: str, value: str) -> None:
        super().__init__(title)
        self.message = message
        self.prompt = prompt
        self.value = value

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield Static(Text(self.message, style="bold"))
        yield Static(self.prompt, classes="hint")
        yield Input(self.value, id="alert-input")
        yield Static("", id="alert-input-error", classes="error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            self.query_one("#alert-input-error", Static).update("Write something first, or Escape to cancel.")
            return
        self.dismiss(text)
