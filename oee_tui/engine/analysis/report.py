"""OEE reports over the store: per machine, per line and for the plant.

Counts are summed in DuckDB (a month of minute buckets is millions of rows);
only state intervals, which are few, come back to Python for the calculator.

Planning data in the store, through the rules of oee_tui.engine.oee.planning_rules, gives
the context: imported shift patterns and reasons, planned stops as planned time, and each
machine's timeline of orders, which attributes a count without a product to the product
scheduled in its minute and splits every machine's figures by product and by order.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from oee_tui.config import Config
from oee_tui.engine.oee.calculator import CLASSES, RUN, OrderCycleCounts, ProductCounts, lines_and_plant
from oee_tui.engine.oee.columnar import (
    CODE,
    IntervalColumns,
    MeasuredTime,
    classify_columns,
    finish_measured,
    measure_columns,
    split_times,
)
from oee_tui.engine.oee.planning_rules import MachinePlan, Planning, Segment
from oee_tui.model import MachineState, OeeResult, Span
from oee_tui.store import CountQuery, EdgePiece, Store
from oee_tui.store.timecodec import micros, rounded

_T = TypeVar("_T")


class ReportError(ValueError):
    """A report request that cannot be answered, worded for the user."""


@dataclass(frozen=True, slots=True)
class Share:
    """One machine's figures for the time one product (or one order) ran and the parts it made.

    Time follows the schedule (the product or order planned at each moment); counts follow the
    product each part was counted as (its product tag, else the schedule). `key` is the product
    or the order id; None is time and parts outside any order (or without any product).
    """

    key: str | None
    product: str | None
    total_count: int
    good_count: int
    reject_count: int
    planned_production_time_s: float
    run_time_s: float
    ideal_output_time_s: float
    fully_productive_time_s: float

    @property
    def availability(self) -> float | None:
        return _ratio(self.run_time_s, self.planned_production_time_s)

    @property
    def performance(self) -> float | None:
        return _ratio(self.ideal_output_time_s, self.run_time_s)

    @property
    def quality(self) -> float | None:
        return _ratio(self.fully_productive_time_s, self.ideal_output_time_s)

    @property
    def oee(self) -> float | None:
        return _ratio(self.fully_productive_time_s, self.planned_production_time_s)

    def to_dict(self, key_name: str) -> dict[str, Any]:
        data: dict[str, Any] = {key_name: self.key}
        if key_name != "product":
            data["product"] = self.product
        data.update(
            total_count=self.total_count, good_count=self.good_count, reject_count=self.reject_count,
            planned_production_time_s=self.planned_production_time_s, run_time_s=self.run_time_s,
            ideal_output_time_s=self.ideal_output_time_s, fully_productive_time_s=self.fully_productive_time_s,
            availability=self.availability, performance=self.performance, quality=self.quality, oee=self.oee,
        )
        return data


@dataclass(frozen=True, slots=True)
class MachineAttribution:
    """A machine's report split by product and by order; each list sums to the machine's figures."""

    machine: str
    by_product: tuple[Share, ...]
    by_order: tuple[Share, ...]


@dataclass(frozen=True, slots=True)
class ReasonLoss:
    """One machine's unplanned stop time in open time for one reason (None: no reason given yet).

    Every stop the calculator counts as a loss is here (breakdowns, setups, minor stops), so a
    machine's entries add up to its A and P stop losses; `stops` counts each stop once however
    much of it the window cuts off.
    """

    reason: str | None
    seconds: float
    stops: int


@dataclass(frozen=True, slots=True)
class StopEdge:
    """A stop the window's start or end cuts: in the window next to it, the same `start` is the same stop.

    Summing windows (oee_tui.engine.analysis.day_summaries) counts a stop once from these, as one report
    over the whole span would: `touched` says whether it cost open time in this window.
    """

    start: float
    loss: str  # breakdown | setup | minor_stop
    reason: str | None
    touched: bool


@dataclass(frozen=True, slots=True)
class Report:
    label: str
    window: Span
    timezone: str
    machines: tuple[OeeResult, ...]
    lines: tuple[OeeResult, ...]
    plant: OeeResult | None
    # Each machine's figures split by product and by order, in machine order (empty if not asked for).
    attribution: tuple[MachineAttribution, ...] = ()
    # Each machine's stop losses by reason, in machine order: what the downtime Pareto adds up.
    stop_losses: tuple[tuple[ReasonLoss, ...], ...] = ()
    # Each machine's stops cut by the window's start and by its end (None: no stop there), in machine order.
    edges: tuple[tuple[StopEdge | None, StopEdge | None], ...] = ()


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


def parse_instant(text: str, tz: ZoneInfo, option: str) -> float:
    """ISO date or date-time; without an offset it is plant local time."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ReportError(f"{option} {text!r}: use an ISO date or time such as 2026-11-26 or 2026-11-26T06:00") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.timestamp()


