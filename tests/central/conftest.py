"""Fixtures for the central store's tests: a real PostgreSQL cluster (TimescaleDB loaded when installed).

* ``pg_cluster``: one cluster per session, so one per xdist worker (each worker is its own session).
* ``pg_url``: a fresh, empty database in it for each test, dropped afterwards: tests never see each
  other's rows.
* ``timescale_url``: the same with the TimescaleDB extension created; skips, saying why and how to install
  it, where the extension is missing.
* ``own_pg_cluster``: a cluster of the test's own, for tests that stop and start PostgreSQL.
* ``central``: a database migrated to the latest version, once with TimescaleDB and once without;
  ``edges``: two edge boxes' day pushed into it (the analytics layer's tests).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.central.cluster import CentralDb, central_database, fresh_database
from tests.central.two_edges import push_two_edges
from tests.support.postgres import PostgresCluster, pg_bindir, running_cluster


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
    url = fresh_database(pg_cluster, timescale=True).url  # skips, saying how to install it, without TimescaleDB
    yield url
    pg_cluster.drop_database(url)


@pytest.fixture
def own_pg_cluster() -> Iterator[PostgresCluster]:
    _need_postgres()
    with running_cluster() as cluster:
        yield cluster


# ---------------------------------------------------------------- the analytics layer's (migration V2 on)


@pytest.fixture(params=["timescaledb", "plain"])
def central(request: pytest.FixtureRequest, pg_cluster: PostgresCluster) -> Iterator[CentralDb]:
    """A central database at the latest version, with TimescaleDB and on plain PostgreSQL."""
    db = central_database(pg_cluster, request.param == "timescaledb")
    yield db
    pg_cluster.drop_database(db.url)


@pytest.fixture
def edges(tmp_path: Path, central: CentralDb) -> dict[str, Path]:
    """Two edges' day pushed into `central` (tests/central/two_edges.py); their config files by edge id."""
    return push_two_edges(tmp_path, central)
