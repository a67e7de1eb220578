"""The audit screen's filter (f): by user, kind and time, typed as `oee audit list` takes them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar
from zoneinfo import ZoneInfo

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Input, Label, Static

from oee_tui.dead_letter_text import parse_since
from oee_tui.widgets.dialog import Dialog


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What the audit screen lists: the texts as typed (shown back), and the times they stand for."""

    user: str = ""
    kind: str = ""
    start_text: str = ""
    end_text: str = ""
    start: float | None = None
    end: float | None = None

    def __str__(self) -> str:
        said = [f"user {self.user}" if self.user else "", f"kind {self.kind}" if self.kind else "",
                f"from {self.start_text}" if self.start_text else "", f"to {self.end_text}" if self.end_text else ""]
        return ", ".join(part for part in said if part) or "none"


class AuditFilterScreen(Dialog[AuditFilter | None]):
    """Four fields; Enter in any of them applies all four, Esc keeps the filter as it was."""

    HELP_TITLE = "Filter the audit trail"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="audit-filter.cancel", tooltip="Keep the filter as it was"),
    ]
    DEFAULT_CSS = """
    AuditFilterScreen Horizontal {
        height: auto;
    }
    AuditFilterScreen Label {
        width: 8;
        padding: 1 0 0 0;
    }
    AuditFilterScreen Input {
        width: 1fr;
    }
    """

    def __init__(self, current: AuditFilter, tz: ZoneInfo, clock: Callable[[], float]) -> None:
        super().__init__("Filter the audit trail")
        self.current = current
        self.tz = tz
        self.clock = clock  # durations (2h) count back from the app's clock

    def compose_body(self) -> ComposeResult:
        for label, field, value, placeholder in (
                ("User", "user", self.current.user, "OS user, person, or 'person (user)'"),
                ("Kind", "kind", self.current.kind, "stop_reason, import, config, device, …"),
                ("From", "start", self.current.start_text, "2h, 1d, or 2026-11-26 06:00 (plant local)"),
                ("To", "end", self.current.end_text, "as From; empty: up to now")):
            with Horizontal():
                yield Label(label)
                yield Input(value, placeholder=placeholder, id=f"filter-{field}")
        yield Static("Enter applies; empty fields filter nothing; Esc cancels", classes="hint", markup=False)
        yield Static("", id="filter-error", classes="error", markup=False)

    @on(Input.Submitted)
    def _submitted(self) -> None:
        values = {field: self.query_one(f"#filter-{field}", Input).value.strip()
                  for field in ("user", "kind", "start", "end")}
        now = self.clock()
        try:
            start = parse_since(values["start"], self.tz, now, "From") if values["start"] else None
            end = parse_since(values["end"], self.tz, now, "To") if values["end"] else None
        except ValueError as exc:
            self.query_one("#filter-error", Static).update(str(exc))
            return
        self.dismiss(AuditFilter(values["user"], values["kind"], values["start"], values["end"], start, end))