def resolve_window(config: Config, now: float, shift: str | None = None, start: str | None = None,
                   end: str | None = None, *, planning: Planning | None = None) -> tuple[Span, str]:
    """The window and label of a report request, in the plant's one shift calendar: `planning`'s
    (imported shift patterns, once there are any, in place of the config's), else the config's."""
    calendar = (planning or Planning.empty()).calendar(config)
    if shift is not None and (start is not None or end is not None):
        raise ReportError("give either --shift or --from/--to, not both")
    if start is not None or end is not None:
        if start is None or end is None:
            raise ReportError("--from and --to go together")
        window = Span(parse_instant(start, config.tz, "--from"), parse_instant(end, config.tz, "--to"))
        if window.end <= window.start:
            raise ReportError(f"--to {end!r} must be after --from {start!r}")
        return window, f"{start} to {end}"
    if shift is None or shift == "current":
        current = calendar.current_or_last(now)
        return Span(current.start, min(current.end, max(now, current.start))), current.label
    name, _, date = shift.partition("@")
    if not date:
        date = datetime.fromtimestamp(now, config.tz).date().isoformat()
    names = calendar.names
    if name not in names:
        raise ReportError(f"--shift {shift!r}: no shift named {name!r}; shifts are {', '.join(names)}")
    instance = calendar.find(name, date)
    if instance is None:
        raise ReportError(f"--shift {shift!r}: {name} does not run on {date}")
    return Span(instance.start, min(instance.end, max(now, instance.start))), instance.label


