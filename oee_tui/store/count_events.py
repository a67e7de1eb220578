"""Count events: each counted delta at the time its parts were made, beside the minute that sums it.

`count_minutes` stays the reports' fast path for whole minutes; a window that starts or ends
inside a minute sums that minute's events inside the window instead (ReportReads). The engine
writes the events of a flush with its minutes (FactTables); nothing else does, so minutes stored
before this table existed, and imported ones, have no events.
"""

from __future__ import annotations

from oee_tui.model import CountEvent
from oee_tui.store.arrow_lists import num_list, str_list
from oee_tui.store.database import Database
from oee_tui.store.timecodec import to_datetime


class CountEvents(Database):
    def count_events(self, start: float, end: float) -> list[CountEvent]:
        """The events in [start, end), in time order."""
        sql = """
            SELECT machine, epoch_us(ts) / 1e6 AS ts, product, total, reject FROM count_events
            WHERE ts >= ? AND ts < ? ORDER BY ts, machine
        """
        table = self._arrow(sql, [to_datetime(start), to_datetime(end)])
        return [CountEvent(*row) for row in zip(
            str_list(table["machine"]), num_list(table["ts"]), str_list(table["product"]),
            num_list(table["total"]), num_list(table["reject"]), strict=True)]
