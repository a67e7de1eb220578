"""The central schema (`oee.*`), versioned: `MIGRATIONS[i]` brings the database from version `i` to `i + 1`.

`migrate` runs the pending ones, each in its own transaction with its row in `oee.schema_version`, so a
failure leaves the previous version whole. A session advisory lock serialises it: two edge boxes migrating
one database at once take turns, and the second finds nothing left to do. Never edit a migration that has
shipped: append one (every edge box and database in the field ran the old text).

V1 holds the tables every edge box writes (docs: the README's "Central database" section). Every data row
carries `edge_id` and `site`; times are `timestamptz` (the local store's TIMESTAMPs are UTC). The time
tables are made through `capability.create_time_table`, the one place that knows about TimescaleDB.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import psycopg

from oee_tui.central import analytics_ddl
from oee_tui.central.aggregates import apply_storage_policies
from oee_tui.central.capability import Capability, create_time_table, detect
from oee_tui.config import CentralSettings

log = logging.getLogger(__name__)

# pg_advisory_lock's key: any fixed 64-bit number no other application of the database uses ('oeeschem').
MIGRATION_LOCK: Final = 0x6F6565736368656D

Connection = psycopg.Connection[tuple[object, ...]]
Migration = Callable[[Connection, Capability, CentralSettings], None]

_V1_PLAIN: Final = """
CREATE TABLE oee.edges (
    edge_id    text PRIMARY KEY,
    site       text NOT NULL,
    first_seen timestamptz NOT NULL DEFAULT now(),
    last_sync  timestamptz
);

-- Each edge's watermark per local table, written in the transaction of the batch it covers: a batch
-- resent after a crash or a lost acknowledgement finds its watermark here and is skipped.
CREATE TABLE oee.sync_state (
    edge_id    text NOT NULL,
    table_name text NOT NULL,
    watermark  bigint NOT NULL,
    rows       bigint NOT NULL DEFAULT 0,
    synced_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (edge_id, table_name)
);

CREATE TABLE oee.machines (
    edge_id text NOT NULL,
    site    text NOT NULL,
    machine text NOT NULL,
    name    text NOT NULL,
    line    text,
    PRIMARY KEY (edge_id, machine)
);

-- Newest entered_at per stop wins; the history is kept.
CREATE TABLE oee.stop_reasons (
    edge_id    text NOT NULL,
    site       text NOT NULL,
    machine    text NOT NULL,
    stop_start timestamptz NOT NULL,
    reason     text,
    entered_by text,
    entered_at timestamptz NOT NULL,
    PRIMARY KEY (edge_id, machine, stop_start, entered_at)
);

CREATE TABLE oee.products (
    edge_id                text NOT NULL,
    site                   text NOT NULL,
    product                text NOT NULL,
    machine                text NOT NULL,
    ideal_cycle_time_s     float8,
    micro_stop_threshold_s float8,
    PRIMARY KEY (edge_id, product, machine)
);

CREATE TABLE oee.orders (
    edge_id            text NOT NULL,
    site               text NOT NULL,
    order_id           text NOT NULL,
    product            text,
    machine            text,
    line               text,
    start_ts           timestamptz,
    end_ts             timestamptz,
    quantity           bigint,
    ideal_cycle_time_s float8,
    PRIMARY KEY (edge_id, order_id)
);

CREATE TABLE oee.planned_stops (
    edge_id  text NOT NULL,
    site     text NOT NULL,
    machine  text,
    line     text,
    start_ts timestamptz,
    end_ts   timestamptz,
    reason   text,
    note     text
);
CREATE INDEX ON oee.planned_stops (edge_id);

CREATE TABLE oee.reasons (
    edge_id text NOT NULL,
    site    text NOT NULL,
    code    text NOT NULL,
    name    text,
    parent  text,
    planned boolean,
    loss    text,
    PRIMARY KEY (edge_id, code)
);

-- As imported: times plant-local HH:MM, breaks a JSON list of [start, end].
CREATE TABLE oee.shift_patterns (
    edge_id text NOT NULL,
    site    text NOT NULL,
    name    text NOT NULL,
    start   text,
    "end"   text,
    days    text,
    breaks  text,
    PRIMARY KEY (edge_id, name)
);

