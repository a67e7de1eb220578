"""The sync pushes every table, row for row; a second round sends nothing again; later changes arrive."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest

from oee_tui.central.connection import connect
from oee_tui.central.migrations import migrate
from oee_tui.central.sync import SyncError, sync_once
from oee_tui.model import CountBucket, MachineState, StateInterval
from oee_tui.model.planning import ProductRate
from oee_tui.store import FactBatch, ReasonEntry, Store
from tests.central.edge_data import T0, central_rows, edge_config, fill, local_rows, samples

TABLES = ("samples", "state_intervals", "count_minutes", "stop_reasons", "dead_letters", "products")


def _migrated(url: str) -> str:
    config = edge_config(url, "edge-1")
    assert config.central is not None
    with connect(config.central, autocommit=True) as con:
        migrate(con, config.central)
    return url


def _assert_same(store: Store, url: str, edge_id: str) -> None:
    for table in TABLES:
        local, central = local_rows(store, table), central_rows(url, table, edge_id)
        assert central == local, table


@pytest.mark.parametrize("flavour", ["postgres", "timescaledb"])
def test_a_full_sync_matches_the_local_store_row_for_row(flavour: str, request: pytest.FixtureRequest,
                                                        tmp_path: Path) -> None:
    url = _migrated(request.getfixturevalue("pg_url" if flavour == "postgres" else "timescale_url"))
    config = edge_config(url, "edge-1")
    assert config.central is not None
    with Store.open(tmp_path / "data") as store:
        fill(store)
        report = sync_once(store, config, config.central)
        assert report.rows["samples"] == 2_000 and report.rows["dead_letters"] == 1
        _assert_same(store, url, "edge-1")
        # Nothing new: nothing sent, nothing doubled.
        again = sync_once(store, config, config.central)
        assert again.total == 0
        _assert_same(store, url, "edge-1")
        assert store.sync_outcome().error is None
    with psycopg.connect(url) as con:
        assert con.execute("SELECT edge_id, site FROM oee.edges").fetchall() == [("edge-1", config.site.name)]
        machines = con.execute("SELECT machine FROM oee.machines WHERE edge_id = 'edge-1' ORDER BY 1").fetchall()
        assert [m for (m,) in machines] == sorted(m.id for m in config.machines)
        marks = dict(con.execute("SELECT table_name, rows FROM oee.sync_state WHERE edge_id = 'edge-1'").fetchall())
        assert marks["samples"] == 2_000


def test_late_updates_reach_the_centre(pg_url: str, tmp_path: Path) -> None:
    url = _migrated(pg_url)
    config = edge_config(url, "edge-1")
    assert config.central is not None
    with Store.open(tmp_path / "data") as store:
        fill(store)
        sync_once(store, config, config.central)
        # A reason given after the fact, the open interval closed, a minute's late part, a product changed,
        # and late samples of an hour ago (a replayed buffer).
        store.write_facts(FactBatch(
            reasons=[ReasonEntry("L1-FILL", T0 + 600, "MAT", "bob", T0 + 4000)],
            intervals=[StateInterval("L1-FILL", T0 + 900, T0 + 3000, MachineState.RUNNING),
                       StateInterval("L1-FILL", T0 + 3000, None, MachineState.DOWN)],
            counts=[CountBucket("L1-FILL", T0 + 60, "A", 4, 0)],
            samples=samples(50, T0 - 3600, tag="late")), T0 + 4000)
        store.write_import("products", [ProductRate("A", None, 0.4, 30.0)], file="p2.csv", sheet=None,
                           imported_by="test")
        report = sync_once(store, config, config.central)
        assert report.rows["samples"] == 50
        _assert_same(store, url, "edge-1")
    fill_rows = central_rows(url, "state_intervals", "edge-1")
    assert [(row[2] is None, row[3]) for row in fill_rows if row[0] == "L1-FILL"][-2:] == [
        (False, "running"), (True, "down")]
    with psycopg.connect(url) as con:
        newest = con.execute("SELECT reason FROM oee.stop_reasons WHERE edge_id = 'edge-1' "
                             "ORDER BY entered_at DESC LIMIT 1").fetchone()
        assert newest == ("MAT",)
        assert con.execute("SELECT total FROM oee.count_minutes WHERE edge_id = 'edge-1' AND machine = 'L1-FILL' "
                           "AND minute = to_timestamp(%s)", [T0 + 60]).fetchone() == (19,)


def test_rows_deleted_locally_by_a_production_log_import_go_centrally(pg_url: str, tmp_path: Path) -> None:
    from oee_tui.model.planning import ProductionRun

    url = _migrated(pg_url)
    config = edge_config(url, "edge-1")
    assert config.central is not None
    with Store.open(tmp_path / "data") as store:
        store.write_facts(FactBatch(intervals=[StateInterval("L1-CAP", T0 - 7200, T0 - 3600, MachineState.OFFLINE)]),
                          T0)
        sync_once(store, config, config.central)
        assert len(central_rows(url, "state_intervals", "edge-1")) == 1
        run = ProductionRun("L1-CAP", "A", None, T0 - 7000, T0 - 5000, 100, 2)
        store.write_import("production-log", [run], file="log.csv", sheet=None, imported_by="test")
        sync_once(store, config, config.central)
        _assert_same(store, url, "edge-1")
        assert [row[3] for row in central_rows(url, "state_intervals", "edge-1")] == ["running"]


def test_five_edges_syncing_at_once_keep_their_rows_apart(pg_url: str, tmp_path: Path) -> None:
    url = _migrated(pg_url)
    stores = [Store.open(tmp_path / f"edge{n}") for n in range(5)]
    errors: list[BaseException] = []
    try:
        for n, store in enumerate(stores):
            fill(store, n_samples=1_000 + n * 100)
        start = threading.Barrier(5)

        def push(n: int) -> None:
            config = edge_config(url, f"edge-{n}")
            assert config.central is not None
            try:
                start.wait()
                sync_once(stores[n], config, config.central)
            except BaseException as exc:  # handed to the test's thread
                errors.append(exc)

        threads = [threading.Thread(target=push, args=(n,)) for n in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert not errors
        for n, store in enumerate(stores):
            _assert_same(store, url, f"edge-{n}")
    finally:
        for store in stores:
            store.close()
    with psycopg.connect(url) as con:
        counts = con.execute("SELECT edge_id, count(*) FROM oee.samples GROUP BY 1 ORDER BY 1").fetchall()
    assert counts == [(f"edge-{n}", 1_000 + n * 100) for n in range(5)]


def test_an_unmigrated_centre_is_refused_with_the_fix(pg_url: str, tmp_path: Path) -> None:
    config = edge_config(pg_url, "edge-1")
    assert config.central is not None
    with Store.open(tmp_path / "data") as store:
        fill(store)
        with pytest.raises(SyncError, match="oee sync --migrate"):
            sync_once(store, config, config.central)
        assert "oee sync --migrate" in (store.sync_outcome().error or "")
        auto = edge_config(pg_url, "edge-1", auto_migrate=True)
        assert auto.central is not None
        assert sync_once(store, auto, auto.central).rows["samples"] == 2_000
        assert store.sync_outcome().error is None


def test_the_calendars_shifts_go_too(pg_url: str, tmp_path: Path) -> None:
    url = _migrated(pg_url)
    config = edge_config(url, "edge-1")
    assert config.central is not None
    with Store.open(tmp_path / "data") as store:
        fill(store)
        report = sync_once(store, config, config.central)
        again = sync_once(store, config, config.central)
    assert report.shifts > 0
    with psycopg.connect(url) as con:
        rows = con.execute("SELECT shift, name, extract(epoch FROM start_ts), extract(epoch FROM end_ts), planned_s "
                           "FROM oee.shifts WHERE edge_id = 'edge-1' ORDER BY start_ts").fetchall()
    # From the shift of the first fact on, each once, with its planned time (its span less its breaks).
    first = rows[0]
    assert float(str(first[2])) <= T0 < float(str(first[3]))
    assert len({row[0] for row in rows}) == len(rows)
    assert all(0 < float(str(row[4])) <= float(str(row[3])) - float(str(row[2])) for row in rows)
    assert again.shifts >= 1  # the current shift again, updated in place


def test_rows_stored_before_the_upgrade_are_pushed_in_batches(pg_url: str, tmp_path: Path) -> None:
    import duckdb

    from oee_tui.store.migrations import MIGRATIONS

    url = _migrated(pg_url)
    data = tmp_path / "data"
    data.mkdir()
    old = duckdb.connect(str(data / "oee.duckdb"))
    for version, script in enumerate(MIGRATIONS[:9], start=1):
        old.execute(script)
        old.execute("INSERT INTO schema_version VALUES (?, now()::TIMESTAMP)", [version])
    old.execute("INSERT INTO samples SELECT to_timestamp(? + i)::TIMESTAMP, 'plc1', 'old', i, NULL, 'good' "
                "FROM range(3000) t(i)", [T0])
    old.close()
    config = edge_config(url, "edge-1", batch_rows=1_000)
    assert config.central is not None
    with Store.open(data) as store:
        fill(store)
        report = sync_once(store, config, config.central)
        assert report.rows["samples"] == 5_000
        _assert_same(store, url, "edge-1")
    with psycopg.connect(url) as con:
        assert con.execute("SELECT count(*) FROM oee.samples WHERE tag = 'old'").fetchone() == (3_000,)
