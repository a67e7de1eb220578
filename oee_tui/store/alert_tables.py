"""Quality alerts and their history: ``alerts`` (each alert as it is now) and ``alert_events`` (what happened
to it: raised, cleared, acknowledged, shelved).

The engine writes raises and clears in the background and a person's acknowledgement or shelving with its
audit entry, each batch in one transaction (`write_alerts`); `oee alerts` and the alerts screen read them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from oee_tui.model import Alert, AlertAction, AlertEvent, AlertKind, AuditChange, Severity
from oee_tui.store.audit_tables import append_on
from oee_tui.store.database import Database
from oee_tui.store.timecodec import to_datetime

_ALERT_COLUMNS = ("id, rule, kind, severity, subject, message, epoch_us(raised_at) / 1e6 AS raised_at, "
                  "epoch_us(cleared_at) / 1e6 AS cleared_at, epoch_us(acked_at) / 1e6 AS acked_at, acked_by, "
                  "ack_comment, epoch_us(shelved_until) / 1e6 AS shelved_until, shelved_by")
_EVENT_COLUMNS = ("alert_id, epoch_us(ts) / 1e6 AS ts, action, user_name, comment, "
                  "epoch_us(until) / 1e6 AS until")


class AlertTables(Database):
    """The ``alerts`` and ``alert_events`` tables."""

    def write_alerts(self, updates: Sequence[tuple[Alert, AlertEvent]], audits: Sequence[AuditChange] = ()) -> None:
        """Each alert as it is after its event, with the event, and `audits`, in one transaction: durable on
        return. Raises StoreWriteError (nothing written) when the disk refuses it."""
        if not updates and not audits:
            return
        with self._transaction() as cur:
            for alert, event in updates:
                cur.execute("DELETE FROM alerts WHERE id = ?", [alert.id])
                cur.execute("INSERT INTO alerts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
                    alert.id, alert.rule, alert.kind.value, alert.severity.value, alert.subject, alert.message,
                    to_datetime(alert.raised_at), _ts(alert.cleared_at), _ts(alert.acked_at), alert.acked_by,
                    alert.ack_comment, _ts(alert.shelved_until), alert.shelved_by])
                cur.execute("INSERT INTO alert_events VALUES (?, ?, ?, ?, ?, ?)", [
                    event.alert, to_datetime(event.ts), event.action.value, event.user, event.comment,
                    _ts(event.until)])
            append_on(cur, audits)

    def alerts(self, *, active_only: bool = False, start: float | None = None, end: float | None = None,
               limit: int | None = 1000) -> list[Alert]:
        """The newest `limit` alerts (None: all) raised in [start, end) (every one when not given), oldest first;
        `active_only`: those not cleared."""
        where = ["cleared_at IS NULL" if active_only else "true"]
        params: list[Any] = []
        if start is not None:
            where.append("raised_at >= ?")
            params.append(to_datetime(start))
        if end is not None:
            where.append("raised_at < ?")
            params.append(to_datetime(end))
        params.append(limit)
        # LIMIT NULL is no limit
        table = self._arrow(f"SELECT * FROM (SELECT {_ALERT_COLUMNS} FROM alerts WHERE {' AND '.join(where)} "
                            "ORDER BY id DESC LIMIT ?) ORDER BY id", params)
        return [_alert(row) for row in table.to_pylist()]

    def alert(self, alert_id: int) -> Alert | None:
        table = self._arrow(f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE id = ?", [alert_id])
        rows = table.to_pylist()
        return _alert(rows[0]) if rows else None

    def highest_alert_id(self) -> int:
        with self._cursor() as cur:
            row = cur.execute("SELECT coalesce(max(id), 0) FROM alerts").fetchone()
        return int(row[0]) if row else 0

    def alert_events(self, alert_id: int | None = None, *, start: float | None = None, end: float | None = None,
                     limit: int = 1000) -> list[AlertEvent]:
        """The newest `limit` history lines (of one alert, in [start, end) when given), oldest first."""
        where = ["(? IS NULL OR alert_id = ?)"]
        params: list[Any] = [alert_id, alert_id]
        if start is not None:
            where.append("ts >= ?")
            params.append(to_datetime(start))
        if end is not None:
            where.append("ts < ?")
            params.append(to_datetime(end))
        params.append(limit)
        table = self._arrow(f"SELECT * FROM (SELECT {_EVENT_COLUMNS}, rowid AS r FROM alert_events "
                            f"WHERE {' AND '.join(where)} ORDER BY ts DESC, r DESC LIMIT ?) ORDER BY ts, r", params)
        return [AlertEvent(row["alert_id"], row["ts"], AlertAction(row["action"]), row["user_name"], row["comment"],
                           row["until"]) for row in table.to_pylist()]


def _ts(secs: float | None) -> Any:
    return None if secs is None else to_datetime(secs)


def _alert(row: dict[str, Any]) -> Alert:
    return Alert(row["id"], row["rule"], AlertKind(row["kind"]), Severity(row["severity"]), row["subject"],
                 row["message"], row["raised_at"], row["cleared_at"], row["acked_at"], row["acked_by"],
                 row["ack_comment"], row["shelved_until"], row["shelved_by"])
