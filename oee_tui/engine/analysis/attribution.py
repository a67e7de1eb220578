"""The facts of a window listed with their context: each interval and count bucket with its shift, order
and product.

The planning rules (oee_tui.engine.oee.planning_rules) give each machine's order timeline and the
calendar its shifts; both are short, so they are worked out here and handed to the store, which
joins them with the facts (oee_tui.store.report_reads).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from oee_tui.config import Config
from oee_tui.engine.oee.planning_rules import Planning
from oee_tui.engine.oee.shifts import ShiftCalendar
from oee_tui.model import Span
from oee_tui.store import AttributionPieces, Store
from oee_tui.store.timecodec import micro

if TYPE_CHECKING:
    import pyarrow as pa


def shift_partition(calendar: ShiftCalendar, start: float, end: float) -> list[tuple[float, float, str | None,
                                                                                        str | None]]:
    """[start, end) cut into (start, end, shift name, shift local date); None between shifts.

    Where two shifts overlap, the one that started later holds from its start (ShiftCalendar.shift_at).
    """
    pieces: list[tuple[float, float, str | None, str | None]] = []
    for shift in calendar.shifts_between(start, end):
        a, b = max(shift.start, start), min(shift.end, end)
        if b <= a:
            continue
        if pieces and pieces[-1][1] > a:
            previous = pieces.pop()
            if a > previous[0]:
                pieces.append((previous[0], a, previous[2], previous[3]))
        pieces.append((a, b, shift.name, shift.local_date))
    out: list[tuple[float, float, str | None, str | None]] = []
    cursor = start
    for a, b, name, day in pieces:
        if a > cursor:
            out.append((cursor, a, None, None))
        out.append((a, b, name, day))
        cursor = b
    if cursor < end:
        out.append((cursor, end, None, None))
    return out


def attribution_pieces(config: Config, planning: Planning, window: Span) -> AttributionPieces:
    """The window's shift partition and each machine's order timeline over it, as the store takes them."""
    shifts = shift_partition(planning.calendar(config), window.start, window.end)
    machines: list[str] = []
    lines: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    order_ids: list[str | None] = []
    products: list[str | None] = []
    for machine in config.machines:
        for segment in planning.machine_plan(machine).timeline(window.start, window.end):
            machines.append(machine.id)
            lines.append(machine.line)
            starts.append(micro(segment.start))
            ends.append(micro(segment.end))
            order_ids.append(segment.order_id)
            products.append(segment.product)
    return AttributionPieces([micro(a) for a, _, _, _ in shifts], [micro(b) for _, b, _, _ in shifts],
                             [name for _, _, name, _ in shifts], [day for _, _, _, day in shifts],
                             machines, lines, starts, ends, order_ids, products)


def attributed_intervals(store: Store, config: Config, planning: Planning, window: Span,
                         now: float | None = None, ordered: bool = False) -> pa.Table:
    """Every state interval in the window, cut at shift and order changes, with its context.

    An Arrow table, one row per piece: machine, line, start and end (TIMESTAMP, UTC, clipped
    to the window), state, reason (newest given), shift, shift_date (the local date the shift
    started on), order_id, product (scheduled). An open interval ends at `now` (default: the
    window's end). Rows come in no particular order unless `ordered` (by machine, then start),
    which costs a sort of every row.
    """
    return store.attributed_intervals(attribution_pieces(config, planning, window), window.start, window.end,
                                      window.end if now is None else now, ordered)


def attributed_counts(store: Store, config: Config, planning: Planning, window: Span,
                      ordered: bool = False) -> pa.Table:
    """Every count bucket in the window with its context: an Arrow table of machine, line, minute
    (TIMESTAMP, UTC), shift, shift_date, order_id, product (the bucket's own, else the one
    scheduled), total, reject. In no particular order unless `ordered` (by machine, then minute)."""
    return store.attributed_counts(attribution_pieces(config, planning, window), window.start, window.end, ordered)
