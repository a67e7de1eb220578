"""`oee report`'s output: one window's OEE as a table, JSON or CSV. Run by the command when it owns the
store, and in the engine for a command attached to it."""

from __future__ import annotations

from oee_tui.config import Config
from oee_tui.engine.analysis.report import build_report, resolve_window, to_csv, to_json, to_table
from oee_tui.engine.oee.planning_rules import Planning
from oee_tui.model import Span
from oee_tui.store import Store

REPORT_FORMATS = ("table", "json", "csv")


def report_output(store: Store, config: Config, now: float, *, shift: str | None, start: str | None,
                  end: str | None, fmt: str) -> str:
    """The report's text, ending in a newline. Raises ReportError (the window) or PlanningError (stored
    planning data edited by hand)."""
    # Imported shift patterns name shifts too (`--shift Late@...`), so the window needs the store.
    # An empty window reads the patterns but no orders: build_report reads those for its window.
    window, label = resolve_window(config, now, shift, start, end, planning=Planning.load(store, Span(now, now)))
    # The split by product and order is in the JSON only: it joins every count with the schedule.
    report = build_report(store, config, window, now, label, attribution=fmt == "json")
    output = {"json": to_json, "csv": to_csv, "table": to_table}[fmt](report)
    return output if output.endswith("\n") else output + "\n"
