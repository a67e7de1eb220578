"""`oee export alerts`: every alert raised in the range, one row each, as it is now (cleared, acknowledged,
shelved), to CSV, XLSX or Parquet. Alerts are few (one row a raise), so they go through Python, not COPY."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from oee_tui.exports.tables import temp_beside, write_table
from oee_tui.model import Alert

HEADERS: Final = ("id", "rule", "kind", "severity", "subject", "message", "raised_at_utc", "cleared_at_utc",
                  "acked_at_utc", "acked_by", "ack_comment", "shelved_until_utc", "shelved_by")
_TIMES: Final = frozenset({"raised_at_utc", "cleared_at_utc", "acked_at_utc", "shelved_until_utc"})


def alert_rows(alerts: Sequence[Alert]) -> list[tuple[object, ...]]:
    return [(alert.id, alert.rule, alert.kind.value, alert.severity.value, alert.subject, alert.message,
             _utc(alert.raised_at), _utc(alert.cleared_at), _utc(alert.acked_at), alert.acked_by, alert.ack_comment,
             _utc(alert.shelved_until), alert.shelved_by) for alert in alerts]


def write_alerts(path: Path, fmt: str, alerts: Sequence[Alert]) -> int:
    """Write the alerts to `path` in `fmt` (csv, xlsx or parquet), whole or not at all; returns the rows."""
    rows = alert_rows(alerts)
    tmp = temp_beside(path)
    # write_table picks CSV or XLSX by the suffix: a sibling with the right one, renamed into place.
    named = tmp.with_suffix(f".{fmt}")
    try:
        if fmt == "parquet":
            _write_parquet(named, rows)
        else:
            write_table(named, HEADERS, rows, sheet="alerts")
        named.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
        named.unlink(missing_ok=True)
    return len(rows)


def _write_parquet(path: Path, rows: Sequence[tuple[object, ...]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = list(zip(*rows, strict=True)) if rows else [() for _ in HEADERS]
    arrays = [pa.array(values, type=pa.timestamp("us", tz="UTC") if name in _TIMES
                       else pa.int64() if name == "id" else pa.string())
              for name, values in zip(HEADERS, columns, strict=True)]
    pq.write_table(pa.Table.from_arrays(arrays, names=list(HEADERS)), path)


def _utc(secs: float | None) -> datetime | None:
    return None if secs is None else datetime.fromtimestamp(secs, UTC)
