"""Schema migrations of the local DuckDB store, oldest first.

`MIGRATIONS[i]` brings a store from schema version `i` to `i + 1`. `migrate`
runs each pending one in its own transaction and records its version in
`schema_version`, so a crash mid-migration leaves the previous version intact.
Never edit a migration that has shipped: append a new one instead, because
stores in the field already ran the old text.

Times are plain TIMESTAMP holding UTC (not TIMESTAMPTZ): bucketing TIMESTAMPTZ
is about 3x slower in DuckDB, and the engine only ever deals in UTC.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import duckdb

log = logging.getLogger(__name__)

_V1: Final = """
CREATE TABLE schema_version (
    version    INTEGER,
    applied_at TIMESTAMP
);

-- Raw tag values after deadband filtering; append-only.
CREATE TABLE samples (
    ts         TIMESTAMP,
    source     VARCHAR,
    tag        VARCHAR,
    value_num  DOUBLE,
    value_text VARCHAR,
    quality    VARCHAR
);

-- One row per machine state span; the open span (end_ts NULL) is rewritten when it closes,
-- hence the key. Stop reasons live in stop_reasons so their history is never overwritten.
CREATE TABLE state_intervals (
    machine  VARCHAR,
    start_ts TIMESTAMP,
    end_ts   TIMESTAMP,
    state    VARCHAR,
    PRIMARY KEY (machine, start_ts)
);

-- Count deltas per minute; no key on purpose: a minute can be flushed in several parts,
-- and readers sum them (appending is far cheaper than an upsert on every flush).
CREATE TABLE count_minutes (
    machine VARCHAR,
    minute  TIMESTAMP,
    product VARCHAR,
    total   BIGINT,
    reject  BIGINT
);

-- Append-only audit trail of operator entries; the newest entered_at per stop wins.
CREATE TABLE stop_reasons (
    machine    VARCHAR,
    stop_start TIMESTAMP,
    reason     VARCHAR,
    entered_by VARCHAR,
    entered_at TIMESTAMP
);

-- Messages a driver could not decode, kept verbatim for diagnosis.
CREATE TABLE dead_letters (
    received_at TIMESTAMP,
    source      VARCHAR,
    topic       VARCHAR,
    payload     BLOB,
    error       VARCHAR
);
"""

_V2: Final = """
-- Planning data imported from CSV/Excel (oee import). Each table is keyed by what a
-- planner would call the same row, so importing the same file twice changes nothing.
-- Every import that wrote something is logged with its file's SHA-256.
CREATE TABLE import_log (
    imported_at TIMESTAMP,
    kind        VARCHAR,
    file        VARCHAR,
    sheet       VARCHAR,
    sha256      VARCHAR,
    row_count   INTEGER,
    imported_by VARCHAR
);

-- Ideal cycle time per product; machine '' is the product's default on every machine.
CREATE TABLE products (
    product                VARCHAR,
    machine                VARCHAR,
    ideal_cycle_time_s     DOUBLE,
    micro_stop_threshold_s DOUBLE,
    PRIMARY KEY (product, machine)
);

-- Production orders; an order runs on one machine or on every machine of one line.
CREATE TABLE orders (
    order_id VARCHAR PRIMARY KEY,
    product  VARCHAR,
    machine  VARCHAR,
    line     VARCHAR,
    start_ts TIMESTAMP,
    end_ts   TIMESTAMP,
    quantity BIGINT
);

-- Planned maintenance and no-order periods, for one machine or a whole line.
CREATE TABLE planned_stops (
    machine  VARCHAR,
    line     VARCHAR,
    start_ts TIMESTAMP,
    end_ts   TIMESTAMP,
    reason   VARCHAR,
    note     VARCHAR
);

-- The reason-code tree as imported; it extends (and for the same code overrides) the config's.
CREATE TABLE reasons (
    code    VARCHAR PRIMARY KEY,
    name    VARCHAR,
    parent  VARCHAR,
    planned BOOLEAN,
    loss    VARCHAR
);

-- Shift patterns as imported; times are plant-local HH:MM, breaks a JSON list of [start, end].
CREATE TABLE shift_patterns (
    name   VARCHAR PRIMARY KEY,
    start  VARCHAR,
    "end"  VARCHAR,
    days   VARCHAR,
    breaks VARCHAR
);

