"""Reports over weeks and months as sums of saved day summaries: the review of a quarter reads days.

One report over 90 days of 100 machines reads ~2M state intervals and ~13M count minutes. Here
each machine's report over each closed plant-local day is computed once, by the one calculator
(build_report over that day), saved in the store (table day_summaries) and summed afterwards.
The sum is the report over the whole period: times, counts and losses add up; ratios and flags
are worked out again from the sums (oee._build, as aggregate does); a stop that crosses midnight is counted once,
because each day keeps the stops its start and end cut (StopEdge) and a stop met on several
days of the period is taken off all but one of them; and each day's report looks back a startup
period for breakdowns that ended the day before.

A day is saved once it ended SETTLE_S ago, so the engine's last writes for it are in. The store
keeps saved days true to their data (oee_tui.store.summary_ledger): a write for a machine deletes that
machine's days from its time on, an import deletes them all, and a config change (fingerprint)
makes them unused. Today, a day not yet settled, or a period that does not start at midnight,
is computed as before. With many days unsaved (after an import, on a store the engine has not
caught up with), the answer is the report over the whole period and the days are saved on a
thread of their own; the engine also saves the last SUMMARY_DAYS days in the background.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, timedelta
from typing import Any, Final

from oee_tui.config import Config, MachineConfig
from oee_tui.engine.analysis.report import ReasonLoss, Report, StopEdge, build_report
from oee_tui.engine.oee.calculator import _build, lines_and_plant
from oee_tui.engine.oee.planning_rules import Planning
from oee_tui.model import OeeResult, Order, SixBigLosses, Span
from oee_tui.store import DaySums, Edge, SavedDay, Store

SETTLE_S: Final = 600.0
SUMMARY_DAYS: Final = 92  # how far back the engine keeps days saved: a quarter
# With more days than this to compute first, the review answers with the report over the whole
# period (1.5 s for a quarter of 100 machines, where computing the days takes 8 s) and the days
# are saved in the background, for the next look.
COMPUTE_AT_ONCE: Final = 7
# Part of every fingerprint: a new version of the calculator or of this format makes old days unused.
FORMAT_VERSION: Final = 1
# A day's figures in the store, in this order: every time, count and loss a report sums.
_TIMES: Final = ("calendar_time_s", "scheduled_time_s", "planned_stop_s", "no_data_s", "planned_production_time_s",
                 "run_time_s", "unplanned_downtime_s", "ideal_output_time_s", "fully_productive_time_s")
_COUNTS: Final = ("total_count", "good_count", "reject_count")
_LOSSES: Final = tuple(field.name for field in fields(SixBigLosses))
FIGURES: Final = (*_TIMES, *_COUNTS, *_LOSSES)
_EVENTS: Final = {"breakdown": "breakdown_events", "setup": "setup_events", "minor_stop": "minor_stop_events"}
log = logging.getLogger(__name__)
_saving: dict[int, threading.Thread] = {}  # id(store) -> the thread saving its days
_saving_lock = threading.Lock()


@dataclass(slots=True)
class _Machine:
    """One machine's figures summed over days, before the ratios are worked out."""

    figures: list[float]
    losses: dict[str | None, tuple[float, int]]
    edges: list[tuple[float, Edge | None, Edge | None]]  # (day start, head, tail) of stops that cost time

    def add(self, day: SavedDay) -> None:
        """Add a day the store does not hold (computed here) to what it summed."""
        self.figures = [a + b for a, b in zip(self.figures, day.figures, strict=True)]
        for reason, seconds, stops in day.losses:
            old_seconds, old_stops = self.losses.get(reason, (0.0, 0))
            self.losses[reason] = (old_seconds + seconds, old_stops + stops)
        self.edges.extend(_touched(day))


def fingerprints(config: Config, planning: Planning) -> dict[str, str]:
    """What each machine's day figures depend on besides the store's data: its own settings, the shifts
    of the calendar the figures use (`planning`'s), the reason tree, the time zone, and the cycle times its
    orders carry (machine -> hash): a saved day is not used once an order's cycle time changed."""
    common = repr((FORMAT_VERSION, config.site.timezone, planning.shift_patterns(config), config.reasons))
    # Not machine_plan(...).order_cycles: resolving a year of schedule for every machine costs a third of a
    # second, and orders with cycle times of their own are few (usually none).
    cycled = [order for order in planning.orders if order.ideal_cycle_time_s is not None]

    def cycles(machine: MachineConfig) -> list[Order]:
        return [o for o in cycled if o.machine == machine.id or (not o.machine and o.line == machine.line)]

    return {machine.id: hashlib.sha256(f"{common}|{machine!r}|{cycles(machine)!r}".encode()).hexdigest()[:32]
            for machine in config.machines}


def plant_days(config: Config, window: Span) -> list[Span] | None:
    """The plant-local days the window covers (the last one cut at the window's end), if it starts at a
    local midnight; None otherwise."""
    first = datetime.fromtimestamp(window.start, config.tz).date()
    if _midnight(first, config) != window.start:
        return None
    days: list[Span] = []
    day = first
    while (start := _midnight(day, config)) < window.end:
        days.append(Span(start, min(_midnight(day + timedelta(days=1), config), window.end)))
        day += timedelta(days=1)
    return days


