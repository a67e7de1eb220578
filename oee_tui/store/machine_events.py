"""The machines' events: counters that reset, or jumped further than the machine can have made.

The engine writes them at its flushes, with the state intervals and counts (FactTables); the screens read a
machine's newest ones back.
"""

from __future__ import annotations

from oee_tui.model import EventKind, MachineEvent, Signal
from oee_tui.store.database import Database
from oee_tui.store.timecodec import to_datetime


class MachineEventTables(Database):
    """The ``machine_events`` table."""

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