def build_report(store: Store, config: Config, window: Span, now: float, label: str, *,
                 planning: Planning | None = None, attribution: bool = False) -> Report:
    """OEE per machine, line and plant over `window`.

    `planning` defaults to what the store holds for the window (Planning.load); pass one to reuse it.
    `attribution` adds each machine's split by product and by order (Report.attribution, and
    `by_product`/`by_order` in to_json). It joins every count with the schedule, which costs
    about half as much again as the report without it, so only JSON output asks for it.
    """
    if planning is None:
        planning = Planning.load(store, window)
    calendar = planning.calendar(config)
    scheduled = calendar.scheduled_spans(window.start, window.end)
    breaks = calendar.break_spans(window.start, window.end)
    reasons = planning.reason_tree(config)
    machine_ids = [machine.id for machine in config.machines]
    plans = [planning.machine_plan(machine) for machine in config.machines]
    timelines = [plan.timeline(window.start, window.end) for plan in plans]
    # Codes given that the tree no longer has still name their stops (class by state, like no reason).
    reason_codes = [*reasons, *(code for code in store.reasons_given(window.end) if code not in reasons)]
    # The count query needs nothing from the intervals until its rows come back: DuckDB runs it
    # beside the interval query and the numpy below (a quarter of the time over 90 days).
    # Orders with a cycle time of their own need each order's counts: the per-segment sums attribution uses.
    per_segment = attribution or any(plan.order_cycles for plan in plans)
    counting = _in_background(partial(_count_rows, store, window, scheduled, machine_ids, timelines, per_segment))
    # From a startup period before the window: a breakdown that ended just before it still makes
    # the rejects of the window's first minutes startup rejects, as in any longer window around it.
    lookback = max((machine.startup_period_s for machine in config.machines), default=0.0)
    columns = _columns_by_machine(store, Span(window.start - lookback, window.end), machine_ids, reason_codes)
    empty = _empty_columns()
    startup: list[tuple[str, npt.NDArray[np.float64], float]] = []
    measured: list[MeasuredTime] = []
    for plan, timeline in zip(plans, timelines, strict=True):
        machine = plan.machine
        machine_columns = columns.get(machine.id, empty)
        thresholds = _thresholds(plan, timeline, machine_columns)
        classes = classify_columns(machine_columns, machine, reasons, now, thresholds)
        if machine.startup_period_s > 0:
            closed = ~np.isnan(machine_columns.ends)
            stop_ends = machine_columns.ends[closed & np.isin(classes, (CODE["breakdown"], CODE["setup"]))]
            startup.append((machine.id, stop_ends, machine.startup_period_s))
        # Planned stops from the downtime plan are planned time, like breaks.
        stops = plan.planned_stop_spans(window.start, window.end)
        machine_breaks = [*breaks, *stops] if stops else breaks
        measured.append(measure_columns(machine, window, scheduled, machine_breaks, machine_columns, reasons, now,
                                        thresholds, classes))
    totals, by_segment, startup_minutes = _sum_counts(counting.result(), startup, machine_ids, per_segment)
    results = [finish_measured(plan.machine, measure, totals.get(plan.machine.id, {}),
                               _order_counts(plan, timeline, by_segment.get(plan.machine.id, {}), startup_minutes)
                               if plan.order_cycles else None)
               for plan, timeline, measure in zip(plans, timelines, measured, strict=True)]
    lines, plant = lines_and_plant([line.id for line in config.lines], [m.line for m in config.machines], results)
    stop_losses = tuple(_stop_losses(measure, reason_codes) for measure in measured)
    edges = tuple(_edges(measure, reason_codes) for measure in measured)
    shares: tuple[MachineAttribution, ...] = ()
    if attribution:
        shares = tuple(
            _attribute(plan, timeline, measure, by_segment.get(plan.machine.id, {}))
            for plan, timeline, measure in zip(plans, timelines, measured, strict=True)
        )
    return Report(label, window, config.site.timezone, tuple(results), lines, plant, shares, stop_losses, edges)


def _edges(measured: MeasuredTime, reason_codes: Sequence[str]) -> tuple[StopEdge | None, StopEdge | None]:
    """The stop that began before the window and reaches into it, and the one the window's end cuts."""
    if not len(measured.classes):
        return None, None

    def edge(i: int) -> StopEdge | None:
        if int(measured.classes[i]) == CODE[RUN]:
            return None
        code = int(measured.reasons[i])
        return StopEdge(float(measured.origins[i]), CLASSES[int(measured.classes[i])],
                        reason_codes[code] if code >= 0 else None, bool(measured.inside[i] > 0))

    window = measured.window
    head = edge(0) if measured.starts[0] == window.start and measured.origins[0] < window.start else None
    tail = edge(len(measured.classes) - 1) if measured.ends[-1] == window.end else None
    return head, tail


def _stop_losses(measured: MeasuredTime, reason_codes: Sequence[str]) -> tuple[ReasonLoss, ...]:
    """The measured stop time per reason: every counted interval that is not running and costs open time."""
    costs = (measured.classes != CODE[RUN]) & (measured.inside > 0)
    if not costs.any():
        return ()
    none = len(reason_codes)
    codes = measured.reasons[costs]
    codes = np.where(codes >= 0, codes, none)
    seconds = np.bincount(codes, weights=measured.inside[costs], minlength=none + 1)
    # Fragments (columnar.stop_events) add their time to their reason but are no stop of it.
    stops = np.bincount(codes, weights=measured.is_event[costs], minlength=none + 1)
    names: list[str | None] = [*reason_codes, None]
    return tuple(ReasonLoss(names[code], float(seconds[code]), int(stops[code]))
                 for code in np.flatnonzero(seconds).tolist())


