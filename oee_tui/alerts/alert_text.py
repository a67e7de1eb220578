"""Alerts in a person's words, the same in `oee alerts` and on the alerts screen."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from oee_tui.model import Alert, Severity

SEVERITY_MARKS = {Severity.CRITICAL: "!!", Severity.WARNING: "! ", Severity.INFO: "i "}  # not by colour alone


def clock_time(ts: float, tz: ZoneInfo, now: float) -> str:
    """`14:05:09` today, `2026-11-27 14:05` on another day (plant local)."""
    moment = datetime.fromtimestamp(ts, tz)
    if moment.date() == datetime.fromtimestamp(now, tz).date():
        return moment.strftime("%H:%M:%S")
    return moment.strftime("%Y-%m-%d %H:%M")


def state_text(alert: Alert, tz: ZoneInfo, now: float) -> str:
    """What is true of the alert now: cleared, shelved, acknowledged or active."""
    if alert.cleared_at is not None:
        state = f"cleared {clock_time(alert.cleared_at, tz, now)}"
    elif alert.shelved(now) and alert.shelved_until is not None:
        state = f"shelved until {clock_time(alert.shelved_until, tz, now)}"
    else:
        state = "active"
    if alert.acked_by is not None:
        state += f", acked by {alert.acked_by}"
    return state