def _midnight(day: date, config: Config) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=config.tz).timestamp()


def _edge(edge: StopEdge | None) -> Edge | None:
    return None if edge is None else (edge.start, edge.loss, edge.reason, edge.touched)


def saved_days_of(report: Report, day: Span, keys: dict[str, str]) -> list[SavedDay]:
    """Each machine's summary of a report over one day, as the store keeps it."""
    out = []
    for result, losses, (head, tail) in zip(report.machines, report.stop_losses, report.edges, strict=True):
        figures = (*(getattr(result, name) for name in (*_TIMES, *_COUNTS)),
                   *(getattr(result.losses, name) for name in _LOSSES))
        out.append(SavedDay(result.scope, day.start, day.end, keys[result.scope], tuple(float(f) for f in figures),
                            tuple((loss.reason, loss.seconds, loss.stops) for loss in losses),
                            _edge(head), _edge(tail)))
    return out


def summed_report(store: Store, config: Config, window: Span, now: float, label: str,
                  planning: Planning | None = None, *, compute_at_once: int = COMPUTE_AT_ONCE) -> Report:
    """build_report over `window`, from saved day summaries where the days allow, saving the ones missing.

    With more than `compute_at_once` days to compute first, the answer is the report over the whole
    period, and the days are computed and saved on a thread of their own (wait_for_saving).
    """
    days = plant_days(config, window)
    settled = [day for day in days or () if day.end <= now - SETTLE_S and _is_whole_day(day, config)]
    if days is None or len(settled) < 2:
        return build_report(store, config, window, now, label, planning=planning)
    if planning is None:
        planning = Planning.load(store)
    keys = fingerprints(config, planning)
    span = Span(settled[0].start, settled[-1].end)
    token = store.begin_summary_read()
    try:
        present = store.saved_days(keys, span.start, span.end)
        unsaved = [day for day in settled if any((m.id, day.start) not in present for m in config.machines)]
        if len(unsaved) > compute_at_once:
            whole = build_report(store, config, window, now, label, planning=planning)
            _save_in_background(store, config, unsaved, now, planning, keys)  # after: not competing with it
            return whole
        computed, saved = _save_missing(store, config, settled, now, planning, keys, token, present)
        sums = store.day_sums(keys, span.start, span.end)
    finally:
        store.end_summary_read(token)
    machines = {machine.id: _Machine(sums.figures.get(machine.id, [0.0] * len(FIGURES)),
                                     dict(sums.losses.get(machine.id, {})), list(sums.edges.get(machine.id, [])))
                for machine in config.machines}
    # Days computed here that the store refused (a write came in meanwhile) are added as computed,
    # which is what the store held when they were read.
    for day in computed:
        if (day.machine, day.day_start) not in saved:
            machines[day.machine].add(day)
    counted = _days_counted(sums, computed, saved)
    if any(counted.get(machine, 0) != len(settled) for machine in machines):
        # A write deleted saved days between saving and summing: the report over the whole period.
        return build_report(store, config, window, now, label, planning=planning)
    rest = days[len(settled):]
    if rest:  # today, and days not settled yet: one report as the store has it now
        report = build_report(store, config, Span(rest[0].start, window.end), now, label, planning=planning)
        for day in saved_days_of(report, Span(rest[0].start, window.end), keys):
            machines[day.machine].add(day)
    return _report(config, window, label, machines)


def _save_in_background(store: Store, config: Config, days: Sequence[Span], now: float, planning: Planning,
                        keys: dict[str, str]) -> None:
    """Compute and save `days` on a thread of their own; one such thread per store at a time."""
    with _saving_lock:
        running = _saving.get(id(store))
        if running is not None and running.is_alive():
            return

        def save() -> None:
            try:
                token = store.begin_summary_read()
                try:
                    _save_missing(store, config, days, now, planning, keys, token)
                finally:
                    store.end_summary_read(token)
            except Exception:  # a store closed meanwhile, say: the next look computes what is missing
                log.debug("saving day summaries in the background stopped", exc_info=True)
            finally:
                with _saving_lock:
                    if _saving.get(id(store)) is threading.current_thread():
                        del _saving[id(store)]

        thread = _saving[id(store)] = threading.Thread(target=save, name="oee-day-summaries", daemon=True)
        thread.start()


def wait_for_saving(store: Store, timeout: float | None = None) -> None:
    """Wait until the days being saved in the background for `store` (if any) are saved."""
    with _saving_lock:
        running = _saving.get(id(store))
    if running is not None:
        running.join(timeout)


