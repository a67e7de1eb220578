"""Fixtures of the central analytics tests: a throwaway PostgreSQL cluster for the session, and a
fresh central database per test, with TimescaleDB and on plain PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.central.cluster import CentralDb, Cluster, create_v1, create_v2, fresh_database, running_cluster
from tests.central.two_edges import push_two_edges


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture(params=["timescaledb", "plain"])
def central(request: pytest.FixtureRequest, pg_cluster: Cluster) -> CentralDb:
    """A central database at the latest version, with TimescaleDB and on plain PostgreSQL."""
    db = fresh_database(pg_cluster, request.param == "timescaledb")
    create_v1(db)
    create_v2(db)
    return db


@pytest.fixture
def edges(tmp_path: Path, central: CentralDb) -> dict[str, Path]:
    """Two edges' day pushed into `central` (tests/central/two_edges.py); their config files by edge id."""
    return push_two_edges(tmp_path, central)
