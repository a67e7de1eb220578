"""`oee sync`, `oee sync --status` and `oee status` as a user runs them: on their own, and beside a running
engine whose background sync keeps the centre current."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg

from oee_tui.cli import SAMPLE_CONFIG
from oee_tui.store import Store
from tests.central.edge_data import central_rows, fill, local_rows
from tests.service.running_engine import EngineProcess, oee_command, wait_for


def _config(tmp_path: Path, url: str, extra: str = "") -> Path:
    path = tmp_path / "oee.toml"
    path.write_text(SAMPLE_CONFIG + f'\n[central]\nurl = "{url}"\nedge_id = "edge-1"\nauto_migrate = true\n{extra}',
                    encoding="utf-8")
    return path


def test_oee_sync_pushes_once_and_status_shows_the_lag(pg_url: str, tmp_path: Path) -> None:
    config, data = _config(tmp_path, pg_url), tmp_path / "data"
    with Store.open(data) as store:
        fill(store)
    status = oee_command(config, data, "sync", "--status")
    assert status.returncode == 0, status.stderr
    assert "never synced" in status.stdout
    assert any(line.split()[:3] == ["samples", "2,000", "never"] for line in status.stdout.splitlines())

    done = oee_command(config, data, "sync")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("pushed 2,0") and "samples 2,000" in done.stdout
    again = oee_command(config, data, "sync")
    assert again.stdout.startswith("central database up to date: nothing new to push")

    status = oee_command(config, data, "sync", "--status", "--format", "json")
    tables = {t["table"]: t for t in json.loads(status.stdout)["tables"]}
    assert tables["samples"]["pending_rows"] == 0 and tables["samples"]["pushed"] == 2_000
    assert tables["samples"]["lag_s"] == 0.0
    with Store.open(data) as store:
        assert central_rows(pg_url, "samples", "edge-1") == local_rows(store, "samples")


def test_a_failing_sync_exits_1_and_status_keeps_the_error(tmp_path: Path) -> None:
    config = _config(tmp_path, "postgresql://nobody@127.0.0.1:1/plant", "connect_timeout_s = 2\n")
    data = tmp_path / "data"
    with Store.open(data) as store:
        fill(store, n_samples=10)
    done = oee_command(config, data, "sync")
    assert done.returncode == 1
    assert done.stderr.startswith("sync failed: cannot connect to the central database "
                                  "(postgresql://nobody@127.0.0.1:1/plant)")
    status = oee_command(config, data, "sync", "--status")
    assert status.returncode == 1
    assert "LAST SYNC FAILED at " in status.stdout and "cannot connect" in status.stdout


def test_beside_a_running_engine_the_background_sync_keeps_the_centre_current(pg_url: str, tmp_path: Path) -> None:
    config, data = _config(tmp_path, pg_url, "interval_s = 0.2\n"), tmp_path / "data"
    with Store.open(data) as store:
        fill(store)
    engine = EngineProcess(config, data)
    engine.start()
    try:
        def pushed() -> int:
            with psycopg.connect(pg_url) as con:
                if con.execute("SELECT to_regclass('oee.sync_state')").fetchone() == (None,):
                    return 0  # not migrated yet
                row = con.execute("SELECT coalesce(sum(rows), 0) FROM oee.sync_state WHERE table_name = 'samples'"
                                  ).fetchone()
            return 0 if row is None else int(row[0])

        wait_for(lambda: pushed() >= 2_000, "the engine's background sync")
        status = oee_command(config, data, "status")
        assert "central: " in status.stdout and f"({pg_url}; `oee sync --status` for each table)" in status.stdout
        # `oee sync` goes through the engine, which owns the store.
        done = oee_command(config, data, "sync")
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(("pushed ", "central database up to date"))
        table = oee_command(config, data, "sync", "--status")
        assert table.returncode == 0, table.stderr
        assert "as edge edge-1" in table.stdout and "last successful sync: " in table.stdout
    finally:
        engine.stop()
    with Store.open(data) as store:
        from oee_tui.central.sync import sync_once
        from oee_tui.drivers.registry import load_config

        loaded = load_config(config)
        assert loaded.central is not None
        sync_once(store, loaded, loaded.central)  # what the engine's last flush wrote at its stop
        assert central_rows(pg_url, "samples", "edge-1") == local_rows(store, "samples")
