"""Central databases for the analytics layer's tests: made in the session's cluster (tests/support/postgres.py)
and migrated with the product's runner, to the latest version or to an older one."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
import pytest

from oee_tui.central import migrations
from oee_tui.config import CentralSettings
from tests.support.postgres import TIMESCALEDB_HOW, PostgresCluster


@dataclass(frozen=True)
class CentralDb:
    url: str
    timescale: bool

    def connect(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.url, autocommit=True)


def fresh_database(cluster: PostgresCluster, timescale: bool) -> CentralDb:
    """An empty database; with the TimescaleDB extension when `timescale` (skips where it is not installed)."""
    if timescale and not cluster.timescaledb:
        pytest.skip(TIMESCALEDB_HOW)
    return CentralDb(cluster.create_database(timescaledb=timescale), timescale)


def migrate_to(db: CentralDb, version: int | None = None, settings: CentralSettings | None = None) -> None:
    """Run the product's migrations, up to `version` (None: the latest)."""
    latest = migrations.LATEST_VERSION
    with db.connect() as conn, pytest.MonkeyPatch.context() as patch:
        if version is not None:
            patch.setattr(migrations, "LATEST_VERSION", version)
        result = migrations.migrate(conn, settings or CentralSettings())
    assert result.after == (latest if version is None else version)


def central_database(cluster: PostgresCluster, timescale: bool) -> CentralDb:
    """A fresh database at the latest version of the central schema."""
    db = fresh_database(cluster, timescale)
    migrate_to(db)
    return db
