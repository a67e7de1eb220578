"""Planning data (products, orders, planned stops, reasons, shift patterns) and the rules that use it.

`Planning.load(store)` reads the imported tables into one immutable value, one query per
table, so it is cheap to reload after every import. The rules that turn it into context
live here too, so the report, the review screen and the running engine all attribute time
and counts the same way:

* product running at an instant: the machine's product tag, else the order on the machine,
  else an order on its line, else the config's `default_product` (else none);
* ideal cycle time of a product on a machine: the products table's row for that machine,
  else its row for every machine, else the config's `product_cycle_times`, else the
  machine's `ideal_cycle_time_s`; the micro-stop threshold likewise (the config has no
  per-product threshold, so it ends at the machine's);
* planned stops: each row is planned time for its machine, or for every machine of its line;
* reasons and shift patterns: imported ones extend the config's, and replace a config entry
  with the same code (reasons) or name (shifts).

Orders on one machine never overlap once imported (the import refuses it); should they
anyway, the later start wins from its start on, the rule ShiftCalendar uses for shifts.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from types import MappingProxyType
from typing import Any, Final, NamedTuple

from oee_tui.config import WEEKDAYS, BreakConfig, Config, MachineConfig, Reason, ShiftConfig
from oee_tui.engine.oee.shifts import ShiftCalendar
from oee_tui.model import Loss, Span
from oee_tui.store import Store

_HHMM: Final = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_DAY_SPLIT: Final = re.compile(r"[\s,;]+")
_BREAK_SPLIT: Final = re.compile(r"\s*[;,]\s*")


class PlanningError(ValueError):
    """A stored planning row that cannot be used; names the table, the row and the column."""


# The rows are NamedTuples, not dataclasses: a year of schedule is hundreds of thousands of
# orders, and a tuple is built several times faster than a frozen dataclass.


class ProductRate(NamedTuple):
    """One row of the products table. `machine` '' is the product's default on every machine."""

    product: str
    machine: str
    ideal_cycle_time_s: float | None
    micro_stop_threshold_s: float | None


class Order(NamedTuple):
    """A production order on one machine, or (machine None) on every machine of `line`."""

    order_id: str
    product: str | None
    machine: str | None
    line: str | None
    start: float
    end: float
    quantity: int | None


class PlannedStop(NamedTuple):
    """Planned maintenance or a no-order period, for one machine or (machine None) a whole line."""

    machine: str | None
    line: str | None
    start: float
    end: float
    reason: str | None
    note: str | None


class Segment(NamedTuple):
    """A stretch of one machine's time with one order (None between orders) and its product."""

    start: float
    end: float
    order_id: str | None
    product: str | None


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

    def __post_init__(self) -> None:
        object.__setattr__(self, "_starts", tuple(s.start for s in self.segments))
        object.__setattr__(self, "_stop_ends", tuple(s.end for s in self.planned_stops))

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
        return self.machine.cycle_time_for(product)

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
                out.append(Segment(lo, hi, segment.order_id, product))
            cursor = hi
        if cursor < end:
            out.append(Segment(cursor, end, None, default))
        return out