-- Hand-kept production runs for machines without a PLC, as they were written down. The
-- import also turns them into state_intervals and count_minutes, which the calculator reads.
CREATE TABLE production_runs (
    machine  VARCHAR,
    product  VARCHAR,
    order_id VARCHAR,
    start_ts TIMESTAMP,
    end_ts   TIMESTAMP,
    total    BIGINT,
    reject   BIGINT,
    PRIMARY KEY (machine, start_ts)
);

-- Hand-kept stops of the same log; a stop's reason also goes to stop_reasons.
CREATE TABLE production_stops (
    machine  VARCHAR,
    start_ts TIMESTAMP,
    end_ts   TIMESTAMP,
    reason   VARCHAR,
    PRIMARY KEY (machine, start_ts)
);
"""

_V3: Final = """
-- The Sparkplug edge node's store-and-forward buffer: machine signal changes made while the
-- broker could not be reached, replayed in id order as historical metrics after the next
-- birth. A row is deleted only once the broker acknowledged (QoS 1 PUBACK) the message that
-- carried it, so a crash during the replay sends it again rather than losing it.
CREATE TABLE edge_buffer (
    id         BIGINT PRIMARY KEY,
    ts         TIMESTAMP,
    device     VARCHAR,
    metric     VARCHAR,
    value_num  DOUBLE,
    value_text VARCHAR,
    quality    VARCHAR
);
"""

_V4: Final = """
-- The Sparkplug edge node's next bdSeq, per edge node. Written before every CONNECT (the
-- NDEATH will carries the bdSeq), so the next run of the app never reuses the last one: a late
-- will of the previous run must not match, and so end, the new session at the host.
CREATE TABLE edge_session (
    group_id     VARCHAR,
    edge_node_id VARCHAR,
    next_bd_seq  INTEGER,
    PRIMARY KEY (group_id, edge_node_id)
);
"""

_V5: Final = """
-- Each machine's report over each closed plant-local day (oee_tui.engine.analysis.day_summaries), so
-- that a review of weeks and months sums days instead of reading every interval and count
-- minute again. `figures` are the report's times, counts and six big losses in the order of
-- day_summaries.FIGURES; `loss_*` its stop time and stops per reason; `head_*`/`tail_*` the
-- stops the day's start and end cut (one stop across midnight is counted once over days).
-- A cache: the store deletes a machine's rows from the time of any later write for that
-- machine on, and every row on an import; a row made under another config (fingerprint) is
-- not used.
CREATE TABLE day_summaries (
    machine      VARCHAR NOT NULL,
    day_start    TIMESTAMP NOT NULL,
    day_end      TIMESTAMP NOT NULL,
    fingerprint  VARCHAR NOT NULL,
    figures      DOUBLE[] NOT NULL,
    loss_reasons VARCHAR[] NOT NULL,
    loss_seconds DOUBLE[] NOT NULL,
    loss_stops   BIGINT[] NOT NULL,
    head_start   DOUBLE,
    head_loss    VARCHAR,
    head_reason  VARCHAR,
    head_touched BOOLEAN,
    tail_start   DOUBLE,
    tail_loss    VARCHAR,
    tail_reason  VARCHAR,
    tail_touched BOOLEAN,
    computed_at  TIMESTAMP NOT NULL
);
"""

_V6: Final = """
-- Each counted delta at the time its parts were made (oee_tui.store.count_events), written with the
-- count_minutes row it is part of: a report cuts the minutes at a window's ends with these. Minutes
-- stored before this table, and imported ones, have none.
CREATE TABLE count_events (
    machine VARCHAR NOT NULL,
    ts      TIMESTAMP NOT NULL,
    product VARCHAR,
    total   BIGINT NOT NULL,
    reject  BIGINT NOT NULL
);
"""

_V7: Final = """
-- An order's own ideal cycle time (a schedule's cycle-time column); NULL: the product's.
ALTER TABLE orders ADD COLUMN ideal_cycle_time_s DOUBLE;
"""

_V8: Final = """
-- What the engine noticed about a machine besides its states and counts (model/events.py): a
-- counter that reset, or that jumped further than the machine can have made and was rebaselined
-- instead of counted. `previous` and `value` are the raw readings in the tag's unsigned range,
-- `counted` the parts counted for the change, `most` the most the machine can have made.
CREATE TABLE machine_events (
    machine  VARCHAR NOT NULL,
    ts       TIMESTAMP NOT NULL,
    kind     VARCHAR NOT NULL,
    signal   VARCHAR,
    previous UBIGINT,
    value    UBIGINT,
    counted  UBIGINT NOT NULL,
    most     DOUBLE
);
"""

_V9: Final = """
-- The audit trail: one row per change a person made (oee_tui.store.audit_tables). Append-only: the
-- store has no statement that updates or deletes a row. Each row is hash-chained to the one before
-- it (oee_tui.store.audit_chain says exactly what is hashed); `before` and `after` are canonical JSON.
CREATE TABLE audit_log (
    seq       BIGINT NOT NULL,
    ts        TIMESTAMP NOT NULL,
    user_name VARCHAR NOT NULL,
    origin    VARCHAR NOT NULL,
    kind      VARCHAR NOT NULL,
    subject   VARCHAR NOT NULL,
    before    VARCHAR,
    after     VARCHAR,
    prev_hash VARCHAR NOT NULL,
    hash      VARCHAR NOT NULL
);

