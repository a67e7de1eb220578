"""One sync round: every pushed table of the local store to the central database, exactly once.

Tables go in order (samples, state intervals, counts, stop reasons, planning, dead letters), each by its
watermark: the number of the last local write transaction the centre has (Database._next_seq).

* Append-only tables (samples, dead letters) go in batches of whole transactions (`flush_seq`), COPYed
  in binary straight into the central table. The batch's watermark is written to `oee.sync_state` in the
  same central transaction, under a per-edge-and-table advisory lock: a batch whose watermark the centre
  already has (a crash or a lost acknowledgement between the central commit and the local one) is never
  written again, and two syncs of one edge take turns.
* Followed tables (state intervals, count minutes, stop reasons) go as their change log
  (store/sync_changes.py) says: the current local rows of each changed range replace the centre's rows of
  that range (staging table, range DELETE, INSERT ... ON CONFLICT DO UPDATE), in one transaction with the
  watermark. A rewritten open interval, a later reason, a deleted span all arrive.
* Planning tables are replaced per edge when an import changed them.

The central copy of a watermark wins over the local one: after a crash between the two commits the local
store simply learns the centre's value at the next round.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

import psycopg
from psycopg import sql

from oee_tui.central.aggregates import refresh_aggregates
from oee_tui.central.binary_copy import encode
from oee_tui.central.capability import Capability, detect, ensure_partitions
from oee_tui.central.connection import connect, first_line
from oee_tui.central.edge_settings import push_edge_settings
from oee_tui.central.migrations import Connection, migrate, require_current
from oee_tui.config import CentralSettings, Config
from oee_tui.engine.oee.planning_rules import Planning
from oee_tui.store import PlanningError
from oee_tui.store.sync_tables import APPEND_TABLES, CHANGE_TABLES, ChangeRange, SyncReads

if TYPE_CHECKING:
    import pyarrow as pa

    from oee_tui.store import Store

log = logging.getLogger(__name__)

# The order tables go in: facts before what explains them, dead letters last.
TABLE_ORDER: Final = ("samples", "state_intervals", "count_minutes", "stop_reasons", "orders", "products",
                      "planned_stops", "reasons", "shift_patterns", "dead_letters")
# PostgreSQL types of each table's pushed columns (after edge_id and site), for the binary COPY.
_KINDS: Final[dict[str, tuple[str, ...]]] = {
    "samples": ("timestamptz", "text", "text", "float8", "text", "text"),
    "dead_letters": ("timestamptz", "text", "text", "bytea", "text"),
    "state_intervals": ("text", "timestamptz", "timestamptz", "text"),
    "count_minutes": ("text", "timestamptz", "text", "int8", "int8"),
    "stop_reasons": ("text", "timestamptz", "text", "text", "timestamptz"),
    "products": ("text", "text", "float8", "float8"),
    "orders": ("text", "text", "text", "text", "timestamptz", "timestamptz", "int8", "float8"),
    "planned_stops": ("text", "text", "timestamptz", "timestamptz", "text", "text"),
    "reasons": ("text", "text", "text", "bool", "text"),
    "shift_patterns": ("text", "text", "text", "text", "text"),
}
_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "state_intervals": ("edge_id", "machine", "start_ts"),
    "count_minutes": ("edge_id", "machine", "minute", "product"),
    "stop_reasons": ("edge_id", "machine", "stop_start", "entered_at"),
}
_TIME_COLUMN: Final = {"samples": "ts", "dead_letters": "received_at", "state_intervals": "start_ts",
                       "count_minutes": "minute", "stop_reasons": "stop_start"}
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_PARTITIONED: Final = frozenset({"samples", "dead_letters", "state_intervals", "count_minutes"})


class SyncError(Exception):
    """A sync round failed; the message says where and why. What was committed before stays committed."""


@dataclass(slots=True)
class SyncReport:
    """What one round pushed: rows per local table, and the snapshot's transaction number."""

    upto: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    shifts: int = 0  # shift instances written (the current one at every round)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def sync_once(store: Store, config: Config, settings: CentralSettings,
              clock: Callable[[], float] = time.time) -> SyncReport:
    """Connect, migrate when `auto_migrate` (else require a current schema), push every table, close. The
    outcome is recorded in the local store for `oee sync --status` and the screens. Raises SyncError."""
    started = clock()
    try:
        if settings.auto_migrate:
            with connect(settings, autocommit=True) as admin:
                migrate(admin, settings)
        with connect(settings) as con:
            report = CentralSync(store, config, settings, clock).run(con)
    except Exception as exc:
        message = describe_failure(exc)
        store.save_sync_outcome(clock(), message)
        raise SyncError(message) from exc
    store.save_sync_outcome(clock(), None)
    report.seconds = clock() - started
    return report


