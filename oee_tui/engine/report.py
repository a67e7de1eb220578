"""OEE reports over the store: per machine, per line and for the plant.

Counts are summed in DuckDB (a month of minute buckets is millions of rows);
only state intervals, which are few, come back to Python for the calculator.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

from oee_tui.config import Config
from oee_tui.engine.model import Span, StateInterval
from oee_tui.engine.oee import ProductCounts, aggregate, classify_interval, machine_oee
from oee_tui.engine.oee_result import OeeResult
from oee_tui.engine.shifts import ShiftCalendar
from oee_tui.engine.store import Store


class ReportError(ValueError):
    """A report request that cannot be answered, worded for the user."""


@dataclass(frozen=True, slots=True)
class Report:
    label: str
    window: Span
    timezone: str
    machines: tuple[OeeResult, ...]
    lines: tuple[OeeResult, ...]
    plant: OeeResult | None


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
                   end: str | None = None) -> tuple[Span, str]:
    calendar = ShiftCalendar(config.shifts, config.site.timezone)
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
        instance = calendar.current_or_last(now)
        return Span(instance.start, min(instance.end, max(now, instance.start))), instance.label
    name, _, date = shift.partition("@")
    if not date:
        date = datetime.fromtimestamp(now, config.tz).date().isoformat()
    names = [s.name for s in config.shifts] or ["Day"]
    if name not in names:
        raise ReportError(f"--shift {shift!r}: no shift named {name!r}; shifts are {', '.join(names)}")
    instance = calendar.find(name, date)
    if instance is None:
        raise ReportError(f"--shift {shift!r}: {name} does not run on {date}")
    return Span(instance.start, min(instance.end, max(now, instance.start))), instance.label


def build_report(store: Store, config: Config, window: Span, now: float, label: str) -> Report:
    calendar = ShiftCalendar(config.shifts, config.site.timezone)
    scheduled = calendar.scheduled_spans(window.start, window.end)
    breaks = calendar.break_spans(window.start, window.end)
    reasons = {reason.code: reason for reason in config.reasons}
    machine_ids = [machine.id for machine in config.machines]
    by_machine: dict[str, list[StateInterval]] = {machine_id: [] for machine_id in machine_ids}
    for interval in store.intervals(window.start, window.end, machine_ids):
        by_machine.setdefault(interval.machine, []).append(interval)
    startup_windows: list[tuple[str, float, float]] = []
    for machine in config.machines:
        if machine.startup_period_s <= 0:
            continue
        for interval in by_machine[machine.id]:
            if interval.end is None:
                continue
            if classify_interval(interval, machine, reasons, now) in ("breakdown", "setup"):
                startup_windows.append((machine.id, interval.end, interval.end + machine.startup_period_s))
    totals = _product_totals(store, window, scheduled, _merge(startup_windows), machine_ids)
    results = [
        machine_oee(machine, window, scheduled, breaks, by_machine[machine.id], totals.get(machine.id, {}),
                    reasons, now)
        for machine in config.machines
    ]
    lines = tuple(
        aggregate(line.id, [r for r, m in zip(results, config.machines, strict=True) if m.line == line.id])
        for line in config.lines
    )
    plant = aggregate("plant", results) if results else None
    return Report(label, window, config.site.timezone, tuple(results), lines, plant)


def _merge(windows: list[tuple[str, float, float]]) -> list[tuple[str, float, float]]:
    """Merge overlapping startup windows per machine, so no reject is counted twice."""
    merged: list[tuple[str, float, float]] = []
    for machine, start, end in sorted(windows):
        if merged and merged[-1][0] == machine and start <= merged[-1][2]:
            merged[-1] = (machine, merged[-1][1], max(merged[-1][2], end))
        else:
            merged.append((machine, start, end))
    return merged


def _ts_array(values: Sequence[float]) -> pa.Array:
    micros = (np.asarray(values, dtype=np.float64) * 1e6).round().astype(np.int64)
    return pa.array(micros, type=pa.timestamp("us"))


def _product_totals(store: Store, window: Span, scheduled: Sequence[Span],
                    startup: Sequence[tuple[str, float, float]],
                    machines: Sequence[str]) -> dict[str, dict[str | None, ProductCounts]]:
    """Sum counts per machine and product over the scheduled part of the window, in SQL.

    Same rule as the calculator: a bucket counts when its minute starts inside
    the window and inside scheduled time; its rejects are startup rejects when
    the minute starts within a startup window after a breakdown or setup.
    """
    spans = [(max(s.start, window.start), min(s.end, window.end)) for s in scheduled]
    spans = [(a, b) for a, b in spans if b > a]
    out: dict[str, dict[str | None, ProductCounts]] = {}
    if not spans:
        return out
    sched_tbl = pa.table({"s": _ts_array([a for a, _ in spans]), "e": _ts_array([b for _, b in spans])})
    startup_tbl = pa.table({
        "machine": pa.array([m for m, _, _ in startup], type=pa.string()),
        "s": _ts_array([a for _, a, _ in startup]),
        "e": _ts_array([b for _, _, b in startup]),
    })
    machines_tbl = pa.table({"machine": pa.array(list(machines), type=pa.string())})
    cursor = store.cursor()
    try:
        cursor.register("sched_tbl", sched_tbl)
        cursor.register("startup_tbl", startup_tbl)
        cursor.register("machines_tbl", machines_tbl)
        rows = cursor.execute(
            """
            WITH counted AS (
                SELECT c.machine, c.minute, c.product, c.total, c.reject
                FROM count_minutes c
                JOIN sched_tbl s ON c.minute >= s.s AND c.minute < s.e
                WHERE c.machine IN (SELECT machine FROM machines_tbl)
            ), startup AS (
                SELECT c.machine, c.product, sum(c.reject) AS startup_reject
                FROM counted c
                JOIN startup_tbl w ON c.machine = w.machine AND c.minute >= w.s AND c.minute < w.e
                GROUP BY ALL
            ), totals AS (
                SELECT machine, product, sum(total) AS total, sum(reject) AS reject
                FROM counted GROUP BY ALL
            )
            SELECT t.machine, t.product, t.total, t.reject, coalesce(s.startup_reject, 0)
            FROM totals t LEFT JOIN startup s
              ON t.machine = s.machine AND t.product IS NOT DISTINCT FROM s.product
            """
        ).fetchall()
    finally:
        cursor.close()
    for machine, product, total, reject, startup_reject in rows:
        out.setdefault(machine, {})[product] = ProductCounts(int(total), int(reject), int(startup_reject))
    return out


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

    return json.dumps({
        "label": report.label,
        "timezone": report.timezone,
        "window": {"start": _iso(report.window.start, report.timezone),
                   "end": _iso(report.window.end, report.timezone)},
        "machines": [dump(r) for r in report.machines],
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
