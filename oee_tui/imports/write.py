"""Validated import records -> the store, in one transaction, idempotently; and what a write would show.

`write_result` has the store write an `ImportResult` whose file had no problem
(oee_tui.store.import_tables says what each kind replaces, and how a file imported twice
changes nothing). `plan_result` says what it would do without keeping anything, and
`preview_rows` shows the first records as they will be stored.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime

from oee_tui.imports.validate import ImportResult
from oee_tui.model import LoggedStop, Order, PlannedStop, ProductionRun, ProductRate, ReasonRecord, ShiftPattern
from oee_tui.store import Store, WriteSummary
from oee_tui.store.planning_codec import shift_breaks, shift_days

__all__ = ["WriteSummary", "plan_result", "preview_rows", "removed_rows", "summary_for_empty_store", "write_result"]


def write_result(store: Store, result: ImportResult, *, imported_by: str, sha256: str | None = None,
                 interrupted: Callable[[], bool] | None = None, origin: str = "local") -> WriteSummary:
    """Write a validated file in one transaction, with its audit entry (by `imported_by` from
    `origin`); refuses a result with problems.

    `interrupted` is asked just before the commit: True rolls the write back and raises KeyboardInterrupt."""
    _refuse_problems(result)
    return store.write_import(result.kind, result.records, file=result.file, sheet=result.sheet,
                              imported_by=imported_by, sha256=sha256, interrupted=interrupted, origin=origin)


def plan_result(store: Store, result: ImportResult, *, imported_by: str = "") -> WriteSummary:
    """What `write_result` would do, computed by doing it and rolling back: nothing is kept."""
    _refuse_problems(result)
    return store.write_import(result.kind, result.records, file=result.file, sheet=result.sheet,
                              imported_by=imported_by, commit=False)


def summary_for_empty_store(result: ImportResult) -> WriteSummary:
    """What a first import into a store that does not exist yet would do: insert every row."""
    _refuse_problems(result)
    return WriteSummary(result.kind, len(result.records), 0, 0)


def _refuse_problems(result: ImportResult) -> None:
    count = len(result.problems)
    if count:
        raise ValueError(f"{result.file}: the file has {count} problem{'s' if count != 1 else ''}; "
                         "a file with any problem writes nothing")


# ---------------------------------------------------------------- preview


def _utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def removed_rows(summary: WriteSummary) -> list[tuple[str, ...]]:
    """A header and the stored rows the write removes (as many as the summary lists), times in UTC."""
    return [("removed", "machine or line", "start_utc", "end_utc"),
            *((row.what, row.where, "" if row.start_utc is None else _utc(row.start_utc),
               "" if row.end_utc is None else _utc(row.end_utc)) for row in summary.removed_rows)]


def preview_rows(result: ImportResult, limit: int = 10) -> list[tuple[str, ...]]:
    """A header and the first `limit` records as they will be stored (times in UTC)."""
    kind = result.kind
    header: tuple[str, ...]
    rows: list[tuple[str, ...]]
    records = result.records[:limit]
    if kind == "products":
        header = ("product", "machine", "ideal_cycle_time_s", "micro_stop_threshold_s")
        rows = [(r.product, r.machine or "", _seconds(r.ideal_cycle_time_s), _seconds(r.micro_stop_threshold_s))
                for r in records if isinstance(r, ProductRate)]
    elif kind == "schedule":
        orders = [r for r in records if isinstance(r, Order)]
        header = ("order_id", "product", "machine", "line", "start_utc", "end_utc", "quantity")
        rows = [(r.order_id, _text(r.product), _text(r.machine), _text(r.line), _utc(r.start_utc),
                 "open" if r.end_utc == math.inf else _utc(r.end_utc), _text(r.quantity)) for r in orders]
        if any(r.ideal_cycle_time_s is not None for r in result.records if isinstance(r, Order)):
            # Shown only where the file gives cycle times; empty: the product's.
            header = (*header, "ideal_cycle_time_s")
            rows = [(*row, _seconds(r.ideal_cycle_time_s)) for row, r in zip(rows, orders, strict=True)]
    elif kind == "shifts":
        header = ("name", "start", "end", "days", "breaks")
        rows = [(r.name, r.start, r.end, shift_days(r.days), shift_breaks(r.breaks))
                for r in records if isinstance(r, ShiftPattern)]
    elif kind == "downtime-plan":
        header = ("machine", "line", "start_utc", "end_utc", "reason", "note")
        rows = [(_text(r.machine), _text(r.line), _utc(r.start_utc), _utc(r.end_utc), _text(r.reason), _text(r.note))
                for r in records if isinstance(r, PlannedStop)]
    elif kind == "reasons":
        header = ("code", "name", "parent", "planned", "loss")
        rows = [(r.code, r.name, _text(r.parent), "yes" if r.planned else "no",
                 r.loss.value if r.loss is not None else "") for r in records if isinstance(r, ReasonRecord)]
    else:
        header = ("machine", "type", "product", "order_id", "start_utc", "end_utc", "total", "reject", "reason")
        rows = []
        for r in records:
            if isinstance(r, ProductionRun):
                rows.append((r.machine, "run", _text(r.product), _text(r.order_id), _utc(r.start_utc),
                             _utc(r.end_utc), str(r.total_count), str(r.reject_count), ""))
            elif isinstance(r, LoggedStop):
                rows.append((r.machine, "stop", "", "", _utc(r.start_utc), _utc(r.end_utc), "", "",
                             _text(r.reason)))
    return [header, *rows]
