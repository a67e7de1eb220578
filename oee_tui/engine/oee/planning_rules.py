"""The planning rules: how imported planning data gives OEE its context.

`Planning` is the planning records (oee_tui.model.planning, as the store returns them) made
into one immutable value with its lookups; `Planning.load` asks the store for them, and
everything else here is pure. The report, the review screen and the running engine all
attribute time and counts the same way through it:

* product running at an instant: the machine's product tag, else the order on the machine,
  else an order on its line, else the config's `default_product` (else none);
* ideal cycle time of a part made on a machine at an instant: the cycle time of the order
  running on that machine then, where the schedule gives it one (`MachinePlan.cycle_time_at`);
  else that of its product: the products table's row for that machine, else its row for
  every machine, else the config's `product_cycle_times`, else the machine's
  `ideal_cycle_time_s`; the micro-stop threshold by the product's precedence (the config has
  no per-product threshold, so it ends at the machine's);
* planned stops: each row is planned time for its machine, or for every machine of its line;
* reasons: imported ones extend the config's, and replace a config entry with the same code;
  an imported reason without planned or loss takes its parent's;
* shift patterns: the imported ones, once there are any, are the calendar, in place of the
  config's `[[shifts]]` (never a mix of both: see `shift_patterns`).

Orders on one machine never overlap once imported (the import refuses it); should they
anyway, the later start wins from its start on, the rule ShiftCalendar uses for shifts.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from types import MappingProxyType
from typing import Any, NamedTuple, Protocol

from oee_tui.config import BreakConfig, Config, MachineConfig, Reason, ShiftConfig
from oee_tui.engine.oee.shifts import ShiftCalendar
from oee_tui.model import (
    Loss,
    Order,
    PlannedStop,
    PlanningRecords,
    ProductRate,
    ReasonRecord,
    ShiftPattern,
    Span,
    shift_overlaps,
)
from oee_tui.store import PlanningError


class PlanningSource(Protocol):
    """Where planning records come from: the store."""

    def planning_records(self, window: Span | None = None) -> PlanningRecords: ...


class Segment(NamedTuple):
    """A stretch of one machine's time with one order (None between orders) and its product;
    `cycle_time_s` is the order's own ideal cycle time (None: the product's)."""

    start: float
    end: float
    order_id: str | None
    product: str | None
    cycle_time_s: float | None = None


def _empty_map() -> Mapping[Any, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class MachinePlan:
    """The planning rules resolved for one machine: what the report and the tracker look up per instant.

    `machine` is the machine's config with the effective `product_cycle_times` (imported rates
    merged over the config's), so `machine.cycle_time_for(product)` follows the precedence.
    `segments` are the machine's orders, sorted and disjoint (gaps are not listed).
    """

    machine: MachineConfig
    segments: tuple[Segment, ...] = ()
    thresholds: Mapping[str, float] = field(default_factory=_empty_map)
    planned_stops: tuple[Span, ...] = ()  # this machine's and its line's, merged and sorted
    _starts: tuple[float, ...] = field(default=(), repr=False, compare=False)
    _stop_ends: tuple[float, ...] = field(default=(), repr=False, compare=False)
    # (start, end, cycle time) of the orders with a cycle time of their own: where `cycle_time_at` differs
    # from `cycle_time`. Usually none, and then every part takes its product's.
    order_cycles: tuple[tuple[float, float, float], ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_starts", tuple(s.start for s in self.segments))
        object.__setattr__(self, "_stop_ends", tuple(s.end for s in self.planned_stops))
        object.__setattr__(self, "order_cycles", tuple((s.start, s.end, s.cycle_time_s) for s in self.segments
                                                       if s.cycle_time_s is not None))

    def planned_stop_spans(self, start: float, end: float) -> list[Span]:
        """The planned stops inside [start, end), clipped; cheap enough for every live tick."""
        out: list[Span] = []
        for stop in self.planned_stops[bisect_right(self._stop_ends, start):]:
            if stop.start >= end:
                break
            out.append(Span(max(stop.start, start), min(stop.end, end)))
        return out

    def segment_at(self, ts: float) -> Segment | None:
        """The order segment holding ts, or None between orders."""
        k = bisect_right(self._starts, ts) - 1
        if k >= 0 and ts < self.segments[k].end:
            return self.segments[k]
        return None

    def product_at(self, ts: float, tag_product: str | None = None) -> str | None:
        """Tag first, then the schedule, then the config's default product."""
        if tag_product is not None:
            return tag_product
        segment = self.segment_at(ts)
        if segment is not None and segment.product is not None:
            return segment.product
        return self.machine.default_product

    def order_at(self, ts: float) -> str | None:
        segment = self.segment_at(ts)
        return None if segment is None else segment.order_id

    def cycle_time(self, product: str | None) -> float:
        """The product's ideal cycle time, whatever order runs: see `cycle_time_at` for a part made at an instant."""
        return self.machine.cycle_time_for(product)

    def cycle_time_at(self, ts: float, product: str | None) -> float:
        """The ideal cycle time of a part of `product` made at ts: the running order's own, else the product's."""
        segment = self.segment_at(ts)
        if segment is not None and segment.cycle_time_s is not None:
            return segment.cycle_time_s
        return self.machine.cycle_time_for(product)

    def segment_cycle_time(self, segment: Segment, product: str | None) -> float:
        """`cycle_time_at` for a part made inside `segment` (one of `timeline`'s)."""
        return segment.cycle_time_s if segment.cycle_time_s is not None else self.machine.cycle_time_for(product)

    def micro_stop_threshold(self, product: str | None) -> float:
        if product is not None and product in self.thresholds:
            return self.thresholds[product]
        return self.machine.micro_stop_threshold_s

    def timeline(self, start: float, end: float) -> list[Segment]:
        """[start, end) cut into segments that cover it entirely: the orders, and between them
        gaps with no order whose product is the config's default."""
        out: list[Segment] = []
        cursor = start
        default = self.machine.default_product
        k = max(0, bisect_right(self._starts, start) - 1)
        for segment in self.segments[k:]:
            if segment.start >= end:
                break
            if segment.end <= cursor:
                continue
            if segment.start > cursor:
                out.append(Segment(cursor, segment.start, None, default))
            lo = max(cursor, segment.start)
            hi = min(end, segment.end)
            if lo == segment.start and hi == segment.end and segment.product is not None:
                out.append(segment)  # whole, as most are: no new tuple
            else:
                product = segment.product if segment.product is not None else default
                out.append(Segment(lo, hi, segment.order_id, product, segment.cycle_time_s))
            cursor = hi
        if cursor < end:
            out.append(Segment(cursor, end, None, default))
        return out


