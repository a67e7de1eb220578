"""What the central database can do, and the DDL that depends on it: the ONE place that knows about
TimescaleDB.

TimescaleDB is used when the extension exists in the database (`CREATE EXTENSION timescaledb`, which
needs a superuser, so the database's owner runs it before the first migration). Without it the same
tables are natively range-partitioned by month on their time column, and the same query surface is built
from aggregate tables the sync refreshes by day (the analytics migrations ask `has_timescaledb`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import psycopg
from psycopg import sql

SCHEMA: Final = "oee"
# One chunk (hypertable) per day: a day of a busy plant's samples is tens of MB, what TimescaleDB advises.
CHUNK_INTERVAL: Final = "1 day"


@dataclass(frozen=True, slots=True)
class Capability:
    timescaledb_version: str | None  # None: plain PostgreSQL
    server_version: int  # PostgreSQL's server_version_num, e.g. 150020

    @property
    def has_timescaledb(self) -> bool:
        return self.timescaledb_version is not None

    def describe(self) -> str:
        major = self.server_version // 10000
        if self.timescaledb_version is not None:
            return f"PostgreSQL {major} with TimescaleDB {self.timescaledb_version}"
        return f"PostgreSQL {major}, no TimescaleDB (native partitioning and aggregate tables refreshed by day)"


def detect(con: psycopg.Connection[tuple[object, ...]]) -> Capability:
    row = con.execute("SELECT (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'), "
                      "current_setting('server_version_num')::int").fetchone()
    assert row is not None
    version, server = row
    return Capability(str(version) if version is not None else None, int(str(server)))


def create_time_table(con: psycopg.Connection[tuple[object, ...]], capability: Capability, table: str,
                      columns: str, time_column: str) -> None:
    """`CREATE TABLE oee.<table> (<columns>)` partitioned on `time_column`: a hypertable of daily chunks with
    TimescaleDB, else native range partitions by month (made by `ensure_partitions`) plus a default one."""
    name = sql.Identifier(SCHEMA, table)
    if capability.has_timescaledb:
        con.execute(sql.SQL("CREATE TABLE {} ({})").format(name, sql.SQL(columns)))
        con.execute(sql.SQL("SELECT create_hypertable({}, by_range({}, {}::interval))").format(
            sql.Literal(f"{SCHEMA}.{table}"), sql.Literal(time_column), sql.Literal(CHUNK_INTERVAL)))
        return
    con.execute(sql.SQL("CREATE TABLE {} ({}) PARTITION BY RANGE ({})").format(
        name, sql.SQL(columns), sql.Identifier(time_column)))
    # What the hypertable's own time index does, at almost no cost per row: rows come in time order.
    con.execute(sql.SQL("CREATE INDEX ON {} USING brin ({})").format(name, sql.Identifier(time_column)))
    # Rows of a month with no partition yet land here rather than fail; ensure_partitions makes each
    # month's partition before the sync writes into it, so this stays empty in practice.
    con.execute(sql.SQL("CREATE TABLE {} PARTITION OF {} DEFAULT").format(
        sql.Identifier(SCHEMA, f"{table}_default"), name))


def month_partition(table: str, month: datetime) -> str:
    return f"{table}_{month:%Y%m}"


def ensure_partitions(con: psycopg.Connection[tuple[object, ...]], capability: Capability, table: str,
                      first: datetime, last: datetime) -> None:
    """Without TimescaleDB: the monthly partitions of `table` covering `first`..`last` (UTC), made if missing.
    With TimescaleDB, chunks are made by the extension: nothing to do. Call it in a transaction of its own,
    before the rows' one: making a partition locks its parent table until the commit."""
    if capability.has_timescaledb:
        return
    month = datetime(first.year, first.month, 1, tzinfo=UTC)
    while month <= last:
        following = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)
        name = month_partition(table, month)
        if con.execute("SELECT to_regclass(%s)", [f"{SCHEMA}.{name}"]).fetchone() == (None,):
            # Two edges may reach a new month at once: they take turns, and the second finds it made.
            con.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"oee-partition:{table}"])
            con.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})").format(
                sql.Identifier(SCHEMA, name), sql.Identifier(SCHEMA, table), sql.Literal(month),
                sql.Literal(following)))
        month = following
