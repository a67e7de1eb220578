"""The Sparkplug edge node's tables: ``edge_buffer`` and ``edge_session``.

``edge_buffer`` is the store-and-forward buffer: machine signal changes made while the broker
could not be reached, each with an id that orders them. They are read back by id for the
replay and deleted only up to an id whose message the broker acknowledged. ``edge_session``
keeps, per edge node, the bdSeq of its next CONNECT, so that a new run never reuses one.

The edge node (oee_tui.edge) decides what goes in and when, and keeps the buffer's bounds;
these methods only read and write, each call one transaction on a cursor of its own. The node
calls them from the engine's store-writer thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from oee_tui.model import TagValue
from oee_tui.store.database import Database
from oee_tui.store.timecodec import ts_array


class BufferedRow(NamedTuple):
    """One buffered change of one machine signal (device = machine id, metric = signal name)."""

    ts: float
    device: str
    metric: str
    value: TagValue
    quality: str


class StoredRow(NamedTuple):
    """A buffered change read back: numbers and booleans in ``value_num``, text in ``value_text``."""

    id: int
    ts: float
    device: str
    metric: str
    value_num: float | None
    value_text: str | None
    quality: str


class EdgeSpoolTables(Database):
    """The edge node's group of tables."""

    def edge_buffer_extent(self) -> tuple[int, int | None, int | None]:
        """(rows, lowest id, highest id) of the buffer; the ids are None when it is empty."""
        with self._cursor() as cur:
            rows, first, last = cur.execute("SELECT count(*), min(id), max(id) FROM edge_buffer").fetchall()[0]
        return int(rows), first, last

    def append_edge_buffer(self, first_id: int, rows: Sequence[BufferedRow], drop_oldest: int = 0) -> None:
        """Rows with the ids from ``first_id`` up, then the ``drop_oldest`` oldest rows deleted (a
        full buffer), in one transaction. Written through Arrow like every other batch."""
        if not rows:
            return
        import pyarrow as pa

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
        with self._transaction() as cur:
            cur.register("_edge_batch", table)
            try:
                cur.execute("INSERT INTO edge_buffer SELECT * FROM _edge_batch")
            finally:
                cur.unregister("_edge_batch")
            if drop_oldest > 0:
                # Ids are dense from the oldest row up, so the oldest rows are one range.
                cur.execute("DELETE FROM edge_buffer WHERE id IN (SELECT id FROM edge_buffer ORDER BY id LIMIT ?)",
                            [drop_oldest])

    def edge_buffer_after(self, after_id: int, limit: int) -> list[StoredRow]:
        """The next ``limit`` rows with an id above ``after_id``, oldest first."""
        with self._cursor() as cur:
            result = cur.execute(
                "SELECT id, epoch_us(ts) / 1e6, device, metric, value_num, value_text, quality FROM edge_buffer "
                "WHERE id > ? ORDER BY id LIMIT ?", [after_id, limit]).fetchall()
        return [StoredRow(*row) for row in result]

    def delete_edge_buffer_through(self, last_id: int) -> int:
        """Delete every row up to ``last_id``; returns how many there were."""
        with self._cursor() as cur:
            deleted = cur.execute("DELETE FROM edge_buffer WHERE id <= ?", [last_id]).fetchall()[0][0]
        return int(deleted)

    def edge_next_bd_seq(self, group_id: str, edge_node_id: str) -> int | None:
        """The bdSeq saved for this edge node's next CONNECT; None when it never connected from this store."""
        with self._cursor() as cur:
            found = cur.execute("SELECT next_bd_seq FROM edge_session WHERE group_id = ? AND edge_node_id = ?",
                                [group_id, edge_node_id]).fetchall()
        return int(found[0][0]) if found else None

    def save_edge_next_bd_seq(self, group_id: str, edge_node_id: str, bd_seq: int) -> None:
        with self._cursor() as cur:
            cur.execute("INSERT INTO edge_session VALUES (?, ?, ?) ON CONFLICT (group_id, edge_node_id) "
                        "DO UPDATE SET next_bd_seq = excluded.next_bd_seq", [group_id, edge_node_id, bd_seq])
