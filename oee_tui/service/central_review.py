"""The shift review over the central database: every edge box and site, read only.

`CentralReads` answers what the review screen asks (`screens/shift_review/period_loading.ReviewReads`) from
the analytics layer (`analytics_ddl`): each machine's times and counts summed from `oee.machine_oee_1m` over
the period's whole minutes, its stops from `oee.state_pieces` and `oee.state_intervals`. The figures become
the same `Report` the edge's review shows (`calculator.result_from_sums`, `lines_and_plant`), so the screen
draws them unchanged. Machines are named `<edge id>/<machine>` and lines `<site>/<line>`, so two boxes
with a machine M1 each stay two machines. The period's shifts and time zone are those of the config `oee`
was started with (`central_config`).

Every connection is opened read only (`default_transaction_read_only`): the view changes nothing, whatever
role its URL names. Figures differ from the edge's `oee report` where the README's "Central schema" says;
startup rejects are not told apart from other rejects here (all are process defects).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Final

from oee_tui.config import Config, LineConfig, MachineConfig, Reason
from oee_tui.engine.analysis.report import ReasonLoss, Report
from oee_tui.engine.analysis.review import (
    STOPS_LIMIT,
    UNASSIGNED_LIMIT,
    UNPLANNED_STOP_STATES,
    CompareRow,
    Level,
    Period,
    Scope,
    StopList,
    downtime_pareto,
    scoped_config,
    shift_period,
    target_counts,
    target_vs_actual,
)
from oee_tui.engine.oee.calculator import lines_and_plant, result_from_sums
from oee_tui.model import Loss, MachineState, OeeResult, PlanningRecords, SixBigLosses, Span, StateInterval
from oee_tui.service.review_ops import Compared, PeriodReads

# psycopg is imported when a connection is opened: every TUI imports this module (through the review
# screen), and only the central view needs the driver.
if TYPE_CHECKING:
    import psycopg

    Connection = psycopg.Connection[tuple[object, ...]]

_SEPARATOR: Final = "/"

_FIGURES: Final = """
SELECT edge_id || '/' || machine, sum(planned_production_s), sum(planned_s), sum(no_data_s), sum(run_s),
       sum(breakdown_s), sum(setup_s), sum(minor_stop_s), sum(ideal_s), sum(good_ideal_s),
       sum(total_count)::bigint, sum(good_count)::bigint
FROM oee.machine_oee_1m
WHERE bucket >= %(start)s AND bucket < %(end)s AND edge_id || '/' || machine = ANY(%(machines)s)
GROUP BY 1
"""

# Each stop once (a stop the window cuts counts once, as in the report), its time inside the window.
_STOP_LOSSES: Final = """
SELECT edge_id || '/' || machine, stop_class, reason, sum(seconds), count(DISTINCT interval_start)
FROM oee.state_pieces
WHERE ts >= %(start)s AND ts < %(end)s AND stop_class IN ('breakdown', 'setup', 'minor_stop')
  AND edge_id || '/' || machine = ANY(%(machines)s)
GROUP BY 1, 2, 3
"""

_NEWEST_REASON: Final = """
LEFT JOIN LATERAL (
    SELECT sr.reason, sr.entered_by, sr.entered_at FROM oee.stop_reasons sr
    WHERE sr.edge_id = i.edge_id AND sr.machine = i.machine AND sr.stop_start = i.start_ts
    ORDER BY sr.entered_at DESC LIMIT 1
) r ON true
"""

_UNASSIGNED: Final = f"""
SELECT i.edge_id || '/' || i.machine, i.start_ts, i.end_ts, i.state, NULL, NULL, NULL, count(*) OVER ()
FROM oee.state_intervals i {_NEWEST_REASON}
WHERE i.start_ts < %(end)s AND coalesce(i.end_ts, %(now)s) > %(start)s AND r.reason IS NULL
  AND i.state = ANY(%(states)s) AND i.edge_id || '/' || i.machine = ANY(%(machines)s)
ORDER BY coalesce(i.end_ts, %(now)s) - i.start_ts DESC, i.start_ts
LIMIT %(limit)s
"""

_MACHINE_STOPS: Final = f"""
SELECT i.edge_id || '/' || i.machine, i.start_ts, i.end_ts, i.state, r.reason, r.entered_by, r.entered_at,
       count(*) OVER ()