-- The chain's head, updated in the transaction of every append: how many entries there are and the
-- last one's hash. It finds what an edit of audit_log alone cannot hide (its last entries removed).
CREATE TABLE audit_head (
    id      INTEGER PRIMARY KEY,
    entries BIGINT NOT NULL,
    hash    VARCHAR NOT NULL
);
"""

_V10: Final = """
-- The central sync (oee_tui.central.sync) pushes each table by a watermark that late rows cannot skip:
-- every write transaction of the store has a number one above the last (Database._transaction), which
-- append-only rows carry as flush_seq (one constant per flush: appends stay as cheap). Rows stored before
-- get their minute since the epoch (below any later number), so the first sync can still go in batches.
ALTER TABLE samples ADD COLUMN flush_seq BIGINT;
UPDATE samples SET flush_seq = epoch_ms(ts) // 60000;
ALTER TABLE dead_letters ADD COLUMN flush_seq BIGINT;
UPDATE dead_letters SET flush_seq = epoch_ms(received_at) // 60000;

-- What changed in the tables whose rows change after they are written (the open interval rewritten, a
-- minute's parts, a reason given later, imports that replace or delete rows), written in the
-- transaction of the change: per table and machine the range of its time column touched (lo..hi), or,
-- with machine NULL, the whole table. Deleted once the centre has it.
CREATE TABLE sync_changes (
    seq        BIGINT NOT NULL,
    table_name VARCHAR NOT NULL,
    machine    VARCHAR,
    lo         TIMESTAMP,
    hi         TIMESTAMP
);

-- Per pushed table: the sequence number up to which the centre has it (also kept centrally in
-- oee.sync_state, which wins after a crash between the two commits), rows pushed in all, when, and the
-- time of the store snapshot the watermark came from (the lag is counted from it).
CREATE TABLE sync_watermarks (
    table_name VARCHAR PRIMARY KEY,
    watermark  BIGINT NOT NULL,
    pushed     BIGINT NOT NULL,
    synced_at  TIMESTAMP NOT NULL,
    covered_at TIMESTAMP NOT NULL
);

-- The sync's last outcome, for `oee sync --status` and the screens' header.
CREATE TABLE sync_outcome (
    id         INTEGER PRIMARY KEY,
    ok_at      TIMESTAMP,
    error      VARCHAR,
    error_at   TIMESTAMP
);
"""

MIGRATIONS: Final[tuple[str, ...]] = (_V1, _V2, _V3, _V4, _V5, _V6, _V7, _V8, _V9, _V10)
"""Migration SQL scripts; the schema version after `MIGRATIONS[i]` is `i + 1`."""

LATEST_VERSION: Final = len(MIGRATIONS)


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


def migrate(con: duckdb.DuckDBPyConnection, data_dir: Path) -> int:
    """Bring the schema up to date; refuse, without writing anything, a store from a newer version."""
    has_table = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = 'schema_version'"
    ).fetchall()[0][0]
    current = 0
    if has_table:
        current = int(con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchall()[0][0])
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
