"""Exactly once through outages: PostgreSQL stopped in the middle of a sync, an acknowledgement lost between
the central commit and the local one, the engine killed (SIGKILL) while it syncs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from oee_tui.central.connection import connect
from oee_tui.central.migrations import migrate
from oee_tui.central.sync import CentralSync, SyncError, sync_once
from oee_tui.cli import SAMPLE_CONFIG
from oee_tui.store import FactBatch, Store
from tests.central.edge_data import T0, central_rows, edge_config, fill, local_rows, samples
from tests.support.postgres import PostgresCluster

TABLES = ("samples", "state_intervals", "count_minutes", "stop_reasons", "dead_letters", "products")


def _many_flushes(store: Store, flushes: int = 30, rows: int = 500) -> None:
    for n in range(flushes):
        store.write_facts(FactBatch(samples=samples(rows, T0 + 3600 + n * rows, step=1.0, tag=f"f{n}-")), T0 + n)


def _assert_same(store: Store, url: str) -> None:
    for table in TABLES:
        assert central_rows(url, table, "edge-1") == local_rows(store, table), table


def test_postgres_stopped_in_the_middle_of_a_sync_loses_and_doubles_nothing(
        own_pg_cluster: PostgresCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = own_pg_cluster.create_database()
    config = edge_config(url, "edge-1", batch_rows=1_000)
    assert config.central is not None
    with connect(config.central, autocommit=True) as con:
        migrate(con, config.central)
    with Store.open(tmp_path / "data") as store:
        fill(store)
        _many_flushes(store)
        batches = 0
        advance = CentralSync._advance

        def stop_at_the_fourth(self: CentralSync, con: psycopg.Connection[tuple[object, ...]], table: str,
                               watermark: int, rows: int) -> None:
            nonlocal batches
            batches += 1
            advance(self, con, table, watermark, rows)
            if batches == 4:  # the batch is COPYed, its transaction still open: the server goes away
                own_pg_cluster.stop()

        monkeypatch.setattr(CentralSync, "_advance", stop_at_the_fourth)
        with pytest.raises(SyncError, match="central database went away"):
            sync_once(store, config, config.central)
        assert "went away" in (store.sync_outcome().error or "")
        monkeypatch.setattr(CentralSync, "_advance", advance)
        own_pg_cluster.start()
        pushed_before = central_rows(url, "samples", "edge-1")
        assert 0 < len(pushed_before) < len(local_rows(store, "samples"))  # three batches got there, not more
        sync_once(store, config, config.central)
        _assert_same(store, url)


def test_a_lost_acknowledgement_resends_nothing_twice(pg_url: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    config = edge_config(pg_url, "edge-1", batch_rows=1_000)
    assert config.central is not None
    with connect(config.central, autocommit=True) as con:
        migrate(con, config.central)
    with Store.open(tmp_path / "data") as store:
        fill(store)
        _many_flushes(store)
        saves = 0
        save = Store.save_sync_watermark

        def crash_after_the_central_commit(self: Store, table: str, *args: float) -> None:
            nonlocal saves
            saves += 1
            if saves == 3:  # the centre committed the batch; the box dies before it notes so
                raise RuntimeError("power cut")
            save(self, table, *args)  # type: ignore[arg-type]

        monkeypatch.setattr(Store, "save_sync_watermark", crash_after_the_central_commit)
        with pytest.raises(SyncError, match="power cut"):
            sync_once(store, config, config.central)
        monkeypatch.setattr(Store, "save_sync_watermark", save)
        local_mark = store.sync_watermarks()["samples"].watermark
        with psycopg.connect(pg_url) as con:
            central_mark = con.execute("SELECT watermark FROM oee.sync_state WHERE table_name = 'samples'").fetchone()
        assert central_mark is not None and int(central_mark[0]) > local_mark  # the centre is ahead: it wins
        sync_once(store, config, config.central)
        _assert_same(store, url=pg_url)


def _engine_config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "oee.toml"
    path.write_text(SAMPLE_CONFIG + f'\n[central]\nurl = "{url}"\nedge_id = "edge-1"\ninterval_s = 0.2\n'
                    "batch_rows = 1000\n", encoding="utf-8")
    return path


def _wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.02)  # another process: nothing to wait on but its effect on the database


def _central_samples(url: str) -> int:
    with psycopg.connect(url) as con:
        row = con.execute("SELECT count(*) FROM oee.samples").fetchone()
    return 0 if row is None else int(row[0])


@pytest.mark.slow
def test_the_engine_killed_while_it_syncs_loses_and_doubles_nothing(pg_url: str, tmp_path: Path) -> None:
    config_path = _engine_config(tmp_path, pg_url)
    data = tmp_path / "data"
    config = edge_config(pg_url, "edge-1")
    assert config.central is not None
    with connect(config.central, autocommit=True) as con:
        migrate(con, config.central)
    with Store.open(data) as store:
        fill(store, n_samples=5_000)
        _many_flushes(store, flushes=200, rows=500)
        expected = len(local_rows(store, "samples"))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    command = [sys.executable, "-m", "oee_tui", "--config", str(config_path), "--data-dir", str(data), "engine"]
    engine = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for(lambda: _central_samples(pg_url) > 0, 60, "the engine's first pushed batch")
        engine.send_signal(signal.SIGKILL)
        engine.wait(30)
    finally:
        if engine.poll() is None:
            engine.kill()
            engine.wait()
    assert 0 < _central_samples(pg_url) < expected  # killed in the middle
    restarted = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for(lambda: _central_samples(pg_url) >= expected, 120, "the restarted engine's sync")
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(60)
    finally:
        if restarted.poll() is None:
            restarted.kill()
            restarted.wait()
    with Store.open(data) as store:
        # The engine's last flush (at SIGTERM) came after its last round: pushed at the next one.
        sync_once(store, config, config.central)
        _assert_same(store, pg_url)
