"""The OEE calculator: state intervals and counts in, OeeResult out.

Pure functions over plain values, no I/O, so the live view, the report and the
tests all get the same numbers. Definitions follow Nakajima with ISO 22400-2
names (see ARCHITECTURE.md, "Domain rules that must hold"):

    scheduled (POT)      = shift time inside the window
    planned stops        = breaks + planned-class stops, inside scheduled time
    no data              = scheduled, not planned, but offline or not covered by any interval
    PPT (PBT)            = scheduled - planned stops - no data
    run time (APT)       = PPT - breakdowns - setups      (minor stops stay inside run time)
    A = APT / PPT,  P = sum(ct x total) / APT,  Q = sum(ct x good) / sum(ct x total)
    OEE = A x P x Q = sum(ct x good) / PPT,  TEEP = sum(ct x good) / calendar time

Every time figure is a measure of a set of disjoint spans, computed by sorted
sweeps: the report runs this over months of intervals for every machine.
Differences of POSIX timestamps of similar size are exact in binary floating
point (Sterbenz), so the identities above hold exactly, not just nearly.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import attrgetter
from typing import Final

from oee_tui.config import MachineConfig, Reason
from oee_tui.model import CountBucket, Loss, MachineState, OeeResult, SixBigLosses, Span, StateInterval

# Interval classes returned by classify_interval().
RUN: Final = "run"
PLANNED: Final = "planned"
BREAKDOWN: Final = "breakdown"
SETUP: Final = "setup"
MINOR_STOP: Final = "minor_stop"
NO_DATA: Final = "no_data"
CLASSES: Final = (RUN, PLANNED, BREAKDOWN, SETUP, MINOR_STOP, NO_DATA)

FLAG_NO_DATA: Final = "no_data"
FLAG_PERFORMANCE_OVER_100: Final = "performance_over_100"
# Ideal time is a float product (cycle time x count); an exact 100 % can come out
# as 1.0000000000000002. Only flag what is really above 100 %.
_PERFORMANCE_TOLERANCE: Final = 1e-9

_RUNNING: Final = MachineState.RUNNING
_OFFLINE: Final = MachineState.OFFLINE
_PLANNED_STOP: Final = MachineState.PLANNED_STOP
_CHANGEOVER: Final = MachineState.CHANGEOVER
_MINOR_STATE: Final = MachineState.MINOR_STOP

Pairs = list[tuple[float, float]]
_START: Final = attrgetter("start")


@dataclass(frozen=True, slots=True)
class ProductCounts:
    """Parts of one product counted in a window. `startup_reject` is part of `reject`."""

    total: int
    reject: int
    startup_reject: int = 0

    @property
    def good(self) -> int:
        return self.total - self.reject


# Parts (already in a window's per-product totals) made while an order with an ideal cycle time of its
# own ran, by product and that cycle time: `_finish` weighs them by it in place of the product's.
OrderCycleCounts = Mapping[tuple[str | None, float], ProductCounts]
# (start, end, cycle time) of each order that has a cycle time of its own, sorted and disjoint.
OrderCycles = Sequence[tuple[float, float, float]]
_NO_ORDER_COUNTS: Final[OrderCycleCounts] = {}


class OverlappingStopsError(ValueError):
    """Two state intervals of one machine claim the same time: the numbers would count it twice."""


# ---------------------------------------------------------------- classification


def classify_interval(interval: StateInterval, machine: MachineConfig, reasons: Mapping[str, Reason],
                      now: float) -> str:
    """The class of an interval: run, planned, breakdown, setup, minor_stop or no_data.

    Uses the interval's FULL duration (end, or `now` while open), never the part
    inside a report window: a 10-minute failure cut to 1 minute by the window
    edge is still a failure, so a stop's class never depends on the window.
    """
    state = interval.state
    if state is _RUNNING:
        return RUN
    if state is _OFFLINE:
        # Offline means we do not know what the machine did: excluded, never guessed.
        return NO_DATA
    if state is _PLANNED_STOP:
        return PLANNED
    reason = reasons.get(interval.reason) if interval.reason is not None else None
    if reason is not None:
        if reason.planned:
            return PLANNED
        loss = reason.loss
        if loss is Loss.SETUP:
            return SETUP
        if loss is Loss.MINOR_STOP:
            return MINOR_STOP
        # BREAKDOWN, and quality/speed losses given to a stop (a stop cannot be a
        # defect): the machine stood still for an unplanned reason, a failure.
    elif state is _CHANGEOVER:
        return SETUP
    elif state is _MINOR_STATE:
        return MINOR_STOP
    # A breakdown-class stop shorter than the micro-stop threshold is a minor stop
    # (performance loss), not downtime. Setups keep their class at any length.
    end = interval.end if interval.end is not None else now
    if end - interval.start < machine.micro_stop_threshold_s:
        return MINOR_STOP
    return BREAKDOWN


# ---------------------------------------------------------------- span helpers


def _normalize(pairs: Iterable[tuple[float, float]]) -> Pairs:
    """Sorted, merged, non-empty spans."""
    out: Pairs = []
    for a, b in sorted(p for p in pairs if p[1] > p[0]):
        if out and a <= out[-1][1]:
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def _clip(spans: Iterable[Span], lo: float, hi: float) -> Pairs:
    return _normalize((max(s.start, lo), min(s.end, hi)) for s in spans)


def _intersect(x: Pairs, y: Pairs) -> Pairs:
    """Intersection of two normalized span lists (two-pointer sweep)."""
    out: Pairs = []
    i = j = 0
    while i < len(x) and j < len(y):
        a = max(x[i][0], y[j][0])
        b = min(x[i][1], y[j][1])
        if b > a:
            out.append((a, b))
        if x[i][1] < y[j][1]:
            i += 1
        else:
            j += 1
    return out


def _subtract(x: Pairs, y: Pairs) -> Pairs:
    """x minus y, both normalized."""
    out: Pairs = []
    j = 0
    for a, b in x:
        while j < len(y) and y[j][1] <= a:
            j += 1
        k = j
        cursor = a
        while k < len(y) and y[k][0] < b:
            if y[k][0] > cursor:
                out.append((cursor, y[k][0]))
            cursor = max(cursor, y[k][1])
            k += 1
        if cursor < b:
            out.append((cursor, b))
    return out


def _measure(x: Pairs) -> float:
    return sum(b - a for a, b in x)


def _iso(ts: float | None) -> str:
    return "open" if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()


def _sorted_checked(machine: MachineConfig, intervals: Iterable[StateInterval],
                    now: float) -> list[StateInterval]:
    """The intervals sorted by start; raises OverlappingStopsError on an overlap.

    Overlaps are checked on the full intervals, not the clipped ones: overlapping
    intervals mean the state history is corrupt, wherever the window is. An open
    interval ends at `now` for this check.
    """
    ordered = sorted(intervals, key=_START)  # near-free when already in order, as stores return them
    previous: StateInterval | None = None
    previous_end = float("-inf")
    for interval in ordered:
        start = interval.start
        end = interval.end if interval.end is not None else now
        if end <= start:
            continue  # empty: covers no time, so it cannot overlap anything
        if start < previous_end and previous is not None:
            raise OverlappingStopsError(
                f"machine {machine.id}: state intervals overlap: "
                f"{previous.state.value} {_iso(previous.start)} to {_iso(previous.end)} and "
                f"{interval.state.value} {_iso(interval.start)} to {_iso(interval.end)}"
            )
        # Sorted by start and no overlap so far, so this end is the furthest yet.
        previous, previous_end = interval, end
    return ordered


# ---------------------------------------------------------------- counts


def product_totals(counts: Iterable[CountBucket], intervals: Sequence[StateInterval], machine: MachineConfig,
                   reasons: Mapping[str, Reason], window: Span, scheduled: Sequence[Span],
                   now: float) -> dict[str | None, ProductCounts]:
    """Sum count buckets per product over the scheduled part of the window.

    A bucket counts when its minute starts inside the window and inside
    scheduled time: the report's rule for minutes without count events (it
    cuts a minute that a window starts or ends inside with its events). Its rejects are
    startup rejects when the minute starts within `startup_period_s` after the
    end of a breakdown or setup; the other rejects are process defects.
    """
    return count_totals(counts, intervals, machine, reasons, window, scheduled, now)[0]


def count_totals(counts: Iterable[CountBucket], intervals: Sequence[StateInterval], machine: MachineConfig,
                 reasons: Mapping[str, Reason], window: Span, scheduled: Sequence[Span], now: float,
                 order_cycles: OrderCycles = ()) -> tuple[dict[str | None, ProductCounts], OrderCycleCounts]:
    """product_totals, and of those the parts whose minute starts inside one of `order_cycles`
    (by product and the order's cycle time), by the same rules."""
    sched = _clip(scheduled, window.start, window.end)
    sched_starts = [a for a, _ in sched]
    startup: Pairs = []
    period = machine.startup_period_s
    if period > 0:
        startup = _normalize(
            (i.end, i.end + period)
            for i in intervals
            if i.end is not None and i.state is not _RUNNING
            and classify_interval(i, machine, reasons, now) in (BREAKDOWN, SETUP)
        )
    startup_starts = [a for a, _ in startup]
    lo, hi = window.start, window.end
    acc: dict[str | None, list[int]] = {}
    cycle_starts = [a for a, _, _ in order_cycles]
    by_cycle: dict[tuple[str | None, float], list[int]] = {}
    for bucket in counts:
        minute = bucket.minute
        if not lo <= minute < hi:
            continue
        k = bisect_right(sched_starts, minute) - 1
        if k < 0 or minute >= sched[k][1]:
            continue
        entry = acc.get(bucket.product)
        if entry is None:
            entry = acc[bucket.product] = [0, 0, 0]
        startup_reject = 0
        if bucket.reject and startup:
            k = bisect_right(startup_starts, minute) - 1
            if k >= 0 and minute < startup[k][1]:
                startup_reject = bucket.reject
        entry[0] += bucket.total
        entry[1] += bucket.reject
        entry[2] += startup_reject
        if order_cycles:
            k = bisect_right(cycle_starts, minute) - 1
            if k >= 0 and minute < order_cycles[k][1]:
                cycled = by_cycle.setdefault((bucket.product, order_cycles[k][2]), [0, 0, 0])
                cycled[0] += bucket.total
                cycled[1] += bucket.reject
                cycled[2] += startup_reject
    return ({product: ProductCounts(t, r, s) for product, (t, r, s) in acc.items()},
            {key: ProductCounts(t, r, s) for key, (t, r, s) in by_cycle.items()})


# ---------------------------------------------------------------- the calculator


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


def _build(scope: str, window_start: float, window_end: float, calendar_s: float, scheduled_s: float,
           planned_s: float, no_data_s: float, ppt: float, run_s: float, unplanned_s: float, ideal_s: float,
           fully_s: float, total: int, good: int, reject: int, losses: SixBigLosses,
           flags: Iterable[str]) -> OeeResult:
    """One place computes ratios and flags, for machines and aggregates alike."""
    performance = _ratio(ideal_s, run_s)
    out_flags = list(dict.fromkeys(flags))
    if no_data_s > 0 and FLAG_NO_DATA not in out_flags:
        out_flags.append(FLAG_NO_DATA)
    # Above 100 % means the ideal cycle time is wrong; show it, never cap it.
    if performance is not None and performance > 1.0 + _PERFORMANCE_TOLERANCE \
            and FLAG_PERFORMANCE_OVER_100 not in out_flags:
        out_flags.append(FLAG_PERFORMANCE_OVER_100)
    return OeeResult(
        scope=scope,
        window_start=window_start,
        window_end=window_end,
        calendar_time_s=calendar_s,
        scheduled_time_s=scheduled_s,
        planned_stop_s=planned_s,
        no_data_s=no_data_s,
        planned_production_time_s=ppt,
        run_time_s=run_s,
        unplanned_downtime_s=unplanned_s,
        ideal_output_time_s=ideal_s,
        fully_productive_time_s=fully_s,
        total_count=total,
        good_count=good,
        reject_count=reject,
        availability=_ratio(run_s, ppt),
        performance=performance,
        # Ideal-time weighted, so that A x P x Q == OEE exactly even with mixed products.
        quality=_ratio(fully_s, ideal_s),
        quality_count_ratio=_ratio(good, total),
        oee=_ratio(fully_s, ppt),
        teep=_ratio(fully_s, calendar_s),
        losses=losses,
        flags=tuple(out_flags),
    )


def result_from_sums(scope: str, window: Span, calendar_s: float, scheduled_s: float, planned_s: float,
                     no_data_s: float, run_s: float, unplanned_s: float, ideal_s: float, fully_s: float, total: int,
                     good: int, losses: SixBigLosses) -> OeeResult:
    """A result from times and counts summed elsewhere (the central database's aggregates), its ratios and
    flags computed here like every other result's. PPT is scheduled - planned - no data."""
    ppt = scheduled_s - planned_s - no_data_s
    return _build(scope, window.start, window.end, calendar_s, scheduled_s, planned_s, no_data_s, ppt, run_s,
                  unplanned_s, ideal_s, fully_s, total, good, total - good, losses, ())


def machine_oee(machine: MachineConfig, window: Span, scheduled: Sequence[Span], breaks: Sequence[Span],
                intervals: Sequence[StateInterval], totals: Mapping[str | None, ProductCounts],
                reasons: Mapping[str, Reason], now: float,
                order_counts: OrderCycleCounts = _NO_ORDER_COUNTS) -> OeeResult:
    """OEE of one machine over [window.start, window.end); `order_counts`: see OrderCycleCounts."""
    lo, hi = window.start, window.end
    calendar_s = max(0.0, hi - lo)
    sched = _clip(scheduled, lo, hi)
    scheduled_s = _measure(sched)

    # Clip every interval to the window (an open one ends at `now`) and sort out
    # planned ones, which join the breaks; no-data intervals are simply left out,
    # so their time, like time no interval covers, ends up as no data below.
    planned_pairs: Pairs = [(b.start, b.end) for b in breaks]
    counted: list[tuple[float, float, str]] = []
    for interval in _sorted_checked(machine, intervals, now):
        start = interval.start
        end = interval.end if interval.end is not None else now
        a = start if start > lo else lo
        b = end if end < hi else hi
        if b <= a:
            continue
        cls = classify_interval(interval, machine, reasons, now)
        if cls == PLANNED:
            planned_pairs.append((a, b))
        elif cls != NO_DATA:
            counted.append((a, b, cls))

    planned = _intersect(_normalize(planned_pairs), sched)
    planned_s = _measure(planned)
    # Scheduled time not planned-stopped: the only time a machine can gain or lose in.
    open_time = _subtract(sched, planned)
    open_s = _measure(open_time)

    seconds = {RUN: 0.0, BREAKDOWN: 0.0, SETUP: 0.0, MINOR_STOP: 0.0}
    events = {RUN: 0, BREAKDOWN: 0, SETUP: 0, MINOR_STOP: 0}
    # Both lists are sorted and disjoint: one forward sweep measures each
    # interval against the open time.
    open_starts = [a for a, _ in open_time]
    open_ends = [b for _, b in open_time]
    j = 0
    n = len(open_time)
    # A fragment is no event: one with less open time than the settle time, or one that goes on
    # the previous interval of its class after a gap shorter than that (a stall, an offline blip).
    settle = machine.settle_time_s
    last_end = {RUN: -math.inf, BREAKDOWN: -math.inf, SETUP: -math.inf, MINOR_STOP: -math.inf}
    for a, b, cls in counted:
        while j < n and open_ends[j] <= a:
            j += 1
        if j == n:
            break  # no open time left after this point
        s0, e0 = open_starts[j], open_ends[j]
        if s0 <= a and b <= e0:
            inside = b - a  # the common case: the interval lies inside one open span
        else:
            inside = 0.0
            k = j
            while k < n and open_starts[k] < b:
                lo_k = open_starts[k] if open_starts[k] > a else a
                hi_k = open_ends[k] if open_ends[k] < b else b
                if hi_k > lo_k:
                    inside += hi_k - lo_k
                k += 1
        if inside > 0:
            seconds[cls] += inside
            if inside >= settle and a - last_end[cls] >= settle:
                events[cls] += 1
            last_end[cls] = b

    return _finish(machine, lo, hi, calendar_s, scheduled_s, planned_s, open_s, seconds, events, totals,
                   order_counts)


def _finish(machine: MachineConfig, lo: float, hi: float, calendar_s: float, scheduled_s: float, planned_s: float,
            open_s: float, seconds: Mapping[str, float], events: Mapping[str, int],
            totals: Mapping[str | None, ProductCounts],
            order_counts: OrderCycleCounts = _NO_ORDER_COUNTS) -> OeeResult:
    """From measured times and counted parts to the result; shared by both calculator paths."""
    covered_s = seconds[RUN] + seconds[BREAKDOWN] + seconds[SETUP] + seconds[MINOR_STOP]
    no_data_s = max(0.0, open_s - covered_s)
    ppt = scheduled_s - planned_s - no_data_s
    unplanned_s = seconds[BREAKDOWN] + seconds[SETUP]
    run_s = ppt - unplanned_s

    total = reject = startup_reject = 0
    ideal_s = fully_s = startup_s = defects_s = 0.0
    for product, c in totals.items():
        ct = machine.cycle_time_for(product)
        total += c.total
        reject += c.reject
        startup_reject += c.startup_reject
        ideal_s += ct * c.total
        fully_s += ct * (c.total - c.reject)
        startup_s += ct * c.startup_reject
        defects_s += ct * (c.reject - c.startup_reject)
    # Parts of an order with a cycle time of its own: that one in place of their product's.
    for (product, order_ct), c in order_counts.items():
        delta = order_ct - machine.cycle_time_for(product)
        ideal_s += delta * c.total
        fully_s += delta * (c.total - c.reject)
        startup_s += delta * c.startup_reject
        defects_s += delta * (c.reject - c.startup_reject)

    losses = SixBigLosses(
        breakdown_s=seconds[BREAKDOWN],
        breakdown_events=events[BREAKDOWN],
        setup_s=seconds[SETUP],
        setup_events=events[SETUP],
        minor_stop_s=seconds[MINOR_STOP],
        minor_stop_events=events[MINOR_STOP],
        # Negative when performance is above 100 %: reported as is, like performance.
        reduced_speed_s=run_s - seconds[MINOR_STOP] - ideal_s,
        defects_s=defects_s,
        defects_count=reject - startup_reject,
        startup_rejects_s=startup_s,
        startup_rejects_count=startup_reject,
    )
    return _build(machine.id, lo, hi, calendar_s, scheduled_s, planned_s, no_data_s, ppt, run_s, unplanned_s,
                  ideal_s, fully_s, total, total - reject, reject, losses, ())


def machine_oee_from_counts(machine: MachineConfig, window: Span, scheduled: Sequence[Span],
                            breaks: Sequence[Span], intervals: Sequence[StateInterval],
                            counts: Iterable[CountBucket], reasons: Mapping[str, Reason],
                            now: float, order_cycles: OrderCycles = ()) -> OeeResult:
    """machine_oee() over raw minute buckets (the live view keeps buckets, not totals); a part made
    inside one of `order_cycles` takes that order's cycle time."""
    totals, order_counts = count_totals(counts, intervals, machine, reasons, window, scheduled, now, order_cycles)
    return machine_oee(machine, window, scheduled, breaks, intervals, totals, reasons, now, order_counts)


_LOSS_FIELDS: Final = tuple(SixBigLosses.__dataclass_fields__)


def lines_and_plant(line_ids: Sequence[str], machine_lines: Sequence[str],
                    results: Sequence[OeeResult]) -> tuple[tuple[OeeResult, ...], OeeResult | None]:
    """Each line's result (in `line_ids` order) and the plant's, from machine results; `machine_lines[i]`
    is the line of `results[i]`. The plant is None without machines."""
    lines = tuple(aggregate(line, [r for r, on in zip(results, machine_lines, strict=True) if on == line])
                  for line in line_ids)
    return lines, (aggregate("plant", results) if results else None)


def aggregate(scope: str, results: Sequence[OeeResult]) -> OeeResult:
    """Line or plant OEE: sum the times and counts, then recompute the ratios.

    Never an average of percentages: a machine with little planned time must
    weigh little. Calendar time is summed as well (machine-hours), so a line's
    TEEP is its fully productive time over its machines' calendar time.
    """
    if not results:
        return _build(scope, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, 0, 0, SixBigLosses(), ())
    losses = SixBigLosses(**{
        name: sum(getattr(r.losses, name) for r in results) for name in _LOSS_FIELDS
    })
    flags = [flag for r in results for flag in r.flags]
    return _build(
        scope,
        min(r.window_start for r in results),
        max(r.window_end for r in results),
        sum(r.calendar_time_s for r in results),
        sum(r.scheduled_time_s for r in results),
        sum(r.planned_stop_s for r in results),
        sum(r.no_data_s for r in results),
        sum(r.planned_production_time_s for r in results),
        sum(r.run_time_s for r in results),
        sum(r.unplanned_downtime_s for r in results),
        sum(r.ideal_output_time_s for r in results),
        sum(r.fully_productive_time_s for r in results),
        sum(r.total_count for r in results),
        sum(r.good_count for r in results),
        sum(r.reject_count for r in results),
        losses,
        flags,
    )
