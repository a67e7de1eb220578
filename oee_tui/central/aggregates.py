"""Keeping the analytics layer current: refreshing the aggregates, and TimescaleDB's storage policies.

The sync calls `refresh_aggregates` after each push. With TimescaleDB the continuous aggregates
refresh only what the push invalidated (and are real time anyway: this makes the newest buckets cheap
to read again); without it the aggregate tables are recomputed for the days the push changed.
`apply_storage_policies` runs after the migrations, so a changed `[central]` setting takes effect at
the next `oee sync --migrate`.
"""

from __future__ import annotations

import time
from typing import Final

import psycopg
from psycopg import sql

from oee_tui.central.analytics_ddl import LEVELS, aggregate_names
from oee_tui.config import CentralSettings

# The tables compression applies to, with their segment-by columns. A segment is what compresses
# together: one edge's one machine (or one tag, for samples), whose values change slowly.
COMPRESSED: Final = (
    ("samples", ("edge_id", "source", "tag"), "ts"),
    ("state_intervals", ("edge_id", "machine"), "start_ts"),
    ("count_minutes", ("edge_id", "machine"), "minute"),
    ("state_pieces", ("edge_id", "machine"), "ts"),
    ("dead_letters", ("edge_id", "source"), "received_at"),
)

# How often TimescaleDB refreshes each level in the background, between the sync's own refreshes
# (another tool may write, or the sync may be stopped while late reasons arrive).
# How long the sync's refresh waits for a background refresh of the same aggregate to end.
_REFRESH_WAIT_S: Final = 60.0

_SCHEDULES: Final = {"1m": "1 minute", "5m": "5 minutes", "1h": "15 minutes", "1d": "1 hour"}


def refresh_aggregates(conn: psycopg.Connection[tuple[object, ...]], timescale: bool) -> None:
    """Bring every aggregate up to the data pushed so far. Needs an autocommit connection with
    TimescaleDB (a continuous aggregate's refresh cannot run inside a transaction)."""
    if not timescale:
        # The days whose pieces or counts changed since the last refresh, at every level (analytics_ddl).
        conn.execute("SELECT oee.refresh_aggregates()")
        return
    for name in aggregate_names():
        _refresh_continuous(conn, name)


def _refresh_continuous(conn: psycopg.Connection[tuple[object, ...]], name: str) -> None:
    """One continuous aggregate's refresh; waits for TimescaleDB's own refresh job to finish when it runs
    (skipping would leave a late push's buckets stale until the job's next run, an hour for `_1d`)."""
    statement = sql.SQL("CALL refresh_continuous_aggregate({}, NULL, NULL)").format(sql.Literal(name))
    deadline = time.monotonic() + _REFRESH_WAIT_S
    delay = 0.05
    while True:
        try:
            conn.execute(statement)
            return
        except psycopg.errors.LockNotAvailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


def apply_storage_policies(conn: psycopg.Connection[tuple[object, ...]], policy: CentralSettings) -> None:
    """Compression (segment-by edge and machine), retention of raw samples (`compress_after_days`,
    `retention_days`), and the aggregates' refresh schedules. TimescaleDB only; idempotent: each policy
    is replaced by the current setting."""
    enabled = {str(row[0]) for row in conn.execute(
        "SELECT hypertable_name FROM timescaledb_information.hypertables "
        "WHERE hypertable_schema = 'oee' AND compression_enabled")}
    for table, segment_by, order_by in COMPRESSED:
        relation = sql.Identifier("oee", table)
        name = sql.Literal(f"oee.{table}")
        if table not in enabled:  # set once: the settings cannot change while chunks are compressed
            conn.execute(sql.SQL(
                "ALTER TABLE {} SET (timescaledb.compress, timescaledb.compress_segmentby = {}, "
                "timescaledb.compress_orderby = {})"
            ).format(relation, sql.Literal(", ".join(segment_by)), sql.Literal(f"{order_by} DESC")))
        conn.execute(sql.SQL("SELECT remove_compression_policy({}, if_exists => true)").format(name))
        if policy.compress_after_days > 0:
            conn.execute(sql.SQL("SELECT add_compression_policy({}, make_interval(days => {}))").format(
                name, sql.Literal(policy.compress_after_days)))
    samples = sql.Literal("oee.samples")
    conn.execute(sql.SQL("SELECT remove_retention_policy({}, if_exists => true)").format(samples))
    if policy.retention_days > 0:
        conn.execute(sql.SQL("SELECT add_retention_policy({}, make_interval(days => {}))").format(
            samples, sql.Literal(policy.retention_days)))
    for suffix, width in LEVELS:
        for kind in ("states", "counts"):
            name = sql.Literal(f"oee.machine_{kind}_{suffix}")
            conn.execute(sql.SQL("SELECT remove_continuous_aggregate_policy({}, if_exists => true)").format(name))
            # start_offset NULL: late data (an edge back after days offline) is refreshed wherever it falls.
            conn.execute(sql.SQL(
                "SELECT add_continuous_aggregate_policy({}, start_offset => NULL, end_offset => {}::interval, "
                "schedule_interval => {}::interval)"
            ).format(name, sql.Literal(width), sql.Literal(_SCHEDULES[suffix])))
