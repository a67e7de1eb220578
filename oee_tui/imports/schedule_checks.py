"""The rows of a schedule checked and made into orders, as planners write them.

An order with quantity 0 or none has no quantity target, and an order with no end is open:
it runs until the next order on its machine (or line) starts. Both are imported, each with a
note. An order must not overlap another on its machine (or line), in the file or already
stored by an earlier import, unless the file gives that stored order anew (same id); an open
order overlaps only an order it starts inside of, and one that starts inside it ends it.
A cycle-time (or rate) column, read as the products file reads it, gives an order its own ideal
cycle time; an empty cell leaves the product's.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import defaultdict
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from oee_tui.imports.cells import ParsedRow
from oee_tui.imports.kind_checks import row_cycle_time
from oee_tui.imports.row_checks import RowChecks, RowSpan, span_group
from oee_tui.imports.values import is_blank
from oee_tui.model import ImportRecord, Order


def build_schedule(checks: RowChecks, parsed: list[ParsedRow]) -> list[ImportRecord]:
    records: list[ImportRecord] = []
    problem, raw, references = checks.problems.add, checks.cells.raw, checks.references
    duplicates = checks.check_duplicates(parsed)
    ids: dict[str, int] = {}
    spans: list[RowSpan] = []
    for number, row, _ in parsed:
        if number in duplicates:
            continue
        ok = references.check_machine_or_line(number, row)
        ok = references.check_product(number, row["product"]) and ok
        start, end = row["start"], row["end"]
        if end is not None:
            ok = checks.check_span(number, start, end) and ok
        order_id = row["order_id"]
        if order_id in ids:
            problem(number, "order_id", order_id, f"is used twice: also in row {ids[order_id]}")
            ok = False
        ids.setdefault(order_id, number)
        cycle_time = row_cycle_time(checks, number, row)
        if cycle_time is False:
            ok = False
        if not ok:
            continue
        quantity = row["quantity"] or None
        if quantity is None:
            written = raw(number, "quantity")
            checks.problems.note(number, "quantity", None if is_blank(written) else written,
                                 "no quantity target (0 or empty): the order is imported without one")
        group = span_group(row)
        if end is None:
            checks.problems.note(number, "end", None, f"no end yet: the order is open, and runs until the next "
                                 f"order on {group} starts")
        # An open order takes no time from the next one: as a span of no length, it overlaps only an order it
        # starts inside of.
        spans.append((group, start, start if end is None else end, number, f"order {order_id}"))
        records.append(Order(order_id, row["product"], row.get("machine"), row.get("line"), start,
                             math.inf if end is None else end, quantity, number, cycle_time or None))
    checks.check_overlaps(spans)
    _check_stored_overlaps(checks, spans, [o for o in references.planning.orders if o.order_id not in ids])
    return records


def _check_stored_overlaps(checks: RowChecks, spans: list[RowSpan], stored: list[Order]) -> None:
    """Each order of the file that overlaps one stored on its machine or line (and not given anew here)."""
    by_group: dict[str, list[Order]] = defaultdict(list)
    for order in stored:
        by_group[f"machine {order.machine}" if order.machine else f"line {order.line}"].append(order)
    starts: dict[str, list[float]] = {}
    for group, orders in by_group.items():
        orders.sort(key=lambda order: order.start_utc)
        starts[group] = [order.start_utc for order in orders]
    for group, start, end, number, label in spans:
        candidates = by_group.get(group)
        if not candidates:
            continue
        # Stored orders on one machine do not overlap one another, so those that can overlap this one
        # start before its end, from the last one starting at or before its start.
        first = max(bisect_right(starts[group], start) - 1, 0)
        for order in candidates[first:]:
            if order.start_utc >= end:
                break
            # A stored open order is ended by an order starting inside it; only one spanning its start overlaps it.
            if order.end_utc > start and (order.end_utc != math.inf or start < order.start_utc):
                checks.problems.add(number, "start", checks.cells.raw(number, "start"),
                                    f"{label} overlaps order {order.order_id}, stored by an earlier import on "
                                    f"{group} ({_local(order.start_utc, checks.tz)} to "
                                    f"{_local(order.end_utc, checks.tz)}); move one of them, or give order "
                                    f"{order.order_id} in this file with its new times")
                break


def _local(ts: float, tz: ZoneInfo) -> str:
    if ts == math.inf:
        return "open"
    return datetime.fromtimestamp(ts, UTC).astimezone(tz).strftime("%Y-%m-%d %H:%M")
