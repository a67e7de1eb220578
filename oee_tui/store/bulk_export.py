"""Bulk exports of the facts (samples, state intervals, stops) through DuckDB's COPY.

A store holds tens of millions of samples: they never pass through Python. One
`COPY (SELECT ...) TO file` per export, with the time range and the machines pushed
into the SQL, streams row groups from the table to the file with bounded memory.
Progress comes from DuckDB itself (`query_progress()`, polled from a second thread while
COPY runs on the calling one): measured on this project's machine it costs nothing,
where exporting time-ordered chunks through Arrow batches took as long and twice the
memory.

Time columns are UTC and say so in their names (`ts_utc`, `start_utc`, ...). In
Parquet they are TIMESTAMP WITH TIME ZONE (UTC), so pandas and pyarrow read aware
times; in CSV they are plain `YYYY-MM-DD HH:MM:SS[.ffffff]` text.

Where the file goes (a temporary name beside its destination, renamed when whole) is
oee_tui.exports.bulk's business; this module writes whatever path it is given.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NamedTuple

import duckdb

from oee_tui.model import MachineState, ReasonRecord
from oee_tui.store.database import Database
from oee_tui.store.fact_tables import NEWEST_REASON_ONLY
from oee_tui.store.timecodec import to_datetime

# Chosen with benchmarks/bench_export.py (50M samples, 2 shared cores): without a memory cap the
# order-preserving Parquet writer (rows come out in the order they were stored) grew to 1.9 GB;
# with 512MB it stays near 550 MB and is no slower. DuckDB settings are per database, so
# run_copy puts the previous values back afterwards.
DEFAULT_SETTINGS: Final[Mapping[str, str]] = {"memory_limit": "512MB"}
PARQUET_OPTIONS: Final = "FORMAT parquet, COMPRESSION zstd"
CSV_OPTIONS: Final = "FORMAT csv, HEADER true"
POLL_S: Final = 0.1

_STOP_STATES: Final = tuple(state.value for state in MachineState if state.is_stop)

ProgressCallback = Callable[[float], None]


class BulkQuery(NamedTuple):
    """A query over the store's tables and its parameters, to run as `COPY (sql) TO ...`."""

    sql: str
    params: list[Any]


@dataclass(frozen=True, slots=True)
class ExportPlant:
    """What the export queries need to know of the plant.

    Per machine (in `machines` order): its line, its micro-stop threshold and the (source, tag)
    pairs its signals map; and the reason tree that names and classes the stops.
    """

    machines: tuple[str, ...]
    lines: tuple[str, ...]
    micro_stop_thresholds: tuple[float, ...]
    signals: tuple[frozenset[tuple[str, str]], ...]
    reasons: tuple[ReasonRecord, ...]


def _time_column(column: str, alias: str, fmt: str) -> str:
    # TIMESTAMPTZ in Parquet marks the column as UTC (isAdjustedToUTC); the store's session zone
    # is UTC, so the cast keeps the instant. In CSV the plain form avoids a "+00" on every row.
    return f"{column}::TIMESTAMPTZ AS {alias}" if fmt == "parquet" else f"{column} AS {alias}"


def samples_query(plant: ExportPlant, machines: Sequence[str] | None, start: float | None, end: float | None,
                  fmt: str) -> BulkQuery:
    """Samples with `start <= ts < end` (a bound None: open). Samples have no machine column: a machine's
    samples are the (source, tag) pairs its signals map."""
    where: list[str] = []
    params: list[Any] = []
    if start is not None:
        where.append("s.ts >= ?")
        params.append(to_datetime(start))
    if end is not None:
        where.append("s.ts < ?")
        params.append(to_datetime(end))
    pairs = ""
    if machines is not None:
        wanted = set(machines)
        mapped = sorted({pair for machine, signals in zip(plant.machines, plant.signals, strict=True)
                         if machine in wanted for pair in signals})
        # A semi join against a handful of pairs: DuckDB hashes them once and probes per row.
        pairs = """SEMI JOIN (SELECT unnest(?::VARCHAR[]) AS source, unnest(?::VARCHAR[]) AS tag) p
                   ON p.source = s.source AND p.tag = s.tag"""
        params = [[source for source, _ in mapped], [tag for _, tag in mapped], *params]
    sql = f"""
        SELECT {_time_column('s.ts', 'ts_utc', fmt)}, s.source, s.tag, s.value_num, s.value_text, s.quality
        FROM samples s {pairs}
        {'WHERE ' + ' AND '.join(where) if where else ''}
    """
    return BulkQuery(sql, params)


