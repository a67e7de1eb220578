"""A throwaway PostgreSQL cluster (with TimescaleDB preloaded where it is installed), fresh databases in it,
and the central schema's versions to build in them."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from oee_tui.central.analytics_ddl import statements
from tests.central.contract_v1 import HYPERTABLES, V1

_BIN = Path("/usr/lib/postgresql/15/bin")
_TIMESCALE_FILES = Path("/usr/share/postgresql/15/extension/timescaledb.control")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Cluster:
    port: int
    timescale: bool

    def url(self, dbname: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"


def _as_postgres(*args: str) -> None:
    subprocess.run(args, check=True, user="postgres", group="postgres", extra_groups=[],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@dataclass(frozen=True)
class CentralDb:
    url: str
    timescale: bool

    def connect(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.url, autocommit=True)


_counter = iter(range(10**6))


def fresh_database(cluster: Cluster, timescale: bool) -> CentralDb:
    """An empty database; with the TimescaleDB extension when `timescale`."""
    if timescale and not cluster.timescale:
        pytest.skip("TimescaleDB is not installed here (run ../shared/tools/timescaledb/install.sh as root)")
    name = f"central_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(cluster.url("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db = CentralDb(cluster.url(name), timescale)
    if timescale:
        with db.connect() as conn:
            conn.execute("CREATE EXTENSION timescaledb")
    return db


def create_v1(db: CentralDb) -> None:
    with db.connect() as conn:
        conn.execute(V1)
        if db.timescale:
            for table, column in HYPERTABLES:
                conn.execute(f"SELECT create_hypertable('oee.{table}', by_range('{column}'))")


def create_v2(db: CentralDb) -> None:
    with db.connect() as conn:
        for statement in statements(db.timescale):
            conn.execute(statement)
        conn.execute("INSERT INTO oee.schema_version VALUES (2, now())")


@contextlib.contextmanager
def running_cluster() -> Iterator[Cluster]:
    if not (_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL 15's server binaries are not installed ({_BIN})")
    root = Path(tempfile.mkdtemp(prefix="oee-central-"))
    shutil.chown(root, "postgres", "postgres")
    os.chmod(root, 0o700)
    port = _free_port()
    timescale = _TIMESCALE_FILES.exists()
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    if timescale:
        options += " -c shared_preload_libraries=timescaledb -c timescaledb.telemetry_level=off"
    _as_postgres(str(_BIN / "initdb"), "-D", str(root / "data"), "-A", "trust", "-U", "postgres", "--no-sync")
    _as_postgres(str(_BIN / "pg_ctl"), "-D", str(root / "data"), "-l", str(root / "log"), "-o", options, "-w", "start")
    try:
        yield Cluster(port, timescale)
    finally:
        _as_postgres(str(_BIN / "pg_ctl"), "-D", str(root / "data"), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)
