"""The contract's V1 tables (docs: the central schema), for the analytics tests until the sync's migrations
are merged: the same names, columns and keys, so V2 is built over what the sync creates."""

from __future__ import annotations

from typing import Final

V1: Final = """
CREATE SCHEMA oee;
CREATE TABLE oee.schema_version(version int PRIMARY KEY, applied_at timestamptz);
CREATE TABLE oee.edges(edge_id text PRIMARY KEY, site text, first_seen timestamptz, last_sync timestamptz);
CREATE TABLE oee.machines(edge_id text, site text, machine text, name text, line text, PRIMARY KEY(edge_id, machine));
CREATE TABLE oee.samples(edge_id text NOT NULL, site text NOT NULL, ts timestamptz NOT NULL, source text, tag text,
    value_num float8, value_text text, quality text);
CREATE TABLE oee.state_intervals(edge_id text NOT NULL, site text NOT NULL, machine text, start_ts timestamptz NOT NULL,
    end_ts timestamptz, state text, PRIMARY KEY(edge_id, machine, start_ts));
CREATE TABLE oee.count_minutes(edge_id text NOT NULL, site text NOT NULL, machine text, minute timestamptz NOT NULL,
    product text NOT NULL DEFAULT '', total bigint, reject bigint, PRIMARY KEY(edge_id, machine, minute, product));
CREATE TABLE oee.stop_reasons(edge_id text NOT NULL, site text NOT NULL, machine text, stop_start timestamptz,
    reason text, entered_by text, entered_at timestamptz, PRIMARY KEY(edge_id, machine, stop_start, entered_at));
CREATE TABLE oee.products(edge_id text NOT NULL, site text NOT NULL, product text, machine text,
    ideal_cycle_time_s float8, micro_stop_threshold_s float8, PRIMARY KEY(edge_id, product, machine));
CREATE TABLE oee.reasons(edge_id text NOT NULL, site text NOT NULL, code text, name text, parent text,
    planned boolean, loss text, PRIMARY KEY(edge_id, code));
CREATE TABLE oee.shifts(edge_id text NOT NULL, site text NOT NULL, shift text, name text, start_ts timestamptz,
    end_ts timestamptz, planned_s float8, PRIMARY KEY(edge_id, start_ts, name));
CREATE TABLE oee.dead_letters(edge_id text NOT NULL, site text NOT NULL, received_at timestamptz NOT NULL,
    source text, topic text, payload bytea, error text);
INSERT INTO oee.schema_version VALUES (1, now());
"""

HYPERTABLES: Final = (("samples", "ts"), ("state_intervals", "start_ts"), ("count_minutes", "minute"),
                      ("dead_letters", "received_at"))
