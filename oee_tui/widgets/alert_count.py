"""One line on every screen while alerts are active: how many, how severe, and the key that lists them.

Hidden while none shows (shelved alerts do not count). Below the engine link of an attached TUI, not over it.
"""

from __future__ import annotations

from textual.widgets import Static

from oee_tui.model import Alert, Severity


def alert_count_text(alerts: tuple[Alert, ...], now: float) -> str:
    showing = [alert for alert in alerts if alert.showing(now)]
    if not showing:
        return ""
    critical = sum(1 for alert in showing if alert.severity is Severity.CRITICAL)
    unacked = sum(1 for alert in showing if alert.acked_at is None)
    words = f"{len(showing)} active alert{'' if len(showing) == 1 else 's'}"
    details = [f"{critical} critical"] if critical else []
    if unacked:
        details.append(f"{unacked} not acknowledged")
    return f"!! {words}" + (f" ({', '.join(details)})" if details else "") + ": F5 lists them"


class AlertCount(Static):
    DEFAULT_CSS = """
    AlertCount {
        dock: top;
        height: 1;
        padding: 0 1;
        background: $warning;
        color: $text;
        text-style: bold;
        display: none;
    }
    AlertCount.-critical {
        background: $error;
    }
    AlertCount.-below-link {
        margin-top: 1;
    }
    """

    def __init__(self) -> None:
        super().__init__("", markup=False, id="alert-count")
        self.text = ""

    def show(self, alerts: tuple[Alert, ...], now: float, *, below_link: bool) -> None:
        text = alert_count_text(alerts, now)
        self.set_class(below_link, "-below-link")
        if text != self.text:
            self.text = text
            self.update(text)
            self.display = bool(text)
            self.set_class(any(alert.severity is Severity.CRITICAL and alert.showing(now) for alert in alerts),
                           "-critical")
