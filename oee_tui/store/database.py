"""The local store: one DuckDB file per data directory, owned by one process.

Writes are batched through Arrow tables built column by column (DuckDB's
`executemany` manages about 1,500 rows/s; an Arrow insert millions). Each write
call is one transaction, so a failing batch leaves nothing behind.

Times are POSIX float seconds (UTC) in the API and plain TIMESTAMP (UTC,
microseconds) on disk, converted by oee_tui.store.timecodec alone. The data
directory is held with the lock of oee_tui.store.lock.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import gc
import itertools
import logging
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import duckdb
import numpy as np

from oee_tui.model import CountBucket, DeadLetter, MachineState, StateInterval, TagSample
from oee_tui.store.edge_spool import EdgeSpoolTables
from oee_tui.store.lock import acquire_lock, locked_by_duckdb, release_lock
from oee_tui.store.migrations import LATEST_VERSION, MIGRATIONS
from oee_tui.store.summary_ledger import DaySums, SavedDay, SummaryLedger
from oee_tui.store.timecodec import micros, nullable_ts_array, to_datetime, ts_array

# pyarrow is imported where it is used, for writes and Arrow reads: importing it (and its
# compute module) costs a tenth of a second that `oee report`, which needs neither, would pay.
if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

_STATES: Final = {state.value: state for state in MachineState}

SampleRow = tuple[float, str, str, float | None, str | None, str]


# The newest reason given for each stop; rowid breaks ties of entered_at, so the later entry in
# the audit trail wins.
_NEWEST_REASON = """newest AS (
    SELECT machine, stop_start, reason, entered_by, entered_at
    FROM stop_reasons
    QUALIFY row_number() OVER (PARTITION BY machine, stop_start ORDER BY entered_at DESC, rowid DESC) = 1
)"""


class StoreVersionError(Exception):
    """The store was written by a newer oee-tui; opening it would risk damaging it."""

    def __init__(self, path: Path, version: int, known: int) -> None:
        self.path = path
        self.version = version
        self.known = known
        super().__init__(
            f"the store in {path} has schema version {version}, but this oee-tui knows only up to {known}; "
            "it was written by a newer oee-tui: upgrade, or point --data-dir elsewhere"
        )


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building a large result.

    Creating 300k small objects sets off generation after generation of GC passes that
    rescan all of them: about half the cost of `intervals()`. These objects cannot form
    cycles, so nothing is lost by collecting after. Re-enables only what it disabled.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


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


# Result columns -> Python lists. Arrow does the per-value work in C; these only pick the
# cheapest way to get Python objects out (numpy's tolist for numbers, a dictionary for strings).

def _str_list(col: pa.ChunkedArray, convert: Callable[[str], Any] | None = None) -> list[Any]:
    """Strings (None for NULL) through a dictionary: a column of a few distinct machine names,
    states or reasons then costs one object per distinct value, not one per row."""
    import pyarrow.compute as pc
    n = len(col)
    if col.null_count == n:
        return [None] * n
    encoded = col.combine_chunks().dictionary_encode()
    values: list[Any] = encoded.dictionary.to_pylist()
    if convert is not None:
        values = [convert(v) for v in values]
    values.append(None)  # NULL indices point here
    indices = pc.fill_null(encoded.indices, len(values) - 1).to_numpy()
    return list(map(values.__getitem__, indices.tolist()))


def _num_list(col: pa.ChunkedArray) -> list[Any]:
    """Numbers (None for NULL): numpy's tolist, then the NULL positions, or the valid ones if fewer."""
    import pyarrow.compute as pc
    arr = col.combine_chunks()
    n, nulls = len(arr), arr.null_count
    if nulls == 0:
        return arr.to_numpy().tolist()
    if nulls == n:
        return [None] * n
    values = pc.fill_null(arr, 0).to_numpy()
    valid = arr.is_valid().to_numpy(zero_copy_only=False)
    if nulls <= n // 2:
        out: list[Any] = values.tolist()
        for i in np.flatnonzero(~valid).tolist():
            out[i] = None
        return out
    out = [None] * n
    positions = np.flatnonzero(valid)
    for i, value in zip(positions.tolist(), values[positions].tolist(), strict=True):
        out[i] = value
    return out


def _check_lengths(**columns: Sequence[Any]) -> int:
    lengths = {name: len(col) for name, col in columns.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"columns differ in length: {lengths}")
    return next(iter(lengths.values()), 0)


def _machine_filter(machines: Sequence[str] | None, column: str) -> tuple[str, list[Any]]:
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


