"""The supervisor's shift review: what the review screen asks of the store and the report, free of any UI.

A period is a named shift on a date, a local day, an ISO week or a range of local
dates, always in the plant's time zone, so a day across a DST change is 23 or 25
hours long, as the people in the plant lived it. Figures come from the report
(`build_report`, the one OEE calculator), the downtime Pareto included (the report
measures each stop once, with its reason); the stop lists are store queries of their
own, so a quarter of a hundred machines costs the same few round trips as one shift.

Periods are looked up in the shifts of the config they are given, so give them the config with
the plant's one calendar: `planned_config`'s, or `Planning.with_shifts` (imported shift patterns,
once there are any, in place of the file's `[[shifts]]`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo

from oee_tui.config import Config
from oee_tui.engine.analysis.day_summaries import summed_report
from oee_tui.engine.analysis.report import Report, build_report
from oee_tui.engine.oee.planning_rules import Planning
from oee_tui.engine.oee.shifts import ShiftCalendar
from oee_tui.model import MachineState, OeeResult, Span, StateInterval
from oee_tui.store import StopPage, Store

UNASSIGNED_LIMIT: Final = 500
STOPS_LIMIT: Final = 2000
COMPARE_DAYS: Final = 7
# How far a step to the previous or next shift looks; a weekly pattern always has one within 8 days.
_SHIFT_SEARCH_S: Final = 8 * 86400.0

# States that are stops (MachineState.is_stop); offline is missing data, not a stop.
STOP_STATES: Final = tuple(state.value for state in MachineState if state.is_stop)

_WEEK = re.compile(r"^(\d{4})-?[Ww](\d{1,2})$")
_RANGE_SEPARATORS = re.compile(r"\s*(?:\.\.|/|\s+to\s+|\s+)\s*")


class ReviewError(ValueError):
    """A period or request the review cannot answer, worded for the supervisor."""


class PeriodKind(StrEnum):
    SHIFT = "shift"
    DAY = "day"
    WEEK = "week"
    RANGE = "range"


@dataclass(frozen=True, slots=True)
class Period:
    """A span of plant time to review. `start`/`end` are the full period, which may reach past now."""

    kind: PeriodKind
    label: str
    start: float
    end: float
    first_day: date  # plant-local date the period starts on (a shift: the date it starts on)
    last_day: date  # plant-local date of its last day (a shift: its start date)
    shift: str | None = None  # the shift's name, for PeriodKind.SHIFT

    def window(self, now: float) -> Span:
        """The part of the period that has happened: it ends at `now` if that is earlier."""
        return Span(self.start, min(self.end, max(now, self.start)))


# ---------------------------------------------------------------- periods


def _midnight(day: date, tz: ZoneInfo) -> float:
    # zoneinfo gives each midnight its own offset, so days across a DST change are 23 or 25 h.
    return datetime.combine(day, time(0, 0), tzinfo=tz).timestamp()


def day_period(config: Config, day: date) -> Period:
    tz = config.tz
    return Period(PeriodKind.DAY, day.isoformat(), _midnight(day, tz), _midnight(day + timedelta(days=1), tz),
                  day, day)


def week_period(config: Config, year: int, week: int) -> Period:
    try:
        monday = date.fromisocalendar(year, week, 1)
    except ValueError as exc:
        raise ReviewError(f"week {year}-W{week:02d} does not exist; {year} has weeks 1 to "
                          f"{date(year, 12, 28).isocalendar().week}") from exc
    tz = config.tz
    sunday = monday + timedelta(days=6)
    return Period(PeriodKind.WEEK, f"{year}-W{week:02d}", _midnight(monday, tz),
                  _midnight(sunday + timedelta(days=1), tz), monday, sunday)


def range_period(config: Config, first: date, last: date) -> Period:
    """Local dates `first` to `last`, both included."""
    if last < first:
        raise ReviewError(f"the range {first.isoformat()}..{last.isoformat()} ends before it starts")
    tz = config.tz
    return Period(PeriodKind.RANGE, f"{first.isoformat()}..{last.isoformat()}", _midnight(first, tz),
                  _midnight(last + timedelta(days=1), tz), first, last)


def _calendar(config: Config) -> ShiftCalendar:
    return ShiftCalendar(config.shifts, config.site.timezone)


def shift_period(config: Config, name: str, day: date) -> Period:
    calendar = _calendar(config)
    names = calendar.names
    if name not in names:
        raise ReviewError(f"no shift named {name!r}; shifts are {', '.join(names)}")
    instance = calendar.find(name, day.isoformat())
    if instance is None:
        raise ReviewError(f"the {name} shift does not run on {day.isoformat()} ({day.strftime('%A')})")
    return Period(PeriodKind.SHIFT, instance.label, instance.start, instance.end, day, day, name)


def _local_day(config: Config, ts: float) -> date:
    return datetime.fromtimestamp(ts, config.tz).date()


def current_period(config: Config, kind: PeriodKind, now: float) -> Period:
    """The period of `kind` that holds `now`: this shift (or the last one), today, this week, the last 7 days."""
    today = _local_day(config, now)
    if kind is PeriodKind.SHIFT:
        instance = _calendar(config).current_or_last(now)
        return shift_period(config, instance.name, date.fromisoformat(instance.local_date))
    if kind is PeriodKind.DAY:
        return day_period(config, today)
    if kind is PeriodKind.WEEK:
        year, week, _ = today.isocalendar()
        return week_period(config, year, week)
    return range_period(config, today - timedelta(days=6), today)


def period_of_kind(config: Config, period: Period, kind: PeriodKind, now: float) -> Period:
    """Switch kind around the period in view: the day of a shift, the week of a day, and so on."""
    if kind is period.kind:
        return period
    if period.kind is PeriodKind.SHIFT:
        # A night shift belongs to the day most of it falls on, or to today while it runs.
        day = _local_day(config, min(period.end, max(now, period.start + 1e-3)) - 1e-3)
    else:
        day = period.last_day if period.end <= now else min(period.last_day, _local_day(config, now))
    if kind is PeriodKind.DAY:
        return day_period(config, day)
    if kind is PeriodKind.WEEK:
        year, week, _ = day.isocalendar()
        return week_period(config, year, week)
    if kind is PeriodKind.RANGE:
        return range_period(config, day - timedelta(days=6), day)
    # To a shift: the shift running at the period's end (or now), or the last one before it.
    moment = min(period.end, now) - 1e-6
    instance = _calendar(config).current_or_last(moment)
    return shift_period(config, instance.name, date.fromisoformat(instance.local_date))


def step_period(config: Config, period: Period, steps: int) -> Period:
    """The period `steps` periods later (negative: earlier), of the same kind and length."""
    if steps == 0:
        return period
    if period.kind is PeriodKind.SHIFT:
        calendar = _calendar(config)
        current = period
        for _ in range(abs(steps)):
            if steps > 0:
                later = [s for s in calendar.shifts_between(current.start, current.start + _SHIFT_SEARCH_S)
                         if s.start > current.start]
                found = min(later, key=lambda s: (s.start, s.name)) if later else None
            else:
                earlier = [s for s in calendar.shifts_between(current.start - _SHIFT_SEARCH_S, current.start)
                           if s.start < current.start]
                found = max(earlier, key=lambda s: (s.start, s.name)) if earlier else None
            if found is None:
                raise ReviewError(f"no shift within 8 days {'after' if steps > 0 else 'before'} {current.label}")
            current = shift_period(config, found.name, date.fromisoformat(found.local_date))
        return current
    if period.kind is PeriodKind.DAY:
        return day_period(config, period.first_day + timedelta(days=steps))
    if period.kind is PeriodKind.WEEK:
        monday = period.first_day + timedelta(weeks=steps)
        year, week, _ = monday.isocalendar()
        return week_period(config, year, week)
    length = (period.last_day - period.first_day).days + 1
    shift = timedelta(days=length * steps)
    return range_period(config, period.first_day + shift, period.last_day + shift)


def _parse_date(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ReviewError(f"{what} {text!r} is not a date; write it as 2026-11-26") from exc


PERIOD_SYNTAX: Final = "2026-11-26 (a day), 2026-W48 (a week), Early@2026-11-26 (a shift), " \
                       "2026-11-01..2026-11-07 (a range of days, both included)"


def parse_period(config: Config, text: str, now: float) -> Period:
    """A period typed by a person: a day, an ISO week, SHIFT@DAY (or SHIFT for today's), or FIRST..LAST."""
    text = text.strip()
    if not text:
        raise ReviewError(f"type a period: {PERIOD_SYNTAX}")
    if "@" in text:
        name, _, day = text.partition("@")
        return shift_period(config, name.strip(), _parse_date(day.strip(), "the shift's date"))
    if text in _calendar(config).names:
        return shift_period(config, text, _local_day(config, now))
    week = _WEEK.match(text)
    if week is not None:
        return week_period(config, int(week[1]), int(week[2]))
    parts = [part for part in _RANGE_SEPARATORS.split(text) if part]
    if len(parts) == 2:
        return range_period(config, _parse_date(parts[0], "the first day"), _parse_date(parts[1], "the last day"))
    if len(parts) == 1:
        try:
            return day_period(config, date.fromisoformat(parts[0]))
        except ValueError:
            pass
    raise ReviewError(f"{text!r} is not a period; write {PERIOD_SYNTAX}")


# ---------------------------------------------------------------- scopes


class Level(StrEnum):
    PLANT = "plant"
    LINE = "line"
    MACHINE = "machine"


@dataclass(frozen=True, slots=True)
class Scope:
    """What is reviewed: the whole plant, one line or one machine."""

    level: Level = Level.PLANT
    id: str = "plant"

    def machines(self, config: Config) -> list[str]:
        if self.level is Level.PLANT:
            return [m.id for m in config.machines]
        if self.level is Level.LINE:
            return [m.id for m in config.machines if m.line == self.id]
        return [self.id]

    def result(self, report: Report) -> OeeResult | None:
        if self.level is Level.PLANT:
            return report.plant
        pool = report.lines if self.level is Level.LINE else report.machines
        return next((r for r in pool if r.scope == self.id), None)

    def name(self, config: Config) -> str:
        if self.level is Level.PLANT:
            return config.site.name
        if self.level is Level.LINE:
            return next((f"{line.id} {line.name}" for line in config.lines if line.id == self.id), self.id)
        return next((m.name for m in config.machines if m.id == self.id), self.id)


def scoped_config(config: Config, scope: Scope) -> Config:
    """The config cut down to the scope's machines (and their lines), so a report computes only them."""
    if scope.level is Level.PLANT:
        return config
    wanted = set(scope.machines(config))
    machines = tuple(m for m in config.machines if m.id in wanted)
    lines = {m.line for m in machines}
    return replace(config, machines=machines, lines=tuple(line for line in config.lines if line.id in lines))


# ---------------------------------------------------------------- OEE and losses


def planned_config(store: Store, config: Config) -> tuple[Config, Planning]:
    """The config with the imported planning data (reasons, cycle times) merged in and the plant's one shift
    calendar as its shifts, and that data: the review must name, class and schedule stops exactly as the
    report does."""
    planning = Planning.load(store)
    return planning.effective_config(config), planning


def review_report(store: Store, config: Config, period: Period, now: float, scope: Scope = Scope(),
                  planning: Planning | None = None) -> Report:
    """OEE, A, P, Q, counts and the six big losses per machine, line and plant for the period."""
    # No split by product and order here: the review does not show it. Weeks and ranges sum the saved
    # summaries of their closed days; a shift or a day is too short for that and is computed whole.
    return summed_report(store, scoped_config(config, scope), period.window(now), now, period.label, planning)


@dataclass(frozen=True, slots=True)
class LossRow:
    loss: str  # machine-readable: breakdown, setup, minor_stop, reduced_speed, defects, startup_rejects
    name: str
    affects: str  # A, P or Q
    seconds: float
    count: int | None  # stops for time losses, parts for quality losses; None for reduced speed
    unit: str  # "stops", "parts" or ""
    share_of_ppt: float | None  # seconds / planned production time


def six_big_losses(result: OeeResult) -> tuple[LossRow, ...]:
    """The six big losses of one result in time and in counts, with each one's share of planned time."""
    losses = result.losses
    ppt = result.planned_production_time_s

    def row(loss: str, name: str, affects: str, seconds: float, count: int | None, unit: str) -> LossRow:
        return LossRow(loss, name, affects, seconds, count, unit, seconds / ppt if ppt > 0 else None)

    return (
        row("breakdown", "Breakdowns", "A", losses.breakdown_s, losses.breakdown_events, "stops"),
        row("setup", "Setups and adjustments", "A", losses.setup_s, losses.setup_events, "stops"),
        row("minor_stop", "Idling and minor stops", "P", losses.minor_stop_s, losses.minor_stop_events, "stops"),
        row("reduced_speed", "Reduced speed", "P", losses.reduced_speed_s, None, ""),
        row("defects", "Process defects", "Q", losses.defects_s, losses.defects_count, "parts"),
        row("startup_rejects", "Startup rejects", "Q", losses.startup_rejects_s, losses.startup_rejects_count,
            "parts"),
    )


# ---------------------------------------------------------------- target against actual


@dataclass(frozen=True, slots=True)
class TargetRow:
    scope: str
    name: str
    oee_target: float
    oee: float | None
    good: int
    good_target: int

    @property
    def good_share(self) -> float | None:
        return self.good / self.good_target if self.good_target > 0 else None


def target_counts(config: Config, window: Span) -> dict[str, int]:
    """Good parts each machine should have made in the window, as the live screen counts them:
    its target rate (or its ideal rate x the plant's OEE target) over scheduled time less breaks."""
    calendar = _calendar(config)
    scheduled = sum(span.seconds for span in calendar.scheduled_spans(window.start, window.end))
    breaks = sum(span.seconds for span in calendar.break_spans(window.start, window.end))
    hours = max(0.0, scheduled - breaks) / 3600.0
    out = {}
    for machine in config.machines:
        per_hour = machine.target_per_hour or 3600.0 / machine.ideal_cycle_time_s * config.targets.oee
        out[machine.id] = int(per_hour * hours)
    return out


def target_vs_actual(config: Config, report: Report, scope: Scope = Scope()) -> tuple[TargetRow, ...]:
    """One row per line (plant scope) or machine (line or machine scope), then the scope's total."""
    targets = target_counts(config, report.window)
    by_machine = {r.scope: r for r in report.machines}
    line_of = {m.id: m.line for m in config.machines}
    goal = config.targets.oee
    rows: list[TargetRow] = []
    if scope.level is Level.PLANT:
        for line in config.lines:
            result = next((r for r in report.lines if r.scope == line.id), None)
            members = [m for m in by_machine if line_of.get(m) == line.id]
            rows.append(TargetRow(line.id, line.name, goal, result.oee if result else None,
                                  sum(by_machine[m].good_count for m in members),
                                  sum(targets.get(m, 0) for m in members)))
    else:
        for machine in config.machines:
            if machine.id in scope.machines(config) and machine.id in by_machine:
                result = by_machine[machine.id]
                rows.append(TargetRow(machine.id, machine.name, goal, result.oee, result.good_count,
                                      targets.get(machine.id, 0)))
    total = scope.result(report)
    if total is not None and scope.level is not Level.MACHINE:
        members = scope.machines(config)
        rows.append(TargetRow(scope.id, f"Total {scope.name(config)}", goal, total.oee, total.good_count,
                              sum(targets.get(m, 0) for m in members)))
    return tuple(rows)


# ---------------------------------------------------------------- comparisons


@dataclass(frozen=True, slots=True)
class CompareRow:
    period: Period
    result: OeeResult | None  # None when the scope has no machines
    good_target: int


def _compare(store: Store, config: Config, periods: Sequence[Period], now: float, scope: Scope,
             planning: Planning | None) -> list[CompareRow]:
    cut = scoped_config(config, scope)
    planning = planning if planning is not None else Planning.load(store)
    rows = []
    for period in periods:
        if period.start >= now:
            continue  # a shift that has not begun has nothing to compare
        window = period.window(now)
        report = build_report(store, cut, window, now, period.label, planning=planning, attribution=False)
        targets = target_counts(cut, window)
        rows.append(CompareRow(period, scope.result(report), sum(targets.get(m, 0) for m in scope.machines(cut))))
    return rows


def compare_same_shift(store: Store, config: Config, shift: str, last_day: date, now: float,
                       scope: Scope = Scope(), days: int = COMPARE_DAYS,
                       planning: Planning | None = None) -> list[CompareRow]:
    """The shift `shift` on each of the `days` days up to `last_day`, oldest first.

    Days it does not run on are left out."""
    periods = []
    for back in range(days - 1, -1, -1):
        try:
            periods.append(shift_period(config, shift, last_day - timedelta(days=back)))
        except ReviewError:
            continue
    return _compare(store, config, periods, now, scope, planning)


def compare_shifts_of_day(store: Store, config: Config, day: date, now: float,
                          scope: Scope = Scope(), planning: Planning | None = None) -> list[CompareRow]:
    """Every shift that starts on local date `day`, in order of start."""
    calendar = _calendar(config)
    instances = [s for s in calendar.shifts_between(_midnight(day, config.tz),
                                                    _midnight(day + timedelta(days=1), config.tz))
                 if s.local_date == day.isoformat()]
    periods = [shift_period(config, s.name, day) for s in instances]
    return _compare(store, config, periods, now, scope, planning)


# ---------------------------------------------------------------- downtime Pareto


@dataclass(frozen=True, slots=True)
class ParetoBar:
    reason: str | None  # None: stops nobody gave a reason yet
    name: str
    seconds: float
    stops: int
    share: float
    cumulative: float


NO_REASON: Final = "No reason given"


def downtime_pareto(config: Config, report: Report, scope: Scope = Scope()) -> tuple[ParetoBar, ...]:
    """Unplanned stop time per reason inside scheduled time (breaks left out), largest first.

    Every stop the calculator counts as a loss is here: breakdowns, setups and minor stops, so
    the bars add up to the A and P stop losses of the report they come from. Planned stops (the
    planned_stop state, a reason marked planned, an imported planned stop) are not losses and are
    left out; stops without a reason are one bar of their own. A stop counts once, in the period,
    however much of it the period cuts off. `config` names the reasons (the planned config, with
    imported reasons); the report gives the figures, so the Pareto costs no query of its own.
    """
    wanted = set(scope.machines(config))
    seconds: dict[str | None, float] = {}
    stops: dict[str | None, int] = {}
    for result, losses in zip(report.machines, report.stop_losses, strict=True):
        if result.scope not in wanted:
            continue
        for loss in losses:
            seconds[loss.reason] = seconds.get(loss.reason, 0.0) + loss.seconds
            stops[loss.reason] = stops.get(loss.reason, 0) + loss.stops
    names = {reason.code: reason.name for reason in config.reasons}
    rows = sorted(seconds.items(), key=lambda row: (-row[1], -stops[row[0]], row[0] or ""))
    total = sum(seconds.values())
    bars = []
    running = 0.0
    for reason, reason_seconds in rows:
        running += reason_seconds
        bars.append(ParetoBar(reason, NO_REASON if reason is None else names.get(reason, reason), reason_seconds,
                              stops[reason], reason_seconds / total if total else 0.0,
                              running / total if total else 0.0))
    return tuple(bars)


# ---------------------------------------------------------------- stops


# A stop is a state interval in a stop state, with its newest reason (the name the screens know it by).
StopRow = StateInterval


@dataclass(frozen=True, slots=True)
class StopList:
    rows: tuple[StopRow, ...]
    total: int  # how many match; rows holds at most the limit asked for


def _stop_list(page: StopPage) -> StopList:
    return StopList(tuple(page.rows), page.total)


def machine_stops(store: Store, window: Span, machine: str, limit: int = STOPS_LIMIT) -> StopList:
    """A machine's stops overlapping the window, newest first, with reason, who and when."""
    return _stop_list(store.newest_stops(window.start, window.end, [machine], STOP_STATES, limit))


def unassigned_stops(store: Store, config: Config, window: Span, now: float, scope: Scope = Scope(),
                     limit: int = UNASSIGNED_LIMIT, planning: Planning | None = None) -> StopList:
    """Stops overlapping the window that nobody gave a reason yet, longest first (the biggest unknowns).

    A stop shorter than the site's `reason_min_stop_s` needs no reason and is not listed. Planned time
    needs no reason: a planned stop is not listed, nor a stop that lies wholly in a
    break, a planned stop of the downtime plan or outside the schedule (as an engine before
    issue 13 stored the time a machine stood in a break). `config` is the planned config
    (planned_config); `planning` the imported planning data, read when not given.
    """
    machines = scope.machines(config)
    page = store.longest_stops_without_reason(window.start, window.end, machines, UNPLANNED_STOP_STATES, now, limit,
                                              config.site.reason_min_stop_s)
    if not page.rows:
        return _stop_list(page)
    planning = planning if planning is not None else Planning.load(store, window)
    calendar = ShiftCalendar(config.shifts, config.site.timezone)
    configs = {machine.id: machine for machine in config.machines}
    lo = min(row.start for row in page.rows)
    hi = max(row.end if row.end is not None else now for row in page.rows)
    common = calendar.planned_spans(lo, hi)
    kept = [row for row in page.rows
            if not _inside(row.start, row.end if row.end is not None else now,
                           [*common, *planning.planned_stop_spans(configs[row.machine], lo, hi)])]
    return StopList(tuple(kept), page.total - (len(page.rows) - len(kept)))


# Stops that may need a reason: every stop state but the planned one.
UNPLANNED_STOP_STATES: Final = tuple(state for state in STOP_STATES if state != MachineState.PLANNED_STOP.value)


def _inside(start: float, end: float, planned: Sequence[Span]) -> bool:
    """Whether [start, end) is covered by the planned spans (in any order, touching or overlapping)."""
    cursor = start
    for span in sorted(planned, key=lambda span: span.start):
        if span.start > cursor:
            break
        cursor = max(cursor, span.end)
        if cursor >= end:
            return True
    return cursor >= end


def local_iso(ts: float, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(ts, tz).isoformat(timespec="seconds")


def utc_iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")
