"""Connecting: sslmode up to verify-full with certificates made for the test; the password from PGPASSWORD or
a pgpass file, never the config."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from oee_tui.central.sync import SyncError, sync_once
from oee_tui.store import Store
from tests.central.edge_data import central_rows, edge_config, fill, local_rows
from tests.mqtt.broker import TlsFiles, make_tls_files
from tests.support.postgres import PostgresCluster, running_cluster

PASSWORD = "s3cret-for-tests"


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PostgresCluster, TlsFiles]]:
    files = make_tls_files(tmp_path_factory.mktemp("pg-pki"))
    with running_cluster(ssl=files) as cluster:
        with psycopg.connect(cluster.url(), autocommit=True) as admin:
            admin.execute(f"CREATE ROLE sync_tls LOGIN PASSWORD '{PASSWORD}'")
        yield cluster, files


def _database(cluster: PostgresCluster) -> str:
    url = cluster.create_database()
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(cluster.url(), autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" OWNER TO sync_tls')
    return name


def _url(cluster: PostgresCluster, name: str, host: str, query: str) -> str:
    return f"postgresql://sync_tls@{host}:{cluster.port}/{name}?{query}"


def test_verify_full_with_the_password_from_pgpassword(tls_cluster: tuple[PostgresCluster, TlsFiles],
                                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cluster, files = tls_cluster
    name = _database(cluster)
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    url = _url(cluster, name, "localhost", f"sslmode=verify-full&sslrootcert={files.ca}")
    config = edge_config(url, "edge-1", auto_migrate=True)
    assert config.central is not None
    with Store.open(tmp_path / "data") as store:
        fill(store)
        sync_once(store, config, config.central)
        with psycopg.connect(cluster.url(name)) as con:
            ssl = con.execute("SELECT bool_or(ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
                              "WHERE a.usename = 'sync_tls'").fetchone()
        assert central_rows(cluster.url(name), "samples", "edge-1") == local_rows(store, "samples")
    assert ssl in ((True,), (None,))  # the sync's session is closed by now; TLS was required by pg_hba anyway


def test_the_password_from_a_pgpass_file(tls_cluster: tuple[PostgresCluster, TlsFiles], tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    cluster, files = tls_cluster
    name = _database(cluster)
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"localhost:{cluster.port}:{name}:sync_tls:{PASSWORD}\n", encoding="utf-8")
    pgpass.chmod(0o600)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    url = _url(cluster, name, "localhost", f"sslmode=verify-ca&sslrootcert={files.ca}")
    config = edge_config(url, "edge-1", auto_migrate=True)
    assert config.central is not None
    with Store.open(tmp_path / "data") as store:
        fill(store, n_samples=100)
        assert sync_once(store, config, config.central).rows["samples"] == 100


@pytest.mark.parametrize(
    ("host", "query", "said"),
    [
        ("localhost", "sslmode=verify-full&sslrootcert={other_ca}", "SSL error"),
        ("wrong.example", "hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert={ca}", "does not match host name"),
        ("localhost", "sslmode=disable", "pg_hba.conf rejects connection"),
        ("localhost", "sslmode=require", "password authentication failed"),
    ],
    ids=["unknown CA", "host not in the certificate", "no TLS", "wrong password"],
)
def test_refused_connections_say_why(tls_cluster: tuple[PostgresCluster, TlsFiles], tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch, host: str, query: str, said: str) -> None:
    cluster, files = tls_cluster
    name = _database(cluster)
    other = make_tls_files(tmp_path / "other-pki")
    monkeypatch.setenv("PGPASSWORD", "wrong" if "wrong" in said or "password" in said else PASSWORD)
    url = _url(cluster, name, host, query.format(ca=files.ca, other_ca=other.ca))
    config = edge_config(url, "edge-1", auto_migrate=True, connect_timeout_s=3)
    assert config.central is not None
    with Store.open(tmp_path / "data") as store:
        fill(store, n_samples=10)
        with pytest.raises(SyncError) as caught:
            sync_once(store, config, config.central)
        assert said in str(caught.value)
        assert PASSWORD not in str(caught.value)
        assert store.sync_outcome().error == str(caught.value)