def _merge_reasons(machine: np.ndarray, us: np.ndarray, reason_machine: np.ndarray, reason_us: np.ndarray,
                   reason: np.ndarray, machines: int) -> np.ndarray:
    """Each interval's reason code (-1 for none): both sides sorted by machine, then start."""
    out = np.full(len(machine), -1, dtype=np.int64)
    if not len(reason) or not len(machine):
        return out
    bounds = np.searchsorted(machine, np.arange(machines + 1))
    reason_bounds = np.searchsorted(reason_machine, np.arange(machines + 1))
    for index in range(machines):
        lo, hi = bounds[index], bounds[index + 1]
        r_lo, r_hi = reason_bounds[index], reason_bounds[index + 1]
        if hi == lo or r_hi == r_lo:
            continue
        starts, wanted = us[lo:hi], reason_us[r_lo:r_hi]
        at = np.minimum(np.searchsorted(starts, wanted), hi - lo - 1)
        found = starts[at] == wanted
        out[lo + at[found]] = reason[r_lo:r_hi][found]
    return out


# ---------------------------------------------------------------- the store

class Store(EdgeSpoolTables):
    """The DuckDB store of one data directory. Use `Store.open`; close it when done."""

    DB_FILENAME: Final = "oee.duckdb"

    def __init__(self, data_dir: Path, con: duckdb.DuckDBPyConnection, lock_fd: int, version: int) -> None:
        self.data_dir = data_dir
        self._con: duckdb.DuckDBPyConnection | None = con
        self._lock_fd = lock_fd
        self._version = version
        # Guards the parent connection: cursor() and close() may come from different threads.
        self._guard = threading.Lock()
        self._summaries = SummaryLedger(ends=self._summary_ends(con))

    # ------------------------------------------------------------ lifecycle

    @classmethod
    def open(cls, data_dir: Path) -> Store:
        data_dir = Path(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        lock_fd = acquire_lock(data_dir)
        con: duckdb.DuckDBPyConnection | None = None
        try:
            try:
                con = duckdb.connect(str(data_dir / cls.DB_FILENAME))
            except duckdb.IOException as exc:
                if "Could not set lock" in str(exc):
                    raise locked_by_duckdb(data_dir, exc) from exc
                raise
            # GLOBAL, not plain SET: in duckdb 2.0 a plain SET is per connection and cursors
            # start from the process default (the host's zone) instead of inheriting it.
            con.execute("SET GLOBAL TimeZone = 'UTC'")
            con.execute("SET TimeZone = 'UTC'")
            version = _migrate(con, data_dir)
        except BaseException:
            if con is not None:
                con.close()
            release_lock(lock_fd)
            raise
        return cls(data_dir, con, lock_fd, version)

    def close(self) -> None:
        with self._guard:
            con, self._con = self._con, None
            fd, self._lock_fd = self._lock_fd, -1
        if con is not None:
            try:
                # Fold the WAL into the file so the next open does not replay it.
                con.execute("CHECKPOINT")
            except duckdb.Error:
                log.warning("checkpoint on close failed; the WAL will be replayed on the next open", exc_info=True)
            finally:
                con.close()
        if fd >= 0:
            release_lock(fd)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return self._version

    @property
    def closed(self) -> bool:
        return self._con is None

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new connection to the same database for the calling thread; close it when done."""
        with self._guard:
            if self._con is None:
                raise RuntimeError(f"the store in {self.data_dir} is closed")
            return self._con.cursor()

    @contextlib.contextmanager
    def _cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        # A fresh cursor per call keeps every method safe to call from any thread.
        cur = self.cursor()
        try:
            yield cur
        finally:
            cur.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._cursor() as cur:
            cur.begin()
            try:
                yield cur
            except BaseException:
                cur.rollback()
                raise
            cur.commit()

    def _insert(self, table: pa.Table, sql: str, stale: Mapping[str, float] | None = None) -> int:
        """Run `sql` (which reads the Arrow table as `_batch`) in one transaction.

        `stale` (machine -> earliest time written) names the day summaries the rows make stale;
        None for rows no summary is made of (samples, dead letters).
        """
        if table.num_rows == 0:
            return 0
        with contextlib.ExitStack() as stack:
            delete = stack.enter_context(self._summaries.writing(stale)) if stale else {}
            cur = stack.enter_context(self._transaction())
            self._delete_summaries(cur, delete)
            cur.register("_batch", table)
            try:
                cur.execute(sql)
            finally:
                cur.unregister("_batch")
        return table.num_rows

    # ------------------------------------------------------------ day summaries (a cache, see summary_ledger)

    @staticmethod
    def _summary_ends(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
        sql = "SELECT machine, epoch_us(max(day_end)) / 1e6 FROM day_summaries GROUP BY machine"
        rows = con.execute(sql).fetchall()
        return {machine: float(end) for machine, end in rows}

    @staticmethod
    def _delete_summaries(cur: duckdb.DuckDBPyConnection, delete: Mapping[str, float] | None) -> None:
        if delete is None:
            cur.execute("DELETE FROM day_summaries")
        elif delete:
            cur.execute("DELETE FROM day_summaries d USING (SELECT unnest(?::VARCHAR[]) AS machine, "
                        "unnest(?::TIMESTAMP[]) AS after) s WHERE d.machine = s.machine AND d.day_end > s.after",
                        [list(delete), [to_datetime(ts) for ts in delete.values()]])

    @contextlib.contextmanager
    def summaries_stale(self) -> Iterator[Callable[[duckdb.DuckDBPyConnection], None]]:
        """Around a transaction that may change anything (an import): yields what deletes every saved
        day summary, to be called inside that transaction. Enter it before the transaction begins, so
        that no summary saved meanwhile escapes the DELETE (a transaction sees what was committed before
        it began) and none is saved from data read before the commit."""
        with self._summaries.writing(None) as delete:
            yield lambda cur: self._delete_summaries(cur, delete)

    def forget_day_summaries(self) -> None:
        """Delete every saved day summary (they are made again when asked for)."""
        with self._summaries.writing(None) as delete, self._transaction() as cur:
            self._delete_summaries(cur, delete)

    def begin_summary_read(self) -> int:
        """Call before reading what day summaries will be made of; pass the token to save_day_summaries."""
        return self._summaries.begin_read()

    def end_summary_read(self, token: int) -> None:
        self._summaries.end_read(token)

    _SAVED_DAYS: Final = """
        WITH wanted AS (SELECT unnest(?::VARCHAR[]) AS machine, unnest(?::VARCHAR[]) AS fingerprint)
        SELECT d.* FROM day_summaries d JOIN wanted w ON w.machine = d.machine AND w.fingerprint = d.fingerprint
        WHERE d.day_start >= ? AND d.day_end <= ?"""

    def saved_days(self, fingerprints: Mapping[str, str], start: float, end: float) -> set[tuple[str, float]]:
        """(machine, day start) of the days inside [start, end) saved under each machine's fingerprint."""
        with self._cursor() as cur:
            rows = cur.execute(f"SELECT machine, epoch_us(day_start) FROM ({self._SAVED_DAYS})",
                               self._saved_params(fingerprints, start, end)).fetchall()
        return {(machine, us / 1e6) for machine, us in rows}

    def day_sums(self, fingerprints: Mapping[str, str], start: float, end: float) -> DaySums:
        """The saved days inside [start, end) summed per machine, by DuckDB: a quarter of a hundred
        machines is 9,000 rows, too many to turn into Python objects one by one."""
        params = self._saved_params(fingerprints, start, end)
        out = DaySums()
        with self._cursor() as cur:
            for machine, days, figures in cur.execute(f"""
                    WITH saved AS ({self._SAVED_DAYS}),
                    cells AS (SELECT machine, unnest(figures) AS v, unnest(range(len(figures))) AS i FROM saved),
                    sums AS (SELECT machine, i, sum(v) AS v FROM cells GROUP BY machine, i)
                    SELECT s.machine, n.days, list(s.v ORDER BY s.i)
                    FROM sums s JOIN (SELECT machine, count(*) AS days FROM saved GROUP BY machine) n USING (machine)
                    GROUP BY s.machine, n.days""", params).fetchall():
                out.days[machine] = int(days)
                out.figures[machine] = [float(v) for v in figures]
            for machine, reason, seconds, stops in cur.execute(f"""
                    WITH saved AS ({self._SAVED_DAYS}),
                    cells AS (SELECT machine, unnest(loss_reasons) AS reason, unnest(loss_seconds) AS seconds,
                                     unnest(loss_stops) AS stops FROM saved)
                    SELECT machine, reason, sum(seconds), sum(stops) FROM cells GROUP BY machine, reason""",
                                                            params).fetchall():
                out.losses.setdefault(machine, {})[reason] = (float(seconds), int(stops))
            for row in cur.execute(f"""
                    SELECT machine, epoch_us(day_start), head_start, head_loss, head_reason, head_touched,
                           tail_start, tail_loss, tail_reason, tail_touched
                    FROM ({self._SAVED_DAYS}) WHERE head_touched OR tail_touched ORDER BY machine, day_start""",
                                   params).fetchall():
                head = (float(row[2]), row[3], row[4], True) if row[5] else None
                tail = (float(row[6]), row[7], row[8], True) if row[9] else None
                out.edges.setdefault(row[0], []).append((row[1] / 1e6, head, tail))
        return out

    @staticmethod
    def _saved_params(fingerprints: Mapping[str, str], start: float, end: float) -> list[Any]:
        return [list(fingerprints), list(fingerprints.values()), to_datetime(start), to_datetime(end)]

    def save_day_summaries(self, token: int, days: Sequence[SavedDay]) -> list[SavedDay]:
        """Save the days no write since `token` (begin_summary_read) made stale; returns those saved."""
        import pyarrow as pa

        def edge(kept: list[SavedDay], name: str, index: int, kind: pa.DataType) -> pa.Array:
            return pa.array([None if e is None else e[index] for e in (getattr(day, name) for day in kept)], type=kind)

        def insert(kept: list[SavedDay]) -> None:
            table = pa.table({
                "machine": pa.array([day.machine for day in kept], type=pa.string()),
                "day_start": ts_array([day.day_start for day in kept], "day_summaries.day_start"),
                "day_end": ts_array([day.day_end for day in kept], "day_summaries.day_end"),
                "fingerprint": pa.array([day.fingerprint for day in kept], type=pa.string()),
                "figures": pa.array([list(day.figures) for day in kept], type=pa.list_(pa.float64())),
                "loss_reasons": pa.array([[r for r, _, _ in day.losses] for day in kept], type=pa.list_(pa.string())),
                "loss_seconds": pa.array([[s for _, s, _ in day.losses] for day in kept],
                                         type=pa.list_(pa.float64())),
                "loss_stops": pa.array([[n for _, _, n in day.losses] for day in kept], type=pa.list_(pa.int64())),
                **{f"{name}_{part}": edge(kept, name, index, kind) for name in ("head", "tail")
                   for index, (part, kind) in enumerate((("start", pa.float64()), ("loss", pa.string()),
                                                         ("reason", pa.string()), ("touched", pa.bool_())))},
            })
            with self._transaction() as cur:
                cur.register("_batch", table)
                try:
                    cur.execute("DELETE FROM day_summaries d USING _batch b "
                                "WHERE d.machine = b.machine AND d.day_start = b.day_start")
                    # The batch has the table's columns in its order, all but the last.
                    cur.execute("INSERT INTO day_summaries SELECT *, now()::TIMESTAMP FROM _batch")
                finally:
                    cur.unregister("_batch")

        return self._summaries.save(token, days, lambda day: day.machine, lambda day: day.day_end, insert)

    def _arrow(self, sql: str, params: list[Any]) -> pa.Table:
        # con.sql(...).to_arrow_table() rather than execute(): in duckdb 2.0 Arrow output from an
        # execute() result makes an extra copy of every row (and warns).
        with self._cursor() as cur:
            return cur.sql(sql, params=params).to_arrow_table()

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
                return int(cur.execute("""
                    INSERT INTO samples
                    SELECT DISTINCT ON (b.source, b.tag, b.ts) b.ts, b.source, b.tag, b.value_num, b.value_text,
                           b.quality
                    FROM _batch b
                    WHERE NOT EXISTS (
                        SELECT 1 FROM samples s
                        WHERE s.ts >= (SELECT min(ts) FROM _batch) AND s.ts <= (SELECT max(ts) FROM _batch)
                          AND s.source = b.source AND s.tag = b.tag AND s.ts = b.ts)
                """).fetchone()[0])  # type: ignore[index]
            finally:
                cur.unregister("_batch")

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
        self._insert(table, "INSERT OR REPLACE INTO state_intervals SELECT machine, start_ts, end_ts, state "
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
        return self._insert(table, "INSERT INTO count_minutes SELECT machine, minute, product, total, reject "
                                   "FROM _batch", _earliest((b.machine, b.minute) for b in buckets))

    def write_stop_reason(self, machine: str, stop_start: float, reason: str, entered_by: str,
                          entered_at: float) -> None:
        # One row per operator action: a parameterised INSERT is the right tool here.
        params = [machine, to_datetime(stop_start), reason, entered_by, to_datetime(entered_at)]
        with self._summaries.writing({machine: stop_start}) as delete, self._transaction() as cur:
            self._delete_summaries(cur, delete)
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
        with _gc_paused():
            return _build_intervals(
                _str_list(table["machine"]), _num_list(table["s"]), _num_list(table["e"]),
                _str_list(table["state"], MachineState), _str_list(table["reason"]),
                _str_list(table["entered_by"]), _num_list(table["ra"]),
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

    def interval_codes(self, start: float, end: float, machines: Sequence[str], states: Sequence[str],
                       reasons: Sequence[str]) -> dict[str, np.ndarray]:
        """The intervals overlapping [start, end) as plain number columns, for columnar reports.

        `machine`, `state` and `reason` are indexes into the lists given (reason -1 for none or
        one not in the list); `s` and `e` are epoch seconds, `e` NaN while open. Rows come
        ordered by machine index, then start. DuckDB does the string-to-code joins: in Python
        they would cost more than the rest of a report, and handing DuckDB Arrow tables to
        join against makes it import pandas, a sixth of a second on every `oee report`.
        """
        # Two queries and a merge in numpy: joining every interval with the newest reasons in
        # SQL costs more than both queries together. Only the reasons of stops that can be in
        # the result are ranked: those starting from the first interval that overlaps the window.
        codes = """
            machine_codes AS (SELECT unnest(?::VARCHAR[]) AS machine, unnest(range(?)) AS idx)"""
        intervals_sql = f"""
            WITH {codes},
            state_codes AS (SELECT unnest(?::VARCHAR[]) AS state, unnest(range(?)) AS idx)
            SELECT m.idx AS machine, epoch_us(i.start_ts) AS us, epoch_us(i.start_ts) / 1e6 AS s,
                   coalesce(epoch_us(i.end_ts) / 1e6, 'NaN'::DOUBLE) AS e, st.idx AS state
            FROM state_intervals i
            JOIN machine_codes m ON m.machine = i.machine
            JOIN state_codes st ON st.state = i.state
            WHERE i.start_ts < ? AND (i.end_ts IS NULL OR i.end_ts > ?)
            ORDER BY m.idx, i.start_ts
        """
        reasons_sql = f"""
            WITH {codes},
            reason_codes AS (SELECT unnest(?::VARCHAR[]) AS reason, unnest(range(?)) AS idx),
            newest AS (
                SELECT machine, stop_start, reason FROM stop_reasons
                WHERE stop_start < ? AND stop_start >= (
                    SELECT min(start_ts) FROM state_intervals WHERE start_ts < ? AND (end_ts IS NULL OR end_ts > ?))
                QUALIFY row_number() OVER (PARTITION BY machine, stop_start ORDER BY entered_at DESC, rowid DESC) = 1
            )
            SELECT m.idx AS machine, epoch_us(r.stop_start) AS us, rc.idx AS reason
            FROM newest r
            JOIN machine_codes m ON m.machine = r.machine
            JOIN reason_codes rc ON rc.reason = r.reason
            ORDER BY m.idx, r.stop_start
        """
        t_end, t_start = to_datetime(end), to_datetime(start)
        with self._cursor() as cur:
            data = cur.execute(intervals_sql, [list(machines), len(machines), list(states), len(states),
                                               t_end, t_start]).fetchnumpy()
            given = cur.execute(reasons_sql, [list(machines), len(machines), list(reasons), len(reasons),
                                              t_end, t_end, t_start]).fetchnumpy()
        out = {name: np.asarray(data[name]) for name in ("machine", "s", "e", "state")}
        out["reason"] = _merge_reasons(
            np.asarray(data["machine"], dtype=np.int64), np.asarray(data["us"], dtype=np.int64),
            np.asarray(given["machine"], dtype=np.int64), np.asarray(given["us"], dtype=np.int64),
            np.asarray(given["reason"], dtype=np.int64), len(machines))
        return out

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
        with _gc_paused():
            return [
                CountBucket(*row)
                for row in zip(
                    _str_list(table["machine"]), _num_list(table["minute"]), _str_list(table["product"]),
                    _num_list(table["total"]), _num_list(table["reject"]), strict=True,
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
            return [tuple(row) for row in cur.execute(sql, [int(limit)]).fetchall()]

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


# ---------------------------------------------------------------- migrations

def _migrate(con: duckdb.DuckDBPyConnection, data_dir: Path) -> int:
    """Bring the schema up to date; refuse, without writing anything, a store from a newer version."""
    has_table = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = 'schema_version'"
    ).fetchall()[0][0]
    current = 0
    if has_table:
        current = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchall()[0][0]
    if current > LATEST_VERSION:
        raise StoreVersionError(data_dir, current, LATEST_VERSION)
    for version in range(current + 1, LATEST_VERSION + 1):
        log.info("store %s: migrating to schema version %d", data_dir, version)
        con.begin()
        try:
            con.execute(MIGRATIONS[version - 1])
            con.execute("INSERT INTO schema_version VALUES (?, ?)", [version, datetime.now(UTC).replace(tzinfo=None)])
            con.commit()
        except BaseException:
            con.rollback()
            raise
    return LATEST_VERSION
