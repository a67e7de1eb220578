"""The facts: samples, state intervals, count minutes, stop reasons and dead letters.

The engine writes them all at once every flush (`write_facts`: one transaction, rows that cannot
be stored set aside as dead letters); reads hand out domain records (intervals, count buckets,
dead letters), built as cheaply as Python allows: a shift of a hundred machines is hundreds
of thousands of intervals.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, NamedTuple, TypeVar

import duckdb

from oee_tui.model import (
    CountBucket,
    CountEventColumns,
    DeadLetter,
    MachineEvent,
    MachineState,
    StateInterval,
    TagSample,
)
from oee_tui.model.audit import AuditChange
from oee_tui.store.arrow_lists import gc_paused, num_list, str_list
from oee_tui.store.audit_tables import append_on
from oee_tui.store.database import run_on_batch
from oee_tui.store.day_summary_tables import DaySummaryTables
from oee_tui.store.fact_batch import FactBatch, FactsWritten, KeptSamples, ReasonEntry
from oee_tui.store.fact_rows import (
    HISTORY_SQL,
    TableWrite,
    count_events_write,
    counts_write,
    dead_letters_write,
    history_write,
    intervals_write,
    machine_events_write,
    reasons_write,
    samples_write,
)
from oee_tui.store.failures import StoreWriteError, first_line, is_file_error, is_row_error, reason_of
from oee_tui.store.sync_changes import log_batch_changes, log_change
from oee_tui.store.timecodec import storable, to_datetime

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


def _machine_filter(machines: Sequence[str] | None, column: str) -> tuple[str, list[Any]]:
    """An `AND` condition keeping `column` to the machines given (nothing for None), and its parameters."""
    if machines is None:
        return "", []
    return f" AND list_contains(?::VARCHAR[], {column})", [list(machines)]


def _earliest(pairs: Iterable[tuple[str, float]]) -> dict[str, float]:
    """The earliest time per machine of (machine, time) pairs; pairs that cannot be stored make nothing stale."""
    out: dict[str, float] = {}
    for machine, ts in pairs:
        if isinstance(machine, str) and storable(ts) and ts < out.get(machine, math.inf):
            out[machine] = ts
    return out


_T = TypeVar("_T")


def _listed(values: Sequence[_T]) -> list[_T]:
    """The values as a list, copied only when they are not one already (a sample batch is large)."""
    return values if isinstance(values, list) else list(values)


def _audited(reasons: Sequence[ReasonEntry], writes: Sequence[TableWrite]) -> list[AuditChange]:
    """The audit entries of the reasons this attempt writes: a reason set aside takes its entry with it."""
    if not reasons:
        return []
    write = next((write for write in writes if write.table == "stop_reasons"), None)
    if write is None:
        return []
    return [change for row in write.origin if (change := reasons[int(row)].audit) is not None]


class _RowRefused(Exception):
    """The database refused a value of the flush's `index`-th write (the transaction is rolled back)."""

    def __init__(self, index: int, error: duckdb.Error) -> None:
        super().__init__(str(error))
        self.index = index
        self.error = error


def _strict(write: TableWrite | None, refused: Sequence[DeadLetter]) -> TableWrite | None:
    """For the writes of one table: a row that cannot be stored fails the whole call."""
    if refused:
        more = f" (and {len(refused) - 1} more rows)" if len(refused) > 1 else ""
        raise ValueError(refused[0].error + more)
    return write


