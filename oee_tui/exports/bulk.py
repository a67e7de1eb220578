"""Bulk exports of the store's own tables (samples, state intervals, stops) through DuckDB's COPY.

A store holds tens of millions of samples: they never pass through Python. One
`COPY (SELECT ...) TO file` per export, with the time range and the machines pushed
into the SQL, streams row groups from the table to the file with bounded memory.
Progress comes from DuckDB itself (`query_progress()`, polled from a second thread while
COPY runs on the calling one): measured on this project's machine it costs nothing,
where exporting time-ordered chunks through Arrow batches took as long and twice the
memory.

The file is written beside its destination under a hidden temporary name and
renamed into place only when COPY has finished, so a reader never sees half a file
and a failed or interrupted export leaves the previous file (if any) untouched.

Time columns are UTC and say so in their names (`ts_utc`, `start_utc`, ...). In
Parquet they are TIMESTAMP WITH TIME ZONE (UTC), so pandas and pyarrow read aware
times; in CSV they are plain `YYYY-MM-DD HH:MM:SS[.ffffff]` text.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

import duckdb

from oee_tui.config import Config
from oee_tui.exports.tables import ExportError
from oee_tui.model import MachineState

BULK_KINDS: Final = ("samples", "intervals", "stops")
SUFFIXES: Final = {".csv": "csv", ".parquet": "parquet", ".xlsx": "xlsx"}

# Chosen with benchmarks/bench_export.py (50M samples, 2 shared cores): without a memory cap the
# order-preserving Parquet writer (rows come out in the order they were stored) grew to 1.9 GB;
# with 512MB it stays near 550 MB and is no slower. DuckDB settings are per database, so
# copy_to_file puts the previous values back afterwards.
DEFAULT_SETTINGS: Final[Mapping[str, str]] = {"memory_limit": "512MB"}
PARQUET_OPTIONS: Final = "FORMAT parquet, COMPRESSION zstd"
CSV_OPTIONS: Final = "FORMAT csv, HEADER true"
POLL_S: Final = 0.1

_EPOCH: Final = datetime(1970, 1, 1)
_STOP_STATES: Final = tuple(state.value for state in MachineState if state.is_stop)

ProgressCallback = Callable[[float], None]


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


def _utc(ts: float) -> datetime:
    """Epoch seconds -> naive UTC datetime, which DuckDB binds as the store's TIMESTAMP."""
    return _EPOCH + timedelta(microseconds=round(ts * 1e6))


def _time_column(column: str, alias: str, fmt: str) -> str:
    # TIMESTAMPTZ in Parquet marks the column as UTC (isAdjustedToUTC); the store's session zone
    # is UTC, so the cast keeps the instant. In CSV the plain form avoids a "+00" on every row.
    return f"{column}::TIMESTAMPTZ AS {alias}" if fmt == "parquet" else f"{column} AS {alias}"


def samples_query(config: Config, selection: Selection, fmt: str) -> tuple[str, list[Any]]:
    """Samples have no machine column: a machine's samples are the (source, tag) pairs its signals map."""
    where: list[str] = []
    params: list[Any] = []
    if selection.start is not None:
        where.append("s.ts >= ?")
        params.append(_utc(selection.start))
    if selection.end is not None:
        where.append("s.ts < ?")
        params.append(_utc(selection.end))
    pairs = ""
    if selection.machines is not None:
        wanted = set(selection.machines)
        mapped = sorted({(m.source, m.tag) for machine in config.machines if machine.id in wanted
                         for m in machine.signals.values()})
        # A semi join against a handful of pairs: DuckDB hashes them once and probes per row.
        pairs = """SEMI JOIN (SELECT unnest(?::VARCHAR[]) AS source, unnest(?::VARCHAR[]) AS tag) p
                   ON p.source = s.source AND p.tag = s.tag"""
        params = [[source for source, _ in mapped], [tag for _, tag in mapped], *params]
    sql = f"""
        SELECT {_time_column('s.ts', 'ts_utc', fmt)}, s.source, s.tag, s.value_num, s.value_text, s.quality
        FROM samples s {pairs}
        {'WHERE ' + ' AND '.join(where) if where else ''}
    """
    return sql, params


