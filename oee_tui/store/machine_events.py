"""The machines' events: counters that reset, or jumped further than the machine can have made.

The engine writes them at its flushes, with the state intervals and counts; the screens read a
machine's newest ones back.
"""

from __future__ import annotations

from collections.abc import Sequence

from oee_tui.model import EventKind, MachineEvent, Signal
from oee_tui.store.database import Database
from oee_tui.store.timecodec import to_datetime, ts_array


class MachineEventTables(Database):
    """The ``machine_events`` table."""

    def write_machine_events(self, events: Sequence[MachineEvent]) -> int:
        """Append the events in one transaction; returns how many."""
        import pyarrow as pa
        table = pa.table({
            "machine": pa.array([e.machine for e in events], type=pa.string()),
            "ts": ts_array([e.ts for e in events], "machine_events.ts"),
            "kind": pa.array([EventKind(e.kind).value for e in events], type=pa.string()),
            "signal": pa.array([None if e.signal is None else e.signal.value for e in events], type=pa.string()),
            # Raw readings fill the tag's unsigned range, up to 64 bits.
            "previous": pa.array([e.previous for e in events], type=pa.uint64()),
            "value": pa.array([e.value for e in events], type=pa.uint64()),
            "counted": pa.array([e.counted for e in events], type=pa.uint64()),
            "most": pa.array([e.most for e in events], type=pa.float64()),
        })
        return self._insert(table, "INSERT INTO machine_events SELECT machine, ts, kind, signal, previous, value, "
                                   "counted, most FROM _batch")

    def machine_events(self, machine: str | None, since: float, limit: int = 20) -> list[MachineEvent]:
        """The newest `limit` events of `machine` (None: of every machine, `limit` each) from `since`
        on, oldest first."""
        table = self._arrow(
            "SELECT * FROM (SELECT machine, epoch_us(ts) / 1e6 AS t, kind, signal, previous, value, counted, most, "
            "row_number() OVER (PARTITION BY machine ORDER BY ts DESC) AS newest "
            "FROM machine_events WHERE (? IS NULL OR machine = ?) AND ts >= ?) WHERE newest <= ? ORDER BY t, machine",
            [machine, machine, to_datetime(since), limit])
        return [
            MachineEvent(row["machine"], row["t"], EventKind(row["kind"]),
                         None if row["signal"] is None else Signal(row["signal"]),
                         row["previous"], row["value"], row["counted"] or 0, row["most"])
            for row in table.to_pylist()
        ]