class FactTables(DaySummaryTables):
    # ------------------------------------------------------------ the engine's flush

    def write_facts(self, batch: FactBatch, now: float) -> FactsWritten:
        """Everything one flush of the engine holds, in ONE transaction: samples, replayed history,
        intervals, counts, stop reasons, dead letters, and the deletion of the day summaries they make
        stale. A commit the disk refuses raises StoreWriteError with nothing written, so a retry writes
        nothing twice. A row that cannot be stored never blocks the rest: it is set aside as a dead
        letter (topic `store:<table>`, the row as JSON, the reason), at `now`, in the same transaction.
        """
        writes: list[TableWrite] = []
        letters = list(batch.dead_letters)
        for write, refused in (history_write(batch.history, now), samples_write(batch.samples, now),
                               intervals_write(batch.intervals, now), counts_write(batch.counts, now),
                               count_events_write(batch.count_events, now),
                               machine_events_write(batch.machine_events, now),
                               reasons_write(batch.reasons, now)):
            letters.extend(refused)
            if write is not None:
                writes.append(write)
        stale = _earliest(itertools.chain(
            ((i.machine, i.start) for i in batch.intervals), ((b.machine, b.minute) for b in batch.counts),
            ((r.machine, r.stop_start) for r in batch.reasons)))
        while True:
            try:
                history_rows = self._write_all(writes, dead_letters_write(letters, now), stale,
                                               _audited(batch.reasons, writes))
                break
            except _RowRefused as refused:
                # Rolled back. Find the rows the database refuses by trial, keep them as dead letters, go again.
                write = writes[refused.index]
                bad = self._refused_rows(write, refused.error)
                letters.extend(write.letter(row, reason, now) for row, reason in sorted(bad.items()))
                rest = write.without(list(bad))
                if rest.batch.num_rows:
                    writes[refused.index] = rest
                else:
                    del writes[refused.index]
        rows = {write.table: write.batch.num_rows for write in writes if write.sql is not HISTORY_SQL}
        return FactsWritten(samples=rows.get("samples", 0), history=history_rows,
                            intervals=rows.get("state_intervals", 0), counts=rows.get("count_minutes", 0),
                            count_events=rows.get("count_events", 0),
                            machine_events=rows.get("machine_events", 0),
                            reasons=rows.get("stop_reasons", 0), dead_letters=len(batch.dead_letters),
                            set_aside=tuple(letters[len(batch.dead_letters):]))

    def _write_all(self, writes: Sequence[TableWrite], dead_letters: TableWrite | None,
                   stale: Mapping[str, float], audit: Sequence[AuditChange]) -> int:
        """One transaction over every write and the audit entries of its reasons; returns how many
        replayed samples were new. Raises _RowRefused (rolled back) when the database refuses a value
        of one of `writes`."""
        history_rows = 0
        with self._writing_facts(stale) as cur:
            for index, write in enumerate(writes):
                cur.register("_batch", write.batch)
                try:
                    result = cur.execute(write.sql).fetchall()
                    if self.following_changes:  # else not even the statement: it is the flush's hot path
                        log_batch_changes(cur, write.table)
                except duckdb.Error as exc:
                    if is_row_error(exc):
                        raise _RowRefused(index, exc) from exc
                    if is_file_error(exc):
                        raise StoreWriteError(self.data_dir, reason_of(exc)) from exc
                    raise
                finally:
                    cur.unregister("_batch")
                if write.sql is HISTORY_SQL:
                    history_rows = int(result[0][0])
            if dead_letters is not None:
                run_on_batch(cur, dead_letters.batch, dead_letters.sql)
            if audit:
                append_on(cur, audit)
        return history_rows

    def _refused_rows(self, write: TableWrite, error: duckdb.Error) -> dict[int, str]:
        """The rows of `write` the database refuses, found by halving: each trial runs in a transaction
        that is rolled back. A statement that fails although no row fails alone sets aside every row."""
        bad: dict[int, str] = {}
        pending = [list(range(write.batch.num_rows))]
        while pending:
            rows = pending.pop()
            refused = self._trial(write, rows)
            if refused is None:
                continue
            if len(rows) == 1:
                bad[rows[0]] = refused
            else:
                pending += [rows[len(rows) // 2:], rows[:len(rows) // 2]]
        if not bad:
            reason = f"the database refused the rows together: {first_line(str(error))}"
            bad = dict.fromkeys(range(write.batch.num_rows), reason)
        return bad

    def _trial(self, write: TableWrite, rows: list[int]) -> str | None:
        """Run `write` over `rows` only and roll it back: the database's words if it refuses them, else None."""
        with self.write_gate, self._cursor() as cur:
            cur.begin()
            try:
                run_on_batch(cur, write.subset(rows), write.sql)
            except duckdb.Error as exc:
                if not is_row_error(exc):
                    raise
                return first_line(str(exc))
            finally:
                with contextlib.suppress(duckdb.Error):
                    cur.rollback()
        return None

    # ------------------------------------------------------------ writes of one table (tests, tools, the edge node)
    # Strict: a row that cannot be stored raises ValueError and nothing is written.

    def write_samples(self, ts: Sequence[float], source: Sequence[str], tag: Sequence[str],
                      value_num: Sequence[float | None], value_text: Sequence[str | None],
                      quality: Sequence[str]) -> int:
        columns = KeptSamples(_listed(ts), _listed(source), _listed(tag), _listed(value_num), _listed(value_text),
                              _listed(quality))
        write = _strict(*samples_write(columns, 0.0))
        return 0 if write is None else self._insert(write.batch, write.sql)

    def write_history(self, samples: Sequence[TagSample]) -> int:
        """Historical samples (e.g. an edge node's replayed buffer) into `samples`, each (source, tag,
        time) once: a replay is at least once, so a sample already stored, or twice in the batch, is
        skipped. Returns how many were new."""
        write = _strict(*history_write(samples, 0.0))
        if write is None:
            return 0
        with self._transaction() as cur:
            cur.register("_batch", write.batch)
            try:
                inserted = cur.execute(write.sql).fetchall()
            finally:
                cur.unregister("_batch")
        return int(inserted[0][0])

    def upsert_intervals(self, intervals: Sequence[StateInterval]) -> int:
        write = _strict(*intervals_write(intervals, 0.0))
        if write is None:
            return 0
        return self._write_logged(write, _earliest((i.machine, i.start) for i in intervals))

    def write_counts(self, buckets: Sequence[CountBucket]) -> int:
        write = _strict(*counts_write(buckets, 0.0))
        if write is None:
            return 0
        return self._write_logged(write, _earliest((b.machine, b.minute) for b in buckets))

    def _write_logged(self, write: TableWrite, stale: Mapping[str, float]) -> int:
        """`_write_facts` of a table the central sync follows by its change log, logged in the same transaction."""
        with self._writing_facts(stale) as cur:
            cur.register("_batch", write.batch)
            try:
                cur.execute(write.sql)
                log_batch_changes(cur, write.table)
            finally:
                cur.unregister("_batch")
        return int(write.batch.num_rows)

    def write_count_events(self, events: CountEventColumns) -> int:
        """Count events alone (the engine writes them with their minutes, in write_facts)."""
        write = _strict(*count_events_write(events, 0.0))
        return 0 if write is None else self._insert(write.batch, write.sql)

    def write_machine_events(self, events: Sequence[MachineEvent]) -> int:
        """Machine events alone (the engine writes them with its flush, in write_facts)."""
        write = _strict(*machine_events_write(events, 0.0))
        return 0 if write is None else self._insert(write.batch, write.sql)

    def write_stop_reason(self, machine: str, stop_start: float, reason: str, entered_by: str,
                          entered_at: float) -> None:
        # One row per operator action: a parameterised INSERT is the right tool here.
        start = to_datetime(stop_start)
        params = [machine, start, reason, entered_by, to_datetime(entered_at)]
        with self._writing_facts({machine: stop_start}) as cur:
            cur.execute("INSERT INTO stop_reasons VALUES (?, ?, ?, ?, ?)", params)
            log_change(cur, "stop_reasons", machine, start, start)

    def write_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        if any(not storable(letter.received_at) for letter in letters):
            raise ValueError("dead_letters.received_at: timestamps must be finite seconds between years 1 and 9999")
        write = dead_letters_write(letters, 0.0)
        return 0 if write is None else self._insert(write.batch, write.sql)

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
                                     states: Sequence[str], now: float, limit: int, min_s: float = 0.0) -> StopPage:
        """The intervals in `states` of `machines` overlapping [start, end) that nobody gave a reason, lasting
        `min_s` or more, longest first (an open one lasting until `now`)."""
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
              AND coalesce(epoch_us(i.end_ts) / 1e6, {float(now)!r}) - epoch_us(i.start_ts) / 1e6 >= ?
            ORDER BY coalesce(e, {float(now)!r}) - s DESC, s, machine LIMIT ?
        """
        return self._stop_page(sql, [to_datetime(end), to_datetime(start), list(machines), list(states),
                                     float(min_s), limit])

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
