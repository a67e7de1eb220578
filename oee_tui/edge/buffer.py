"""The edge node's store-and-forward buffer: the ``edge_buffer`` table of the local store.

Every method runs in the engine's store writer thread (the store has one writer), never on
the event loop. Rows are appended in batches through Arrow, like every other store write,
and carry an id that orders them: the replay reads them back by id, and rows leave the table
only through :meth:`EdgeBuffer.delete_through`, called once the broker acknowledged the
messages that carried them.

When the table would hold more than ``max_rows`` rows, the oldest are deleted (a buffer that
fills means the broker has been gone for long; the newest values say more about the plant
now, and counters are cumulative, so a later count still carries the parts of a lost one).
Each deletion is counted in ``dropped`` and logged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from oee_tui.store import Store
from oee_tui.store.timecodec import ts_array

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)


class BufferedRow(NamedTuple):
    """One buffered change of one machine signal. ``value`` is a bool, number, string or None."""

    ts: float
    device: str
    metric: str
    value: float | int | bool | str | None
    quality: str


class StoredRow(NamedTuple):
    id: int
    ts: float
    device: str
    metric: str
    value_num: float | None
    value_text: str | None
    quality: str


@dataclass(slots=True)
class BufferCounts:
    rows: int = 0
    first_id: int | None = None
    next_id: int = 1


class EdgeBuffer:
    """The table's operations; one instance per engine, used from the writer thread only."""

    def __init__(self, store: Store, max_rows: int) -> None:
        self.store = store
        self.max_rows = max_rows
        self.dropped = 0  # rows deleted because the buffer was full
        self.counts = BufferCounts()

    def load(self) -> BufferCounts:
        """How many rows an earlier run left behind, and where the ids go on."""
        with _cursor(self.store) as cur:
            rows, first, last = cur.execute("SELECT count(*), min(id), max(id) FROM edge_buffer").fetchall()[0]
        self.counts = BufferCounts(int(rows), first, (last or 0) + 1)
        return self.counts

    def append(self, rows: Sequence[BufferedRow]) -> int:
        """Write rows in one transaction, then trim the oldest beyond ``max_rows``; returns rows dropped."""
        if not rows:
            return 0
        import pyarrow as pa

        first_id = self.counts.next_id
        nums: list[float | None] = []
        texts: list[str | None] = []
        for row in rows:
            value = row.value
            if value is None or isinstance(value, str):
                nums.append(None)
                texts.append(value)
            else:
                nums.append(float(value))
                texts.append(None)
        table = pa.table({
            "id": pa.array(range(first_id, first_id + len(rows)), type=pa.int64()),
            "ts": ts_array([row.ts for row in rows], "edge_buffer.ts"),
            "device": pa.array([row.device for row in rows], type=pa.string()),
            "metric": pa.array([row.metric for row in rows], type=pa.string()),
            "value_num": pa.array(nums, type=pa.float64()),
            "value_text": pa.array(texts, type=pa.string()),
            "quality": pa.array([row.quality for row in rows], type=pa.string()),
        })
        overflow = self.counts.rows + len(rows) - self.max_rows
        with _cursor(self.store) as cur:
            cur.begin()
            try:
                cur.register("_edge_batch", table)
                cur.execute("INSERT INTO edge_buffer SELECT * FROM _edge_batch")
                cur.unregister("_edge_batch")
                if overflow > 0:
                    # Ids are dense from the oldest row up, so the oldest `overflow` rows are one range.
                    cur.execute("DELETE FROM edge_buffer WHERE id IN (SELECT id FROM edge_buffer ORDER BY id "
                                "LIMIT ?)", [overflow])
                cur.commit()
            except BaseException:
                cur.rollback()
                raise
        self.counts.next_id = first_id + len(rows)
        self.counts.rows += len(rows)
        if self.counts.first_id is None:
            self.counts.first_id = first_id
        if overflow > 0:
            self.counts.rows -= overflow
            self.dropped += overflow
            log.warning("edge buffer full (%d rows): dropped the %d oldest changes (%d dropped so far)",
                        self.max_rows, overflow, self.dropped)
        return max(0, overflow)

    def read_after(self, after_id: int, limit: int) -> list[StoredRow]:
        """The next ``limit`` rows with an id above ``after_id``, oldest first."""
        with _cursor(self.store) as cur:
            result = cur.execute(
                "SELECT id, epoch_us(ts) / 1e6, device, metric, value_num, value_text, quality FROM edge_buffer "
                "WHERE id > ? ORDER BY id LIMIT ?", [after_id, limit]).fetchall()
        return [StoredRow(*row) for row in result]

    def delete_through(self, last_id: int) -> int:
        """Delete every row up to ``last_id``: their messages were acknowledged by the broker."""
        with _cursor(self.store) as cur:
            deleted = cur.execute("DELETE FROM edge_buffer WHERE id <= ?", [last_id]).fetchall()[0][0]
        self.counts.rows = max(0, self.counts.rows - int(deleted))
        return int(deleted)

    def append_delete_read(self, rows: Sequence[BufferedRow], acked_through: int | None, after_id: int,
                           limit: int) -> list[StoredRow]:
        """One trip to the writer thread for a replay step: buffer new rows, forget acknowledged
        ones, and read the next rows to send."""
        if acked_through is not None:
            self.delete_through(acked_through)
        self.append(rows)
        return self.read_after(after_id, limit)


class _cursor:
    """A fresh cursor of the store for this call, closed after it (the store's own pattern)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.cur: duckdb.DuckDBPyConnection | None = None

    def __enter__(self) -> duckdb.DuckDBPyConnection:
        self.cur = self.store.cursor()
        return self.cur

    def __exit__(self, *exc: object) -> None:
        if self.cur is not None:
            self.cur.close()
