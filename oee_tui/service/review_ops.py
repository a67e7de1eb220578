"""The shift review's reads (F3): one period and scope's figures, and the comparison of periods.

The same functions run in the TUI that owns the store and, for a TUI attached to an engine, in the
engine (`review_period`, `review_compare`), on cursors of their own: the review then shows the same
figures either way. What they return crosses the socket as records (`records.py`); the config does
not: the TUI names things with its own config and the imported reasons, products and shift patterns
that come back with the figures (`naming`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from oee_tui.config import Config
from oee_tui.engine.analysis.report import MachineAttribution, ReasonLoss, Report, ReportError, Share, StopEdge
from oee_tui.engine.analysis.review import (
    CompareRow,
    Level,
    ParetoBar,
    Period,
    PeriodKind,
    ReviewError,
    Scope,
    StopList,
    TargetRow,
    compare_same_shift,
    compare_shifts_of_day,
    downtime_pareto,
    machine_stops,
    review_report,
    target_vs_actual,
    unassigned_stops,
)
from oee_tui.engine.oee.planning_rules import Planning
from oee_tui.model import PlanningRecords
from oee_tui.model.access import Action
from oee_tui.service import records
from oee_tui.service.ops import Op, OpContext, OpError, number_arg, text_arg
from oee_tui.store import PlanningError, Store


@dataclass(frozen=True, slots=True)
class PeriodReads:
    """Everything the review shows for one period and scope, but the config it is named with."""

    naming: PlanningRecords  # the imported products, reasons and shift patterns (no orders, no planned stops)
    report: Report
    pareto: tuple[ParetoBar, ...]
    targets: tuple[TargetRow, ...]
    unassigned: StopList
    stops: StopList | None  # a machine's stops, when the scope is one machine

    def planned_config(self, config: Config) -> Config:
        """`config` as the figures were computed with it: imported reasons merged in, the plant's calendar."""
        return Planning.from_records(self.naming).effective_config(config)


@dataclass(frozen=True, slots=True)
class Compared:
    title: str
    rows: tuple[CompareRow, ...]
    current: str  # label of the period in view, to put the cursor on


# Here, not in records.py: the analysis modules take a third of a second to import, which every command that
# attaches would pay; a process that sends or asks for a review has imported this module.
records.register(Report, Share, MachineAttribution, ReasonLoss, StopEdge, Period, PeriodKind, Scope, Level, ParetoBar,
                 TargetRow, StopList, CompareRow, PeriodReads, Compared)


def read_period(store: Store, config: Config, period: Period, scope: Scope, now: float,
                cancelled: Callable[[], bool]) -> PeriodReads | None:
    """What the review shows for `period` and `scope`; None if `cancelled()` says a newer request took over.

    Database work: call it from a thread."""
    stored = store.planning_records()
    planning = Planning.from_records(stored)
    config = planning.effective_config(config)
    report = review_report(store, config, period, now, planning=planning)
    if cancelled():
        return None
    window = period.window(now)
    unassigned = unassigned_stops(store, config, window, now, scope, planning=planning)
    stops = machine_stops(store, window, scope.id) if scope.level is Level.MACHINE else None
    return PeriodReads(replace(stored, orders=(), planned_stops=()), report, downtime_pareto(config, report, scope),
                       target_vs_actual(config, report, scope), unassigned, stops)


def read_comparison(store: Store, config: Config, period: Period, scope: Scope, mode: int, now: float) -> Compared:
    """Mode 0: the shifts of the period's day. Mode n: the n-th shift from the one in view, over the last 7 days.

    Database work: call it from a thread."""
    planning = Planning.load(store)
    config = planning.effective_config(config)
    names = [s.name for s in config.shifts] or ["Day"]
    day = period.last_day if period.kind is not PeriodKind.RANGE and period.kind is not PeriodKind.WEEK \
        else min(period.last_day, datetime.fromtimestamp(now, config.tz).date())
    if mode == 0:
        rows = compare_shifts_of_day(store, config, day, now, scope, planning)
        title = f"The shifts of {day.isoformat()} ({day.strftime('%a')})"
    else:
        # The shift in view comes first, then the others in the order the config lists them.
        first = names.index(period.shift) if period.shift in names else 0
        shift = names[(first + mode - 1) % len(names)]
        rows = compare_same_shift(store, config, shift, day, now, scope, planning=planning)
        title = f"The {shift} shift over the 7 days to {day.isoformat()}"
    return Compared(title, tuple(rows), period.label)


# ---------------------------------------------------------------- the requests


def review_request(period: Period, scope: Scope, now: float) -> dict[str, Any]:
    """A period and scope as the plain values a request carries (a client sends no records)."""
    return {"kind": period.kind.value, "label": period.label, "start": period.start, "end": period.end,
            "first_day": period.first_day.isoformat(), "last_day": period.last_day.isoformat(),
            "shift": period.shift, "level": scope.level.value, "scope": scope.id, "now": now}


def _period_of(args: Mapping[str, Any]) -> tuple[Period, Scope, float]:
    try:
        kind = PeriodKind(text_arg(args, "kind", required=True) or "")
        days = [date.fromisoformat(text_arg(args, key, required=True) or "") for key in ("first_day", "last_day")]
        period = Period(kind, text_arg(args, "label", required=True) or "", number_arg(args, "start"),
                        number_arg(args, "end"), days[0], days[1], text_arg(args, "shift"))
        scope = Scope(Level(text_arg(args, "level", required=True) or ""), text_arg(args, "scope", required=True) or "")
    except ValueError as exc:  # an unknown kind or level, a date that is none
        raise OpError("bad_request", f"not a period to review: {exc}") from None
    now = number_arg(args, "now") if args.get("now") is not None else time.time()
    return period, scope, now


async def review_period(context: OpContext, args: Mapping[str, Any]) -> PeriodReads:
    period, scope, now = _period_of(args)
    store, config = context.store(), context.config
    try:
        reads = await context.in_thread(read_period, store, config, period, scope, now, lambda: False)
    except (ReviewError, ReportError, PlanningError) as exc:
        raise OpError("bad_request", str(exc)) from None
    assert reads is not None  # never cancelled here
    return reads


async def review_compare(context: OpContext, args: Mapping[str, Any]) -> Compared:
    period, scope, now = _period_of(args)
    mode = number_arg(args, "mode")
    if mode != int(mode) or mode < 0:
        raise OpError("bad_request", "mode must be 0 or a shift's position")
    store, config = context.store(), context.config
    try:
        return await context.in_thread(read_comparison, store, config, period, scope, int(mode), now)
    except (ReviewError, ReportError, PlanningError) as exc:
        raise OpError("bad_request", str(exc)) from None


OPS = (
    Op("review_period", Action.VIEW, "review shifts", review_period),
    Op("review_compare", Action.VIEW, "review shifts", review_compare),
)
