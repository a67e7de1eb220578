"""The planning tables as records: products (rates), orders, planned stops, reasons and shift patterns.

What the import wrote (import_tables); the engine's planning rules make context of it
(oee_tui.engine.oee.planning_rules). One query per table, so reading it again after every
import is cheap.
"""

from __future__ import annotations

from oee_tui.model import Order, PlannedStop, PlanningRecords, ProductRate, ReasonRecord, Span
from oee_tui.store.database import Database
from oee_tui.store.planning_codec import reason_loss, shift_pattern
from oee_tui.store.timecodec import micro


class PlanningTables(Database):
    def planning_records(self, window: Span | None = None) -> PlanningRecords:
        """Everything the planning tables hold; raises PlanningError for a row that cannot be read.

        With `window`, only the orders and planned stops that overlap it are read: a report
        over one shift need not read a year of schedule.
        """
        overlap, order_overlap, params = "", "", []
        if window is not None:
            overlap = " AND start_ts < make_timestamp(?) AND end_ts > make_timestamp(?)"
            order_overlap = " AND start_ts < make_timestamp(?) AND (until IS NULL OR until > make_timestamp(?))"
            params = [micro(window.end), micro(window.start)]
        with self._cursor() as cur:
            products = cur.execute(
                "SELECT product, nullif(machine, ''), ideal_cycle_time_s, micro_stop_threshold_s, NULL "
                "FROM products ORDER BY product, machine").fetchall()
            # Rows come out in the records' shape and types, so each becomes one without Python per field.
            # An open order (stored with no end) runs until the next order on its machine (or line) starts,
            # found over the whole table before the window is applied; the last one stays open (end +inf).
            orders = cur.execute(
                "WITH o AS (SELECT *, coalesce(end_ts, lead(start_ts) OVER (PARTITION BY "
                "CASE WHEN coalesce(machine, '') <> '' THEN 'm:' || machine ELSE 'l:' || coalesce(line, '') END "
                "ORDER BY start_ts, order_id)) AS until FROM orders) "
                "SELECT order_id::VARCHAR, product, nullif(machine, ''), nullif(line, ''), epoch_us(start_ts) / 1e6, "
                "coalesce(epoch_us(until) / 1e6, 'infinity'::DOUBLE), quantity, NULL, ideal_cycle_time_s FROM o "
                f"WHERE (until IS NULL OR until > start_ts){order_overlap} "
                "ORDER BY start_ts, order_id", params).fetchall()
            stops = cur.execute(
                "SELECT nullif(machine, ''), nullif(line, ''), epoch_us(start_ts) / 1e6, epoch_us(end_ts) / 1e6, "
                f"reason, note, NULL FROM planned_stops WHERE end_ts > start_ts{overlap} ORDER BY start_ts",
                params).fetchall()
            reasons = cur.execute("SELECT code::VARCHAR, coalesce(nullif(name, ''), code), nullif(parent, ''), "
                                  "planned, loss FROM reasons ORDER BY code").fetchall()
            shifts = cur.execute('SELECT name, start, "end", days, breaks FROM shift_patterns ORDER BY name'
                                 ).fetchall()
        return PlanningRecords(
            products=tuple(map(ProductRate._make, products)),
            orders=tuple(map(Order._make, orders)),
            planned_stops=tuple(map(PlannedStop._make, stops)),
            reasons=tuple(ReasonRecord(code, name, parent, planned, reason_loss(code, loss, planned))
                          for code, name, parent, planned, loss in reasons),
            shifts=tuple(map(shift_pattern, shifts)),
        )
