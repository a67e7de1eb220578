"""What the central sync reads from the local store, and its own bookkeeping (watermarks, last outcome).

A sync round reads at ONE snapshot (`sync_snapshot`): its highest transaction number `upto` bounds every
table, and since numbers rise in commit order (Database._next_seq), nothing committed later can hide
below a watermark. Rows leave as Arrow tables, times as UTC `timestamp[us, tz=UTC]`, columns named and
ordered as the central tables' (without edge_id and site, which the sync adds).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, NamedTuple

import duckdb

from oee_tui.store.database import Database
from oee_tui.store.sync_changes import PLANNING_TABLES, TIME_COLUMNS
from oee_tui.store.timecodec import to_datetime

if TYPE_CHECKING:
    import pyarrow as pa

APPEND_TABLES: Final = ("samples", "dead_letters")
CHANGE_TABLES: Final = tuple(TIME_COLUMNS)
SYNCED_TABLES: Final = (*APPEND_TABLES, *CHANGE_TABLES, *PLANNING_TABLES)

# The columns each table is pushed with, as SELECT expressions over the local table.
_APPEND_COLUMNS: Final = {
    "samples": "ts::TIMESTAMPTZ AS ts, source, tag, value_num, value_text, quality",
    "dead_letters": "received_at::TIMESTAMPTZ AS received_at, source, topic, payload, error",
}
_APPEND_TIME: Final = {"samples": "ts", "dead_letters": "received_at"}
# Per followed table: its rows as the centre keeps them, `{where}` the range filter. A minute's parts are
# summed; of two reasons with one key (the same microsecond) the later one written is kept.
_CHANGE_ROWS: Final = {
    "state_intervals": """SELECT machine, start_ts::TIMESTAMPTZ AS start_ts, end_ts::TIMESTAMPTZ AS end_ts, state
                          FROM state_intervals t {where}""",
    "count_minutes": """SELECT machine, minute::TIMESTAMPTZ AS minute, coalesce(product, '') AS product,
                               sum(total)::BIGINT AS total, sum(reject)::BIGINT AS reject
                        FROM count_minutes t {where} GROUP BY ALL""",
    "stop_reasons": """SELECT machine, stop_start::TIMESTAMPTZ AS stop_start, reason, entered_by,
                              entered_at::TIMESTAMPTZ AS entered_at
                       FROM stop_reasons t {where}
                       QUALIFY row_number() OVER (PARTITION BY machine, stop_start, entered_at
                                                  ORDER BY rowid DESC) = 1""",
}
_PLANNING_ROWS: Final = {
    "products": """SELECT product, coalesce(machine, '') AS machine, ideal_cycle_time_s, micro_stop_threshold_s
                   FROM products""",
    "orders": """SELECT order_id, product, machine, line, start_ts::TIMESTAMPTZ AS start_ts,
                        end_ts::TIMESTAMPTZ AS end_ts, quantity, ideal_cycle_time_s FROM orders""",
    "planned_stops": """SELECT machine, line, start_ts::TIMESTAMPTZ AS start_ts, end_ts::TIMESTAMPTZ AS end_ts,
                               reason, note FROM planned_stops""",
    "reasons": "SELECT code, name, parent, planned, loss FROM reasons",
    "shift_patterns": 'SELECT name, start, "end", days, breaks FROM shift_patterns',
}


class Watermark(NamedTuple):
    watermark: int
    pushed: int  # rows pushed in all
    synced_at: float
    covered_at: float  # when the store snapshot the watermark came from was taken


class ChangeRange(NamedTuple):
    machine: str
    lo: float  # UTC seconds, inclusive
    hi: float


@dataclass(frozen=True, slots=True)
class Changes:
    """What a followed table changed since a watermark: the whole table, or ranges per machine (merged)."""

    whole: bool
    ranges: tuple[ChangeRange, ...]
    entries: int  # change-log rows behind them

    @property
    def empty(self) -> bool:
        return not self.whole and not self.ranges


@dataclass(frozen=True, slots=True)
class SyncOutcome:
    ok_at: float | None
    error: str | None
    error_at: float | None


class SyncReads:
    """Reads of one sync round, all at the snapshot of one read transaction."""

    def __init__(self, cur: duckdb.DuckDBPyConnection, upto: int) -> None:
        self._cur = cur
        self.upto = upto  # the highest transaction number the snapshot holds

    def append_plan(self, table: str, after: int | None, most_rows: int) -> tuple[int, int] | None:
        """The watermark (≤ upto) of the next batch of `table` after `after`, and its rows: whole
        transactions, as many as fit in `most_rows` (at least one, however large). None: nothing new."""
        low = -(2**63) if after is None else after
        groups = self._cur.execute(
            f"SELECT flush_seq, count(*) FROM {table} WHERE flush_seq > ? AND flush_seq <= ? "
            "GROUP BY flush_seq ORDER BY flush_seq", [low, self.upto]).fetchall()
        if not groups:
            return None
        total = 0
        cut = int(groups[0][0])
        for seq, rows in groups:
            if total and total + int(rows) > most_rows:
                break
            total += int(rows)
            cut = int(seq)
        return cut, total

    def append_rows(self, table: str, after: int | None, upto: int) -> pa.Table:
        low = -(2**63) if after is None else after
        return self._cur.sql(f"SELECT {_APPEND_COLUMNS[table]} FROM {table} WHERE flush_seq > ? AND flush_seq <= ?",
                             params=[low, upto]).to_arrow_table()

    def pending_rows(self, table: str, after: int | None) -> int:
        if table in APPEND_TABLES:
            low = -(2**63) if after is None else after
            return int(self._cur.execute(f"SELECT count(*) FROM {table} WHERE flush_seq > ? AND flush_seq <= ?",
                                         [low, self.upto]).fetchall()[0][0])
        if after is None:  # never pushed: the whole table goes
            return int(self._cur.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])
        return int(self._cur.execute("SELECT count(*) FROM sync_changes WHERE table_name = ? AND seq > ? "
                                     "AND seq <= ?", [table, after, self.upto]).fetchall()[0][0])

    def oldest_pending(self, table: str, after: int | None) -> float | None:
        """The time of the oldest row not pushed yet (append-only tables), UTC seconds."""
        if table not in APPEND_TABLES:
            return None
        low = -(2**63) if after is None else after
        found = self._cur.execute(f"SELECT epoch_us(min({_APPEND_TIME[table]})) FROM {table} "
                                  "WHERE flush_seq > ? AND flush_seq <= ?", [low, self.upto]).fetchall()[0][0]
        return None if found is None else int(found) / 1e6

    def changes(self, table: str, after: int) -> Changes:
        """What `table` changed in transactions after `after` up to the snapshot's number, its ranges of
        one machine merged where they overlap."""
        rows = self._cur.execute(
            "SELECT machine, epoch_us(lo), epoch_us(hi) FROM sync_changes WHERE table_name = ? AND seq > ? "
            "AND seq <= ? ORDER BY machine, lo", [table, after, self.upto]).fetchall()
        if any(machine is None for machine, _, _ in rows):
            return Changes(True, (), len(rows))
        merged: list[ChangeRange] = []
        for machine, lo, hi in rows:
            low, high = int(lo) / 1e6, int(hi) / 1e6
            if merged and merged[-1].machine == machine and low <= merged[-1].hi:
                last = merged[-1]
                merged[-1] = ChangeRange(machine, last.lo, max(last.hi, high))
            else:
                merged.append(ChangeRange(str(machine), low, high))
        return Changes(False, tuple(merged), len(rows))

    def changed_rows(self, table: str, ranges: Sequence[ChangeRange] | None) -> pa.Table:
        """The current rows of a followed table in `ranges` (inclusive), or all of them (None)."""
        if ranges is None:
            return self._cur.sql(_CHANGE_ROWS[table].format(where="")).to_arrow_table()
        import pyarrow as pa

        column = TIME_COLUMNS[table]
        wanted = pa.table({"machine": pa.array([r.machine for r in ranges], pa.string()),
                           "lo": pa.array([to_datetime(r.lo) for r in ranges], pa.timestamp("us")),
                           "hi": pa.array([to_datetime(r.hi) for r in ranges], pa.timestamp("us"))})
        self._cur.register("_wanted", wanted)
        try:
            where = (f"WHERE EXISTS (SELECT 1 FROM _wanted w WHERE w.machine = t.machine "
                     f"AND t.{column} BETWEEN w.lo AND w.hi)")
            return self._cur.sql(_CHANGE_ROWS[table].format(where=where)).to_arrow_table()
        finally:
            self._cur.unregister("_wanted")

    def earliest_fact(self) -> float | None:
        """UTC seconds of the oldest state interval or count minute: where the plant's shifts begin to matter."""
        found = self._cur.execute("SELECT epoch_us(least((SELECT min(start_ts) FROM state_intervals), "
                                  "(SELECT min(minute) FROM count_minutes)))").fetchall()[0][0]
        return None if found is None else int(found) / 1e6

    def planning_rows(self, table: str) -> pa.Table:
        return self._cur.sql(_PLANNING_ROWS[table]).to_arrow_table()


