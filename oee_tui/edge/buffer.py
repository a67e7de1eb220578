"""The edge node's store-and-forward buffer: changes spooled on the event loop, and the
``edge_buffer`` table of the local store they are written to (oee_tui.store.edge_spool).

Every EdgeBuffer method runs in the engine's store writer thread (the store has one writer),
never on the event loop. Rows carry an id that orders them: the replay reads them back by id,
and rows leave the table only through :meth:`EdgeBuffer.delete_through`, called once the
broker acknowledged the messages that carried them.

When the table would hold more than ``max_rows`` rows, the oldest are deleted (a buffer that
fills means the broker has been gone for long; the newest values say more about the plant
now, and counters are cumulative, so a later count still carries the parts of a lost one).
Each deletion is counted in ``dropped`` and logged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from oee_tui.store import Store
from oee_tui.store.edge_spool import BufferedRow, StoredRow

log = logging.getLogger(__name__)


class Spool:
    """Changes on their way into the buffer table, oldest first: added on the event loop (while
    not live, or not acknowledged when a connection ended), written in batches by the node."""

    __slots__ = ("rows",)

    def __init__(self) -> None:
        self.rows: list[BufferedRow] = []

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, rows: Iterable[BufferedRow]) -> None:
        self.rows.extend(rows)

    def put_back(self, rows: Sequence[BufferedRow]) -> None:
        """Rows that are older than everything spooled since (a failed write, unacknowledged data)."""
        self.rows[:0] = rows

    def take(self) -> list[BufferedRow]:
        rows, self.rows = self.rows, []
        return rows


@dataclass(slots=True)
class BufferCounts:
    rows: int = 0
    first_id: int | None = None
    next_id: int = 1


class EdgeBuffer:
    """The table's bounds and limit; one instance per engine, used from the writer thread only."""

    def __init__(self, store: Store, max_rows: int) -> None:
        self.store = store
        self.max_rows = max_rows
        self.dropped = 0  # rows deleted because the buffer was full
        self.counts = BufferCounts()

    def load(self) -> BufferCounts:
        """How many rows an earlier run left behind, and where the ids go on."""
        rows, first, last = self.store.edge_buffer_extent()
        self.counts = BufferCounts(rows, first, (last or 0) + 1)
        return self.counts

    def append(self, rows: Sequence[BufferedRow]) -> int:
        """Write rows in one transaction, then trim the oldest beyond ``max_rows``; returns rows dropped."""
        if not rows:
            return 0
        first_id = self.counts.next_id
        overflow = self.counts.rows + len(rows) - self.max_rows
        self.store.append_edge_buffer(first_id, rows, max(0, overflow))
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
        return self.store.edge_buffer_after(after_id, limit)

    def delete_through(self, last_id: int) -> int:
        """Delete every row up to ``last_id``: their messages were acknowledged by the broker."""
        deleted = self.store.delete_edge_buffer_through(last_id)
        self.counts.rows = max(0, self.counts.rows - deleted)
        return deleted

    def append_delete_read(self, rows: Sequence[BufferedRow], acked_through: int | None, after_id: int,
                           limit: int) -> list[StoredRow]:
        """One trip to the writer thread for a replay step: buffer new rows, forget acknowledged
        ones, and read the next rows to send."""
        if acked_through is not None:
            self.delete_through(acked_through)
        self.append(rows)
        return self.read_after(after_id, limit)
