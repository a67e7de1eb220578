"""The central schema's migrations: an empty database, one a version behind, two edges at once, TimescaleDB."""

from __future__ import annotations

import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from oee_tui.central import migrations
from oee_tui.central.capability import Capability, detect
from oee_tui.central.migrations import LATEST_VERSION, SchemaBehindError, migrate, require_current
from oee_tui.cli import SAMPLE_CONFIG
from oee_tui.config import CentralSettings

SETTINGS = CentralSettings(edge_id="edge-1", site="Plant")
V1_TABLES = {"schema_version", "edges", "sync_state", "machines", "samples", "state_intervals", "count_minutes",
             "stop_reasons", "products", "orders", "planned_stops", "reasons", "shift_patterns", "shifts",
             "dead_letters"}


def _tables(con: psycopg.Connection[tuple[object, ...]]) -> set[str]:
    rows = con.execute("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                       "WHERE n.nspname = 'oee' AND c.relkind IN ('r', 'p') AND NOT c.relispartition").fetchall()
    return {str(row[0]) for row in rows}


def test_an_empty_database_gets_every_table_and_its_version(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as con:
        with pytest.raises(SchemaBehindError, match="oee sync --migrate"):
            require_current(con)
        result = migrate(con, SETTINGS)
        assert (result.before, result.after) == (0, LATEST_VERSION)
        assert not result.capability.has_timescaledb
        assert _tables(con) >= V1_TABLES
        assert require_current(con) == LATEST_VERSION
        # Without TimescaleDB the time tables are range-partitioned (a default partition catches the rest).
        kinds = dict(con.execute("SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON "
                                 "n.oid = c.relnamespace WHERE n.nspname = 'oee'").fetchall())
        assert kinds["samples"] == "p" and kinds["state_intervals"] == "p" and "samples_default" in kinds
        again = migrate(con, SETTINGS)
        assert (again.before, again.after) == (LATEST_VERSION, LATEST_VERSION)
        versions = con.execute("SELECT version FROM oee.schema_version ORDER BY 1").fetchall()
        assert versions == [(v,) for v in range(1, LATEST_VERSION + 1)]


def test_a_database_a_version_behind_gets_only_the_new_migration(pg_url: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    with psycopg.connect(pg_url, autocommit=True) as con:
        migrate(con, SETTINGS)
        con.execute("INSERT INTO oee.edges (edge_id, site) VALUES ('edge-1', 'Plant')")

        ran: list[int] = []

        def next_version(c: psycopg.Connection[tuple[object, ...]], cap: Capability, s: CentralSettings) -> None:
            ran.append(1)
            c.execute("ALTER TABLE oee.edges ADD COLUMN note text DEFAULT 'added'")

        monkeypatch.setattr(migrations, "MIGRATIONS", (*migrations.MIGRATIONS, next_version))
        monkeypatch.setattr(migrations, "LATEST_VERSION", LATEST_VERSION + 1)
        result = migrate(con, SETTINGS)
        assert (result.before, result.after) == (LATEST_VERSION, LATEST_VERSION + 1)
        assert ran == [1]
        assert con.execute("SELECT edge_id, note FROM oee.edges").fetchall() == [("edge-1", "added")]


def test_a_failing_migration_keeps_the_version_before_it(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(c: psycopg.Connection[tuple[object, ...]], cap: Capability, s: CentralSettings) -> None:
        c.execute("CREATE TABLE oee.half_made (x int)")
        c.execute("SELECT * FROM no_such_table")

    with psycopg.connect(pg_url, autocommit=True) as con:
        migrate(con, SETTINGS)
        monkeypatch.setattr(migrations, "MIGRATIONS", (*migrations.MIGRATIONS, broken))
        monkeypatch.setattr(migrations, "LATEST_VERSION", LATEST_VERSION + 1)
        with pytest.raises(psycopg.errors.UndefinedTable):
            migrate(con, SETTINGS)
        assert migrations.schema_version(con) == LATEST_VERSION
        assert con.execute("SELECT to_regclass('oee.half_made')").fetchone() == (None,)
        # The advisory lock was given back: another session can migrate.
        with psycopg.connect(pg_url, autocommit=True) as other:
            assert other.execute("SELECT pg_try_advisory_lock(%s)", [migrations.MIGRATION_LOCK]).fetchone() == (True,)


def test_two_edges_migrating_at_once_take_turns(pg_url: str) -> None:
    results: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def one_edge(edge_id: str) -> None:
        try:
            with psycopg.connect(pg_url, autocommit=True) as con:
                start.wait()
                result = migrate(con, replace(SETTINGS, edge_id=edge_id))
                results.append((result.before, result.after))
        except BaseException as exc:  # handed to the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=one_edge, args=(f"edge-{n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert sorted(results) == [(0, LATEST_VERSION), (LATEST_VERSION, LATEST_VERSION)]


def test_with_timescaledb_the_time_tables_are_hypertables(timescale_url: str) -> None:
    with psycopg.connect(timescale_url, autocommit=True) as con:
        result = migrate(con, SETTINGS)
        assert result.capability.has_timescaledb and detect(con).timescaledb_version is not None
        rows = con.execute("SELECT hypertable_name FROM timescaledb_information.hypertables "
                           "WHERE hypertable_schema = 'oee' ORDER BY 1").fetchall()
        # state_pieces: the analytics layer's (migration 2), cut from state_intervals.
        assert [row[0] for row in rows] == ["count_minutes", "dead_letters", "samples", "state_intervals",
                                            "state_pieces"]
        assert _tables(con) >= V1_TABLES


def test_oee_sync_migrate_says_what_it_did(pg_url: str, tmp_path: Path) -> None:
    config = tmp_path / "oee.toml"
    config.write_text(SAMPLE_CONFIG + f'\n[central]\nurl = "{pg_url}"\nedge_id = "edge-1"\n', encoding="utf-8")
    command = [sys.executable, "-m", "oee_tui", "--config", str(config), "--data-dir", str(tmp_path / "data"),
               "sync", "--migrate"]
    first = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert f"central schema migrated from version 0 to {LATEST_VERSION} (PostgreSQL 15" in first.stdout
    second = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert f"central schema already at version {LATEST_VERSION}" in second.stdout


def test_oee_sync_migrate_names_an_unreachable_database(tmp_path: Path) -> None:
    config = tmp_path / "oee.toml"
    config.write_text(SAMPLE_CONFIG + '\n[central]\nurl = "postgresql://nobody@127.0.0.1:1/plant"\n'
                      'connect_timeout_s = 2\n', encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "oee_tui", "--config", str(config), "--data-dir",
                           str(tmp_path / "data"), "sync", "--migrate"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "cannot connect to the central database (postgresql://nobody@127.0.0.1:1/plant)" in done.stderr
    assert "Traceback" not in done.stderr