def _interval_source(config: Config, selection: Selection, now: float,
                     states: Sequence[str] | None) -> tuple[str, list[Any]]:
    """Intervals with their line, newest reason and length, as a subquery `i` for the two interval kinds."""
    where: list[str] = []
    params: list[Any] = []
    machine_ids = [m.id for m in config.machines]
    params += [machine_ids, [m.line for m in config.machines], [float(m.micro_stop_threshold_s)
                                                                for m in config.machines]]
    reasons = list(config.reasons)
    params += [[r.code for r in reasons], [r.name for r in reasons], [r.planned for r in reasons],
               [r.loss.value if r.loss is not None else None for r in reasons]]
    params.append(_utc(now))
    if selection.machines is not None:
        where.append("list_contains(?::VARCHAR[], i.machine)")
        params.append(list(selection.machines))
    if states is not None:
        where.append("list_contains(?::VARCHAR[], i.state)")
        params.append(list(states))
    if selection.end is not None:
        where.append("i.start_ts < ?")
        params.append(_utc(selection.end))
    if selection.start is not None:
        where.append("(i.end_ts IS NULL OR i.end_ts > ?)")
        params.append(_utc(selection.start))
    sql = f"""
        WITH machines AS (
            SELECT unnest(?::VARCHAR[]) AS machine, unnest(?::VARCHAR[]) AS line,
                   unnest(?::DOUBLE[]) AS micro_stop_threshold_s
        ), reasons AS (
            SELECT unnest(?::VARCHAR[]) AS code, unnest(?::VARCHAR[]) AS name, unnest(?::BOOLEAN[]) AS planned,
                   unnest(?::VARCHAR[]) AS loss
        ), newest AS (
            -- the newest reason per stop; rowid breaks ties, so the later audit entry wins (as Store does)
            SELECT machine, stop_start, reason, entered_by, entered_at
            FROM stop_reasons
            QUALIFY row_number() OVER (PARTITION BY machine, stop_start ORDER BY entered_at DESC, rowid DESC) = 1
        ), i AS (
            SELECT i.machine, m.line, i.start_ts, i.end_ts, i.state,
                   (epoch_us(coalesce(i.end_ts, ?::TIMESTAMP)) - epoch_us(i.start_ts)) / 1e6 AS duration_s,
                   m.micro_stop_threshold_s, n.reason, rc.name AS reason_name, rc.planned AS reason_planned,
                   rc.loss AS reason_loss, n.entered_by, n.entered_at
            FROM state_intervals i
            LEFT JOIN machines m ON m.machine = i.machine
            LEFT JOIN newest n ON n.machine = i.machine AND n.stop_start = i.start_ts
            LEFT JOIN reasons rc ON rc.code = n.reason
            {'WHERE ' + ' AND '.join(where) if where else ''}
        )
    """
    return sql, params


def intervals_query(config: Config, selection: Selection, fmt: str, now: float) -> tuple[str, list[Any]]:
    """Every state interval overlapping the range; `duration_s` runs to `now` while one is open."""
    source, params = _interval_source(config, selection, now, None)
    sql = f"""{source}
        SELECT machine, line, {_time_column('start_ts', 'start_utc', fmt)}, {_time_column('end_ts', 'end_utc', fmt)},
               state, duration_s, reason, entered_by AS reason_by, {_time_column('entered_at', 'reason_at_utc', fmt)}
        FROM i ORDER BY machine, start_ts
    """
    return sql, params


# oee.classify_interval in SQL (tests hold the two together): a reason (known to the config)
# decides planned/setup/minor stop, else the state; a breakdown shorter than the machine's
# micro-stop threshold is a minor stop, judged on the stop's whole length.
_STOP_CLASS: Final = """CASE
            WHEN micro_stop_threshold_s IS NULL THEN NULL
            WHEN state = 'planned_stop' OR reason_planned THEN 'planned'
            WHEN reason_loss = 'setup' THEN 'setup'
            WHEN reason_loss = 'minor_stop' THEN 'minor_stop'
            WHEN reason_planned IS NULL AND state = 'changeover' THEN 'setup'
            WHEN reason_planned IS NULL AND state = 'minor_stop' THEN 'minor_stop'
            WHEN duration_s < micro_stop_threshold_s THEN 'minor_stop'
            ELSE 'breakdown'
        END"""


def stops_query(config: Config, selection: Selection, fmt: str, now: float) -> tuple[str, list[Any]]:
    """Intervals that are stops (not running, not offline), with their class and newest reason."""
    source, params = _interval_source(config, selection, now, _STOP_STATES)
    sql = f"""{source}
        SELECT machine, line, {_time_column('start_ts', 'start_utc', fmt)}, {_time_column('end_ts', 'end_utc', fmt)},
               duration_s, state, {_STOP_CLASS} AS class, reason, reason_name, entered_by AS reason_by,
               {_time_column('entered_at', 'reason_at_utc', fmt)}
        FROM i ORDER BY machine, start_ts
    """
    return sql, params


