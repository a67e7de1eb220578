"""The rows of products, downtime-plan and production-log files checked and made into records.

Each builder takes the rows whose cells parsed and returns the records of the good ones;
what is wrong with the others goes to the problems list (see oee_tui.imports.row_checks).
"""

from __future__ import annotations

from typing import Any, Final, Literal

from oee_tui.imports.cells import ParsedRow
from oee_tui.imports.problems import listing
from oee_tui.imports.row_checks import RowChecks, RowSpan, span_group
from oee_tui.model import ImportRecord, LoggedStop, PlannedStop, ProductionRun, ProductRate

DEFAULT_PLANNED_REASON: Final = "PM"


def row_cycle_time(checks: RowChecks, number: int, row: dict[str, Any]) -> float | Literal[False] | None:
    """The ideal cycle time a row gives (columns IDEAL_CYCLE_TIME and RATE), None where it gives none, or
    False after adding the problem: a rate that disagrees with the cycle time, or a cycle time of 0."""
    problem, raw = checks.problems.add, checks.cells.raw
    cycle, rate_cycle = row.get("ideal_cycle_time"), row.get("rate")
    ideal: float | None = cycle if cycle is not None else rate_cycle
    if ideal is None:
        return None
    if cycle is not None and rate_cycle is not None and abs(cycle - rate_cycle) > 1e-6 * max(cycle, 1):
        problem(number, "rate", raw(number, "rate"),
                f"disagrees with the ideal cycle time of {cycle:g} s (this rate means {rate_cycle:g} s); "
                "give one of them")
        return False
    if ideal <= 0:
        problem(number, "ideal_cycle_time", raw(number, "ideal_cycle_time"), "must be greater than 0")
        return False
    return ideal


def build_products(checks: RowChecks, parsed: list[ParsedRow]) -> list[ImportRecord]:
    records: list[ImportRecord] = []
    problem, machines = checks.problems.add, checks.references.machines
    seen: dict[tuple[str, str | None], int] = {}
    for number, row, _ in parsed:
        product, machine = row["product"], row.get("machine")
        if machine is not None and machine not in machines:
            problem(number, "machine", machine, f"is not a machine in the config; machines are {listing(machines)}")
            continue
        ideal = row_cycle_time(checks, number, row)
        if ideal is None:
            problem(number, "ideal_cycle_time" if checks.cells.has("ideal_cycle_time") else "rate", None,
                    "is empty; give an ideal cycle time or a rate")
            continue
        if ideal is False:
            continue
        key = (product, machine)
        if key in seen:
            where = f"on machine {machine}" if machine else "for all machines"
            problem(number, "product", product, f"is listed twice {where}: also in row {seen[key]}")
            continue
        seen[key] = number
        records.append(ProductRate(product, machine, ideal, row.get("micro_stop_threshold"), number))
    return records


def build_downtime_plan(checks: RowChecks, parsed: list[ParsedRow]) -> list[ImportRecord]:
    records: list[ImportRecord] = []
    problem, references = checks.problems.add, checks.references
    reasons = references.reasons
    planned = [code for code, r in reasons.items() if r.planned]
    planned_codes = listing(planned) if planned else "(none: add one to the config, or oee import reasons)"
    duplicates = checks.check_duplicates(parsed)
    spans: list[RowSpan] = []
    for number, row, _ in parsed:
        if number in duplicates:
            continue
        ok = references.check_machine_or_line(number, row)
        ok = checks.check_span(number, row["start"], row["end"]) and ok
        given = row.get("reason")
        reason = given or DEFAULT_PLANNED_REASON
        known = reasons.get(reason)
        if given is None and (known is None or not known.planned):
            # No reason was written: say what the default stood for, not as if the planner had typed it.
            column = "reason" if checks.cells.has("reason") else None
            why = "is not a reason code (in the config or imported)" if known is None else "is an unplanned reason"
            problem(number, column, None,
                    f"{'is empty' if column else 'has no reason column'}, and the default planned reason "
                    f"{DEFAULT_PLANNED_REASON} {why}; give a planned reason: {planned_codes}")
            ok = False
        elif known is None:
            ok = references.check_reason(number, reason) and ok
        elif not known.planned:
            problem(number, "reason", reason, f"is an unplanned reason; a downtime plan needs a planned one: "
                    f"{planned_codes}")
            ok = False
        if not ok:
            continue
        spans.append((span_group(row), row["start"], row["end"], number, "the planned stop"))
        records.append(PlannedStop(row.get("machine"), row.get("line"), row["start"], row["end"], reason,
                                   row.get("note") or "", number))
    checks.check_overlaps(spans)
    return records


def build_production_log(checks: RowChecks, parsed: list[ParsedRow]) -> list[ImportRecord]:
    records: list[ImportRecord] = []
    problem, raw, references = checks.problems.add, checks.cells.raw, checks.references
    duplicates = checks.check_duplicates(parsed)
    runs: list[RowSpan] = []
    stops: list[RowSpan] = []
    for number, row, _ in parsed:
        if number in duplicates:
            continue
        ok = references.check_machine_or_line(number, row) and references.check_no_plc(number, row["machine"])
        ok = checks.check_span(number, row["start"], row["end"]) and ok
        kind = _record_type(row)
        if kind is None:
            problem(number, "type" if checks.cells.has("type") else None, row.get("type"),
                    "cannot tell a run from a stop: a run has a total count, a stop has a reason "
                    "(or set the type column to run or stop)")
            continue
        if kind == "stop":
            reason = row.get("reason")
            ok = references.check_reason(number, reason) and ok
            if ok:
                stops.append((f"machine {row['machine']}", row["start"], row["end"], number, "the stop"))
                records.append(LoggedStop(row["machine"], row["start"], row["end"], reason, number))
            continue
        total: int | None = row.get("total_count")
        reject: int = row.get("reject_count") or 0
        if total is None:
            problem(number, "total_count", None, "is empty; a run needs its total count")
            ok = False
        elif reject > total:
            problem(number, "reject_count", raw(number, "reject_count"), f"is more than the total count {total}")
            ok = False
        ok = references.check_product(number, row.get("product")) and ok
        if ok and total is not None:
            runs.append((f"machine {row['machine']}", row["start"], row["end"], number, "the run"))
            records.append(ProductionRun(row["machine"], row.get("product"), row.get("order_id"),
                                         row["start"], row["end"], total, reject, number))
    # One timeline per machine: a stop inside a run would count its time twice (split the run instead).
    checks.check_overlaps(runs + stops)
    return records


def _record_type(row: dict[str, Any]) -> str | None:
    declared = (row.get("type") or "").strip().lower()
    if declared in ("run", "production", "produktion", "lauf"):
        return "run"
    if declared in ("stop", "downtime", "stillstand", "stoerung", "störung"):
        return "stop"
    if declared:
        return None
    if row.get("total_count") is not None:
        return "run"
    if row.get("reason") is not None:
        return "stop"
    return None
