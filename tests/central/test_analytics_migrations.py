"""Migration V2 (the analytics layer) on an empty database and on one a version behind that holds data,
with TimescaleDB and on plain PostgreSQL; TimescaleDB's storage policies from the settings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from oee_tui.central.aggregates import refresh_aggregates
from oee_tui.central.analytics_ddl import LEVELS, aggregate_names
from oee_tui.config import CentralSettings
from tests.central.cluster import CentralDb, fresh_database, migrate_to
from tests.support.postgres import PostgresCluster

RELATIONS = ("state_pieces", "ideal_cycle_times", "machine_oee_by_shift",
             *(f"{kind}_{suffix}" for suffix, _ in LEVELS
               for kind in ("machine_states", "machine_counts", "machine_oee", "line_oee", "site_oee")))


def t(hhmm: str) -> datetime:
    return datetime.fromisoformat(f"2026-11-24T{hhmm}").replace(tzinfo=UTC)


def relations(central: CentralDb) -> set[str]:
    with central.connect() as conn:
        rows = conn.execute("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                            "WHERE n.nspname = 'oee'").fetchall()
    return {str(row[0]) for row in rows}


@pytest.mark.parametrize("timescale", [True, False], ids=["timescaledb", "plain"])
def test_on_an_empty_database_every_relation_exists_and_answers_nothing(pg_cluster: PostgresCluster,
                                                                        timescale: bool) -> None:
    db = fresh_database(pg_cluster, timescale)
    migrate_to(db)
    assert set(RELATIONS) <= relations(db)
    with db.connect() as conn:
        refresh_aggregates(conn, timescale)
        for relation in RELATIONS:
            assert conn.execute(f"SELECT count(*) FROM oee.{relation}").fetchone() == (0,), relation
        kinds = dict(conn.execute(
            "SELECT view_name, materialized_only FROM timescaledb_information.continuous_aggregates "
            "WHERE view_schema = 'oee'").fetchall()) if timescale else {}
    if timescale:
        # Continuous aggregates, real time: what the last refresh missed is computed on read.
        assert set(kinds) == {name.partition(".")[2] for name in aggregate_names()}
        assert not any(kinds.values())


@pytest.mark.parametrize("timescale", [True, False], ids=["timescaledb", "plain"])
def test_a_database_a_version_behind_gets_its_history_aggregated(pg_cluster: PostgresCluster, timescale: bool) -> None:
    db = fresh_database(pg_cluster, timescale)
    migrate_to(db, 1)
    with db.connect() as conn:  # pushed by a sync of V1, before the analytics layer existed
        conn.execute("INSERT INTO oee.machines VALUES ('e', 'S', 'M', 'M', 'L')")
        conn.execute("INSERT INTO oee.state_intervals VALUES ('e', 'S', 'M', %s, %s, 'running'), "
                     "('e', 'S', 'M', %s, %s, 'down'), ('e', 'S', 'M', %s, NULL, 'running')",
                     (t("06:00"), t("07:00"), t("07:00"), t("07:30"), t("07:30")))
        conn.execute("INSERT INTO oee.products VALUES ('e', 'S', 'P', '', 2.0, NULL)")
        conn.execute("INSERT INTO oee.count_minutes VALUES ('e', 'S', 'M', %s, 'P', 900, 90)", (t("06:10"),))
    migrate_to(db)
    with db.connect() as conn:
        refresh_aggregates(conn, timescale)
        [row] = conn.execute("SELECT planned_production_s, run_s, breakdown_s, ideal_s, good_ideal_s, oee "
                             "FROM oee.machine_oee_1d").fetchall()
        # 90 min closed (the open interval waits for its end): 60 run + 30 down; 900 parts at 2 s, 810 good.
        assert row == (5400.0, 3600.0, 1800.0, 1800.0, 1620.0, pytest.approx(1620 / 5400))
        # New pushes after the migration flow through the triggers: the open interval closes.
        conn.execute("UPDATE oee.state_intervals SET end_ts = %s WHERE start_ts = %s", (t("08:00"), t("07:30")))
        refresh_aggregates(conn, timescale)
        [(ppt, run)] = conn.execute("SELECT planned_production_s, run_s FROM oee.machine_oee_1d").fetchall()
        assert (ppt, run) == (7200.0, 5400.0)


def test_storage_policies_follow_the_settings_and_compressed_data_stays_current(pg_cluster: PostgresCluster) -> None:
    # Compression and retention policies are TimescaleDB's: plain PostgreSQL has no such settings.
    central = fresh_database(pg_cluster, True)
    migrate_to(central, settings=CentralSettings(compress_after_days=3, retention_days=90))
    migrate_to(central, settings=CentralSettings(compress_after_days=3, retention_days=90))  # idempotent
    with central.connect() as conn:
        conn.execute("INSERT INTO oee.machines VALUES ('e', 'S', 'M', 'M', 'L')")
        conn.execute("INSERT INTO oee.state_intervals VALUES ('e', 'S', 'M', %s, %s, 'running')",
                     (t("06:00"), t("07:00")))
        jobs = conn.execute("SELECT proc_name, hypertable_name, config FROM timescaledb_information.jobs "
                            "WHERE hypertable_schema = 'oee' OR proc_name = 'policy_refresh_continuous_aggregate'"
                            ).fetchall()
        compress = {str(h): c for p, h, c in jobs if p == "policy_compression"}
        assert set(compress) == {"samples", "state_intervals", "count_minutes", "state_pieces", "dead_letters"}
        assert all(c["compress_after"] == "3 days" for c in compress.values())
        assert [(h, c["drop_after"]) for p, h, c in jobs if p == "policy_retention"] == [("samples", "90 days")]
        assert sum(1 for p, _, _ in jobs if p == "policy_refresh_continuous_aggregate") == len(aggregate_names())
        segments = dict(conn.execute(
            "SELECT hypertable_name, string_agg(attname, ',' ORDER BY segmentby_column_index) "
            "FROM timescaledb_information.compression_settings WHERE hypertable_schema = 'oee' "
            "AND segmentby_column_index IS NOT NULL GROUP BY 1").fetchall())
        assert segments["state_intervals"] == "edge_id,machine" and segments["samples"] == "edge_id,source,tag"
        # Settings changed: the next `oee sync --migrate` replaces the policies (nothing else is left to do).
        migrate_to(central, settings=CentralSettings(compress_after_days=0, retention_days=0))
        assert conn.execute("SELECT count(*) FROM timescaledb_information.jobs WHERE proc_name IN "
                            "('policy_compression', 'policy_retention')").fetchone() == (0,)
        # Chunks compressed now: a late update and a late reason still reach the aggregates.
        conn.execute("SELECT compress_chunk(c) FROM show_chunks('oee.state_intervals') c")
        conn.execute("SELECT compress_chunk(c) FROM show_chunks('oee.state_pieces') c")
        conn.execute("INSERT INTO oee.state_intervals VALUES ('e', 'S', 'M', %s, %s, 'down')",
                     (t("07:00"), t("07:10")))
        refresh_aggregates(conn, True)
        query = "SELECT planned_production_s, run_s, planned_s FROM oee.machine_oee_1h WHERE bucket = %s"
        assert conn.execute(query, (t("07:00"),)).fetchone() == (600.0, 0.0, 0.0)
        conn.execute("SELECT compress_chunk(c) FROM show_chunks('oee.state_pieces') c")
        conn.execute("INSERT INTO oee.reason_tree VALUES ('e', 'S', 'PM', 'Planned maintenance', NULL, true, NULL)")
        conn.execute("INSERT INTO oee.stop_reasons VALUES ('e', 'S', 'M', %s, 'PM', 'anna', %s)",
                     (t("07:00"), t("08:00")))
        refresh_aggregates(conn, True)
        assert conn.execute(query, (t("07:00"),)).fetchone() == (0.0, 0.0, 600.0)
