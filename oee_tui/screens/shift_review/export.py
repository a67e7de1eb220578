"""What `e` writes for the review's table in view: the raw numbers under plain column names, not the
formatted text, with the period on every row so files from several periods can be stacked."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from oee_tui.config import Config
from oee_tui.engine.analysis.review import Level, Period, Scope, StopList, six_big_losses
from oee_tui.model import OeeResult
from oee_tui.screens.shift_review.period_loading import Loaded
from oee_tui.screens.shift_review.rows import machines_in_view
from oee_tui.service.review_ops import Compared


@dataclass(slots=True)
class Exportable:
    """Column names and raw values of one table."""

    name: str
    headers: list[str] = field(default_factory=list)
    rows: list[list[object]] = field(default_factory=list)


OEE_HEADERS: Final = ["oee", "availability", "performance", "quality", "good_count", "reject_count",
                      "total_count", "planned_production_time_s", "run_time_s", "unplanned_downtime_s", "no_data_s",
                      "flags"]


def table_export(table_id: str, loaded: Loaded | None, compared: Compared | None, config: Config,
                 scope: Scope) -> Exportable | None:
    """The table `table_id` as it is loaded now, for `scope`; None while there is nothing to write."""
    if table_id == "compare":
        return _compare_export(compared) if compared is not None else None
    if loaded is None:
        return None
    builders: dict[str, Callable[[Loaded], Exportable]] = {
        "lines": lambda d: _oee_export("lines", "line", [*d.report.lines, *filter(None, [d.report.plant])]),
        "machines": lambda d: _oee_export("machines", "machine", [
            r for r in d.report.machines if r.scope in set(machines_in_view(config, scope))]),
        "stops": lambda d: _stops_export("stops", d.stops, d.now),
        "losses": lambda d: _losses_export(scope.result(d.report)),
        "pareto": _pareto_export,
        "target": _target_export,
        "unassigned": lambda d: _stops_export("unassigned", d.unassigned, d.now),
    }
    exportable = builders[table_id](loaded)
    exportable.headers = ["period", *exportable.headers]
    exportable.rows = [[loaded.period.label, *row] for row in exportable.rows]
    return exportable


def default_path(folder: Path, exportable: Exportable, period: Period | None, scope: Scope) -> Path:
    """`review-lines-Early@2026-11-26.csv`, with the line or machine for a narrower scope, in `folder`."""
    label = period.label if period else "review"
    scoped = "" if scope.level is Level.PLANT else f"-{scope.id}"
    return folder / _safe_name(f"review-{exportable.name}{scoped}-{label}.csv")


def _safe_name(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)


def _oee_values(result: OeeResult) -> list[object]:
    return [result.oee, result.availability, result.performance, result.quality, result.good_count,
            result.reject_count, result.total_count, round(result.planned_production_time_s, 3),
            round(result.run_time_s, 3), round(result.unplanned_downtime_s, 3), round(result.no_data_s, 3),
            ";".join(result.flags)]


def _oee_export(name: str, level: str, results: Sequence[OeeResult]) -> Exportable:
    return Exportable(name, [level, *OEE_HEADERS], [[r.scope, *_oee_values(r)] for r in results])


def _stops_export(name: str, stops: StopList | None, now: float) -> Exportable:
    headers = ["machine", "start_utc", "end_utc", "duration_s", "state", "reason", "reason_by", "reason_at_utc"]
    rows: list[list[object]] = []
    for stop in stops.rows if stops is not None else ():
        rows.append([stop.machine, _utc(stop.start), _utc(stop.end), round(stop.duration(now), 3), stop.state.value,
                     stop.reason, stop.reason_by, _utc(stop.reason_at)])
    return Exportable(name, headers, rows)


def _utc(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def _losses_export(result: OeeResult | None) -> Exportable:
    rows: list[list[object]] = [] if result is None else [
        [row.loss, row.name, row.affects, round(row.seconds, 3), row.count, row.unit, row.share_of_ppt]
        for row in six_big_losses(result)]
    return Exportable("losses", ["loss", "name", "affects", "seconds", "count", "unit", "share_of_ppt"], rows)


def _pareto_export(loaded: Loaded) -> Exportable:
    return Exportable("pareto", ["reason", "name", "stops", "seconds", "share", "cumulative_share"],
                      [[b.reason or "", b.name, b.stops, round(b.seconds, 3), b.share, b.cumulative]
                       for b in loaded.pareto])


def _target_export(loaded: Loaded) -> Exportable:
    return Exportable("target", ["scope", "name", "oee", "oee_target", "good", "good_target"],
                      [[t.scope, t.name, t.oee, t.oee_target, t.good, t.good_target] for t in loaded.targets])


def _compare_export(compared: Compared) -> Exportable:
    rows: list[list[object]] = [[row.period.label, row.result.scope, *_oee_values(row.result), row.good_target]
                                for row in compared.rows if row.result is not None]
    return Exportable("compare", ["period", "scope", *OEE_HEADERS, "good_target"], rows)
