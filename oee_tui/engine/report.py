"""OEE reports over the store: per machine, per line and for the plant.

Counts are summed in DuckDB (a month of minute buckets is millions of rows);
only state intervals, which are few, come back to Python for the calculator.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from oee_tui.config import Config
from oee_tui.engine.model import MachineState, Span
from oee_tui.engine.oee import ProductCounts, aggregate
from oee_tui.engine.oee_columns import CODE, IntervalColumns, classify_columns, machine_oee_columns
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
    columns = _columns_by_machine(store, window, machine_ids, list(reasons))
    empty = _empty_columns()
    startup: list[tuple[str, npt.NDArray[np.float64], float]] = []
    classes_by_machine = {}
    for machine in config.machines:
        machine_columns = columns.get(machine.id, empty)
        classes = classify_columns(machine_columns, machine, reasons, now)
        classes_by_machine[machine.id] = classes
        if machine.startup_period_s > 0:
            closed = ~np.isnan(machine_columns.ends)
            stop_ends = machine_columns.ends[closed & np.isin(classes, (CODE["breakdown"], CODE["setup"]))]
            startup.append((machine.id, stop_ends, machine.startup_period_s))
    totals = _product_totals(store, window, scheduled, startup, machine_ids)
    results = [
        machine_oee_columns(machine, window, scheduled, breaks, columns.get(machine.id, empty),
                            totals.get(machine.id, {}), reasons, now)
        for machine in config.machines
    ]
    lines = tuple(
        aggregate(line.id, [r for r, m in zip(results, config.machines, strict=True) if m.line == line.id])
        for line in config.lines
    )
    plant = aggregate("plant", results) if results else None
    return Report(label, window, config.site.timezone, tuple(results), lines, plant)


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


def _product_totals(store: Store, window: Span, scheduled: Sequence[Span],
                    startup: Sequence[tuple[str, npt.NDArray[np.float64], float]],
                    machines: Sequence[str]) -> dict[str, dict[str | None, ProductCounts]]:
    """Sum counts per machine and product over the scheduled part of the window.

    Same rule as oee.product_totals: a bucket counts when its minute starts
    inside the window and inside scheduled time; its rejects are startup
    rejects when the minute starts within a startup window after a breakdown or
    setup. DuckDB sums the buckets and hands back only the minutes that had
    rejects; a binary search per machine then finds each one's startup window.
    A machine's startup windows all have one length, so the latest window
    starting at or before a minute is the one that reaches furthest.
    """
    spans = [(max(s.start, window.start), min(s.end, window.end)) for s in scheduled]
    spans = [(a, b) for a, b in spans if b > a]
    out: dict[str, dict[str | None, ProductCounts]] = {}
    if not spans:
        return out
    # Counts sit in buckets that start on whole minutes: the scheduled minutes are a small
    # table (43,200 for a month) that an equi-join can use instead of a range join. DuckDB
    # generates it from the spans. Inputs go in as short lists, not Arrow tables: an Arrow
    # scan makes DuckDB import pandas, a sixth of a second of every `oee report`.
    firsts = [math.ceil(a / 60.0) * 60.0 for a, _ in spans]
    lasts = [math.ceil(b / 60.0) * 60.0 - 60.0 for _, b in spans]
    sched = [(first, last) for first, last in zip(firsts, lasts, strict=True) if last >= first]
    cursor = store.cursor()
    try:
        data = cursor.execute(
            """
            WITH sched AS (
                SELECT unnest(generate_series(make_timestamp(a), make_timestamp(b), INTERVAL 1 MINUTE)) AS m
                FROM (SELECT unnest(?::BIGINT[]) AS a, unnest(?::BIGINT[]) AS b)
            ), wanted AS (
                SELECT unnest(?::VARCHAR[]) AS machine, unnest(range(?)) AS idx
            ), counted AS (
                SELECT w.idx AS machine, c.minute, c.product, c.total, c.reject
                FROM count_minutes c JOIN wanted w ON w.machine = c.machine
                SEMI JOIN sched s ON c.minute = s.m
                WHERE c.minute >= ? AND c.minute < ?
            )
            -- kind 0: the totals per machine and product; kind 1: each minute that had rejects
            SELECT 0 AS kind, machine, product, 0.0 AS minute, sum(total) AS total, sum(reject) AS reject
            FROM counted GROUP BY machine, product
            UNION ALL
            SELECT 1, machine, product, epoch_us(minute) / 1e6, total, reject
            FROM counted WHERE reject <> 0
            ORDER BY kind, machine, product NULLS FIRST, minute
            """,
            [_micros([a for a, _ in sched]), _micros([b for _, b in sched]), list(machines), len(machines),
             _ts_py(window.start), _ts_py(window.end)],
        ).fetchnumpy()
    finally:
        cursor.close()
    kinds = np.asarray(data["kind"], dtype=np.int64)
    machine_idx = np.asarray(data["machine"], dtype=np.int64)
    products = np.asarray(data["product"], dtype=object)
    totals = np.asarray(data["total"], dtype=np.int64)
    rejects = np.asarray(data["reject"], dtype=np.int64)
    split = int(np.searchsorted(kinds, 1))
    for i in range(split):
        out.setdefault(machines[machine_idx[i]], {})[products[i]] = ProductCounts(int(totals[i]), int(rejects[i]), 0)

    windows = {name: (np.round(ends * 1e6) / 1e6, period) for name, ends, period in startup if len(ends)}
    minutes = np.asarray(data["minute"], dtype=np.float64)
    rows = np.arange(split, len(kinds))
    if len(rows) == 0 or not windows:
        return out
    # Groups of one machine and one product, in the order the query sorted them.
    changes = (np.diff(machine_idx[rows]) != 0) | (products[rows][1:] != products[rows][:-1])
    bounds = np.concatenate(([0], np.flatnonzero(changes) + 1, [len(rows)])) + split
    for lo, hi in pairwise(bounds):
        machine = machines[machine_idx[lo]]
        if machine not in windows:
            continue
        ends, period = windows[machine]
        at = minutes[lo:hi]
        latest = np.searchsorted(ends, at, side="right") - 1
        inside = (latest >= 0) & (at < ends[np.maximum(latest, 0)] + period)
        startup_reject = int(rejects[lo:hi][inside].sum())
        if startup_reject:
            counts = out[machine][products[lo]]
            out[machine][products[lo]] = ProductCounts(counts.total, counts.reject, startup_reject)
    return out


def _micros(values: Sequence[float] | npt.NDArray[np.float64]) -> list[int]:
    """Epoch seconds as whole epoch microseconds, the store's TIMESTAMP resolution."""
    return (np.asarray(values, dtype=np.float64) * 1e6).round().astype(np.int64).tolist()


def _ts_py(ts: float) -> datetime:
    """A naive UTC datetime, as the store keeps TIMESTAMP columns."""
    return datetime.fromtimestamp(ts, UTC).replace(tzinfo=None)


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
