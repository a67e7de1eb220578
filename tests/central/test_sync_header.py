"""The screens' header: a short item beside the store banner says how far behind the centre is, and that
the sync fails while PostgreSQL is away; `oee status`'s line comes from the same health."""

from __future__ import annotations

from pathlib import Path

from oee_tui.app import OeeApp
from oee_tui.central.background import BackgroundSync
from oee_tui.central.connection import connect
from oee_tui.central.migrations import migrate
from oee_tui.runtime import build_engine
from oee_tui.store import Store
from oee_tui.widgets.sync_status import SyncStatus
from tests.central.edge_data import edge_config, fill
from tests.support.pilot import settle, until
from tests.support.postgres import PostgresCluster

CONFIG_PATH = Path("/srv/oee/oee.toml")


def header(app: OeeApp) -> str:
    found = app.screen.query(SyncStatus)
    return found.first().text if found else ""


async def test_the_header_shows_the_lag_then_the_failure(own_pg_cluster: PostgresCluster, tmp_path: Path) -> None:
    url = own_pg_cluster.create_database()
    config = edge_config(url, "edge-1", interval_s=0.2)
    assert config.central is not None
    with connect(config.central, autocommit=True) as con:
        migrate(con, config.central)
    store = Store.open(tmp_path / "data")
    fill(store)
    engine = build_engine(config, store, acquire=False)
    syncer = next(o for o in engine.observers if isinstance(o, BackgroundSync))
    app = OeeApp(engine, config_path=CONFIG_PATH, data_dir=tmp_path / "data", refresh_interval=None)
    try:
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)

            def shown() -> str:
                app.show_snapshot(engine.snapshot())
                return header(app)

            await until(pilot, lambda: shown().startswith(("central: up to date", "central: 0 s behind")),
                        "the header after the first round")
            own_pg_cluster.stop()
            await until(pilot, lambda: shown().startswith("central: SYNC FAILING (the central database went away"),
                        "the header after PostgreSQL went away")
            assert app.screen.query_one(SyncStatus).has_class("-failing")
            rounds = syncer.rounds
            own_pg_cluster.start()
            syncer.wake()
            await until(pilot, lambda: syncer.rounds > rounds and not shown().startswith("central: SYNC FAILING"),
                        "the header once PostgreSQL is back", timeout=60)
            assert not app.screen.query_one(SyncStatus).has_class("-failing")
            await pilot.press("q")
            await settle(pilot)
    finally:
        store.close()
