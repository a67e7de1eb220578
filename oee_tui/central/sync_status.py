"""How far behind the centre is, per table: rows not pushed yet and seconds since it was last current.

"Lag seconds" is the age of the newest store snapshot the centre has everything of: 0 when nothing waits,
else now minus the time of the last round that pushed everything it saw. At a steady 10,000 samples/s
it stays near the sync's interval plus the time a round takes.
"""

from __future__ import annotations

from dataclasses import dataclass

from oee_tui.model import SyncHealth
from oee_tui.store import Store
from oee_tui.store.sync_tables import SYNCED_TABLES


@dataclass(frozen=True, slots=True)
class TableLag:
    table: str
    pending_rows: int
    lag_s: float | None  # None: never pushed
    pushed: int
    synced_at: float | None


def table_lags(store: Store, now: float) -> list[TableLag]:
    marks = store.sync_watermarks()
    lags: list[TableLag] = []
    with store.sync_snapshot() as snapshot:
        for table in SYNCED_TABLES:
            mark = marks.get(table)
            pending = snapshot.pending_rows(table, None if mark is None else mark.watermark)
            if mark is None:
                lags.append(TableLag(table, pending, None, 0, None))
            else:
                lag = 0.0 if pending == 0 else max(0.0, now - mark.covered_at)
                lags.append(TableLag(table, pending, lag, mark.pushed, mark.synced_at))
    return lags


def health_of(store: Store, now: float, target: str) -> SyncHealth:
    """The sync's state for the screens' header and `oee status`, from what the store recorded."""
    lags = table_lags(store, now)
    outcome = store.sync_outcome()
    known = [lag.lag_s for lag in lags if lag.lag_s is not None]
    never = any(lag.lag_s is None and lag.pending_rows for lag in lags)
    return SyncHealth(target=target, lag_rows=sum(lag.pending_rows for lag in lags),
                      lag_s=None if never or not known else max(known), last_ok=outcome.ok_at,
                      last_error=outcome.error, error_at=outcome.error_at)