@dataclass(frozen=True, slots=True)
class Planning:
    """Everything imported that gives OEE its context. Immutable; build with `load`, `from_records` or `empty`."""

    products: tuple[ProductRate, ...] = ()
    orders: tuple[Order, ...] = ()
    planned_stops: tuple[PlannedStop, ...] = ()
    reasons: tuple[Reason, ...] = ()
    shifts: tuple[ShiftConfig, ...] = ()
    _orders_by_machine: Mapping[str, tuple[Order, ...]] = field(default_factory=_empty_map, repr=False,
                                                                compare=False)
    _orders_by_line: Mapping[str, tuple[Order, ...]] = field(default_factory=_empty_map, repr=False, compare=False)
    _rates: Mapping[str | None, tuple[ProductRate, ...]] = field(default_factory=_empty_map, repr=False,
                                                                 compare=False)
    _stops: Mapping[tuple[str, str], tuple[PlannedStop, ...]] = field(default_factory=_empty_map, repr=False,
                                                                      compare=False)

    def __post_init__(self) -> None:
        by_machine: dict[str, list[Order]] = {}
        by_line: dict[str, list[Order]] = {}
        for order in sorted(self.orders, key=_order_key):
            if order.machine:
                by_machine.setdefault(order.machine, []).append(order)
            elif order.line:
                by_line.setdefault(order.line, []).append(order)
        object.__setattr__(self, "_orders_by_machine",
                           MappingProxyType({k: tuple(v) for k, v in by_machine.items()}))
        object.__setattr__(self, "_orders_by_line", MappingProxyType({k: tuple(v) for k, v in by_line.items()}))
        rates: dict[str | None, list[ProductRate]] = {}
        for rate in self.products:
            rates.setdefault(rate.machine, []).append(rate)
        object.__setattr__(self, "_rates", MappingProxyType({k: tuple(v) for k, v in rates.items()}))
        # Keyed ("machine", id) or ("line", id), so a machine finds its stops without a scan.
        stops: dict[tuple[str, str], list[PlannedStop]] = {}
        for stop in self.planned_stops:
            if stop.machine:
                stops.setdefault(("machine", stop.machine), []).append(stop)
            elif stop.line:
                stops.setdefault(("line", stop.line), []).append(stop)
        object.__setattr__(self, "_stops", MappingProxyType({k: tuple(v) for k, v in stops.items()}))

    # ------------------------------------------------------------ building

    @classmethod
    def empty(cls) -> Planning:
        return cls()

    @classmethod
    def from_records(cls, records: PlanningRecords) -> Planning:
        """Raises PlanningError for stored shift patterns that overlap: the import refuses them, a hand edit may not."""
        return cls(products=records.products, orders=records.orders, planned_stops=records.planned_stops,
                   reasons=_reasons(records.reasons), shifts=_shift_calendar(records.shifts))

    @classmethod
    def load(cls, source: PlanningSource, window: Span | None = None) -> Planning:
        """The planning records of `source` (the store) as rules; raises PlanningError for a stored row
        that cannot be used. Safe from any thread.

        With `window`, only the orders and planned stops that overlap it are read: a report
        over one shift need not read a year of schedule.
        """
        return cls.from_records(source.planning_records(window))

    # ------------------------------------------------------------ products and orders

    def machine_plan(self, machine: MachineConfig) -> MachinePlan:
        """The rules resolved for one machine; build once per report or reload, then look up freely."""
        times = dict(machine.product_cycle_times)
        thresholds: dict[str, float] = {}
        # Product defaults first, machine-specific rows over them.
        for key in (None, machine.id):
            for rate in self._rates.get(key, ()):
                if rate.ideal_cycle_time_s is not None:
                    times[rate.product] = rate.ideal_cycle_time_s
                if rate.micro_stop_threshold_s is not None:
                    thresholds[rate.product] = rate.micro_stop_threshold_s
        effective = machine if times == machine.product_cycle_times else replace(machine, product_cycle_times=times)
        stops = tuple(self.planned_stop_spans(machine, float("-inf"), float("inf")))
        return MachinePlan(effective, tuple(self._segments(machine)), MappingProxyType(thresholds), stops)

    def _segments(self, machine: MachineConfig) -> list[Segment]:
        own = _disjoint(self._orders_by_machine.get(machine.id, ()))
        line = _disjoint(self._orders_by_line.get(machine.line, ()))
        if not line:
            return own
        if not own:
            return line
        # An order on the machine beats an order on its line: line orders fill only the gaps.
        out = list(own)
        j = 0
        for segment in line:
            cursor = segment.start
            while j < len(own) and own[j].end <= cursor:
                j += 1
            k = j
            while k < len(own) and own[k].start < segment.end:
                if own[k].start > cursor:
                    out.append(segment._replace(start=cursor, end=own[k].start))
                cursor = max(cursor, own[k].end)
                k += 1
            if cursor < segment.end:
                out.append(segment._replace(start=cursor))
        out.sort(key=lambda s: s.start)
        return out

    def cycle_time(self, machine: MachineConfig, product: str | None) -> float:
        return self.machine_plan(machine).cycle_time(product)

    def micro_stop_threshold(self, machine: MachineConfig, product: str | None) -> float:
        return self.machine_plan(machine).micro_stop_threshold(product)

    def product_at(self, machine: MachineConfig, ts: float, tag_product: str | None = None) -> str | None:
        """One-off lookup; for many instants build `machine_plan` once."""
        return self.machine_plan(machine).product_at(ts, tag_product)

    def order_at(self, machine: MachineConfig, ts: float) -> str | None:
        return self.machine_plan(machine).order_at(ts)

    # ------------------------------------------------------------ planned stops

    def planned_stop_spans(self, machine: MachineConfig, start: float, end: float) -> list[Span]:
        """Planned stops of the machine and of its line inside [start, end), clipped, merged, sorted."""
        pairs = sorted(
            (max(stop.start_utc, start), min(stop.end_utc, end))
            for stop in (*self._stops.get(("machine", machine.id), ()), *self._stops.get(("line", machine.line), ()))
            if stop.start_utc < end and stop.end_utc > start
        )
        out: list[Span] = []
        for a, b in pairs:
            if out and a <= out[-1].end:
                if b > out[-1].end:
                    out[-1] = Span(out[-1].start, b)
            elif b > a:
                out.append(Span(a, b))
        return out

    # ------------------------------------------------------------ reasons and shifts

    def reason_tree(self, config: Config) -> dict[str, Reason]:
        """Config reasons, then imported ones: a same code replaces the config's, in its place."""
        out = {reason.code: reason for reason in config.reasons}
        for reason in self.reasons:
            out[reason.code] = reason
        return out

    def shift_patterns(self, config: Config) -> tuple[ShiftConfig, ...]:
        """The plant's shifts: the imported shift patterns once there are any, else the config's `[[shifts]]`.

        Never a mix. A shifts import is the planner's whole week (it replaces every stored pattern),
        and two sets that are each free of overlaps can still overlap each other: an imported Früh
        beside the config's Early, both 06:00-14:00, would count every part of the morning twice.
        """
        return self.shifts or config.shifts

    def calendar(self, config: Config) -> ShiftCalendar:
        """The one shift calendar of the live engine, reports, the review and exports."""
        return ShiftCalendar(self.shift_patterns(config), config.site.timezone)

    def with_shifts(self, config: Config) -> Config:
        """The config with the plant's shifts (`shift_patterns`) as its own: for code that reads the calendar
        from a config, such as the review's periods. Cheap, unlike `effective_config`."""
        shifts = self.shift_patterns(config)
        return config if shifts is config.shifts else replace(config, shifts=shifts)

    def effective_config(self, config: Config) -> Config:
        """The config with imported reasons and cycle times merged in, and the plant's one shift calendar
        (`shift_patterns`: the imported patterns, once there are any) as its shifts.

        For computing, never for writing back: the config file must not collect imported data.
        """
        if not (self.products or self.reasons or self.shifts):
            return config
        return replace(
            config,
            reasons=tuple(self.reason_tree(config).values()),
            shifts=self.shift_patterns(config),
            machines=tuple(self.machine_plan(machine).machine for machine in config.machines),
        )



