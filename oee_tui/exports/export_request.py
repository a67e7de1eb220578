"""`oee export`'s work once the file's place is known: what to export, checked against the plant, written
to a file. The command runs it when it owns the store; for a command attached to an engine, the engine
runs it into a file of its own and streams that back, and the command writes the user's file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from oee_tui.config import Config
from oee_tui.engine.analysis.report import ReportError, parse_instant, resolve_window
from oee_tui.engine.oee.planning_rules import Planning
from oee_tui.exports.alert_rows import write_alerts
from oee_tui.exports.bulk import Selection, export_bulk
from oee_tui.exports.oee_rows import oee_rows, periods, write_oee
from oee_tui.exports.tables import ExportError, check_fits_sheet
from oee_tui.store import Store
from oee_tui.store.bulk_export import ProgressCallback

KINDS: Final = ("samples", "intervals", "stops", "oee", "alerts")


@dataclass(frozen=True, slots=True)
class ExportRequest:
    what: str  # one of KINDS
    fmt: str  # csv, parquet or xlsx
    shift: str | None = None
    start: str | None = None
    end: str | None = None
    lines: tuple[str, ...] = ()
    machines: tuple[str, ...] = ()
    per: str = "shift"  # oee: "shift" or "window"

    def check(self) -> None:
        """What can be refused before the plant is known."""
        if self.what not in KINDS:
            raise ExportError(f"{self.what!r} is not one of {', '.join(KINDS)}")


def run_export(store: Store, config: Config, request: ExportRequest, path: Path, now: float,
               on_progress: ProgressCallback | None = None) -> int:
    """Write the export to `path` (whole or not at all); returns its rows. Raises ExportError, ReportError
    or PlanningError for what the request asks wrongly."""
    request.check()
    machines = selected_machines(config, request.lines, request.machines)
    # Imported reasons, shift patterns and cycle times count as the report counts them.
    planning = Planning.load(store)
    effective = planning.effective_config(config)
    if request.what == "oee":
        window, label = resolve_window(effective, now, request.shift, request.start, request.end)
        spans = periods(config, window, label, now, per_shift=request.per == "shift", planning=planning)
        results = oee_rows(store, config, spans, now, machines, list(request.lines) or None, planning, on_progress)
        return write_oee(path, request.fmt, results)
    if request.what == "alerts":
        start, end = _bulk_range(request, effective, now)
        alerts = store.alerts(start=start, end=end, limit=None)
        if machines is not None:
            alerts = [alert for alert in alerts if alert.subject in machines]
        if request.fmt == "xlsx":
            check_fits_sheet(path, len(alerts), "alerts", "--from/--to")
        return write_alerts(path, request.fmt, alerts)
    selection = Selection(machines, *_bulk_range(request, effective, now))
    return export_bulk(store, request.what, effective, selection, path, request.fmt, now, on_progress)


def selected_machines(config: Config, lines: Sequence[str], machines: Sequence[str]) -> tuple[str, ...] | None:
    """The machines of the given lines plus the given machines, in config order; None when neither is given."""
    if not lines and not machines:
        return None
    line_ids = [line.id for line in config.lines]
    machine_ids = [machine.id for machine in config.machines]
    for line in lines:
        if line not in line_ids:
            raise ReportError(f"--line {line!r}: no such line; lines are {', '.join(line_ids) or '(none)'}")
    for machine in machines:
        if machine not in machine_ids:
            raise ReportError(f"--machine {machine!r}: no such machine; machines are "
                              f"{', '.join(machine_ids) or '(none)'}")
    return tuple(m.id for m in config.machines if m.line in lines or m.id in machines)


def _bulk_range(request: ExportRequest, config: Config, now: float) -> tuple[float | None, float | None]:
    """--shift, or --from and/or --to (either side may stay open), or everything."""
    if request.shift is not None:
        window, _ = resolve_window(config, now, request.shift, request.start, request.end)
        return window.start, window.end
    start = parse_instant(request.start, config.tz, "--from") if request.start is not None else None
    end = parse_instant(request.end, config.tz, "--to") if request.end is not None else None
    if start is not None and end is not None and end <= start:
        raise ReportError(f"--to {request.end!r} must be after --from {request.start!r}")
    return start, end