def _in_background(call: Callable[[], _T]) -> Future[_T]:
    """Run `call` on a thread of its own; the thread ends with it, whether or not anyone asks for the result."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="oee-report")
    try:
        return pool.submit(call)
    finally:
        pool.shutdown(wait=False)


def _thresholds(plan: MachinePlan, timeline: Sequence[Segment],
                columns: IntervalColumns) -> npt.NDArray[np.float64] | None:
    """Each interval's micro-stop threshold: that of the product scheduled when it started.

    None (the machine's own, for every interval) unless some product has a threshold of its own.
    """
    if not plan.thresholds or not timeline or len(columns.starts) == 0:
        return None
    per_segment = np.array([plan.micro_stop_threshold(segment.product) for segment in timeline], dtype=np.float64)
    starts = np.array([segment.start for segment in timeline], dtype=np.float64)
    k = np.searchsorted(starts, columns.starts, side="right") - 1
    out = per_segment[np.maximum(k, 0)]
    # A stop that began before the window: the product scheduled then, looked up one by one (a few).
    for i in np.flatnonzero(k < 0).tolist():
        out[i] = plan.micro_stop_threshold(plan.product_at(float(columns.starts[i])))
    return out


def _attribute(plan: MachinePlan, timeline: Sequence[Segment], measured: MeasuredTime,
               counts: dict[int, dict[str | None, tuple[int, int]]]) -> MachineAttribution:
    """Split one machine's measured time at its order changes and add the counts of each piece."""
    machine = plan.machine
    if not timeline:
        return MachineAttribution(machine.id, (), ())
    bounds = np.array([segment.start for segment in timeline] + [timeline[-1].end], dtype=np.float64)
    times = split_times(measured, bounds)
    ppt = times.planned_production_time_s.tolist()
    run = times.run_time_s.tolist()
    by_product: dict[str | None, list[float]] = {}
    by_order: dict[str | None, list[Any]] = {}
    for index, segment in enumerate(timeline):
        # [total, reject, ppt, run, ideal, fully]
        product_entry = by_product.setdefault(segment.product, [0, 0, 0.0, 0.0, 0.0, 0.0])
        product_entry[2] += ppt[index]
        product_entry[3] += run[index]
        order_entry = by_order.setdefault(segment.order_id, [0, 0, 0.0, 0.0, 0.0, 0.0, segment.product])
        order_entry[2] += ppt[index]
        order_entry[3] += run[index]
        for product, (total, reject) in counts.get(index, {}).items():
            ct = plan.segment_cycle_time(segment, product)
            for entry in (by_product.setdefault(product, [0, 0, 0.0, 0.0, 0.0, 0.0]), order_entry):
                entry[0] += total
                entry[1] += reject
                entry[4] += ct * total
                entry[5] += ct * (total - reject)

    def share(key: str | None, entry: Sequence[Any], product: str | None) -> Share:
        total, reject = int(entry[0]), int(entry[1])
        return Share(key, product, total, total - reject, reject, float(entry[2]), float(entry[3]), float(entry[4]),
                     float(entry[5]))

    products = tuple(share(product, entry, product) for product, entry in by_product.items()
                     if entry[0] or entry[2] > 0)
    orders = tuple(share(order_id, entry, entry[6]) for order_id, entry in by_order.items()
                   if entry[0] or entry[2] > 0)
    return MachineAttribution(machine.id, products, orders)


def _empty_columns() -> IntervalColumns:
    nothing = np.zeros(0, dtype=np.float64)
    return IntervalColumns(nothing, nothing, np.zeros(0, dtype=np.int64), [], np.zeros(0, dtype=np.int64), [])


def _columns_by_machine(store: Store, window: Span, machines: Sequence[str],
                        reasons: Sequence[str]) -> dict[str, IntervalColumns]:
    """The store's intervals in the window, split into per-machine columns of numbers."""
    state_names = [state.value for state in MachineState]
    data = store.interval_codes(window.start, window.end, machines, state_names, reasons)
    machine_codes = np.asarray(data["machine"], dtype=np.int64)
    if len(machine_codes) == 0:
        return {}
    starts = np.asarray(data["s"], dtype=np.float64)
    ends = np.asarray(data["e"], dtype=np.float64)
    states = np.asarray(data["state"], dtype=np.int64)
    reason_idx = np.asarray(data["reason"], dtype=np.int64)
    boundaries = np.flatnonzero(np.diff(machine_codes)) + 1
    out: dict[str, IntervalColumns] = {}
    for lo, hi in zip(np.concatenate(([0], boundaries)), np.concatenate((boundaries, [len(machine_codes)])),
                      strict=True):
        if hi > lo:
            out[machines[machine_codes[lo]]] = IntervalColumns(
                starts[lo:hi], ends[lo:hi], states[lo:hi], state_names, reason_idx[lo:hi], list(reasons))
    return out


BySegment = dict[str, dict[int, dict[str | None, tuple[int, int]]]]  # machine -> segment index -> product -> sums
# (machine, product) -> the minutes with startup rejects, and those rejects: to split them among orders.
StartupMinutes = dict[tuple[str, str | None], tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]]


