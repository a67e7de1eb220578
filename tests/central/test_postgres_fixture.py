"""The PostgreSQL fixtures themselves: a real server, fresh databases, TimescaleDB when installed."""

from __future__ import annotations

import psycopg

from tests.support.postgres import PostgresCluster


def test_each_test_gets_an_empty_database_of_its_own(pg_cluster: PostgresCluster, pg_url: str) -> None:
    with psycopg.connect(pg_url) as con:
        con.execute("CREATE TABLE t (x int)")
        con.execute("INSERT INTO t VALUES (1)")
        assert con.execute("SELECT count(*) FROM t").fetchone() == (1,)
    other = pg_cluster.create_database()
    try:
        with psycopg.connect(other) as con:
            assert con.execute("SELECT to_regclass('t')").fetchone() == (None,)
    finally:
        pg_cluster.drop_database(other)


def test_timescaledb_is_created_in_its_database(timescale_url: str) -> None:
    with psycopg.connect(timescale_url) as con:
        row = con.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    assert row is not None and row[0].startswith("2.")


def test_a_cluster_stopped_and_started_keeps_what_was_committed(own_pg_cluster: PostgresCluster) -> None:
    url = own_pg_cluster.create_database()
    with psycopg.connect(url) as con:
        con.execute("CREATE TABLE kept (x int)")
        con.execute("INSERT INTO kept VALUES (7)")
    own_pg_cluster.stop()
    assert not own_pg_cluster.running
    own_pg_cluster.start()
    with psycopg.connect(url) as con:
        assert con.execute("SELECT x FROM kept").fetchall() == [(7,)]
