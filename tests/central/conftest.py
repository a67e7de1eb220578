"""Fixtures for the central store's tests: a real PostgreSQL cluster (TimescaleDB loaded when installed).

* ``pg_cluster``: one cluster per session, so one per xdist worker (each worker is its own session).
* ``pg_url``: a fresh, empty database in it for each test, dropped afterwards: tests never see each
  other's rows.
* ``timescale_url``: the same with the TimescaleDB extension created; skips, saying why and how to install
  it, where the extension is missing.
* ``own_pg_cluster``: a cluster of the test's own, for tests that stop and start PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.postgres import TIMESCALEDB_HOW, PostgresCluster, pg_bindir, running_cluster


def _need_postgres() -> None:
    if pg_bindir() is None:
        pytest.fail("PostgreSQL's server is not installed: apt-get install -y postgresql (test.sh does it)")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    _need_postgres()
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture
def pg_url(pg_cluster: PostgresCluster) -> Iterator[str]:
    url = pg_cluster.create_database()
    yield url
    pg_cluster.drop_database(url)


@pytest.fixture
def timescale_url(pg_cluster: PostgresCluster) -> Iterator[str]:
    if not pg_cluster.timescaledb:
        pytest.skip(TIMESCALEDB_HOW)
    url = pg_cluster.create_database(timescaledb=True)
    yield url
    pg_cluster.drop_database(url)


@pytest.fixture
def own_pg_cluster() -> Iterator[PostgresCluster]:
    _need_postgres()
    with running_cluster() as cluster:
        yield cluster
