"""A real, throwaway PostgreSQL cluster for the central store's tests: initdb + postgres on a free port.

Importable by any test (``from tests.support.postgres import PostgresCluster``); the fixtures are in
tests/central/conftest.py.

* PostgreSQL refuses to run as root: when the tests run as root, the cluster's files belong to the
  ``postgres`` user and the server runs as that user (``subprocess``'s ``user=``). Its folder is made with
  ``tempfile.mkdtemp`` under /tmp, not in pytest's tmp dir: pytest's 0700 dirs owned by root are closed to
  that user.
* ``fsync=off`` and ``initdb --no-sync``: a test cluster needs no durability against power loss, and fsync
  on two shared cores would make every commit slow. Stopping the server (``stop``/``start``) is a clean
  shutdown, so nothing committed is lost by it.
* TimescaleDB is preloaded when its files are installed (``../shared/tools/timescaledb/install.sh``);
  ``CREATE EXTENSION timescaledb`` in a database is then what turns it on there.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import psycopg

from tests.mqtt.broker import TlsFiles, free_port

START_TIMEOUT_S: Final = 60.0  # about 1.2 s on an idle machine; generous for two loaded cores
SUPERUSER: Final = "postgres"
TIMESCALEDB_HOW: Final = ("TimescaleDB is not installed in this machine's PostgreSQL: run "
                          "../shared/tools/timescaledb/install.sh as root (.ci/run does), then run the tests again")


def pg_bindir() -> Path | None:
    """The server binaries' folder (`pg_config --bindir`, else Debian's versioned folders), or None."""
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        found = Path(subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True).stdout.strip())
        if (found / "initdb").exists():
            return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    return None


def _pg_config(bindir: Path, flag: str) -> Path | None:
    pg_config = bindir / "pg_config"
    if not pg_config.exists():
        found = shutil.which("pg_config")
        if found is None:
            return None
        pg_config = Path(found)
    return Path(subprocess.run([str(pg_config), flag], capture_output=True, text=True, check=True).stdout.strip())


def timescaledb_installed(bindir: Path) -> bool:
    """True when the server can load TimescaleDB (its control file and library are in place)."""
    share, lib = _pg_config(bindir, "--sharedir"), _pg_config(bindir, "--pkglibdir")
    return (share is not None and lib is not None and (share / "extension" / "timescaledb.control").exists()
            and (lib / "timescaledb.so").exists())


class PostgresCluster:
    """One ``postgres`` server over a fresh data dir. ``url(dbname)`` is a libpq URL as the superuser.

    ``ssl``: the server also accepts TLS with these certificates (the test CA's server certificate for
    127.0.0.1/localhost), for tests of ``sslmode`` up to ``verify-full``.
    """

    def __init__(self, *, ssl: TlsFiles | None = None) -> None:
        bindir = pg_bindir()
        if bindir is None:
            raise RuntimeError("PostgreSQL's server is not installed: apt-get install -y postgresql (test.sh does it)")
        self.bindir = bindir
        self.timescaledb = timescaledb_installed(bindir)
        self.directory = Path(tempfile.mkdtemp(prefix="oee-pg-"))
        self.data = self.directory / "data"
        self.port = free_port()
        self.host = "127.0.0.1"
        self._ssl = ssl
        self._process: subprocess.Popen[bytes] | None = None
        self._as_postgres = os.geteuid() == 0
        self._names = itertools.count(1)
        self._initdb()

    # ------------------------------------------------------------ files

    def _user_kwargs(self) -> dict[str, object]:
        if not self._as_postgres:
            return {}
        return {"user": SUPERUSER, "group": SUPERUSER, "extra_groups": []}

    def _own(self, path: Path) -> None:
        if self._as_postgres:
            record = pwd.getpwnam(SUPERUSER)
            os.chown(path, record.pw_uid, record.pw_gid)

    def _initdb(self) -> None:
        self._own(self.directory)
        subprocess.run([str(self.bindir / "initdb"), "-D", str(self.data), "--auth=trust", "--no-sync",
                        "-U", SUPERUSER, "-E", "UTF8", "--locale=C"],
                       check=True, capture_output=True, **self._user_kwargs())  # type: ignore[call-overload]
        settings = ["listen_addresses = '127.0.0.1'", f"port = {self.port}",
                    f"unix_socket_directories = '{self.directory}'", "fsync = off", "synchronous_commit = off",
                    "full_page_writes = off", "max_connections = 60", "shared_buffers = 64MB"]
        if self.timescaledb:
            settings += ["shared_preload_libraries = 'timescaledb'", "timescaledb.telemetry_level = off"]
        if self._ssl is not None:
            for name, source in (("server.crt", self._ssl.server_cert), ("server.key", self._ssl.server_key)):
                target = self.data / name
                shutil.copyfile(source, target)
                target.chmod(0o600)
                self._own(target)
            settings += ["ssl = on", "ssl_cert_file = 'server.crt'", "ssl_key_file = 'server.key'"]
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("\n# tests/support/postgres.py\n" + "\n".join(settings) + "\n")
        if self._ssl is not None:
            # Password for TCP (so a test can tell a libpq password source works); TLS-only users get hostssl.
            (self.data / "pg_hba.conf").write_text(
                "local all all trust\n"
                "hostnossl all sync_tls all reject\n"
                "hostssl all sync_tls 127.0.0.1/32 scram-sha-256\n"
                "host all all 127.0.0.1/32 trust\n", encoding="utf-8")

    # ------------------------------------------------------------ the server

    def start(self) -> PostgresCluster:
        """Start the server on the same port and data dir; returns once it accepts connections."""
        log = (self.directory / "server.log").open("ab")
        self._process = subprocess.Popen([str(self.bindir / "postgres"), "-D", str(self.data)],
                                         stdout=log, stderr=subprocess.STDOUT,
                                         **self._user_kwargs())  # type: ignore[call-overload]
        log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with psycopg.connect(self.url(), connect_timeout=2):
                    return self
            except psycopg.OperationalError:
                if self._process.poll() is not None:
                    raise RuntimeError(f"postgres exited with {self._process.returncode}:\n{self.log()}") from None
                if time.monotonic() > deadline:
                    raise RuntimeError(f"postgres did not accept connections in {START_TIMEOUT_S} s:\n"
                                       f"{self.log()}") from None
                time.sleep(0.05)  # the server gives no event to wait on before it listens

    def stop(self) -> None:
        """A fast shutdown (SIGINT: open sessions are cut, committed data kept); returns once it has exited."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def log(self) -> str:
        path = self.directory / "server.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    # ------------------------------------------------------------ databases

    def url(self, dbname: str = "postgres", user: str = SUPERUSER) -> str:
        return f"postgresql://{user}@{self.host}:{self.port}/{dbname}"

    def create_database(self, *, timescaledb: bool = False) -> str:
        """A fresh, empty database (one per test); with `timescaledb`, the extension created in it.
        Returns its URL. Raises RuntimeError when TimescaleDB was asked for and cannot be created."""
        name = f"oee_test_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        if timescaledb:
            if not self.timescaledb:
                raise RuntimeError(TIMESCALEDB_HOW)
            with psycopg.connect(self.url(name), autocommit=True) as con:
                con.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def running_cluster(*, ssl: TlsFiles | None = None) -> Iterator[PostgresCluster]:
    """A started cluster, stopped and removed at the end."""
    cluster = PostgresCluster(ssl=ssl)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()