def _order_counts(plan: MachinePlan, timeline: Sequence[Segment], counts: dict[int, dict[str | None, tuple[int, int]]],
                  startup_minutes: StartupMinutes) -> OrderCycleCounts:
    """The parts made inside orders with a cycle time of their own, by product and that cycle time: a loop
    over such orders, not minutes (the store summed each segment's minutes)."""
    acc: dict[tuple[str | None, float], list[int]] = {}
    for index, segment in enumerate(timeline):
        if segment.cycle_time_s is None:
            continue
        for product, (total, reject) in counts.get(index, {}).items():
            startup_reject = 0
            found = startup_minutes.get((plan.machine.id, product)) if reject else None
            if found is not None:
                minutes, rejects = found
                startup_reject = int(rejects[(minutes >= segment.start) & (minutes < segment.end)].sum())
            entry = acc.setdefault((product, segment.cycle_time_s), [0, 0, 0])
            entry[0] += total
            entry[1] += reject
            entry[2] += startup_reject
    return {key: ProductCounts(total, reject, startup) for key, (total, reject, startup) in acc.items()}


@dataclass(frozen=True, slots=True)
class _CountPlan:
    """The store's count query, and for each of its segments the segment's index in its machine's timeline."""

    query: CountQuery
    seg_local: list[int]


