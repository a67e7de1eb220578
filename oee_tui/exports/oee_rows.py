"""OEE results as export rows: one per machine, line and plant, for each shift in a range or for the whole range.

Every figure of the calculator (`OeeResult` and its six big losses) becomes a column, taken
from the dataclass fields so a figure added to the calculator is exported without a change
here. A few thousand rows at most, so they are built in Python and written with
`write_table_as` (CSV, XLSX) or pyarrow (Parquet).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from oee_tui.config import Config
from oee_tui.engine.analysis.report import build_report
from oee_tui.engine.oee.planning_rules import Planning
from oee_tui.exports.tables import temp_beside, write_table_as
from oee_tui.model import OeeResult, SixBigLosses, Span
from oee_tui.store import Store

_SKIPPED: Final = ("scope", "window_start", "window_end", "losses", "flags")
RESULT_FIELDS: Final = tuple(f.name for f in dataclasses.fields(OeeResult) if f.name not in _SKIPPED)
LOSS_FIELDS: Final = tuple(f.name for f in dataclasses.fields(SixBigLosses))
HEADERS: Final = ("period", "level", "scope", "line", "window_start_utc", "window_end_utc",
                  *RESULT_FIELDS, *LOSS_FIELDS, "flags")


def periods(config: Config, window: Span, label: str, now: float, per_shift: bool, *,
            planning: Planning) -> list[tuple[str, Span]]:
    """The windows to report: each shift occurrence overlapping `window` (cut to it, and to `now`), or the window.

    The shifts are the plant's one calendar (`planning.calendar`: imported shift patterns, once there
    are any, in place of the config's), so the shifts' rows add up to the window's figures.
    Shifts that have not started by `now` are left out; so is everything when the window is in the future.
    """
    if not per_shift:
        return [(label, window)]
    out: list[tuple[str, Span]] = []
    for shift in planning.calendar(config).shifts_between(window.start, window.end):
        start = max(shift.start, window.start)
        end = min(shift.end, window.end, now)
        if end > start:
            out.append((shift.label, Span(start, end)))
    return out


def oee_rows(store: Store, config: Config, spans: Sequence[tuple[str, Span]], now: float,
             machines: Sequence[str] | None, lines: Sequence[str] | None,
             planning: Planning | None = None,
             on_progress: Callable[[float], None] | None = None) -> list[tuple[Any, ...]]:
    """Rows under HEADERS. Without a selection: every machine, line and the plant; with one: the
    selected machines (`machines`, which includes the machines of `lines`) and `lines`, no plant row,
    since a plant total over a selection would not be the plant's.

    `config` is the config file's (build_report merges the imported planning data itself);
    `planning` is loaded once here rather than once per shift; `on_progress` gets the percentage
    of periods done (a month per shift of a hundred machines takes some seconds)."""
    selected = set(machines) if machines is not None else None
    wanted_lines = set(lines or ()) if selected is not None else None
    line_of = {m.id: m.line for m in config.machines}
    if planning is None:
        planning = Planning.load(store)
    rows: list[tuple[Any, ...]] = []
    for done, (label, span) in enumerate(spans):
        if on_progress is not None:
            on_progress(100.0 * done / len(spans))
        report = build_report(store, config, span, now, label, planning=planning, attribution=False)
        for result in report.machines:
            if selected is None or result.scope in selected:
                rows.append(_row(label, "machine", line_of.get(result.scope, ""), result))
        for result in report.lines:
            if wanted_lines is None or result.scope in wanted_lines:
                rows.append(_row(label, "line", result.scope, result))
        if selected is None and report.plant is not None:
            rows.append(_row(label, "plant", "", report.plant))
    if on_progress is not None:
        on_progress(100.0)
    return rows


def _row(label: str, level: str, line: str, result: OeeResult) -> tuple[Any, ...]:
    return (label, level, result.scope, line, _naive_utc(result.window_start), _naive_utc(result.window_end),
            *(getattr(result, name) for name in RESULT_FIELDS),
            *(getattr(result.losses, name) for name in LOSS_FIELDS), ";".join(result.flags))


def _naive_utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC).replace(tzinfo=None)


def write_oee(path: Path, fmt: str, rows: Sequence[tuple[Any, ...]]) -> int:
    """Write the rows as CSV or XLSX (through write_table_as) or Parquet, atomically; return the row count."""
    if fmt == "parquet":
        return _write_parquet(path, rows)
    return write_table_as(path, fmt, HEADERS, rows, sheet="oee")


def _write_parquet(path: Path, rows: Sequence[tuple[Any, ...]]) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = list(zip(*rows, strict=True)) if rows else [() for _ in HEADERS]
    types = {"period": pa.string(), "level": pa.string(), "scope": pa.string(), "line": pa.string(),
             "window_start_utc": pa.timestamp("us", tz="UTC"), "window_end_utc": pa.timestamp("us", tz="UTC"),
             "flags": pa.string()}
    fields = {f.name: f.type for f in (*dataclasses.fields(OeeResult), *dataclasses.fields(SixBigLosses))}
    arrays = []
    for name, values in zip(HEADERS, columns, strict=True):
        kind = types.get(name) or (pa.int64() if fields[name] == "int" else pa.float64())
        cells = [v.replace(tzinfo=UTC) for v in values] if name.endswith("_utc") else list(values)
        arrays.append(pa.array(cells, type=kind))
    table = pa.table(dict(zip(HEADERS, arrays, strict=True)))
    tmp = temp_beside(path)
    try:
        pq.write_table(table, tmp)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return int(table.num_rows)