-- The shift instances of the edge's calendar (past and current), so SQL can group by shift.
CREATE TABLE oee.shifts (
    edge_id   text NOT NULL,
    site      text NOT NULL,
    shift     text NOT NULL,
    name      text NOT NULL,
    start_ts  timestamptz NOT NULL,
    end_ts    timestamptz NOT NULL,
    planned_s float8 NOT NULL,
    PRIMARY KEY (edge_id, start_ts, name)
);
"""

# (table, columns, time column): hypertables with TimescaleDB, monthly range partitions without.
_V1_TIME_TABLES: Final = (
    ("samples", """edge_id text NOT NULL, site text NOT NULL, ts timestamptz NOT NULL, source text, tag text,
                   value_num float8, value_text text, quality text""", "ts"),
    ("state_intervals", """edge_id text NOT NULL, site text NOT NULL, machine text NOT NULL,
                           start_ts timestamptz NOT NULL, end_ts timestamptz, state text,
                           PRIMARY KEY (edge_id, machine, start_ts)""", "start_ts"),
    ("count_minutes", """edge_id text NOT NULL, site text NOT NULL, machine text NOT NULL,
                         minute timestamptz NOT NULL, product text NOT NULL DEFAULT '', total bigint NOT NULL,
                         reject bigint NOT NULL, PRIMARY KEY (edge_id, machine, minute, product)""", "minute"),
    ("dead_letters", """edge_id text NOT NULL, site text NOT NULL, received_at timestamptz NOT NULL,
                        source text, topic text, payload bytea, error text""", "received_at"),
)


def _v1(con: Connection, capability: Capability, settings: CentralSettings) -> None:
    con.execute(_V1_PLAIN)  # a literal script, no parameters
    for table, columns, time_column in _V1_TIME_TABLES:
        create_time_table(con, capability, table, columns, time_column)
    # Samples and dead letters have no key on purpose (append-only, exactly once by oee.sync_state) and no
    # index but on time: a b-tree on (edge_id, source, tag, ts) made the COPY 4x slower (1,000 tags
    # interleaved). An analyst who reads one tag over long spans adds one; compression (segment-by) is the
    # TimescaleDB way.


def _v2(con: Connection, capability: Capability, settings: CentralSettings) -> None:
    """The analytics layer: state pieces, aggregates per machine at 1m/5m/1h/1d, OEE views (analytics_ddl)."""
    for statement in analytics_ddl.statements(capability.has_timescaledb):
        con.execute(statement)  # literal scripts, no parameters


MIGRATIONS: Final[tuple[Migration, ...]] = (_v1, _v2)
"""The schema version after `MIGRATIONS[i]` is `i + 1`."""

LATEST_VERSION: Final = len(MIGRATIONS)


class SchemaBehindError(Exception):
    """The central schema is older than this oee-tui needs (or missing): run `oee sync --migrate`."""


@dataclass(frozen=True, slots=True)
class MigrationResult:
    before: int
    after: int
    capability: Capability


def schema_version(con: Connection) -> int:
    """The central schema's version, 0 for a database no migration ran on. Leaves no transaction open."""
    row = con.execute("SELECT to_regclass('oee.schema_version') IS NOT NULL").fetchone()
    version = 0
    if row is not None and row[0]:
        found = con.execute("SELECT coalesce(max(version), 0) FROM oee.schema_version").fetchone()
        version = int(str(found[0])) if found is not None else 0
    if not con.autocommit:
        con.commit()
    return version


def require_current(con: Connection) -> int:
    """The schema version, if this oee-tui can write to it; SchemaBehindError otherwise. A newer schema is
    accepted: migrations only ever add to what an older edge box writes."""
    version = schema_version(con)
    if version < LATEST_VERSION:
        raise SchemaBehindError(
            f"the central schema is at version {version}, this oee-tui needs {LATEST_VERSION}: run "
            "`oee sync --migrate` (or set [central] auto_migrate = true)")
    return version


def migrate(con: Connection, settings: CentralSettings) -> MigrationResult:
    """Bring the central schema up to date. `con` must be in autocommit mode: each migration is its own
    transaction, and the advisory lock is the session's."""
    if not con.autocommit:
        raise ValueError("migrate needs an autocommit connection")
    con.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK])
    try:
        with con.transaction():
            con.execute("CREATE SCHEMA IF NOT EXISTS oee")
            con.execute("CREATE TABLE IF NOT EXISTS oee.schema_version "
                        "(version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
        before = schema_version(con)
        capability = detect(con)
        for version in range(before + 1, LATEST_VERSION + 1):
            log.info("central schema: migrating to version %d (%s)", version, capability.describe())
            with con.transaction():
                MIGRATIONS[version - 1](con, capability, settings)
                con.execute("INSERT INTO oee.schema_version (version) VALUES (%s)", [version])
        if capability.has_timescaledb and max(before, LATEST_VERSION) >= 2:
            # Every run, not only V2's: a changed [central] compress_after_days or retention_days applies.
            with con.transaction():
                apply_storage_policies(con, settings)
        return MigrationResult(before, max(before, LATEST_VERSION), capability)
    finally:
        con.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK])
