"""Schema migrations of the local DuckDB store, oldest first.

`MIGRATIONS[i]` brings a store from schema version `i` to `i + 1`. The store
runs each pending one in its own transaction and records its version in
`schema_version`, so a crash mid-migration leaves the previous version intact.
Never edit a migration that has shipped: append a new one instead, because
stores in the field already ran the old text.

Times are plain TIMESTAMP holding UTC (not TIMESTAMPTZ): bucketing TIMESTAMPTZ
is about 3x slower in DuckDB, and the engine only ever deals in UTC.
"""

from __future__ import annotations

from typing import Final

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

MIGRATIONS: Final[tuple[str, ...]] = (_V1,)
"""Migration SQL scripts; the schema version after `MIGRATIONS[i]` is `i + 1`."""

LATEST_VERSION: Final = len(MIGRATIONS)
