"""The facts: samples, state intervals, count minutes, stop reasons and dead letters.

The engine writes them every flush; reads hand out domain records (intervals, count buckets,
dead letters), built as cheaply as Python allows: a shift of a hundred machines is hundreds
of thousands of intervals.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from oee_tui.model import CountBucket, DeadLetter, MachineState, StateInterval, TagSample
from oee_tui.store.arrow_lists import gc_paused, num_list, str_list
from oee_tui.store.day_summary_tables import DaySummaryTables
from oee_tui.store.timecodec import micros, nullable_ts_array, to_datetime, ts_array

if TYPE_CHECKING:
    import pyarrow as pa

SampleRow = tuple[float, str, str, float | None, str | None, str]

# The rule for a stop's reason: the newest entry of the audit trail wins, and rowid breaks ties
# of entered_at, so the later entry wins. Closes a SELECT over stop_reasons.
NEWEST_REASON_ONLY: Final = (
    "QUALIFY row_number() OVER (PARTITION BY machine, stop_start ORDER BY entered_at DESC, rowid DESC) = 1")

_NEWEST_REASON: Final = f"""newest AS (
    SELECT machine, stop_start, reason, entered_by, entered_at
    FROM stop_reasons
    {NEWEST_REASON_ONLY}
)"""

# The newest reason of the stops in `candidates` only: ranking the whole audit trail would cost
# more than the rest of a shift's query once a store holds months of reasons.
_NEWEST_FOR_CANDIDATES: Final = f"""newest AS (
    SELECT machine, stop_start, reason, entered_by, entered_at
    FROM stop_reasons sr
    SEMI JOIN candidates c ON c.machine = sr.machine AND c.start_ts = sr.stop_start
    {NEWEST_REASON_ONLY}
)"""


class StopPage(NamedTuple):
    """Stop intervals with their newest reason, at most the limit asked for, and how many match."""

    rows: list[StateInterval]
    total: int


_INTERVAL_FIELDS: Final = ("machine", "start", "end", "state", "reason", "reason_by", "reason_at")


def _interval_setters() -> tuple[Callable[[StateInterval, Any], None], ...] | None:
    """Slot setters of StateInterval, to build instances without its generated __init__.

    The frozen dataclass __init__ goes through object.__setattr__ per field, about twice
    the cost of calling the slot descriptors directly. Returns None (use the constructor)
    if the model ever changes shape, so a new field cannot be silently left unset.
    """
    names = tuple(f.name for f in dataclasses.fields(StateInterval))
    if names != _INTERVAL_FIELDS or "__post_init__" in vars(StateInterval):
        return None
    try:
        return tuple(vars(StateInterval)[name].__set__ for name in names)
    except (KeyError, AttributeError):
        return None


_SET_INTERVAL: Final = _interval_setters()


def _build_intervals(*columns: list[Any]) -> list[StateInterval]:
    if _SET_INTERVAL is None:
        return [StateInterval(*row) for row in zip(*columns, strict=True)]
    n = len(columns[0])
    if any(len(col) != n for col in columns):
        raise ValueError("interval columns differ in length")
    # map() drives the allocation and each slot setter from C: no bytecode runs per row.
    objs: list[StateInterval] = list(map(object.__new__, itertools.repeat(StateInterval, n)))
    for setter, col in zip(_SET_INTERVAL, columns, strict=True):
        collections.deque(map(setter, objs, col), maxlen=0)
    return objs


def _check_lengths(**columns: Sequence[Any]) -> int:
    lengths = {name: len(col) for name, col in columns.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"columns differ in length: {lengths}")
    return next(iter(lengths.values()), 0)


def _machine_filter(machines: Sequence[str] | None, column: str) -> tuple[str, list[Any]]:
    """An `AND` condition keeping `column` to the machines given (nothing for None), and its parameters."""
    if machines is None:
        return "", []
    return f" AND list_contains(?::VARCHAR[], {column})", [list(machines)]


def _samples_table(ts: Sequence[float], source: Sequence[str], tag: Sequence[str],
                   value_num: Sequence[float | None], value_text: Sequence[str | None],
                   quality: Sequence[str]) -> pa.Table:
    """Columns of the samples table as one Arrow batch (write_samples, write_history)."""
    import pyarrow as pa
    _check_lengths(ts=ts, source=source, tag=tag, value_num=value_num, value_text=value_text, quality=quality)
    return pa.table({
        "ts": ts_array(ts, "samples.ts"),
        "source": pa.array(source, type=pa.string()),
        "tag": pa.array(tag, type=pa.string()),
        "value_num": pa.array(value_num, type=pa.float64()),
        "value_text": pa.array(value_text, type=pa.string()),
        "quality": pa.array(quality, type=pa.string()),
    })


def _earliest(pairs: Iterable[tuple[str, float]]) -> dict[str, float]:
    """The earliest time per machine of (machine, time) pairs."""
    out: dict[str, float] = {}
    for machine, ts in pairs:
        if ts < out.get(machine, math.inf):
            out[machine] = ts
    return out


class FactTables(DaySummaryTables):
    # ------------------------------------------------------------ writes

    def write_samples(self, ts: Sequence[float], source: Sequence[str], tag: Sequence[str],
                      value_num: Sequence[float | None], value_text: Sequence[str | None],
                      quality: Sequence[str]) -> int:
        table = _samples_table(ts, source, tag, value_num, value_text, quality)
        return self._insert(table, "INSERT INTO samples SELECT ts, source, tag, value_num, value_text, quality "
                                   "FROM _batch")

    def write_history(self, samples: Sequence[TagSample]) -> int:
        """Historical samples (e.g. an edge node's replayed buffer) into `samples`, each (source, tag,
        time) once: a replay is at least once, so a sample already stored, or twice in the batch, is
        skipped. Returns how many were new."""
        if not samples:
            return 0
        values = [s.value for s in samples]
        table = _samples_table([s.ts_utc for s in samples], [s.source for s in samples], [s.tag for s in samples],
                               [None if v is None or isinstance(v, str) else float(v) for v in values],
                               [v if isinstance(v, str) else None for v in values],
                               [s.quality.value for s in samples])
        with self._transaction() as cur:
            cur.register("_batch", table)
            try:
                # The time range lets DuckDB skip the row groups of other times (samples come in time order).
                inserted = cur.execute("""
                    INSERT INTO samples
                    SELECT DISTINCT ON (b.source, b.tag, b.ts) b.ts, b.source, b.tag, b.value_num, b.value_text,
                           b.quality
                    FROM _batch b
                    WHERE NOT EXISTS (
                        SELECT 1 FROM samples s
                        WHERE s.ts >= (SELECT min(ts) FROM _batch) AND s.ts <= (SELECT max(ts) FROM _batch)
                          AND s.source = b.source AND s.tag = b.tag AND s.ts = b.ts)
                """).fetchall()
            finally:
                cur.unregister("_batch")
        return int(inserted[0][0])

    def upsert_intervals(self, intervals: Sequence[StateInterval]) -> int:
        import pyarrow as pa
        if not intervals:
            return 0
        starts = micros([i.start for i in intervals], "state_intervals.start")
        # DuckDB's INSERT OR REPLACE keeps the FIRST of two batch rows with the same key; the
        # engine means the last (the closed version of an interval it also sent open), so
        # dedupe here, last one wins.
        latest: dict[tuple[str, int], int] = {}
        for index, (interval, start) in enumerate(zip(intervals, starts.tolist(), strict=True)):
            latest[(interval.machine, start)] = index
        rows = [intervals[i] for i in latest.values()]
        table = pa.table({
            "machine": pa.array([i.machine for i in rows], type=pa.string()),
            "start_ts": pa.array(starts[list(latest.values())], type=pa.timestamp("us")),
            "end_ts": nullable_ts_array([i.end for i in rows], "state_intervals.end"),
            # MachineState(...) refuses an unknown state before anything is written.
            "state": pa.array([MachineState(i.state).value for i in rows], type=pa.string()),
        })
        self._write_facts(table, "INSERT OR REPLACE INTO state_intervals SELECT machine, start_ts, end_ts, state "
                                 "FROM _batch", _earliest((i.machine, i.start) for i in rows))
        return len(rows)

    def write_counts(self, buckets: Sequence[CountBucket]) -> int:
        import pyarrow as pa
        table = pa.table({
            "machine": pa.array([b.machine for b in buckets], type=pa.string()),
            "minute": ts_array([b.minute for b in buckets], "count_minutes.minute"),
            "product": pa.array([b.product for b in buckets], type=pa.string()),
            "total": pa.array([b.total for b in buckets], type=pa.int64()),
            "reject": pa.array([b.reject for b in buckets], type=pa.int64()),
        })
        return self._write_facts(table, "INSERT INTO count_minutes SELECT machine, minute, product, total, reject "
                                        "FROM _batch", _earliest((b.machine, b.minute) for b in buckets))

    def write_stop_reason(self, machine: str, stop_start: float, reason: str, entered_by: str,
                          entered_at: float) -> None:
        # One row per operator action: a parameterised INSERT is the right tool here.
        params = [machine, to_datetime(stop_start), reason, entered_by, to_datetime(entered_at)]
        with self._writing_facts({machine: stop_start}) as cur:
            cur.execute("INSERT INTO stop_reasons VALUES (?, ?, ?, ?, ?)", params)

    def write_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        import pyarrow as pa
        table = pa.table({
            "received_at": ts_array([d.received_at for d in letters], "dead_letters.received_at"),
            "source": pa.array([d.source for d in letters], type=pa.string()),
            "topic": pa.array([d.topic for d in letters], type=pa.string()),
            "payload": pa.array([bytes(d.payload) for d in letters], type=pa.binary()),
            "error": pa.array([d.error for d in letters], type=pa.string()),
        })
        return self._insert(table, "INSERT INTO dead_letters SELECT received_at, source, topic, payload, error "
                                   "FROM _batch")

    # ------------------------------------------------------------ reads

    def intervals(self, start: float, end: float, machines: Sequence[str] | None = None) -> list[StateInterval]:
        """Intervals overlapping [start, end), open ones included, unclipped, with their newest reason."""
        table = self.interval_table(start, end, machines)
        with gc_paused():
            return _build_intervals(
                str_list(table["machine"]), num_list(table["s"]), num_list(table["e"]),
                str_list(table["state"], MachineState), str_list(table["reason"]),
                str_list(table["entered_by"]), num_list(table["ra"]),
            )

    def interval_table(self, start: float, end: float, machines: Sequence[str] | None = None) -> pa.Table:
        """intervals() as an Arrow table (machine, s, e, state, reason, entered_by, ra)."""
        where, extra = _machine_filter(machines, "i.machine")
        sql = f"""
            WITH {_NEWEST_REASON}
            SELECT i.machine, epoch_us(i.start_ts) / 1e6 AS s, epoch_us(i.end_ts) / 1e6 AS e, i.state,
                   r.reason, r.entered_by, epoch_us(r.entered_at) / 1e6 AS ra
            FROM state_intervals i
            LEFT JOIN newest r ON r.machine = i.machine AND r.stop_start = i.start_ts
            WHERE i.start_ts < ? AND (i.end_ts IS NULL OR i.end_ts > ?){where}
            ORDER BY i.machine, i.start_ts
        """
        return self._arrow(sql, [to_datetime(end), to_datetime(start), *extra])

    def reasons_given(self, before: float) -> list[str]:
        """Every reason code given to a stop that started before `before`, in code order."""
        with self._cursor() as cur:
            rows = cur.execute("SELECT DISTINCT reason FROM stop_reasons WHERE stop_start < ? ORDER BY reason",
                               [to_datetime(before)]).fetchall()
        return [row[0] for row in rows]

    def counts(self, start: float, end: float, machines: Sequence[str] | None = None) -> list[CountBucket]:
        """Buckets whose minute is in [start, end), summed per (machine, minute, product)."""
        where, extra = _machine_filter(machines, "machine")
        sql = f"""
            SELECT machine, epoch_us(minute) / 1e6 AS minute, product,
                   coalesce(sum(total), 0)::BIGINT AS total, coalesce(sum(reject), 0)::BIGINT AS reject
            FROM count_minutes
            WHERE minute >= ? AND minute < ?{where}
            GROUP BY machine, count_minutes.minute, product
            ORDER BY machine, minute, product NULLS FIRST
        """
        table = self._arrow(sql, [to_datetime(start), to_datetime(end), *extra])
        with gc_paused():
            return [
                CountBucket(*row)
                for row in zip(
                    str_list(table["machine"]), num_list(table["minute"]), str_list(table["product"]),
                    num_list(table["total"]), num_list(table["reject"]), strict=True,
                )
            ]

    def count_totals(self, start: float, end: float,
                     machines: Sequence[str] | None = None) -> dict[tuple[str, str | None], tuple[int, int]]:
        """(machine, product) -> (total, reject) over minutes in [start, end), summed in SQL."""
        where, extra = _machine_filter(machines, "machine")
        sql = f"""
            SELECT machine, product, coalesce(sum(total), 0)::BIGINT, coalesce(sum(reject), 0)::BIGINT
            FROM count_minutes
            WHERE minute >= ? AND minute < ?{where}
            GROUP BY machine, product
        """
        with self._cursor() as cur:
            rows = cur.execute(sql, [to_datetime(start), to_datetime(end), *extra]).fetchall()
        return {(machine, product): (int(total), int(reject)) for machine, product, total, reject in rows}

    def newest_stops(self, start: float, end: float, machines: Sequence[str], states: Sequence[str],
                     limit: int) -> StopPage:
        """The intervals in `states` of `machines` overlapping [start, end), newest first, with their newest
        reason, who gave it and when."""
        if not machines:
            return StopPage([], 0)
        sql = f"""
            WITH candidates AS (
                SELECT i.machine, i.start_ts, i.end_ts, i.state FROM state_intervals i
                WHERE i.start_ts < ? AND (i.end_ts IS NULL OR i.end_ts > ?)
                  AND list_contains(?::VARCHAR[], i.machine) AND list_contains(?::VARCHAR[], i.state)
            ),
            {_NEWEST_FOR_CANDIDATES},
            found AS (
                SELECT i.machine, epoch_us(i.start_ts) / 1e6 AS s, epoch_us(i.end_ts) / 1e6 AS e, i.state,
                       r.reason, r.entered_by, epoch_us(r.entered_at) / 1e6 AS ra
                FROM candidates i
                LEFT JOIN newest r ON r.machine = i.machine AND r.stop_start = i.start_ts
            )
            SELECT *, count(*) OVER () AS total FROM found ORDER BY s DESC LIMIT ?
        """
        return self._stop_page(sql, [to_datetime(end), to_datetime(start), list(machines), list(states), limit])

    def longest_stops_without_reason(self, start: float, end: float, machines: Sequence[str],
                                     states: Sequence[str], now: float, limit: int) -> StopPage:
        """The intervals in `states` of `machines` overlapping [start, end) that nobody gave a reason,
        longest first (an open one lasting until `now`)."""
        if not machines:
            return StopPage([], 0)
        # No reason given ever: an anti-join, with no need to rank the audit trail.
        sql = f"""
            SELECT i.machine, epoch_us(i.start_ts) / 1e6 AS s, epoch_us(i.end_ts) / 1e6 AS e, i.state,
                   NULL AS reason, NULL AS entered_by, NULL AS ra, count(*) OVER () AS total
            FROM state_intervals i
            ANTI JOIN stop_reasons sr ON sr.machine = i.machine AND sr.stop_start = i.start_ts
            WHERE i.start_ts < ? AND (i.end_ts IS NULL OR i.end_ts > ?)
              AND list_contains(?::VARCHAR[], i.machine) AND list_contains(?::VARCHAR[], i.state)
            ORDER BY coalesce(e, {float(now)!r}) - s DESC, s, machine LIMIT ?
        """
        return self._stop_page(sql, [to_datetime(end), to_datetime(start), list(machines), list(states), limit])

    def _stop_page(self, sql: str, params: list[object]) -> StopPage:
        with self._cursor() as cur:
            rows = cur.execute(sql, params).fetchall()
        total = int(rows[0][-1]) if rows else 0
        return StopPage([StateInterval(machine, s, e, MachineState(state), reason, by, at)
                         for machine, s, e, state, reason, by, at, _ in rows], total)

    def dead_letters(self, limit: int = 100, *, source: str | None = None,
                     since: float | None = None) -> list[DeadLetter]:
        """The newest `limit` dead letters, newest first; only `source`'s and those received at or
        after `since` (POSIX seconds) when given."""
        conditions: list[str] = []
        params: list[object] = []
        if source is not None:
            conditions.append("source = ?")
            params.append(source)
        if since is not None:
            conditions.append("received_at >= ?")
            params.append(to_datetime(since))
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        sql = f"""
            SELECT epoch_us(received_at) / 1e6, source, topic, payload, error
            FROM dead_letters {where} ORDER BY received_at DESC, rowid DESC LIMIT ?
        """
        with self._cursor() as cur:
            rows = cur.execute(sql, [*params, int(limit)]).fetchall()
        return [DeadLetter(ts, source, topic, bytes(payload), error) for ts, source, topic, payload, error in rows]

    def latest_samples(self, limit: int = 100) -> list[SampleRow]:
        """The newest `limit` samples, newest first: (ts, source, tag, value_num, value_text, quality)."""
        sql = """
            SELECT epoch_us(ts) / 1e6, source, tag, value_num, value_text, quality
            FROM samples ORDER BY ts DESC, rowid DESC LIMIT ?
        """
        with self._cursor() as cur:
            return [(ts, source, tag, num, text, quality)
                    for ts, source, tag, num, text, quality in cur.execute(sql, [int(limit)]).fetchall()]

    def bounds(self) -> tuple[float, float] | None:
        """Earliest and latest time in intervals and counts, or None when both are empty."""
        sql = """
            SELECT epoch_us(min(lo)) / 1e6, epoch_us(max(hi)) / 1e6 FROM (
                SELECT min(start_ts) AS lo, max(coalesce(end_ts, start_ts)) AS hi FROM state_intervals
                UNION ALL
                SELECT min(minute), max(minute) FROM count_minutes
            )
        """
        with self._cursor() as cur:
            lo, hi = cur.execute(sql).fetchall()[0]
        return None if lo is None else (lo, hi)
