"""Bulk exports of the store's facts (samples, state intervals, stops) to CSV, Parquet or XLSX files.

The store streams the rows to the file with DuckDB's COPY (oee_tui.store.bulk_export), or, for XLSX, which
COPY cannot write, hands them over in batches to openpyxl when they fit in one sheet; this module says what
to export, in the config's terms, and where the file goes.

The file is written beside its destination under a hidden temporary name and
renamed into place only when COPY has finished, so a reader never sees half a file
and a failed or interrupted export leaves the previous file (if any) untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import duckdb

from oee_tui.config import Config
from oee_tui.exports.tables import ExportError, check_fits_sheet, temp_beside, write_table_as
from oee_tui.model import ReasonRecord
from oee_tui.store import Store
from oee_tui.store.bulk_export import (
    CSV_OPTIONS,
    DEFAULT_SETTINGS,
    PARQUET_OPTIONS,
    BulkQuery,
    ExportPlant,
    ProgressCallback,
    run_copy,
)
from oee_tui.store.bulk_export import bulk_query as store_bulk_query

BULK_KINDS: Final = ("samples", "intervals", "stops")
SUFFIXES: Final = {".csv": "csv", ".parquet": "parquet", ".xlsx": "xlsx"}


@dataclass(frozen=True, slots=True)
class Selection:
    """What to export: machines (None: all, unmapped samples included) and a time range in epoch seconds.

    Samples are those with `start <= ts < end`; intervals and stops those overlapping
    `[start, end)`, whole (not cut at the edges). A missing bound leaves that side open.
    """

    machines: tuple[str, ...] | None = None
    start: float | None = None
    end: float | None = None


def format_for(path: Path, given: str | None) -> str:
    """The format named by --format, else by the file's suffix; a contradiction between them is refused."""
    by_suffix = SUFFIXES.get(path.suffix.lower())
    if given is None:
        if by_suffix is None:
            raise ExportError(f"{path}: cannot tell the format from {path.suffix or 'a name without a suffix'!r}; "
                              "end the name in .csv, .parquet or .xlsx, or give --format")
        return by_suffix
    if by_suffix is not None and by_suffix != given:
        raise ExportError(f"{path}: the name says {by_suffix} but --format says {given}; make them agree")
    return given


def export_plant(config: Config) -> ExportPlant:
    """The config as the export queries know the plant: machines, their lines, thresholds and signals, and reasons."""
    machines = config.machines
    return ExportPlant(
        tuple(m.id for m in machines), tuple(m.line for m in machines),
        tuple(float(m.micro_stop_threshold_s) for m in machines),
        tuple(frozenset((signal.source, signal.tag) for signal in m.signals.values()) for m in machines),
        tuple(ReasonRecord(r.code, r.name, r.parent, r.planned, r.loss) for r in config.reasons),
    )


def bulk_query(kind: str, config: Config, selection: Selection, fmt: str, now: float) -> BulkQuery:
    """The store's query for one kind of bulk export; `now` ends the intervals still open."""
    return store_bulk_query(kind, export_plant(config), selection.machines, selection.start, selection.end, fmt, now)


def export_bulk(store: Store, kind: str, config: Config, selection: Selection, path: Path, fmt: str, now: float,
                on_progress: ProgressCallback | None = None) -> int:
    """Export one kind to `path` (see copy_to_file); returns the number of rows written."""
    query = bulk_query(kind, config, selection, fmt, now)
    if fmt == "xlsx":
        return _export_xlsx(store, kind, query, path, on_progress)
    return _whole_or_not_at_all(path, fmt, None,
                                lambda target, options: store.copy_to(query, target, options, on_progress))


def _export_xlsx(store: Store, kind: str, query: BulkQuery, path: Path, on_progress: ProgressCallback | None) -> int:
    """One sheet, when the rows fit in one; refused with the count when they don't (before anything is written)."""
    count = store.count_rows(query)
    check_fits_sheet(path, count, f"{kind} rows", "--shift/--from/--to, --line or --machine")
    names, rows = store.read_rows(query)
    if on_progress is not None:
        on_progress(0.0)
        rows = _reporting(rows, count, on_progress)
    written = write_table_as(path, "xlsx", names, rows, sheet=kind)
    if on_progress is not None:
        on_progress(100.0)
    return written


def _reporting(rows: Iterator[tuple[Any, ...]], count: int, on_progress: ProgressCallback) -> Iterator[tuple[Any, ...]]:
    step = max(count // 100, 1)
    for index, row in enumerate(rows, 1):
        if index % step == 0:
            on_progress(min(100.0 * index / count, 99.9))
        yield row


def copy_to_file(cursor: duckdb.DuckDBPyConnection, sql: str, params: list[Any], path: Path, fmt: str,
                 on_progress: ProgressCallback | None = None,
                 settings: Mapping[str, str] = DEFAULT_SETTINGS, options: str | None = None) -> int:
    """Run `COPY (sql) TO path` on a cursor the caller holds; the file appears whole or not at all.

    `on_progress` gets DuckDB's percentage (0 to 100) about ten times a second, 0 first and 100
    at the end; whatever it raises (KeyboardInterrupt from a Ctrl-C included) stops the query
    and leaves no file behind. `settings` (DuckDB SET) and `options` (of COPY) are there for
    benchmarks/bench_export.py to try others than the defaults.
    """
    return _whole_or_not_at_all(path, fmt, options, lambda target, chosen: run_copy(
        cursor, sql, params, target, chosen, on_progress, settings))


def _whole_or_not_at_all(path: Path, fmt: str, options: str | None, copy: Callable[[Path, str], int]) -> int:
    """`copy(temporary path, COPY options)` beside `path`, then renamed into place."""
    if fmt not in ("csv", "parquet"):
        raise ExportError(f"{path}: bulk exports are CSV or Parquet, not {fmt}")
    if options is None:
        options = PARQUET_OPTIONS if fmt == "parquet" else CSV_OPTIONS
    tmp = temp_beside(path)
    try:
        rows = copy(tmp, options)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return rows