def describe_failure(exc: BaseException) -> str:
    if isinstance(exc, psycopg.OperationalError):
        return f"the central database went away: {first_line(str(exc))}"
    if isinstance(exc, psycopg.Error):
        return f"the central database refused the sync: {first_line(str(exc))}"
    return first_line(str(exc)) or type(exc).__name__


class CentralSync:
    """Pushes one store's tables over one connection (not autocommit). Not thread-safe: one per thread."""

    def __init__(self, store: Store, config: Config, settings: CentralSettings,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.config = config
        self.settings = settings
        self.clock = clock
        self.edge_id = settings.edge_id
        self.site = settings.site

    def run(self, con: Connection) -> SyncReport:
        require_current(con)
        capability = detect(con)
        con.commit()
        central = self._register(con)
        if central:
            self.store.raise_seq_above(max(central.values()))
        report = SyncReport()
        covered_at = self.clock()
        self.store.follow_changes()  # before the snapshot: what it does not hold is logged from now on
        with self.store.sync_snapshot() as snapshot:
            report.upto = snapshot.upto
            for table in TABLE_ORDER:
                after = central.get(table)
                if table in APPEND_TABLES:
                    pushed = self._append(con, capability, snapshot, table, after, covered_at)
                elif table in CHANGE_TABLES:
                    pushed = self._changes(con, capability, snapshot, table, after, covered_at)
                else:
                    pushed = self._planning(con, snapshot, table, after, covered_at)
                report.rows[table] = pushed
            report.shifts = self._shifts(con, snapshot)
        with con.transaction():
            con.execute("UPDATE oee.edges SET last_sync = now() WHERE edge_id = %s", [self.edge_id])
        if report.total:
            self._refresh(con, capability)
        return report

    def _refresh(self, con: Connection, capability: Capability) -> None:
        """The analytics layer's aggregates, after a push that brought rows. A failure costs freshness, not
        data: TimescaleDB's own jobs, or the next push's refresh, catch up."""
        con.autocommit = True  # a continuous aggregate's refresh cannot run in a transaction
        try:
            refresh_aggregates(con, capability.has_timescaledb)
        except psycopg.Error as exc:
            log.warning("sync: the central aggregates were not refreshed (%s); the next push tries again",
                        first_line(str(exc)))
        finally:
            con.autocommit = False

    # ------------------------------------------------------------ the edge and its machines

    def _register(self, con: Connection) -> dict[str, int]:
        """The edge and its machines (from the config), and the centre's watermarks of this edge."""
        with con.transaction():
            con.execute("INSERT INTO oee.edges (edge_id, site) VALUES (%s, %s) ON CONFLICT (edge_id) "
                        "DO UPDATE SET site = excluded.site", [self.edge_id, self.site])
            # Without the shift patterns: their overlap check has nothing to do with reasons (_shifts says it).
            records = replace(self.store.planning_records(), shifts=())
            push_edge_settings(con, self.edge_id, self.site, self.config, Planning.from_records(records))
            rows = con.execute("SELECT table_name, watermark FROM oee.sync_state WHERE edge_id = %s",
                               [self.edge_id]).fetchall()
        return {str(table): int(str(mark)) for table, mark in rows}

    # ------------------------------------------------------------ one central transaction per batch

    def _claim(self, con: Connection, table: str, after: int | None) -> bool:
        """Inside the batch's transaction: take this edge's lock on `table` and check the centre still has
        the watermark `after` the batch was read from (False: another sync moved it; read again)."""
        con.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"oee-sync:{self.edge_id}:{table}"])
        row = con.execute("SELECT watermark FROM oee.sync_state WHERE edge_id = %s AND table_name = %s",
                          [self.edge_id, table]).fetchone()
        central = None if row is None else int(str(row[0]))
        return central == after

    def _advance(self, con: Connection, table: str, watermark: int, rows: int) -> None:
        con.execute("INSERT INTO oee.sync_state (edge_id, table_name, watermark, rows, synced_at) "
                    "VALUES (%s, %s, %s, %s, now()) ON CONFLICT (edge_id, table_name) DO UPDATE SET "
                    "watermark = excluded.watermark, rows = oee.sync_state.rows + excluded.rows, "
                    "synced_at = excluded.synced_at", [self.edge_id, table, watermark, rows])

    def _central_watermark(self, con: Connection, table: str) -> int | None:
        with con.transaction():
            row = con.execute("SELECT watermark FROM oee.sync_state WHERE edge_id = %s AND table_name = %s",
                              [self.edge_id, table]).fetchone()
        return None if row is None else int(str(row[0]))

    def _copy(self, con: Connection, target: sql.Composable, columns: Sequence[str], rows: pa.Table,
              kinds: Sequence[str]) -> None:
        """COPY `rows` (without edge_id and site, which are added) into `target` in binary."""
        import pyarrow as pa

        n = rows.num_rows
        full = pa.table([pa.repeat(self.edge_id, n), pa.repeat(self.site, n), *rows.columns],
                        names=["edge_id", "site", *rows.column_names])
        statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(
            target, sql.SQL(", ").join(map(sql.Identifier, columns)))
        with con.cursor() as cur, cur.copy(statement) as copy:
            for piece in encode(full, ("text", "text", *kinds)):
                copy.write(piece)

    def _partitions(self, con: Connection, capability: Capability, table: str, rows: pa.Table) -> None:
        if table not in _PARTITIONED or rows.num_rows == 0:
            return
        import pyarrow.compute as pc

        span = pc.min_max(rows.column(_TIME_COLUMN[table]))
        first, last = span["min"].as_py(), span["max"].as_py()
        if isinstance(first, datetime) and isinstance(last, datetime):
            with con.transaction():
                ensure_partitions(con, capability, table, first.astimezone(UTC), last.astimezone(UTC))

    # ------------------------------------------------------------ append-only tables

    def _append(self, con: Connection, capability: Capability, snapshot: SyncReads, table: str,
                after: int | None, covered_at: float) -> int:
        pushed = 0
        while (plan := snapshot.append_plan(table, after, self.settings.batch_rows)) is not None:
            upto, _ = plan
            rows = snapshot.append_rows(table, after, upto)
            self._partitions(con, capability, table, rows)
            with con.transaction():
                if not self._claim(con, table, after):
                    claimed = False
                else:
                    claimed = True
                    self._copy(con, sql.Identifier("oee", table), ["edge_id", "site", *rows.column_names], rows,
                               _KINDS[table])
                    self._advance(con, table, upto, rows.num_rows)
            if not claimed:  # another sync of this edge moved the watermark: go on from the centre's
                after = self._central_watermark(con, table)
                continue
            self.store.save_sync_watermark(table, upto, rows.num_rows, self.clock(), covered_at)
            pushed += rows.num_rows
            after = upto
        self._mark_covered(table, after, covered_at)
        return pushed

    def _mark_covered(self, table: str, watermark: int | None, covered_at: float) -> None:
        """Nothing (more) to push: the local watermark says so, with the time the centre is current from."""
        if watermark is not None:
            self.store.save_sync_watermark(table, watermark, 0, self.clock(), covered_at)

    # ------------------------------------------------------------ followed tables and planning tables

    def _changes(self, con: Connection, capability: Capability, snapshot: SyncReads, table: str,
                 after: int | None, covered_at: float) -> int:
        ranges: Sequence[ChangeRange] | None
        if after is None:  # the centre has nothing of this edge's table: all of it
            ranges = None
        else:
            changes = snapshot.changes(table, after)
            if changes.empty:
                self._mark_covered(table, snapshot.upto if after <= snapshot.upto else after, covered_at)
                return 0
            ranges = None if changes.whole else changes.ranges
        rows = snapshot.changed_rows(table, ranges)
        return self._replace(con, capability, snapshot, table, after, rows, ranges, covered_at)

    def _planning(self, con: Connection, snapshot: SyncReads, table: str, after: int | None,
                  covered_at: float) -> int:
        if after is not None and snapshot.changes(table, after).empty:
            self._mark_covered(table, snapshot.upto if after <= snapshot.upto else after, covered_at)
            return 0
        return self._replace(con, None, snapshot, table, after, snapshot.planning_rows(table), None, covered_at)

    def _replace(self, con: Connection, capability: Capability | None, snapshot: SyncReads, table: str,
                 after: int | None, rows: pa.Table, ranges: Sequence[ChangeRange] | None, covered_at: float) -> int:
        """Put `rows` in place of the centre's rows of this edge in `ranges` (None: all of the edge's rows),
        with the watermark, in one transaction."""
        target = sql.Identifier("oee", table)
        columns = ["edge_id", "site", *rows.column_names]
        if capability is not None:
            self._partitions(con, capability, table, rows)
        with con.transaction():
            if not self._claim(con, table, after):
                log.info("sync of %s: another sync of edge %s moved on; next round", table, self.edge_id)
                return 0
            self._delete(con, table, ranges)
            keys = _KEYS.get(table)
            if keys is None:  # planning: the edge's rows were all deleted, nothing can conflict
                self._copy(con, target, columns, rows, _KINDS[table])
            else:
                stage = sql.Identifier(f"_stage_{table}")
                con.execute(sql.SQL("CREATE TEMP TABLE {} (LIKE {}) ON COMMIT DROP").format(stage, target))
                self._copy(con, stage, columns, rows, _KINDS[table])
                update = sql.SQL(", ").join(
                    sql.SQL("{} = excluded.{}").format(sql.Identifier(c), sql.Identifier(c))
                    for c in columns if c not in keys)
                con.execute(sql.SQL("INSERT INTO {} SELECT * FROM {} ON CONFLICT ({}) DO UPDATE SET {}").format(
                    target, stage, sql.SQL(", ").join(map(sql.Identifier, keys)), update))
            self._advance(con, table, snapshot.upto, rows.num_rows)
        self.store.save_sync_watermark(table, snapshot.upto, rows.num_rows, self.clock(), covered_at)
        return int(rows.num_rows)

    def _shifts(self, con: Connection, snapshot: SyncReads) -> int:
        """The calendar's shift instances (`oee.shifts`) from the last one the centre has (from the oldest
        fact at first) to the current one, so SQL can group by shift. `planned_s` is the shift's span less
        its breaks. A shift pattern imported later changes the shifts from then on, not the past ones."""
        with con.transaction():
            row = con.execute("SELECT extract(epoch FROM max(start_ts)) FROM oee.shifts WHERE edge_id = %s",
                              [self.edge_id]).fetchone()
        last = None if row is None or row[0] is None else float(str(row[0]))
        start = snapshot.earliest_fact() if last is None else last
        if start is None:
            return 0
        try:
            calendar = Planning.load(self.store).calendar(self.config)
        except PlanningError as exc:
            log.warning("shifts not pushed: the stored shift patterns cannot be used (%s)", exc)
            return 0
        instances = calendar.shifts_between(start, self.clock())
        if not instances:
            return 0
        rows = [(self.edge_id, self.site, s.label, s.name, utc(s.start), utc(s.end),
                 (s.end - s.start) - sum(b.end - b.start for b in s.breaks)) for s in instances]
        with con.transaction(), con.cursor() as cur:
            cur.executemany("INSERT INTO oee.shifts VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT "
                            "(edge_id, start_ts, name) DO UPDATE SET shift = excluded.shift, end_ts = excluded.end_ts, "
                            "planned_s = excluded.planned_s, site = excluded.site", rows)
        return len(rows)

    def _delete(self, con: Connection, table: str, ranges: Sequence[ChangeRange] | None) -> None:
        target = sql.Identifier("oee", table)
        if ranges is None:
            con.execute(sql.SQL("DELETE FROM {} WHERE edge_id = %s").format(target), [self.edge_id])
            return
        column = sql.Identifier(_TIME_COLUMN[table])
        con.execute(sql.SQL(
            "DELETE FROM {} t USING unnest(%s::text[], %s::timestamptz[], %s::timestamptz[]) AS r(machine, lo, hi) "
            "WHERE t.edge_id = %s AND t.machine = r.machine AND t.{} BETWEEN r.lo AND r.hi").format(target, column),
            [[r.machine for r in ranges], [utc(r.lo) for r in ranges], [utc(r.hi) for r in ranges], self.edge_id])


def utc(secs: float) -> datetime:
    """UTC seconds as an aware datetime, rounded to the microsecond as the local store keeps times."""
    return _EPOCH + timedelta(microseconds=round(secs * 1e6))
