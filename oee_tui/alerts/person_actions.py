"""What a person's acknowledgement or shelving makes of an alert: the alert after it, its history line and
its audit entry. One rule for the engine (live alerts) and for `oee alerts` run with no engine (the store's)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from oee_tui.model import Alert, AlertAction, AlertEvent, AuditChange

ActedOn = tuple[Alert, AlertEvent, AuditChange]


def acknowledgement(alert: Alert, comment: str, user: str, origin: str, now: float) -> ActedOn:
    """Audited as kind "alert_ack", subject "alert N", the previous comment before and this one after."""
    if not comment.strip():
        raise ValueError("an acknowledgement needs a comment: what was done, or who is on it")
    event = AlertEvent(alert.id, now, AlertAction.ACKNOWLEDGED, user, comment)
    audit = AuditChange(user, origin, "alert_ack", f"alert {alert.id}", alert.ack_comment, comment, now)
    return replace(alert, acked_at=now, acked_by=user, ack_comment=comment), event, audit


def shelving(alert: Alert, until: float, user: str, origin: str, now: float) -> ActedOn:
    """Audited as kind "alert_shelve", the previous and the new end of the shelving (UTC, ISO) before and after.
    An `until` not after now unshelves."""
    shelved_until = until if until > now else None
    event = AlertEvent(alert.id, now, AlertAction.SHELVED, user, None, shelved_until)
    audit = AuditChange(user, origin, "alert_shelve", f"alert {alert.id}", _iso(alert.shelved_until),
                        _iso(shelved_until), now)
    return replace(alert, shelved_until=shelved_until, shelved_by=user), event, audit


def _iso(secs: float | None) -> str | None:
    return None if secs is None else datetime.fromtimestamp(secs, UTC).isoformat()