@dataclass(frozen=True, slots=True)
class Planning:
    """Everything imported that gives OEE its context. Immutable; build with `load` or `empty`."""

    products: tuple[ProductRate, ...] = ()
    orders: tuple[Order, ...] = ()
    planned_stops: tuple[PlannedStop, ...] = ()
    reasons: tuple[Reason, ...] = ()
    shifts: tuple[ShiftConfig, ...] = ()
    _orders_by_machine: Mapping[str, tuple[Order, ...]] = field(default_factory=_empty_map, repr=False,
                                                                compare=False)
    _orders_by_line: Mapping[str, tuple[Order, ...]] = field(default_factory=_empty_map, repr=False, compare=False)
    _rates: Mapping[str, tuple[ProductRate, ...]] = field(default_factory=_empty_map, repr=False, compare=False)
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
        rates: dict[str, list[ProductRate]] = {}
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

    # ------------------------------------------------------------ loading

    @classmethod
    def empty(cls) -> Planning:
        return cls()

    @classmethod
    def load(cls, store: Store, window: Span | None = None) -> Planning:
        """Read the planning tables, one query per table. Safe from any thread (own cursor).

        With `window`, only the orders and planned stops that overlap it are read: a report
        over one shift need not read a year of schedule.
        """
        overlap, params = "", []
        if window is not None:
            overlap = " AND start_ts < make_timestamp(?) AND end_ts > make_timestamp(?)"
            params = [round(window.end * 1e6), round(window.start * 1e6)]
        cursor = store.cursor()
        try:
            products = cursor.execute(
                "SELECT product, coalesce(machine, ''), ideal_cycle_time_s, micro_stop_threshold_s "
                "FROM products ORDER BY product, machine").fetchall()
            # Rows come out in Order's shape and types, so each becomes an Order without Python per field.
            orders = cursor.execute(
                "SELECT order_id::VARCHAR, product, nullif(machine, ''), nullif(line, ''), epoch_us(start_ts) / 1e6, "
                f"epoch_us(end_ts) / 1e6, quantity FROM orders WHERE end_ts > start_ts{overlap} "
                "ORDER BY start_ts, order_id", params).fetchall()
            stops = cursor.execute(
                "SELECT machine, line, epoch_us(start_ts) / 1e6, epoch_us(end_ts) / 1e6, reason, note "
                f"FROM planned_stops WHERE end_ts > start_ts{overlap} ORDER BY start_ts", params).fetchall()
            reasons = cursor.execute("SELECT code, name, parent, planned, loss FROM reasons ORDER BY code").fetchall()
            shifts = cursor.execute('SELECT name, start, "end", days, breaks FROM shift_patterns ORDER BY name'
                                    ).fetchall()
        finally:
            cursor.close()
        return cls(
            products=tuple(ProductRate(p, m or "", _opt_float(ct), _opt_float(th)) for p, m, ct, th in products),
            orders=tuple(map(Order._make, orders)),
            planned_stops=tuple(PlannedStop(m or None, ln or None, s, e, r, n) for m, ln, s, e, r, n in stops),
            reasons=_reasons(reasons),
            shifts=tuple(_shift(row) for row in shifts),
        )

    # ------------------------------------------------------------ products and orders

    def machine_plan(self, machine: MachineConfig) -> MachinePlan:
        """The rules resolved for one machine; build once per report or reload, then look up freely."""
        times = dict(machine.product_cycle_times)
        thresholds: dict[str, float] = {}
        # Product defaults first, machine-specific rows over them.
        for key in ("", machine.id):
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
            (max(stop.start, start), min(stop.end, end))
            for stop in (*self._stops.get(("machine", machine.id), ()), *self._stops.get(("line", machine.line), ()))
            if stop.start < end and stop.end > start
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
        """Config shifts, then imported ones: a same name replaces the config's, in its place."""
        out = {shift.name: shift for shift in config.shifts}
        for shift in self.shifts:
            out[shift.name] = shift
        return tuple(out.values())

    def calendar(self, config: Config) -> ShiftCalendar:
        return ShiftCalendar(self.shift_patterns(config), config.site.timezone)

    def effective_config(self, config: Config) -> Config:
        """The config with imported reasons, shift patterns and cycle times merged in.

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

def _opt_float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _order_key(order: Order) -> tuple[float, float, str]:
    return order.start, order.end, order.order_id


def _disjoint(orders: Sequence[Order]) -> list[Segment]:
    """Orders (sorted by start) as disjoint segments; an overlap ends the earlier one where the later starts."""
    if all(a.end <= b.start for a, b in pairwise(orders)):  # the usual case: imports refuse overlaps
        return [Segment(o.start, o.end, o.order_id, o.product) for o in orders]
    out: list[Segment] = []
    for order in orders:
        if out and out[-1].end > order.start:
            previous = out.pop()
            if order.start > previous.start:
                out.append(previous._replace(end=order.start))
        out.append(Segment(order.start, order.end, order.order_id, order.product))
    return out


def _reasons(rows: Iterable[tuple[Any, ...]]) -> tuple[Reason, ...]:
    """Imported reasons, a child inheriting planned and loss from its parent when its own are empty."""
    raw = {str(code): (name, parent, planned, loss) for code, name, parent, planned, loss in rows}
    done: dict[str, Reason] = {}

    def resolve(code: str, trail: tuple[str, ...]) -> Reason:
        if code in done:
            return done[code]
        name, parent, planned, loss = raw[code]
        inherited = resolve(parent, (*trail, code)) if parent in raw and parent not in trail else None
        if planned is None:
            planned = inherited.planned if inherited is not None else False
        loss_value: Loss | None = None
        if not planned:
            text = loss if loss else (inherited.loss.value if inherited is not None and inherited.loss else None)
            try:
                loss_value = Loss(str(text).strip().lower()) if text else Loss.BREAKDOWN
            except ValueError:
                raise PlanningError(
                    f"reasons table, code {code!r}: loss {text!r} is not one of "
                    f"{', '.join(loss.value for loss in Loss)}") from None
        reason = Reason(code=code, name=name or code, planned=bool(planned), loss=loss_value, parent=parent or None)
        done[code] = reason
        return reason

    return tuple(resolve(code, ()) for code in raw)


def _shift(row: tuple[Any, ...]) -> ShiftConfig:
    name, start, end, days, breaks = row
    where = f"shift_patterns table, shift {name!r}"
    return ShiftConfig(name=str(name), start=_hhmm(start, where, "start"), end=_hhmm(end, where, "end"),
                       days=_days(days, where), breaks=_breaks(breaks, where))


def _hhmm(value: object, where: str, column: str) -> str:
    text = str(value or "").strip()
    match = _HHMM.match(text)
    if match is None:
        raise PlanningError(f"{where}: {column} {value!r} is not a local time HH:MM")
    return f"{int(match[1]):02d}:{match[2]}"


def _days(value: object, where: str) -> tuple[str, ...]:
    """Weekdays as stored: a JSON list, or text such as "mon,tue", "mon-fri"; empty means every day."""
    if value is None or not str(value).strip():
        return WEEKDAYS
    text = str(value).strip()
    items: list[str]
    if text.startswith("["):
        try:
            items = [str(item) for item in json.loads(text)]
        except (json.JSONDecodeError, TypeError):
            raise PlanningError(f"{where}: days {value!r} is not a JSON list of weekdays") from None
    else:
        items = [item for item in _DAY_SPLIT.split(text) if item]
    days: set[int] = set()
    for item in items:
        lo, _, hi = item.strip().lower().partition("-")
        try:
            first = WEEKDAYS.index(lo[:3])
            last = WEEKDAYS.index(hi[:3]) if hi else first
        except ValueError:
            raise PlanningError(f"{where}: days {value!r}: {item!r} is not a weekday "
                                f"({', '.join(WEEKDAYS)})") from None
        index = first
        while True:
            days.add(index)
            if index == last:
                break
            index = (index + 1) % 7
    return tuple(day for i, day in enumerate(WEEKDAYS) if i in days)


def _breaks(value: object, where: str) -> tuple[BreakConfig, ...]:
    """Breaks as stored: a JSON list of [start, end] (or {"start", "end"}), or text "09:30-09:45; 12:00-12:30"."""
    if value is None or not str(value).strip():
        return ()
    text = str(value).strip()
    pairs: list[tuple[object, object]] = []
    if text.startswith("["):
        try:
            for item in json.loads(text):
                if isinstance(item, dict):
                    pairs.append((item.get("start"), item.get("end")))
                else:
                    start, end = item
                    pairs.append((start, end))
        except (json.JSONDecodeError, TypeError, ValueError):
            raise PlanningError(f"{where}: breaks {value!r} is not a JSON list of [start, end] pairs") from None
    else:
        for item in _BREAK_SPLIT.split(text):
            start, sep, end = item.partition("-")
            if not sep:
                raise PlanningError(f"{where}: breaks {value!r}: {item!r} is not HH:MM-HH:MM")
            pairs.append((start, end))
    return tuple(BreakConfig(_hhmm(a, where, "breaks"), _hhmm(b, where, "breaks")) for a, b in pairs)


# ---------------------------------------------------------------- attributed facts

_HOUR_US: Final = 3_600_000_000


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


def _pieces(config: Config, planning: Planning, window: Span) -> tuple[str, list[Any]]:
    """Per machine, the window cut where the shift or the order changes, as a CTE named
    `pieces` (machine, line, s, e [epoch µs], shift, shift_date, order_id, product) and its
    parameters. Python lists the shifts and each machine's order timeline (both short);
    DuckDB crosses them and expands the pieces into the hours they touch (`ph`)."""
    shifts = shift_partition(planning.calendar(config), window.start, window.end)
    columns: dict[str, list[Any]] = {name: [] for name in ("machine", "line", "s", "e", "order_id", "product")}
    for machine in config.machines:
        for segment in planning.machine_plan(machine).timeline(window.start, window.end):
            columns["machine"].append(machine.id)
            columns["line"].append(machine.line)
            columns["s"].append(round(segment.start * 1e6))
            columns["e"].append(round(segment.end * 1e6))
            columns["order_id"].append(segment.order_id)
            columns["product"].append(segment.product)
    cte = f"""
        shifts AS (
            SELECT unnest(?::BIGINT[]) AS s, unnest(?::BIGINT[]) AS e, unnest(?::VARCHAR[]) AS shift,
                   unnest(?::VARCHAR[]) AS shift_date
        ), segs AS (
            SELECT unnest(?::VARCHAR[]) AS machine, unnest(?::VARCHAR[]) AS line,
                   unnest(string_split(?, ',')::BIGINT[]) AS s, unnest(string_split(?, ',')::BIGINT[]) AS e,
                   unnest(?::VARCHAR[]) AS order_id, unnest(?::VARCHAR[]) AS product
        ), pieces AS (
            SELECT g.machine, g.line, greatest(g.s, f.s) AS s, least(g.e, f.e) AS e, f.shift, f.shift_date,
                   g.order_id, g.product
            FROM segs g JOIN shifts f ON g.s < f.e AND g.e > f.s
        ), ph AS (
            SELECT *, unnest(range(s // {_HOUR_US}, (e - 1) // {_HOUR_US} + 1)) AS h FROM pieces
        )"""
    params: list[Any] = [[round(a * 1e6) for a, _, _, _ in shifts], [round(b * 1e6) for _, b, _, _ in shifts],
                         [name for _, _, name, _ in shifts], [day for _, _, _, day in shifts],
                         # Long lists of ints bind slowly; one string each is split again in SQL.
                         columns["machine"], columns["line"], ",".join(map(str, columns["s"])),
                         ",".join(map(str, columns["e"])), columns["order_id"], columns["product"]]
    return cte, params


def attributed_intervals_query(config: Config, planning: Planning, window: Span, now: float | None = None,
                               ordered: bool = False) -> tuple[str, list[Any]]:
    """The SQL (and its parameters) behind attributed_intervals, for a caller that streams it
    (`COPY (...) TO ...`) instead of loading it."""
    pieces, params = _pieces(config, planning, window)
    lo, hi = round(window.start * 1e6), round(window.end * 1e6)
    open_end = round((window.end if now is None else now) * 1e6)
    sql = f"""
        WITH {pieces}, newest AS (
            SELECT machine, stop_start, reason FROM stop_reasons
            QUALIFY row_number() OVER (PARTITION BY machine, stop_start ORDER BY entered_at DESC, rowid DESC) = 1
        ), iv AS (
            SELECT i.machine, greatest(epoch_us(i.start_ts), {lo}) AS s,
                   least(coalesce(epoch_us(i.end_ts), {open_end}), {hi}) AS e, i.state, r.reason
            FROM state_intervals i
            LEFT JOIN newest r ON r.machine = i.machine AND r.stop_start = i.start_ts
            WHERE i.start_ts < make_timestamp({hi}) AND (i.end_ts IS NULL OR i.end_ts > make_timestamp({lo}))
        ), ivh AS (
            SELECT *, unnest(range(s // {_HOUR_US}, (e - 1) // {_HOUR_US} + 1)) AS h FROM iv WHERE e > s
        )
        SELECT v.machine, p.line, make_timestamp(greatest(v.s, p.s)) AS start,
               make_timestamp(least(v.e, p.e)) AS "end", v.state, v.reason, p.shift, p.shift_date,
               p.order_id, p.product
        FROM ivh v JOIN ph p
          ON p.machine = v.machine AND p.h = v.h AND v.s < p.e AND v.e > p.s
         AND greatest(v.s, p.s) // {_HOUR_US} = v.h
        {"ORDER BY v.machine, start" if ordered else ""}
    """
    return sql, params


def attributed_intervals(store: Store, config: Config, planning: Planning, window: Span,
                         now: float | None = None, ordered: bool = False) -> Any:
    """Every state interval in the window, cut at shift and order changes, with its context.

    An Arrow table, one row per piece: machine, line, start and end (TIMESTAMP, UTC, clipped
    to the window), state, reason (newest given), shift, shift_date (the local date the shift
    started on), order_id, product (scheduled). An open interval ends at `now` (default: the
    window's end). Joined in DuckDB on (machine, hour), then on the exact overlap, which the
    hour the overlap starts in reports once. Rows come in no particular order unless
    `ordered` (by machine, then start), which costs a sort of every row.
    """
    sql, params = attributed_intervals_query(config, planning, window, now, ordered)
    cursor = store.cursor()
    try:
        return cursor.sql(sql, params=params).to_arrow_table()
    finally:
        cursor.close()


def attributed_counts_query(config: Config, planning: Planning, window: Span,
                            ordered: bool = False) -> tuple[str, list[Any]]:
    """The SQL (and its parameters) behind attributed_counts, for streaming it."""
    pieces, params = _pieces(config, planning, window)
    lo, hi = round(window.start * 1e6), round(window.end * 1e6)
    sql = f"""
        WITH {pieces}, c AS (
            SELECT machine, minute, epoch_us(minute) AS us, product, total, reject FROM count_minutes
            WHERE minute >= make_timestamp({lo}) AND minute < make_timestamp({hi})
        )
        SELECT c.machine, p.line, c.minute, p.shift, p.shift_date, p.order_id,
               coalesce(c.product, p.product) AS product, c.total, c.reject
        FROM c JOIN ph p ON p.machine = c.machine AND p.h = c.us // {_HOUR_US} AND c.us >= p.s AND c.us < p.e
        {"ORDER BY c.machine, c.minute" if ordered else ""}
    """
    return sql, params


def attributed_counts(store: Store, config: Config, planning: Planning, window: Span,
                      ordered: bool = False) -> Any:
    """Every count bucket in the window with its context: an Arrow table of machine, line, minute
    (TIMESTAMP, UTC), shift, shift_date, order_id, product (the bucket's own, else the one
    scheduled), total, reject. In no particular order unless `ordered` (by machine, then minute)."""
    sql, params = attributed_counts_query(config, planning, window, ordered)
    cursor = store.cursor()
    try:
        return cursor.sql(sql, params=params).to_arrow_table()
    finally:
        cursor.close()
