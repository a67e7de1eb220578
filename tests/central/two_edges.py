"""Two edge boxes' day of facts, written the way the live engine writes them, pushed into a central database.

planned_stop in breaks and outside the schedule, offline where there was no data, stop reasons given after
the fact, two products with imported cycle times; two edges of two sites, one line each. Pushed by the
product's sync (`central.sync.sync_once`), which also writes the shift instances and refreshes the
aggregates after the push.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from oee_tui.central.sync import sync_once
from oee_tui.config import CentralSettings
from oee_tui.drivers.registry import load_config
from oee_tui.model import CountBucket, MachineState, StateInterval
from oee_tui.model.planning import ProductRate
from oee_tui.store import Store
from tests.central.cluster import CentralDb

TZ = ZoneInfo("Europe/Berlin")
DAY = "2026-11-24"

CONFIG_TOML = """
[site]
name = "{site}"
timezone = "Europe/Berlin"

[[lines]]
id = "{line}"

[[machines]]
id = "A"
line = "{line}"
ideal_cycle_time_s = 2.0
micro_stop_threshold_s = 60

[[machines]]
id = "B"
line = "{line}"
ideal_cycle_time_s = 1.0

[[shifts]]
name = "Early"
start = "06:00"
end = "14:00"
breaks = [{{ start = "10:00", end = "10:30" }}]

[[shifts]]
name = "Late"
start = "14:00"
end = "22:00"
"""

RUN, DOWN, PLANNED = MachineState.RUNNING, MachineState.DOWN, MachineState.PLANNED_STOP


def at(hhmm: str) -> float:
    return datetime.fromisoformat(f"{DAY}T{hhmm}").replace(tzinfo=TZ).timestamp()


def fill(data_dir: Path, scale: int) -> None:
    """A day of two machines: every class of time, two products, a late stop reason."""
    with Store.open(data_dir) as store:
        store.write_import("products", [ProductRate("P1", "A", 1.5, None), ProductRate("P1", None, 0.5, None),
                                        ProductRate("P2", None, 4.0, None)],
                           file="p.csv", sheet=None, imported_by="t")
        store.upsert_intervals([
            StateInterval("A", at("00:00"), at("06:00"), PLANNED),  # outside the schedule
            StateInterval("A", at("06:00"), at("08:00"), RUN),
            StateInterval("A", at("08:00"), at("08:30"), DOWN),  # a breakdown
            StateInterval("A", at("08:30"), at("08:30:40"), DOWN),  # under the micro-stop threshold
            StateInterval("A", at("08:30:40"), at("09:00"), RUN),
            StateInterval("A", at("09:00"), at("09:20"), DOWN),  # planned maintenance, said later
            StateInterval("A", at("09:20"), at("10:00"), RUN),
            StateInterval("A", at("10:00"), at("10:30"), PLANNED),  # the break
            StateInterval("A", at("10:30"), at("11:00"), MachineState.CHANGEOVER),
            StateInterval("A", at("11:00"), at("11:10"), MachineState.OFFLINE),
            StateInterval("A", at("11:10"), at("15:13:20"), RUN),
            StateInterval("A", at("15:13:20"), at("15:45"), DOWN),  # a setup, by its reason
            StateInterval("A", at("15:45"), at("22:00"), RUN),
            StateInterval("A", at("22:00"), at("23:59"), PLANNED),
            StateInterval("B", at("06:00"), at("10:00"), RUN),
            StateInterval("B", at("10:00"), at("10:30"), PLANNED),
            StateInterval("B", at("10:30"), at("18:00"), RUN),
            StateInterval("B", at("18:00"), at("18:00:30"), MachineState.MINOR_STOP),
            StateInterval("B", at("18:00:30"), at("22:00"), RUN),
        ])
        store.write_counts([
            CountBucket("A", at("07:00"), "P1", 3000 * scale, 30),
            CountBucket("A", at("09:30"), None, 500 * scale, 0),
            CountBucket("A", at("12:00"), "P2", 800 * scale, 8),
            CountBucket("A", at("16:00"), "P1", 2000 * scale, 100),
            CountBucket("B", at("09:00"), "P1", 20000 * scale, 200),
            CountBucket("B", at("13:59"), None, 1000, 1),
            CountBucket("B", at("19:00"), "P2", 5000, 0),
        ])
        store.write_stop_reason("A", at("09:00"), "PM", "anna", at("12:00"))
        store.write_stop_reason("A", at("15:13:20"), "FAIL", "anna", at("15:50"))
        store.write_stop_reason("A", at("15:13:20"), "SETUP", "ben", at("16:10"))  # the newest wins


def push_two_edges(tmp_path: Path, central: CentralDb) -> dict[str, Path]:
    """Two edges (two sites, one line each), pushed into `central`; their config files."""
    configs: dict[str, Path] = {}
    for edge, site, line, scale in (("edge-1", "North", "L1", 1), ("edge-2", "South", "L9", 2)):
        data_dir = tmp_path / edge
        config = tmp_path / f"{edge}.toml"
        config.write_text(CONFIG_TOML.format(site=site, line=line))
        fill(data_dir, scale)
        loaded = load_config(config)
        with Store.open(data_dir) as store:
            sync_once(store, loaded, CentralSettings(url=central.url, edge_id=edge, site=site))
        configs[edge] = config
    return configs


def utc(hhmm: str) -> datetime:
    return datetime.fromtimestamp(at(hhmm), UTC)