def _count_plan(window: Span, scheduled: Sequence[Span], machines: Sequence[str],
                timelines: Sequence[Sequence[Segment]], *, joins_schedule: bool = True) -> _CountPlan | None:
    """The scheduled minutes of the window and the machines' timelines as the store's count query takes them."""
    spans = [(max(s.start, window.start), min(s.end, window.end)) for s in scheduled]
    spans = [(a, b) for a, b in spans if b > a]
    if not spans or not machines:
        return None
    firsts = [math.ceil(a / 60.0) * 60.0 for a, _ in spans]
    lasts = [math.ceil(b / 60.0) * 60.0 - 60.0 for _, b in spans]
    sched: list[tuple[float, float]] = []
    for first, last in sorted(zip(firsts, lasts, strict=True)):
        if last < first:
            continue
        if sched and first <= sched[-1][1] + 60.0:
            # Back-to-back shifts: one run of minutes, the same set as the two.
            sched[-1] = (sched[-1][0], max(sched[-1][1], last))
        else:
            sched.append((first, last))
    flat = [segment for timeline in timelines for segment in timeline]
    seg_machine = [index for index, timeline in enumerate(timelines) for _ in timeline]
    seg_local = [local for timeline in timelines for local in range(len(timeline))]
    seg_starts = np.array([segment.start for segment in flat], dtype=np.float64)
    seg_ends = np.array([segment.end for segment in flat], dtype=np.float64)
    # The first and last segments of each machine reach a minute past the window, so that
    # rounding to microseconds can never leave a bucket at an edge without a segment.
    firsts_of = np.cumsum([0] + [len(timeline) for timeline in timelines])
    nonempty = firsts_of[:-1] < firsts_of[1:]
    seg_starts[firsts_of[:-1][nonempty]] -= 60.0
    seg_ends[firsts_of[1:][nonempty] - 1] += 60.0
    query = CountQuery(window.start, window.end, _micros([a for a, _ in sched]), _micros([b for _, b in sched]),
                       list(machines), seg_machine, _micros(seg_starts), _micros(seg_ends),
                       [segment.product for segment in flat], by_range=len(sched) == 1 and not joins_schedule,
                       edges=_edge_pieces(spans))
    return _CountPlan(query, seg_local)


_MINUTE_US = 60_000_000


def _edge_pieces(spans: Sequence[tuple[float, float]]) -> tuple[EdgePiece, ...]:
    """The parts of scheduled time (spans in the window) inside the minutes they start or end within."""
    merged: list[list[int]] = []
    for lo, hi in sorted(zip(_micros([a for a, _ in spans]), _micros([b for _, b in spans]), strict=True)):
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    pieces: list[EdgePiece] = []
    for lo, hi in merged:
        first, last = lo - lo % _MINUTE_US, hi - hi % _MINUTE_US
        if lo != first:
            pieces.append(EdgePiece(first, lo, min(hi, first + _MINUTE_US)))
        if hi != last and (last != first or lo == first):
            pieces.append(EdgePiece(last, max(lo, last), hi))
    return tuple(pieces)


_CountRows = tuple[_CountPlan, dict[str, npt.NDArray[Any]]] | None


def _count_rows(store: Store, window: Span, scheduled: Sequence[Span], machines: Sequence[str],
                timelines: Sequence[Sequence[Segment]] | None, per_segment: bool) -> _CountRows:
    """The count rows of the window, for _sum_counts: this half needs no startup windows, so it runs
    beside the interval query (build_report).

    Sums counts per machine and product over the scheduled part of the window.

    A bucket counts when its whole minute is inside the window and inside
    scheduled time. In a minute that scheduled time in the window starts or
    ends inside, a machine's count events inside count instead, each at its time; a minute without
    events (counts stored before events were, imported ones) counts when it
    starts inside, oee.product_totals' rule for every minute. Rejects are
    startup rejects when their minute (an event's time) is within a startup
    window after a breakdown or setup. DuckDB sums the buckets and hands back only the minutes that had
    rejects (ReportReads.count_sums); a binary search per machine then finds each
    one's startup window. A machine's startup windows all have one length, so the
    latest window starting at or before a minute is the one that reaches furthest.

    `timelines` (one per machine, each covering the window) give a bucket without a product
    the product scheduled in its minute. Without `per_segment` only those buckets go through
    the join with the timelines; with it every bucket does, and the second result holds the
    sums per machine, segment (index in its timeline) and product.
    """
    if timelines is None:
        timelines = [[Segment(window.start, window.end, None, None)] for _ in machines]
    joins = per_segment or any(segment.product is not None for timeline in timelines for segment in timeline)
    plan = _count_plan(window, scheduled, machines, timelines, joins_schedule=joins)
    if plan is None:
        return None
    return plan, store.count_sums(plan.query, per_segment)