def bulk_query(kind: str, config: Config, selection: Selection, fmt: str, now: float) -> tuple[str, list[Any]]:
    if kind == "samples":
        return samples_query(config, selection, fmt)
    if kind == "intervals":
        return intervals_query(config, selection, fmt, now)
    if kind == "stops":
        return stops_query(config, selection, fmt, now)
    raise ValueError(f"not a bulk export: {kind!r}")


def temp_beside(path: Path) -> Path:
    """An empty hidden file in the destination's folder, so the final rename stays on one filesystem."""
    if not path.parent.is_dir():
        raise ExportError(f"{path}: folder {path.parent} does not exist")
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(name)


def copy_to_file(cursor: duckdb.DuckDBPyConnection, sql: str, params: list[Any], path: Path, fmt: str,
                 on_progress: ProgressCallback | None = None,
                 settings: Mapping[str, str] = DEFAULT_SETTINGS, options: str | None = None) -> int:
    """Run `COPY (sql) TO path` and return the number of rows written; the file appears whole or not at all.

    `on_progress` gets DuckDB's percentage (0 to 100) about ten times a second, 0 first and 100
    at the end; whatever it raises (KeyboardInterrupt from a Ctrl-C included) stops the query
    and leaves no file behind. `settings` (DuckDB SET) and `options` (of COPY) are there for
    benchmarks/bench_export.py to try others than the defaults.
    """
    if fmt not in ("csv", "parquet"):
        raise ExportError(f"{path}: bulk exports are CSV or Parquet, not {fmt}")
    if options is None:
        options = PARQUET_OPTIONS if fmt == "parquet" else CSV_OPTIONS
    previous = {name: cursor.sql("SELECT current_setting(?)", params=[name]).fetchall()[0][0] for name in settings}
    try:
        for name, value in settings.items():
            cursor.execute(f"SET {name} = '{value}'")
        # Per connection: progress is measured but DuckDB prints no bar of its own.
        cursor.execute("SET enable_progress_bar = true")
        cursor.execute("SET enable_progress_bar_print = false")
        return _copy(cursor, sql, params, path, options, on_progress)
    finally:
        for name, value in previous.items():
            # RESET when that restores it: the displayed value ("18.8 GiB") is rounded, so setting
            # it back would not give the exact default.
            cursor.execute(f"RESET {name}")
            if cursor.sql("SELECT current_setting(?)", params=[name]).fetchall()[0][0] != value:
                cursor.execute(f"SET {name} = '{value}'")


def _copy(cursor: duckdb.DuckDBPyConnection, sql: str, params: list[Any], path: Path, options: str,
          on_progress: ProgressCallback | None) -> int:
    tmp = temp_beside(path)
    quoted = str(tmp).replace("'", "''")
    poller = _ProgressPoller(cursor, on_progress) if on_progress is not None else None
    try:
        if on_progress is not None:
            on_progress(0.0)
        if poller is not None:
            poller.start()
        try:
            # COPY runs on this (the main) thread, where DuckDB turns a Ctrl-C into an interrupted
            # query; run in a worker thread it was not interrupted, and the main thread's wait for
            # it could be cut short with the connection still busy.
            rows = cursor.execute(f"COPY ({sql}) TO '{quoted}' ({options})", params).fetchall()[0][0]
        except (duckdb.Error, RuntimeError) as exc:  # duckdb 2.0 reports a Ctrl-C as a bare RuntimeError
            if poller is not None and poller.error is not None:
                raise poller.error from None
            if "interrupted" in str(exc).lower():
                raise KeyboardInterrupt from exc
            raise
        finally:
            if poller is not None:
                poller.finish()
        if poller is not None and poller.error is not None:
            raise poller.error  # the callback failed as the query ended
        if on_progress is not None:
            on_progress(100.0)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return int(rows)


class _ProgressPoller(threading.Thread):
    """Polls DuckDB's query progress while COPY runs and hands it to the callback.

    If the callback raises, the query is interrupted and the error kept for the main thread to raise.
    """

    def __init__(self, cursor: duckdb.DuckDBPyConnection, on_progress: ProgressCallback) -> None:
        super().__init__(name="oee-export-progress", daemon=True)
        self._cursor = cursor
        self._on_progress = on_progress
        self._done = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        while not self._done.wait(POLL_S):
            try:
                percent = self._cursor.query_progress()
            except duckdb.Error:  # between statements the connection may refuse; try next tick
                continue
            if percent < 0:  # -1 until DuckDB has an estimate
                continue
            try:
                self._on_progress(min(percent, 100.0))
            except BaseException as exc:
                self.error = exc
                with contextlib.suppress(duckdb.Error):
                    self._cursor.interrupt()
                return

    def finish(self) -> None:
        self._done.set()
        self.join()