def _save_missing(store: Store, config: Config, days: Sequence[Span], now: float, planning: Planning,
                  keys: dict[str, str], token: int,
                  present: set[tuple[str, float]] | None = None) -> tuple[list[SavedDay], set[tuple[str, float]]]:
    """Compute the days (settled, whole) some machine has no saved summary of, and save them: what was
    computed, and which of it the store took. `present`: the saved days, if the caller has read them."""
    if present is None:
        present = store.saved_days(keys, days[0].start, days[-1].end) if days else set()
    computed: list[SavedDay] = []
    for day in days:
        if store.closed:  # the app is stopping: what is not saved is computed the next time
            break
        missing = tuple(machine for machine in config.machines if (machine.id, day.start) not in present)
        if missing:
            report = build_report(store, replace(config, machines=missing), day, now, "day", planning=planning)
            computed.extend(saved_days_of(report, day, keys))
    saved = {(day.machine, day.day_start) for day in store.save_day_summaries(token, computed)} if computed else set()
    return computed, saved


def settled_days(config: Config, now: float, count: int) -> list[Span]:
    """The last `count` whole plant-local days that ended SETTLE_S before now, oldest first."""
    today = datetime.fromtimestamp(now - SETTLE_S, config.tz).date()
    days = [Span(_midnight(day, config), _midnight(day + timedelta(days=1), config))
            for day in (today - timedelta(days=back) for back in range(count, 0, -1))]
    return [day for day in days if day.end <= now - SETTLE_S]


def save_days(store: Store, config: Config, days: Sequence[Span], now: float,
              planning: Planning | None = None) -> int:
    """Save the summaries of `days` (settled, whole) that are missing; returns how many were saved.

    The engine calls it in the background for recent days, so that the review finds them saved.
    `config` is the plant's config; the imported planning data is merged in, as the review does.
    """
    if planning is None:
        planning = Planning.load(store)
    config = planning.effective_config(config)
    token = store.begin_summary_read()
    try:
        _, saved = _save_missing(store, config, days, now, planning, fingerprints(config, planning), token)
    finally:
        store.end_summary_read(token)
    return len(saved)


def _touched(day: SavedDay) -> list[tuple[float, Edge | None, Edge | None]]:
    head = day.head if day.head is not None and day.head[3] else None
    tail = day.tail if day.tail is not None and day.tail[3] else None
    return [(day.day_start, head, tail)] if head or tail else []


def _days_counted(sums: DaySums, computed: Sequence[SavedDay], saved: set[tuple[str, float]]) -> dict[str, int]:
    counted = dict(sums.days)
    for day in computed:
        if (day.machine, day.day_start) not in saved:
            counted[day.machine] = counted.get(day.machine, 0) + 1
    return counted


def _is_whole_day(day: Span, config: Config) -> bool:
    local = datetime.fromtimestamp(day.start, config.tz).date()
    return day.end == _midnight(local + timedelta(days=1), config)


def _report(config: Config, window: Span, label: str, machines: dict[str, _Machine]) -> Report:
    results: list[OeeResult] = []
    stop_losses: list[tuple[ReasonLoss, ...]] = []
    for machine in config.machines:
        result, losses = _finish(machine.id, window, machines[machine.id])
        results.append(result)
        stop_losses.append(losses)
    lines, plant = lines_and_plant([line.id for line in config.lines], [m.line for m in config.machines], results)
    edges = tuple((None, None) for _ in results)  # the period's own edges are not summed; nothing needs them
    return Report(label, window, config.site.timezone, tuple(results), lines, plant, (), tuple(stop_losses), edges)


def _finish(machine: str, window: Span, summed: _Machine) -> tuple[OeeResult, tuple[ReasonLoss, ...]]:
    values = dict(zip(FIGURES, summed.figures, strict=True))
    # A stop that cost time on k days of the period was counted on each: take k - 1 off.
    days_touched: dict[float, tuple[int, Edge]] = {}
    for _, head, tail in summed.edges:
        for edge in {e[0]: e for e in (head, tail) if e is not None}.values():
            count, _ = days_touched.get(edge[0], (0, edge))
            days_touched[edge[0]] = (count + 1, edge)
    losses = dict(summed.losses)
    for count, (_, loss, reason, _) in days_touched.values():
        if count > 1:
            values[_EVENTS[loss]] -= count - 1
            seconds, stops = losses[reason]
            losses[reason] = (seconds, stops - (count - 1))
    # Any: the losses mix seconds (float) and counts (int), taken by name so that a new one is summed too.
    six_values: dict[str, Any] = {name: (round(values[name]) if isinstance(getattr(SixBigLosses(), name), int)
                                         else values[name]) for name in _LOSSES}
    calendar_s, scheduled_s, planned_s, no_data_s, ppt, run_s, unplanned_s, ideal_s, fully_s = (
        values[name] for name in _TIMES)
    total, good, reject = (round(values[name]) for name in _COUNTS)
    # Ratios and flags are worked out from the sums, as a report over the whole period does.
    result = _build(machine, window.start, window.end, calendar_s, scheduled_s, planned_s, no_data_s, ppt, run_s,
                    unplanned_s, ideal_s, fully_s, total, good, reject, SixBigLosses(**six_values), ())
    return result, tuple(ReasonLoss(reason, seconds, stops) for reason, (seconds, stops) in losses.items())