def _sum_counts(rows: _CountRows, startup: Sequence[tuple[str, npt.NDArray[np.float64], float]],
                machines: Sequence[str], per_segment: bool) -> tuple[dict[str, dict[str | None, ProductCounts]],
                                                                     BySegment, StartupMinutes]:
    """The numpy half: sums per machine and product, startup rejects, segment sums (see _count_rows), and
    with those the minutes of the startup rejects."""
    out: dict[str, dict[str | None, ProductCounts]] = {}
    by_segment: BySegment = {}
    startup_minutes: StartupMinutes = {}
    if rows is None:
        return out, by_segment, startup_minutes
    plan, data = rows
    kinds = np.asarray(data["kind"], dtype=np.int64)
    machine_idx = np.asarray(data["machine"], dtype=np.int64)
    products = np.asarray(data["product"], dtype=object)
    totals = np.asarray(data["total"], dtype=np.int64)
    rejects = np.asarray(data["reject"], dtype=np.int64)
    minutes = np.asarray(data["minute"], dtype=np.float64)
    minute_rejects = np.asarray(data["minute_reject"], dtype=np.int64)
    if per_segment:
        # grouping(reject_us) is 0 in the (machine, product, reject_us) set, 1 in the per-segment set.
        split = int(np.searchsorted(kinds, 1))
        for machine_index, seg, product, total, reject in zip(
                machine_idx[split:].tolist(), np.asarray(data["seg"][split:], dtype=np.int64).tolist(),
                products[split:].tolist(), totals[split:].tolist(), rejects[split:].tolist(), strict=True):
            by_segment.setdefault(machines[machine_index], {}).setdefault(plan.seg_local[seg], {})[product] = (
                total, reject)
    else:
        split = len(kinds)
    if split == 0:
        return out, by_segment, startup_minutes
    # Rows of one machine and one product are adjacent, as the query sorted them.
    machine_idx, products, totals, rejects, minutes, minute_rejects = (
        machine_idx[:split], products[:split], totals[:split], rejects[:split], minutes[:split],
        minute_rejects[:split])
    changes = (np.diff(machine_idx) != 0) | (products[1:] != products[:-1])
    starts = np.concatenate(([0], np.flatnonzero(changes) + 1))
    group_totals = np.add.reduceat(totals, starts).tolist()
    group_rejects = np.add.reduceat(rejects, starts).tolist()
    # Stop ends as the store keeps them, to compare with its minutes.
    windows = {name: (rounded(ends, "stop ends"), period) for name, ends, period in startup if len(ends)}
    for lo, hi, total, reject in zip(starts.tolist(), [*starts[1:].tolist(), split], group_totals, group_rejects,
                                     strict=True):
        machine = machines[machine_idx[lo]]
        startup_reject = 0
        if machine in windows:
            ends, period = windows[machine]
            at = minutes[lo:hi]
            latest = np.searchsorted(ends, at, side="right") - 1
            # NaN (the rows of sums) compares False, so those rows never count here.
            inside = (latest >= 0) & (at < ends[np.maximum(latest, 0)] + period)
            startup_reject = int(minute_rejects[lo:hi][inside].sum())
            if startup_reject and per_segment:
                startup_minutes[machine, products[lo]] = (at[inside], minute_rejects[lo:hi][inside])
        out.setdefault(machine, {})[products[lo]] = ProductCounts(int(total), int(reject), startup_reject)
    return out, by_segment, startup_minutes


def _micros(values: Sequence[float] | npt.NDArray[np.float64]) -> list[int]:
    """Epoch seconds as whole epoch microseconds, the store's TIMESTAMP resolution."""
    whole: list[int] = micros(values, "count query").tolist()
    return whole


# ---------------------------------------------------------------- output

def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _iso(ts: float, tz: str) -> str:
    return datetime.fromtimestamp(ts, ZoneInfo(tz)).isoformat(timespec="seconds")