def _interval_source(plant: ExportPlant, machines: Sequence[str] | None, start: float | None, end: float | None,
                     now: float, states: Sequence[str] | None) -> BulkQuery:
    """Intervals with their line, newest reason and length, as a subquery `i` for the two interval kinds."""
    where: list[str] = []
    params: list[Any] = [list(plant.machines), list(plant.lines), [float(t) for t in plant.micro_stop_thresholds]]
    reasons = plant.reasons
    params += [[r.code for r in reasons], [r.name for r in reasons], [r.planned for r in reasons],
               [r.loss.value if r.loss is not None else None for r in reasons]]
    params.append(to_datetime(now))
    if machines is not None:
        where.append("list_contains(?::VARCHAR[], i.machine)")
        params.append(list(machines))
    if states is not None:
        where.append("list_contains(?::VARCHAR[], i.state)")
        params.append(list(states))
    if end is not None:
        where.append("i.start_ts < ?")
        params.append(to_datetime(end))
    if start is not None:
        where.append("(i.end_ts IS NULL OR i.end_ts > ?)")
        params.append(to_datetime(start))
    sql = f"""
        WITH machines AS (
            SELECT unnest(?::VARCHAR[]) AS machine, unnest(?::VARCHAR[]) AS line,
                   unnest(?::DOUBLE[]) AS micro_stop_threshold_s
        ), reasons AS (
            SELECT unnest(?::VARCHAR[]) AS code, unnest(?::VARCHAR[]) AS name, unnest(?::BOOLEAN[]) AS planned,
                   unnest(?::VARCHAR[]) AS loss
        ), newest AS (
            SELECT machine, stop_start, reason, entered_by, entered_at
            FROM stop_reasons
            {NEWEST_REASON_ONLY}
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
    return BulkQuery(sql, params)


def intervals_query(plant: ExportPlant, machines: Sequence[str] | None, start: float | None, end: float | None,
                    fmt: str, now: float) -> BulkQuery:
    """Every state interval overlapping [start, end), whole; `duration_s` runs to `now` while one is open."""
    source, params = _interval_source(plant, machines, start, end, now, None)
    sql = f"""{source}
        SELECT machine, line, {_time_column('start_ts', 'start_utc', fmt)}, {_time_column('end_ts', 'end_utc', fmt)},
               state, duration_s, reason, entered_by AS reason_by, {_time_column('entered_at', 'reason_at_utc', fmt)}
        FROM i ORDER BY machine, start_ts
    """
    return BulkQuery(sql, params)


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


def stops_query(plant: ExportPlant, machines: Sequence[str] | None, start: float | None, end: float | None,
                fmt: str, now: float) -> BulkQuery:
    """Intervals that are stops (not running, not offline), with their class and newest reason."""
    source, params = _interval_source(plant, machines, start, end, now, _STOP_STATES)
    sql = f"""{source}
        SELECT machine, line, {_time_column('start_ts', 'start_utc', fmt)}, {_time_column('end_ts', 'end_utc', fmt)},
               duration_s, state, {_STOP_CLASS} AS class, reason, reason_name, entered_by AS reason_by,
               {_time_column('entered_at', 'reason_at_utc', fmt)}
        FROM i ORDER BY machine, start_ts
    """
    return BulkQuery(sql, params)


def bulk_query(kind: str, plant: ExportPlant, machines: Sequence[str] | None, start: float | None,
               end: float | None, fmt: str, now: float) -> BulkQuery:
    if kind == "samples":
        return samples_query(plant, machines, start, end, fmt)
    if kind == "intervals":
        return intervals_query(plant, machines, start, end, fmt, now)
    if kind == "stops":
        return stops_query(plant, machines, start, end, fmt, now)
    raise ValueError(f"not a bulk export: {kind!r}")


def run_copy(cursor: duckdb.DuckDBPyConnection, sql: str, params: list[Any], target: Path, options: str,
             on_progress: ProgressCallback | None = None, settings: Mapping[str, str] = DEFAULT_SETTINGS) -> int:
    """Run `COPY (sql) TO target (options)` on `cursor` and return the number of rows written.

    `on_progress` gets DuckDB's percentage (0 to 100) about ten times a second, 0 first and 100
    at the end; whatever it raises (KeyboardInterrupt from a Ctrl-C included) stops the query.
    `settings` (DuckDB SET) hold while it runs; the previous values are put back.
    """
    previous = {name: cursor.sql("SELECT current_setting(?)", params=[name]).fetchall()[0][0] for name in settings}
    try:
        for name, value in settings.items():
            cursor.execute(f"SET {name} = '{value}'")
        # Per connection: progress is measured but DuckDB prints no bar of its own.
        cursor.execute("SET enable_progress_bar = true")
        cursor.execute("SET enable_progress_bar_print = false")
        return _copy(cursor, sql, params, target, options, on_progress)
    finally:
        for name, value in previous.items():
            # RESET when that restores it: the displayed value ("18.8 GiB") is rounded, so setting
            # it back would not give the exact default.
            cursor.execute(f"RESET {name}")
            if cursor.sql("SELECT current_setting(?)", params=[name]).fetchall()[0][0] != value:
                cursor.execute(f"SET {name} = '{value}'")


def _copy(cursor: duckdb.DuckDBPyConnection, sql: str, params: list[Any], target: Path, options: str,
          on_progress: ProgressCallback | None) -> int:
    quoted = str(target).replace("'", "''")
    poller = _ProgressPoller(cursor, on_progress) if on_progress is not None else None
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


class BulkExports(Database):
    def copy_to(self, query: BulkQuery, target: Path, options: str, on_progress: ProgressCallback | None = None,
                settings: Mapping[str, str] = DEFAULT_SETTINGS) -> int:
        """`run_copy` of a query on a cursor of its own; returns the number of rows written."""
        with self._cursor() as cur:
            return run_copy(cur, query.sql, query.params, target, options, on_progress, settings)

    def count_rows(self, query: BulkQuery) -> int:
        """How many rows the query gives, without fetching them."""
        with self._cursor() as cur:
            return int(cur.execute(f"SELECT count(*) FROM ({query.sql})", query.params).fetchall()[0][0])

    def read_rows(self, query: BulkQuery, batch_rows: int = 10_000) -> tuple[list[str], Iterator[tuple[Any, ...]]]:
        """The query's column names and its rows, fetched a batch at a time on a cursor of its own, for writers
        that COPY cannot serve (XLSX). The cursor closes when the rows are exhausted or dropped."""
        cursor = self.cursor()
        try:
            cursor.execute(query.sql, query.params)
            names = [column[0] for column in cursor.description or ()]
        except BaseException:
            cursor.close()
            raise

        def rows() -> Iterator[tuple[Any, ...]]:
            try:
                while batch := cursor.fetchmany(batch_rows):
                    yield from batch
            finally:
                with contextlib.suppress(duckdb.Error):
                    cursor.close()

        return names, rows()
