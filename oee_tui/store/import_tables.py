"""Import writes: validated planning records into the planning tables, in one transaction, idempotently.

`write_import` writes one file's records. Everything it changes (the planning table, for a
production log also the facts the OEE calculator reads, and the `import_log` row) is one
DuckDB transaction: a failure anywhere leaves the store exactly as it was. Only rows that
differ from what is stored are touched, so importing the same file again changes nothing at
all: the summary then says every row is unchanged, and no `import_log` row is added (the
log records imports that changed something; the first import of that file is already in it).

What a file replaces, per kind:

* products, schedule, reasons: upsert by key ((product, machine), order id, code);
  stored rows the file does not mention stay.
* shifts: the file is the whole pattern set; stored patterns it does not name are removed.
* downtime-plan: upsert by (machine, line, start); a stored planned stop of the same
  machine or line that a row of the file overlaps is removed (the plan moved it).
* production-log: for each machine, the file is the record from its first start to its
  last end: stored runs and stops of that machine overlapping that span are replaced
  (one reaching outside it is removed whole). The machine's state intervals and count
  minutes over the replaced span are rebuilt from the log, so a re-import never counts
  a part twice. A run is a `running` interval and its counts go to minute buckets (see
  `count_spread.spread_counts`); a stop is a `down` interval, which the calculator classes
  by its reason, else by its length against the micro-stop threshold, exactly as it classes
  a PLC's stop. Time between records is written as nothing at all, which the calculator
  treats as no data (excluded from planned production time, flagged `no_data`): nobody
  wrote down what the machine did then, so it is neither run nor stop.

A committing import may change any day's figures (planning data, production logs), so every
saved day summary goes, in its transaction.

Sets, not rows: records become Arrow tables built column by column, and every
comparison, insert and delete is one SQL statement over them (DuckDB's
`executemany` manages about 1,500 rows/s).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, Final, NamedTuple

import duckdb

from oee_tui.model import (
    AuditChange,
    ImportRecord,
    LoggedStop,
    MachineState,
    Order,
    PlannedStop,
    ProductionRun,
    ProductRate,
    ReasonRecord,
    ShiftPattern,
)
from oee_tui.store.audit_tables import append_on
from oee_tui.store.count_spread import spread_counts
from oee_tui.store.day_summary_tables import DaySummaryTables
from oee_tui.store.fact_tables import NEWEST_REASON_ONLY
from oee_tui.store.planning_codec import shift_breaks, shift_days
from oee_tui.store.sync_changes import PLANNING_TABLES, log_ranges, log_tables_replaced
from oee_tui.store.timecodec import nullable_ts_array, ts_array

if TYPE_CHECKING:
    import pyarrow as pa


# A dry run lists the stored rows a file would remove, up to this many (the count is always whole).
REMOVED_LISTED: Final = 20


class RemovedRow(NamedTuple):
    """A stored row a file replaces: what it is (`run`, `stop`, `planned stop`, `shift`), whose, and when."""
    what: str
    where: str  # machine or line; a shift's name
    start_utc: float | None
    end_utc: float | None


@dataclass(frozen=True, slots=True)
class WriteSummary:
    kind: str
    inserted: int  # rows new to the store
    updated: int  # rows whose values changed
    unchanged: int  # rows already there exactly as in the file
    removed: int = 0  # stored rows the file replaces (see the module doc for which, per kind)
    # The first REMOVED_LISTED of them, for a planner to check before writing (a date misread
    # as another month shows up here as rows far from the file's).
    removed_rows: tuple[RemovedRow, ...] = field(default=(), compare=False)

    @property
    def changed(self) -> bool:
        return bool(self.inserted or self.updated or self.removed)

    def __str__(self) -> str:
        text = f"{self.inserted} inserted, {self.updated} updated, {self.unchanged} unchanged"
        return text + (f", {self.removed} removed" if self.removed else "")


class ImportTables(DaySummaryTables):
    def write_import(self, kind: str, records: Sequence[ImportRecord], *, file: str, sheet: str | None,
                     imported_by: str, sha256: str | None = None, commit: bool = True,
                     interrupted: Callable[[], bool] | None = None, origin: str | None = None) -> WriteSummary:
        """Write the records of one file of `kind` in one transaction, logged with where they came from,
        and, given the `origin` of the person (such as "ssh 10.1.2.3"), audited: an entry of kind
        "import" for the file's name, after = what was written (kind, file, sheet, rows, sha256 and
        the summary's counts), in the same transaction. Like the import log, a file that changed
        nothing adds no entry.

        Without `commit`, what the write would do, computed by doing it and rolling back: nothing
        is kept, and the saved day summaries stay. `interrupted` (a Ctrl+C noted by the caller) is
        asked last before the commit: True rolls everything back and raises KeyboardInterrupt.
        """
        writer = _WRITERS[kind]
        if not commit:
            with self._cursor() as cur:
                cur.begin()
                try:
                    return writer(cur, records, imported_by)
                finally:
                    cur.rollback()
        with self._writing_facts(None) as cur:
            summary = writer(cur, records, imported_by)
            if summary.changed:
                if kind != "production-log":  # its facts' changes are logged range by range as it rebuilds them
                    log_tables_replaced(cur, PLANNING_TABLES)
                cur.execute("INSERT INTO import_log VALUES (?, ?, ?, ?, ?, ?, ?)",
                            [_now(), kind, file, sheet, sha256, len(records), imported_by])
                if origin is not None:
                    written = {"kind": kind, "file": file, "sheet": sheet, "rows": len(records), "sha256": sha256,
                               "inserted": summary.inserted, "updated": summary.updated, "removed": summary.removed}
                    append_on(cur, [AuditChange(imported_by, origin, "import", PurePath(file).name, None, written)])
            if interrupted is not None and interrupted():
                raise KeyboardInterrupt  # inside the transaction: it rolls back
        return summary


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# ---------------------------------------------------------------- columns


def _table(columns: dict[str, Any]) -> pa.Table:
    import pyarrow as pa
    return pa.table({name: col if isinstance(col, pa.Array) else pa.array(col) for name, col in columns.items()})


def _strings(values: Sequence[str | None]) -> pa.Array:
    import pyarrow as pa
    return pa.array(values, type=pa.string())


def _ints(values: Sequence[int | None]) -> pa.Array:
    import pyarrow as pa
    return pa.array(values, type=pa.int64())


def _floats(values: Sequence[float | None]) -> pa.Array:
    import pyarrow as pa
    return pa.array(values, type=pa.float64())


# ---------------------------------------------------------------- set-based upsert


def _same(left: str, right: str, columns: Sequence[str]) -> str:
    return " AND ".join(f'{left}."{c}" IS NOT DISTINCT FROM {right}."{c}"' for c in columns) or "TRUE"


def _diff(cur: duckdb.DuckDBPyConnection, target: str, new: pa.Table, keys: Sequence[str],
          diff_name: str = "_diff") -> tuple[int, int, int]:
    """Register `new`, mark each row inserted / updated / unchanged against `target` in a temp table."""
    columns = new.column_names
    values = [c for c in columns if c not in keys]
    cur.register("_new", new)
    try:
        cur.execute(f"""
            CREATE OR REPLACE TEMP TABLE {diff_name} AS
            SELECT n.*, t._hit IS NOT NULL AS known, t._hit IS NOT NULL AND {_same('t', 'n', values)} AS same
            FROM _new n LEFT JOIN (SELECT 1 AS _hit, * FROM {target}) t ON {_same('t', 'n', keys)}
        """)
    finally:
        cur.unregister("_new")
    inserted, updated, unchanged = cur.execute(
        f"SELECT count(*) FILTER (WHERE NOT known), count(*) FILTER (WHERE known AND NOT same), "
        f"count(*) FILTER (WHERE same) FROM {diff_name}").fetchall()[0]
    return int(inserted), int(updated), int(unchanged)


def _apply(cur: duckdb.DuckDBPyConnection, target: str, columns: Sequence[str], keys: Sequence[str],
           diff_name: str = "_diff") -> None:
    """Replace the changed rows and add the new ones; unchanged rows are not touched at all."""
    quoted = ", ".join(f'"{c}"' for c in columns)
    cur.execute(f"DELETE FROM {target} t USING {diff_name} d WHERE d.known AND NOT d.same AND {_same('t', 'd', keys)}")
    cur.execute(f"INSERT INTO {target} ({quoted}) SELECT {quoted} FROM {diff_name} WHERE NOT same")


def _keyed(cur: duckdb.DuckDBPyConnection, kind: str, target: str, new: pa.Table,
           keys: Sequence[str]) -> WriteSummary:
    inserted, updated, unchanged = _diff(cur, target, new, keys)
    _apply(cur, target, new.column_names, keys)
    cur.execute("DROP TABLE _diff")
    return WriteSummary(kind, inserted, updated, unchanged)


# ---------------------------------------------------------------- kinds


def _write_products(cur: duckdb.DuckDBPyConnection, records: Sequence[ImportRecord], _: str) -> WriteSummary:
    rows = [r for r in records if isinstance(r, ProductRate)]
    new = _table({
        "product": _strings([r.product for r in rows]),
        "machine": _strings([r.machine or "" for r in rows]),  # '' is the product's default on every machine
        "ideal_cycle_time_s": _floats([r.ideal_cycle_time_s for r in rows]),
        "micro_stop_threshold_s": _floats([r.micro_stop_threshold_s for r in rows]),
    })
    return _keyed(cur, "products", "products", new, ("product", "machine"))


def _write_schedule(cur: duckdb.DuckDBPyConnection, records: Sequence[ImportRecord], _: str) -> WriteSummary:
    rows = [r for r in records if isinstance(r, Order)]
    new = _table({
        "order_id": _strings([r.order_id for r in rows]),
        "product": _strings([r.product for r in rows]),
        "machine": _strings([r.machine for r in rows]),
        "line": _strings([r.line for r in rows]),
        "start_ts": ts_array([r.start_utc for r in rows], "start_utc"),
        # An open order (end math.inf) is stored with no end: NULL, read back as open (planning_tables).
        "end_ts": nullable_ts_array([None if r.end_utc == math.inf else r.end_utc for r in rows], "end_utc"),
        "quantity": _ints([r.quantity for r in rows]),
        "ideal_cycle_time_s": _floats([r.ideal_cycle_time_s for r in rows]),
    })
    return _keyed(cur, "schedule", "orders", new, ("order_id",))


def _write_reasons(cur: duckdb.DuckDBPyConnection, records: Sequence[ImportRecord], _: str) -> WriteSummary:
    import pyarrow as pa
    rows = [r for r in records if isinstance(r, ReasonRecord)]
    new = _table({
        "code": _strings([r.code for r in rows]),
        "name": _strings([r.name for r in rows]),
        "parent": _strings([r.parent for r in rows]),
        "planned": pa.array([r.planned for r in rows], type=pa.bool_()),
        "loss": _strings([r.loss.value if r.loss is not None else None for r in rows]),
    })
    return _keyed(cur, "reasons", "reasons", new, ("code",))


def _write_shifts(cur: duckdb.DuckDBPyConnection, records: Sequence[ImportRecord], _: str) -> WriteSummary:
    rows = [r for r in records if isinstance(r, ShiftPattern)]
    if not rows:
        # Replace-all with nothing would silently delete every shift: surely a wrong file.
        raise ValueError("the shifts file has no shifts; importing it would remove every shift pattern")
    new = _table({
        "name": _strings([r.name for r in rows]),
        "start": _strings([r.start for r in rows]),
        "end": _strings([r.end for r in rows]),
        "days": _strings([shift_days(r.days) for r in rows]),
        "breaks": _strings([shift_breaks(r.breaks) for r in rows]),
    })
    inserted, updated, unchanged = _diff(cur, "shift_patterns", new, ("name",))
    # The file is the whole pattern set: a pattern it no longer names stops existing.
    gone = cur.execute("DELETE FROM shift_patterns WHERE name NOT IN (SELECT name FROM _diff) "
                       "RETURNING name").fetchall()
    _apply(cur, "shift_patterns", new.column_names, ("name",))
    cur.execute("DROP TABLE _diff")
    listed = tuple(RemovedRow("shift", name, None, None) for (name,) in sorted(gone)[:REMOVED_LISTED])
    return WriteSummary("shifts", inserted, updated, unchanged, len(gone), listed)


def _write_downtime_plan(cur: duckdb.DuckDBPyConnection, records: Sequence[ImportRecord], _: str) -> WriteSummary:
    rows = [r for r in records if isinstance(r, PlannedStop)]
    new = _table({
        "machine": _strings([r.machine for r in rows]),
        "line": _strings([r.line for r in rows]),
        "start_ts": ts_array([r.start_utc for r in rows], "start_utc"),
        "end_ts": ts_array([r.end_utc for r in rows], "end_utc"),
        "reason": _strings([r.reason for r in rows]),
        "note": _strings([r.note for r in rows]),
    })
    keys = ("machine", "line", "start_ts")
    inserted, updated, unchanged = _diff(cur, "planned_stops", new, keys)
    # A stored stop of the same machine or line that a new one overlaps was moved by the plan.
    gone = cur.execute(f"""
        DELETE FROM planned_stops t
        WHERE EXISTS (SELECT 1 FROM _diff d WHERE {_same('t', 'd', ('machine', 'line'))}
                      AND t.start_ts < d.end_ts AND t.end_ts > d.start_ts)
          AND NOT EXISTS (SELECT 1 FROM _diff d WHERE {_same('t', 'd', keys)})
        RETURNING coalesce(nullif(machine, ''), line), epoch_us(start_ts) / 1e6, epoch_us(end_ts) / 1e6
    """).fetchall()
    _apply(cur, "planned_stops", new.column_names, keys)
    cur.execute("DROP TABLE _diff")
    listed = tuple(RemovedRow("planned stop", where, start, end) for where, start, end in sorted(gone)[:REMOVED_LISTED])
    return WriteSummary("downtime-plan", inserted, updated, unchanged, len(gone), listed)


# ---------------------------------------------------------------- production log


def _write_production_log(cur: duckdb.DuckDBPyConnection, records: Sequence[ImportRecord],
                          imported_by: str) -> WriteSummary:
    runs = [r for r in records if isinstance(r, ProductionRun)]
    stops = [r for r in records if isinstance(r, LoggedStop)]
    new_runs = _table({
        "machine": _strings([r.machine for r in runs]),
        "product": _strings([r.product for r in runs]),
        "order_id": _strings([r.order_id for r in runs]),
        "start_ts": ts_array([r.start_utc for r in runs], "start_utc"),
        "end_ts": ts_array([r.end_utc for r in runs], "end_utc"),
        "total": _ints([r.total_count for r in runs]),
        "reject": _ints([r.reject_count for r in runs]),
    })
    new_stops = _table({
        "machine": _strings([s.machine for s in stops]),
        "start_ts": ts_array([s.start_utc for s in stops], "start_utc"),
        "end_ts": ts_array([s.end_utc for s in stops], "end_utc"),
        "reason": _strings([s.reason for s in stops]),
    })
    keys = ("machine", "start_ts")
    run_counts = _diff(cur, "production_runs", new_runs, keys, "_run_diff")
    stop_counts = _diff(cur, "production_stops", new_stops, keys, "_stop_diff")

    # Per machine, the span the file covers, and the stored records overlapping it.
    cur.execute("""
        CREATE OR REPLACE TEMP TABLE _covered AS
        SELECT machine, min(start_ts) AS lo, max(end_ts) AS hi FROM (
            SELECT machine, start_ts, end_ts FROM _run_diff UNION ALL SELECT machine, start_ts, end_ts FROM _stop_diff
        ) GROUP BY machine
    """)
    cur.execute("""
        CREATE OR REPLACE TEMP TABLE _old AS
        SELECT 'run' AS what, t.machine, t.start_ts, t.end_ts FROM production_runs t JOIN _covered c
            ON c.machine = t.machine AND t.start_ts < c.hi AND t.end_ts > c.lo
        UNION ALL
        SELECT 'stop', t.machine, t.start_ts, t.end_ts FROM production_stops t JOIN _covered c
            ON c.machine = t.machine AND t.start_ts < c.hi AND t.end_ts > c.lo
    """)
    cur.execute("""
        CREATE OR REPLACE TEMP TABLE _gone AS
        SELECT * FROM _old o WHERE NOT EXISTS (
            SELECT 1 FROM (SELECT 'run' AS what, machine, start_ts FROM _run_diff
                           UNION ALL SELECT 'stop', machine, start_ts FROM _stop_diff) n
            WHERE n.what = o.what AND n.machine = o.machine AND n.start_ts = o.start_ts)
    """)
    removed = cur.execute("SELECT count(*) FROM _gone").fetchall()[0][0]
    listed = tuple(RemovedRow(*row) for row in cur.execute(
        "SELECT what, machine, epoch_us(start_ts) / 1e6, epoch_us(end_ts) / 1e6 FROM _gone "
        "ORDER BY machine, start_ts, what LIMIT ?", [REMOVED_LISTED]).fetchall()) if removed else ()
    # Machines whose record changed in any way, and the span to rebuild for each: what the file
    # covers plus the whole of every stored record it replaces.
    cur.execute("""
        CREATE OR REPLACE TEMP TABLE _rebuild AS
        SELECT c.machine, least(c.lo, coalesce(min(o.start_ts), c.lo)) AS lo,
               greatest(c.hi, coalesce(max(o.end_ts), c.hi)) AS hi
        FROM _covered c LEFT JOIN _old o ON o.machine = c.machine
        WHERE c.machine IN (
            SELECT machine FROM _run_diff WHERE NOT same UNION SELECT machine FROM _stop_diff WHERE NOT same
            UNION SELECT machine FROM _old o WHERE NOT EXISTS (
                SELECT 1 FROM _run_diff n WHERE o.what = 'run' AND n.machine = o.machine AND n.start_ts = o.start_ts)
              AND NOT EXISTS (
                SELECT 1 FROM _stop_diff n WHERE o.what = 'stop' AND n.machine = o.machine
                AND n.start_ts = o.start_ts))
        GROUP BY c.machine, c.lo, c.hi
    """)
    cur.execute("""
        DELETE FROM production_runs t USING _covered c
        WHERE c.machine = t.machine AND t.start_ts < c.hi AND t.end_ts > c.lo
          AND t.machine IN (SELECT machine FROM _rebuild)
          AND NOT EXISTS (SELECT 1 FROM _run_diff n WHERE n.same AND n.machine = t.machine AND n.start_ts = t.start_ts)
    """)
    cur.execute("""
        DELETE FROM production_stops t USING _covered c
        WHERE c.machine = t.machine AND t.start_ts < c.hi AND t.end_ts > c.lo
          AND t.machine IN (SELECT machine FROM _rebuild)
          AND NOT EXISTS (SELECT 1 FROM _stop_diff n WHERE n.same AND n.machine = t.machine AND n.start_ts = t.start_ts)
    """)
    cur.execute("INSERT INTO production_runs SELECT machine, product, order_id, start_ts, end_ts, total, reject "
                "FROM _run_diff WHERE NOT same")
    cur.execute("INSERT INTO production_stops SELECT machine, start_ts, end_ts, reason FROM _stop_diff WHERE NOT same")
    _rebuild_facts(cur, imported_by)
    for name in ("_run_diff", "_stop_diff", "_covered", "_old", "_gone", "_rebuild"):
        cur.execute(f"DROP TABLE {name}")
    inserted = run_counts[0] + stop_counts[0]
    updated = run_counts[1] + stop_counts[1]
    unchanged = run_counts[2] + stop_counts[2]
    return WriteSummary("production-log", inserted, updated, unchanged, int(removed), listed)


def _rebuild_facts(cur: duckdb.DuckDBPyConnection, imported_by: str) -> None:
    """Rewrite state intervals, count minutes and stop reasons over each `_rebuild` span from the log."""
    if not cur.execute("SELECT count(*) FROM _rebuild").fetchall()[0][0]:
        return
    # What the rebuild deletes and writes, for the central sync (before the DELETE: it may reach back to
    # the start of an offline interval that began before the span).
    log_ranges(cur, "state_intervals", """
        SELECT t.machine, min(t.start_ts) AS lo, max(t.start_ts) AS hi FROM state_intervals t JOIN _rebuild r
            ON t.machine = r.machine AND (
                (t.start_ts >= r.lo AND t.start_ts < r.hi)
                OR (t.state = 'offline' AND t.start_ts < r.hi AND (t.end_ts IS NULL OR t.end_ts > r.lo)))
        GROUP BY t.machine
        UNION ALL SELECT machine, lo, hi FROM _rebuild""")
    log_ranges(cur, "stop_reasons", "SELECT machine, lo, hi FROM _rebuild")
    # Offline intervals the engine wrote while it tracked the machine without data mean "no data",
    # exactly what no interval means: dropping them where the log speaks changes no figure.
    cur.execute("""
        DELETE FROM state_intervals t USING _rebuild r
        WHERE t.machine = r.machine AND (
            (t.start_ts >= r.lo AND t.start_ts < r.hi)
            OR (t.state = 'offline' AND t.start_ts < r.hi AND (t.end_ts IS NULL OR t.end_ts > r.lo)))
    """)
    conflict = cur.execute("""
        SELECT t.machine, t.state, t.start_ts, t.end_ts FROM state_intervals t JOIN _rebuild r
            ON t.machine = r.machine AND t.start_ts < r.hi AND (t.end_ts IS NULL OR t.end_ts > r.lo)
        ORDER BY t.machine, t.start_ts LIMIT 1
    """).fetchall()
    if conflict:
        machine, state, start, end = conflict[0]
        raise ValueError(f"machine {machine} already has a {state} interval from {start} to {end or 'now'} (UTC) "
                         "that the log does not replace, probably from a PLC; nothing was written")
    down = MachineState.DOWN.value
    cur.execute(f"""
        INSERT INTO state_intervals
        SELECT t.machine, t.start_ts, t.end_ts, '{MachineState.RUNNING.value}' FROM production_runs t
            JOIN _rebuild r ON t.machine = r.machine AND t.start_ts >= r.lo AND t.start_ts < r.hi
        UNION ALL
        SELECT t.machine, t.start_ts, t.end_ts, '{down}' FROM production_stops t
            JOIN _rebuild r ON t.machine = r.machine AND t.start_ts >= r.lo AND t.start_ts < r.hi
    """)
    # A stop keeps the newest reason given to it; the log's reason is added only where it differs,
    # so re-imports do not pile up audit rows and an operator's later entry is not overwritten by
    # an unchanged file.
    cur.execute(f"""
        INSERT INTO stop_reasons
        SELECT t.machine, t.start_ts, t.reason, ?, ? FROM production_stops t
            JOIN _rebuild r ON t.machine = r.machine AND t.start_ts >= r.lo AND t.start_ts < r.hi
            LEFT JOIN (
                SELECT machine, stop_start, reason FROM stop_reasons
                {NEWEST_REASON_ONLY}
            ) newest ON newest.machine = t.machine AND newest.stop_start = t.start_ts
        WHERE t.reason IS NOT NULL AND t.reason IS DISTINCT FROM newest.reason
    """, [imported_by, _now()])
    # Count minutes: whole minutes around each rebuilt span, refilled from every run that touches
    # them (a run just outside the span may share its first or last minute).
    cur.execute("""
        CREATE OR REPLACE TEMP TABLE _minutes AS
        SELECT machine, date_trunc('minute', lo) AS lo,
               date_trunc('minute', hi - INTERVAL 1 MICROSECOND) + INTERVAL 1 MINUTE AS hi
        FROM _rebuild
    """)
    log_ranges(cur, "count_minutes", "SELECT machine, lo, hi FROM _minutes")
    cur.execute("DELETE FROM count_minutes t USING _minutes m "
                "WHERE t.machine = m.machine AND t.minute >= m.lo AND t.minute < m.hi")
    cur.execute("DELETE FROM count_events t USING _minutes m "
                "WHERE t.machine = m.machine AND t.ts >= m.lo AND t.ts < m.hi")
    runs = cur.sql("""
        SELECT t.machine, coalesce(t.product, o.product) AS product, epoch_us(t.start_ts) AS s,
               epoch_us(t.end_ts) AS e, t.total - t.reject AS good, t.reject,
               epoch_us(m.lo) AS lo, epoch_us(m.hi) AS hi
        FROM production_runs t JOIN _minutes m ON t.machine = m.machine AND t.start_ts < m.hi AND t.end_ts > m.lo
        LEFT JOIN orders o ON o.order_id = t.order_id
        ORDER BY t.machine, t.start_ts
    """).to_arrow_table()
    if runs.num_rows:
        cur.register("_buckets", _count_buckets(runs))
        try:
            cur.execute("INSERT INTO count_minutes SELECT machine, minute, product, total, reject FROM _buckets")
        finally:
            cur.unregister("_buckets")
    cur.execute("DROP TABLE _minutes")


def _count_buckets(runs: pa.Table) -> pa.Table:
    """Each run's counts spread over its minutes, kept where the minute is inside its rebuild span."""
    import pyarrow as pa
    import pyarrow.compute as pc
    run_index, minute, good, reject = spread_counts(
        runs["s"].to_numpy(), runs["e"].to_numpy(), runs["good"].to_numpy(), runs["reject"].to_numpy())
    keep = (minute >= runs["lo"].to_numpy()[run_index]) & (minute < runs["hi"].to_numpy()[run_index])
    keep &= (good + reject) > 0  # the engine writes no bucket for a minute without parts either
    picked = pa.array(run_index[keep])
    return pa.table({
        "machine": pc.take(runs["machine"], picked),
        "minute": pa.array(minute[keep], type=pa.timestamp("us")),
        "product": pc.take(runs["product"], picked),
        "total": pa.array(good[keep] + reject[keep], type=pa.int64()),
        "reject": pa.array(reject[keep], type=pa.int64()),
    })


_WRITERS: Final[dict[str, Callable[[duckdb.DuckDBPyConnection, Sequence[ImportRecord], str], WriteSummary]]] = {
    "products": _write_products,
    "schedule": _write_schedule,
    "shifts": _write_shifts,
    "downtime-plan": _write_downtime_plan,
    "reasons": _write_reasons,
    "production-log": _write_production_log,
}