# ---------------------------------------------------------------- helpers

def _order_key(order: Order) -> tuple[float, float, str]:
    return order.start_utc, order.end_utc, order.order_id


def _disjoint(orders: Sequence[Order]) -> list[Segment]:
    """Orders (sorted by start) as disjoint segments; an overlap ends the earlier one where the later starts."""
    if all(a.end_utc <= b.start_utc for a, b in pairwise(orders)):  # the usual case: imports refuse overlaps
        return [Segment(o.start_utc, o.end_utc, o.order_id, o.product, o.ideal_cycle_time_s) for o in orders]
    out: list[Segment] = []
    for order in orders:
        if out and out[-1].end > order.start_utc:
            previous = out.pop()
            if order.start_utc > previous.start:
                out.append(previous._replace(end=order.start_utc))
        out.append(Segment(order.start_utc, order.end_utc, order.order_id, order.product, order.ideal_cycle_time_s))
    return out


def _reasons(records: Sequence[ReasonRecord]) -> tuple[Reason, ...]:
    """Imported reasons, a child inheriting planned and loss from its parent when its own are empty."""
    raw = {record.code: record for record in records}
    done: dict[str, Reason] = {}

    def resolve(code: str, trail: tuple[str, ...]) -> Reason:
        if code in done:
            return done[code]
        record = raw[code]
        parent = record.parent
        inherited = resolve(parent, (*trail, code)) if parent in raw and parent not in trail else None
        planned = record.planned
        if planned is None:
            planned = inherited.planned if inherited is not None else False
        loss: Loss | None = None
        if not planned:
            loss = record.loss or (inherited.loss if inherited is not None else None) or Loss.BREAKDOWN
        reason = Reason(code=code, name=record.name, planned=planned, loss=loss, parent=parent)
        done[code] = reason
        return reason

    return tuple(resolve(code, ()) for code in raw)


def _shift_calendar(patterns: Sequence[ShiftPattern]) -> tuple[ShiftConfig, ...]:
    """Stored shift patterns as the config holds shifts, in order of their start time (the store keeps
    them by name); refused with PlanningError where two overlap."""
    overlaps = shift_overlaps(patterns)
    if overlaps:
        first = overlaps[0]
        raise PlanningError(f"shift_patterns table, shift {first.shift.name!r}: start {first.shift.start!r} "
                            f"{first.why()}; import a shifts file to replace the stored patterns")
    return tuple(shift_config(p) for p in sorted(patterns, key=lambda p: (p.start, p.name)))


def shift_config(pattern: ShiftPattern) -> ShiftConfig:
    """A shift pattern as the config holds one."""
    return ShiftConfig(name=pattern.name, start=pattern.start, end=pattern.end, days=pattern.days,
                       breaks=tuple(BreakConfig(start, end) for start, end in pattern.breaks))