class SyncTables(Database):
    @contextlib.contextmanager
    def sync_snapshot(self) -> Iterator[SyncReads]:
        """Reads of one sync round at one snapshot (a read transaction, never blocking writers)."""
        with self._cursor() as cur:
            # Under the write gate no write transaction is under way: the snapshot taken now holds every
            # number up to the last one given out, and no higher.
            with self.write_gate:
                cur.begin()
                cur.execute("SELECT 1").fetchall()
                upto = self.last_seq(cur)
            try:
                yield SyncReads(cur, upto)
            finally:
                with contextlib.suppress(duckdb.Error):
                    cur.rollback()

    def sync_watermarks(self) -> dict[str, Watermark]:
        with self._cursor() as cur:
            rows = cur.execute("SELECT table_name, watermark, pushed, epoch_us(synced_at), epoch_us(covered_at) "
                               "FROM sync_watermarks").fetchall()
        return {str(t): Watermark(int(w), int(p), int(s) / 1e6, int(c) / 1e6) for t, w, p, s, c in rows}

    def save_sync_watermark(self, table: str, watermark: int, pushed: int, synced_at: float,
                            covered_at: float) -> None:
        """Record that the centre has `table` up to `watermark` (`pushed` more rows), and drop the change-log
        entries every followed table has now."""
        with self._transaction() as cur:
            cur.execute("INSERT INTO sync_watermarks VALUES (?, ?, ?, ?, ?) ON CONFLICT (table_name) DO UPDATE SET "
                        "watermark = excluded.watermark, pushed = sync_watermarks.pushed + excluded.pushed, "
                        "synced_at = excluded.synced_at, covered_at = excluded.covered_at",
                        [table, watermark, pushed, to_datetime(synced_at), to_datetime(covered_at)])
            if table not in APPEND_TABLES:
                cur.execute("DELETE FROM sync_changes WHERE table_name = ? AND seq <= ?", [table, watermark])

    def save_sync_outcome(self, at: float, error: str | None) -> None:
        with self._transaction() as cur:
            if error is None:
                cur.execute("INSERT INTO sync_outcome VALUES (1, ?, NULL, NULL) ON CONFLICT (id) DO UPDATE SET "
                            "ok_at = excluded.ok_at, error = NULL, error_at = NULL", [to_datetime(at)])
            else:
                cur.execute("INSERT INTO sync_outcome VALUES (1, NULL, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                            "error = excluded.error, error_at = excluded.error_at", [error, to_datetime(at)])

    def sync_outcome(self) -> SyncOutcome:
        with self._cursor() as cur:
            rows = cur.execute("SELECT epoch_us(ok_at), error, epoch_us(error_at) FROM sync_outcome").fetchall()
        if not rows:
            return SyncOutcome(None, None, None)
        ok_at, error, error_at = rows[0]
        return SyncOutcome(None if ok_at is None else int(ok_at) / 1e6, error,
                           None if error_at is None else int(error_at) / 1e6)

