"""What the review loads in its thread workers: one period and scope's figures, or a comparison of periods.

Plain functions over the store and the config (no widgets), so a worker only calls one and
posts its answer back to the screen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from oee_tui.config import Config
from oee_tui.engine.analysis.report import Report
from oee_tui.engine.analysis.review import (
    CompareRow,
    Level,
    ParetoBar,
    Period,
    PeriodKind,
    Scope,
    StopList,
    TargetRow,
    compare_same_shift,
    compare_shifts_of_day,
    downtime_pareto,
    machine_stops,
    planned_config,
    review_report,
    target_vs_actual,
    unassigned_stops,
)
from oee_tui.store import Store


@dataclass(frozen=True, slots=True)
class Loaded:
    """One consistent answer for one (period, scope) request."""

    period: Period
    scope: Scope
    now: float
    config: Config  # with the imported reasons merged in, its shifts the plant's calendar (planned_config)
    report: Report
    pareto: tuple[ParetoBar, ...]
    targets: tuple[TargetRow, ...]
    unassigned: StopList
    stops: StopList | None


@dataclass(frozen=True, slots=True)
class Compared:
    title: str
    rows: list[CompareRow]
    current: str  # label of the period in view, to put the cursor on


def load_period(store: Store, config: Config, period: Period, scope: Scope, now: float,
                cancelled: Callable[[], bool]) -> Loaded | None:
    """Everything the review shows for `period` and `scope`; None if `cancelled()` says a newer request took over.

    File and database work: call it from a thread."""
    config, planning = planned_config(store, config)
    report = review_report(store, config, period, now, planning=planning)
    window = period.window(now)
    if cancelled():
        return None
    pareto = downtime_pareto(config, report, scope)
    unassigned = unassigned_stops(store, config, window, now, scope, planning=planning)
    stops = machine_stops(store, window, scope.id) if scope.level is Level.MACHINE else None
    return Loaded(period, scope, now, config, report, pareto, target_vs_actual(config, report, scope), unassigned,
                  stops)


def load_comparison(store: Store, config: Config, period: Period, scope: Scope, mode: int, now: float) -> Compared:
    """Mode 0: the shifts of the period's day. Mode n: the n-th shift from the one in view, over the last 7 days.

    Database work: call it from a thread."""
    config, planning = planned_config(store, config)
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
    return Compared(title, rows, period.label)