def to_json(report: Report) -> str:
    def dump(result: OeeResult) -> dict[str, Any]:
        data = result.to_dict()
        data["window_start"] = datetime.fromtimestamp(result.window_start, UTC).isoformat()
        data["window_end"] = datetime.fromtimestamp(result.window_end, UTC).isoformat()
        return data

    attribution = {share.machine: share for share in report.attribution}

    def dump_machine(result: OeeResult) -> dict[str, Any]:
        data = dump(result)
        split = attribution.get(result.scope)
        if split is not None:
            data["by_product"] = [share.to_dict("product") for share in split.by_product]
            data["by_order"] = [share.to_dict("order") for share in split.by_order]
        return data

    return json.dumps({
        "label": report.label,
        "timezone": report.timezone,
        "window": {"start": _iso(report.window.start, report.timezone),
                   "end": _iso(report.window.end, report.timezone)},
        "machines": [dump_machine(r) for r in report.machines],
        "lines": [dump(r) for r in report.lines],
        "plant": dump(report.plant) if report.plant else None,
    }, indent=2)


CSV_FIELDS = ("level", "scope", "oee", "availability", "performance", "quality", "teep",
              "planned_production_time_s", "run_time_s", "unplanned_downtime_s", "total_count", "good_count",
              "reject_count", "breakdown_s", "setup_s", "minor_stop_s", "reduced_speed_s", "defects_s",
              "startup_rejects_s", "no_data_s", "flags")


def _row(level: str, result: OeeResult) -> dict[str, Any]:
    losses = result.losses
    return {
        "level": level, "scope": result.scope, "oee": result.oee, "availability": result.availability,
        "performance": result.performance, "quality": result.quality, "teep": result.teep,
        "planned_production_time_s": round(result.planned_production_time_s, 3),
        "run_time_s": round(result.run_time_s, 3), "unplanned_downtime_s": round(result.unplanned_downtime_s, 3),
        "total_count": result.total_count, "good_count": result.good_count, "reject_count": result.reject_count,
        "breakdown_s": round(losses.breakdown_s, 3), "setup_s": round(losses.setup_s, 3),
        "minor_stop_s": round(losses.minor_stop_s, 3), "reduced_speed_s": round(losses.reduced_speed_s, 3),
        "defects_s": round(losses.defects_s, 3), "startup_rejects_s": round(losses.startup_rejects_s, 3),
        "no_data_s": round(result.no_data_s, 3), "flags": ";".join(result.flags),
    }


def _all_rows(report: Report) -> list[dict[str, Any]]:
    rows = [_row("machine", r) for r in report.machines] + [_row("line", r) for r in report.lines]
    if report.plant is not None:
        rows.append(_row("plant", report.plant))
    return rows


def to_csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(_all_rows(report))
    return buffer.getvalue()


def to_table(report: Report) -> str:
    header = f"OEE {report.label}  ({_iso(report.window.start, report.timezone)} .. " \
             f"{_iso(report.window.end, report.timezone)})"
    cols = ("level", "scope", "OEE", "A", "P", "Q", "TEEP", "good", "reject", "down min", "flags")
    lines = [header, ""]
    table = [cols]
    for row, result in zip(_all_rows(report), [*report.machines, *report.lines,
                                               *([report.plant] if report.plant else [])], strict=True):
        table.append((row["level"], row["scope"], _pct(result.oee), _pct(result.availability),
                      _pct(result.performance), _pct(result.quality), _pct(result.teep),
                      f"{result.good_count:,}", f"{result.reject_count:,}",
                      f"{result.unplanned_downtime_s / 60:.1f}", row["flags"]))
    widths = [max(len(str(r[i])) for r in table) for i in range(len(cols))]
    for r in table:
        lines.append("  ".join(str(v).rjust(w) if i >= 2 else str(v).ljust(w) for i, (v, w) in
                               enumerate(zip(r, widths, strict=True))).rstrip())
    return "\n".join(lines) + "\n"