FROM oee.state_intervals i {_NEWEST_REASON}
WHERE i.start_ts < %(end)s AND coalesce(i.end_ts, %(now)s) > %(start)s
  AND i.state = ANY(%(states)s) AND i.edge_id || '/' || i.machine = ANY(%(machines)s)
ORDER BY i.start_ts DESC
LIMIT %(limit)s
"""

_STOP_STATES: Final = tuple(state.value for state in MachineState if state.is_stop)
_LOSS_CLASSES: Final = {"breakdown": Loss.BREAKDOWN, "setup": Loss.SETUP, "minor_stop": Loss.MINOR_STOP}


def connect(url: str) -> Connection:
    """A connection that cannot write: every transaction on it is read only."""
    import psycopg

    return psycopg.connect(url, options="-c default_transaction_read_only=on")


def central_config(conn: Connection, base: Config) -> Config:
    """`base` (its site's time zone, shifts and targets) with every machine and line of the central database,
    and the reasons the edges pushed (the first edge's name of a code wins)."""
    rows = conn.execute(
        "SELECT edge_id, site, machine, coalesce(name, machine), coalesce(line, ''), "
        "coalesce(ideal_cycle_time_s, 0), coalesce(micro_stop_threshold_s, 0) "
        "FROM oee.machines ORDER BY site, line, edge_id, machine").fetchall()
    machines: list[MachineConfig] = []
    lines: dict[str, LineConfig] = {}
    for edge_id, site, machine, name, line, cycle, threshold in rows:
        line_id = f"{site}{_SEPARATOR}{line}"
        lines.setdefault(line_id, LineConfig(line_id, "", str(site)))  # the id says it all: site/line
        machines.append(MachineConfig(f"{edge_id}{_SEPARATOR}{machine}", f"{name} ({edge_id})", line_id,
                                      float(str(cycle)), float(str(threshold))))
    reasons: dict[str, Reason] = {reason.code: reason for reason in base.reasons}
    for code, name, planned, loss, parent in conn.execute(
            "SELECT DISTINCT ON (code) code, name, planned, loss, parent FROM oee.reason_tree ORDER BY code, edge_id"):
        reasons[str(code)] = Reason(str(code), str(name), bool(planned), None if loss is None else Loss(str(loss)),
                                    None if parent is None else str(parent))
    return replace(base, machines=tuple(machines), lines=tuple(lines.values()), reasons=tuple(reasons.values()),
                   sources=())


def _at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _minutes(window: Span) -> Span:
    """The window's whole minutes: the finest buckets the aggregates have."""
    return Span(window.start - window.start % 60, window.end - window.end % 60)


def _ts(value: object) -> float:
    assert isinstance(value, datetime)
    return value.timestamp()


def _float(value: object) -> float:
    return 0.0 if value is None else float(str(value))


def central_report(conn: Connection, config: Config, window: Span, label: str) -> Report:
    """The report of `config`'s machines (central ids) over `window`'s whole minutes."""
    minutes = _minutes(window)
    ids = [machine.id for machine in config.machines]
    params = {"start": _at(minutes.start), "end": _at(minutes.end), "machines": ids}
    figures = {str(row[0]): row[1:] for row in conn.execute(_FIGURES, params)}
    losses: dict[str, list[tuple[str, str | None, float, int]]] = {}
    for machine, stop_class, reason, seconds, stops in conn.execute(_STOP_LOSSES, params):
        losses.setdefault(str(machine), []).append(
            (str(stop_class), None if reason is None else str(reason), _float(seconds), int(str(stops))))
    calendar_s = minutes.end - minutes.start
    results: list[OeeResult] = []
    stop_losses: list[tuple[ReasonLoss, ...]] = []
    for machine_id in ids:
        row = figures.get(machine_id)
        ppt, planned, no_data, run, breakdown, setup, minor, ideal, good_ideal = (
            _float(v) for v in (row[:9] if row else (0,) * 9))
        total, good = (int(str(row[9])), int(str(row[10]))) if row else (0, 0)
        events = {cls: sum(n for c, _, _, n in losses.get(machine_id, ()) if c == cls) for cls in _LOSS_CLASSES}
        six = SixBigLosses(
            breakdown_s=breakdown, breakdown_events=events["breakdown"], setup_s=setup,
            setup_events=events["setup"], minor_stop_s=minor, minor_stop_events=events["minor_stop"],
            reduced_speed_s=run - minor - ideal, defects_s=ideal - good_ideal, defects_count=total - good)
        results.append(result_from_sums(machine_id, minutes, calendar_s, ppt + planned + no_data, planned, no_data,
                                        run, breakdown + setup, ideal, good_ideal, total, good, six))
        by_reason: dict[str | None, list[float]] = {}
        for _, reason, seconds, stops in losses.get(machine_id, ()):
            entry = by_reason.setdefault(reason, [0.0, 0])
            entry[0] += seconds
            entry[1] += stops
        stop_losses.append(tuple(ReasonLoss(reason, seconds, int(stops))
                                 for reason, (seconds, stops) in sorted(by_reason.items(), key=lambda kv: -kv[1][0])))
    lines, plant = lines_and_plant([line.id for line in config.lines], [m.line for m in config.machines], results)
    return Report(label, minutes, config.site.timezone, tuple(results), lines, plant,
                  stop_losses=tuple(stop_losses))


def _stops(conn: Connection, query: str, window: Span, machines: Sequence[str], states: Sequence[str], now: float,
           limit: int) -> StopList:
    rows = conn.execute(query, {"start": _at(window.start), "end": _at(window.end), "now": _at(now),
                                "machines": list(machines), "states": list(states), "limit": limit}).fetchall()
    stops = tuple(StateInterval(str(machine), _ts(start), None if end is None else _ts(end),
                                MachineState(str(state)), None if reason is None else str(reason),
                                None if by is None else str(by), None if at is None else _ts(at))
                  for machine, start, end, state, reason, by, at, _ in rows)
    return StopList(stops, int(str(rows[0][7])) if rows else 0)


class CentralReads:
    """The review's figures from the central database at `url`; the config is `central_config`'s."""

    def __init__(self, url: str) -> None:
        self.url = url

    def period(self, config: Config, period: Period, scope: Scope, now: float,
               cancelled: Callable[[], bool]) -> PeriodReads | None:
        window = period.window(now)
        with connect(self.url) as conn:
            report = central_report(conn, config, window, period.label)
            if cancelled():
                return None
            machines = scope.machines(config)
            unassigned = _stops(conn, _UNASSIGNED, window, machines, UNPLANNED_STOP_STATES, now, UNASSIGNED_LIMIT)
            stops = (_stops(conn, _MACHINE_STOPS, window, [scope.id], _STOP_STATES, now, STOPS_LIMIT)
                     if scope.level is Level.MACHINE else None)
        return PeriodReads(PlanningRecords(), report, downtime_pareto(config, report, scope),
                           target_vs_actual(config, report, scope), unassigned, stops)

    def comparison(self, config: Config, period: Period, scope: Scope, mode: int, now: float) -> Compared:
        names = [s.name for s in config.shifts] or ["Day"]
        day = min(period.last_day, datetime.fromtimestamp(now, config.tz).date())
        if mode == 0:
            title = f"The shifts of {day.isoformat()} ({day.strftime('%a')})"
            periods = [shift_period(config, name, day) for name in names if _runs(config, name, day)]
        else:
            first = names.index(period.shift) if period.shift in names else 0
            shift = names[(first + mode - 1) % len(names)]
            title = f"The {shift} shift over the 7 days to {day.isoformat()}"
            periods = [shift_period(config, shift, date.fromordinal(day.toordinal() - back))
                       for back in range(6, -1, -1) if _runs(config, shift, date.fromordinal(day.toordinal() - back))]
        cut = scoped_config(config, scope)
        rows = []
        with connect(self.url) as conn:
            for each in periods:
                if each.start >= now:
                    continue
                window = each.window(now)
                report = central_report(conn, cut, window, each.label)
                targets = target_counts(cut, window)
                rows.append(CompareRow(each, scope.result(report), sum(targets.get(m, 0) for m in scope.machines(cut))))
        return Compared(title, tuple(rows), period.label)


def _runs(config: Config, shift: str, day: date) -> bool:
    try:
        shift_period(config, shift, day)
    except ValueError:
        return False
    return True
