"""What the sync writes for the analytics (oee.machines' settings, oee.reason_tree): the edge's config and
imported reasons, rewritten only when they change (a rewrite reclassifies the edge's stops)."""

from __future__ import annotations

from pathlib import Path

from oee_tui.central.sync import sync_once
from oee_tui.config import CentralSettings
from oee_tui.drivers.registry import load_config
from oee_tui.model import Loss
from oee_tui.model.planning import ReasonRecord
from oee_tui.store import Store
from tests.central.cluster import CentralDb


def _versions(central: CentralDb) -> list[tuple[object, ...]]:
    with central.connect() as conn:
        return conn.execute("SELECT 'm', machine, xmin::text FROM oee.machines WHERE edge_id = 'edge-1' UNION ALL "
                            "SELECT 'r', code, xmin::text FROM oee.reason_tree WHERE edge_id = 'edge-1' "
                            "ORDER BY 1, 2").fetchall()


def test_settings_are_rewritten_only_when_they_change(edges: dict[str, Path], central: CentralDb) -> None:
    config = load_config(edges["edge-1"])
    settings = CentralSettings(url=central.url, edge_id="edge-1", site="North")
    with central.connect() as conn:
        machines = conn.execute("SELECT machine, line, ideal_cycle_time_s, micro_stop_threshold_s FROM oee.machines "
                                "WHERE edge_id = 'edge-1' ORDER BY 1").fetchall()
        setup = conn.execute("SELECT planned, loss FROM oee.reason_tree WHERE edge_id = 'edge-1' AND code = 'SETUP'"
                             ).fetchone()
    assert machines == [("A", "L1", 2.0, 60.0), ("B", "L1", 1.0, 120.0)]
    assert setup == (False, "setup")  # a config reason: oee.reasons (the imported table) has none
    before = _versions(central)
    with Store.open(edges["edge-1"].parent / "edge-1") as store:
        sync_once(store, config, settings)
        assert _versions(central) == before
        # An imported reason of the same code replaces the config's, as in `oee report`.
        store.write_import("reasons", [ReasonRecord("SETUP", "Changeover", None, False, Loss.BREAKDOWN)],
                           file="r.csv", sheet=None, imported_by="t")
        sync_once(store, config, settings)
    with central.connect() as conn:
        assert conn.execute("SELECT name, loss FROM oee.reason_tree WHERE edge_id = 'edge-1' AND code = 'SETUP'"
                            ).fetchone() == ("Changeover", "breakdown")
        # The stop given SETUP at 15:13:20 is a breakdown now.
        assert conn.execute("SELECT DISTINCT stop_class FROM oee.state_pieces WHERE edge_id = 'edge-1' AND "
                            "reason = 'SETUP'").fetchall() == [("breakdown",)]
