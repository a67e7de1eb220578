"""A small plant and a store with known rows, shared by the export tests.

Times are Europe/Berlin (UTC+1 in November), so a wrong zone anywhere shows as an hour's shift.
"""

from __future__ import annotations

import tomllib
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from oee_tui.drivers.registry import config_from_dict
from oee_tui.model import CountBucket, MachineState, StateInterval
from oee_tui.store import Store

TZ = ZoneInfo("Europe/Berlin")
DAY = "2026-11-24"

CONFIG_TOML = """
[site]
name = "Export test"
timezone = "Europe/Berlin"

[[lines]]
id = "L1"
name = "Bottling"
[[lines]]
id = "L2"
name = "Canning"

[[sources]]
name = "plc"
kind = "modbus"
host = "127.0.0.1"
port = 502
[[sources]]
name = "opc"
kind = "opcua"
endpoint = "opc.tcp://127.0.0.1:4840/"

[[machines]]
id = "A"
line = "L1"
ideal_cycle_time_s = 2.0
micro_stop_threshold_s = 60
[machines.signals]
total_count = { source = "plc", tag = "hr:0", type = "uint32" }
state_code = { source = "plc", tag = "hr:1" }

[[machines]]
id = "B"
line = "L1"
ideal_cycle_time_s = 1.0
[machines.signals]
total_count = { source = "plc", tag = "hr:10", type = "uint32" }

[[machines]]
id = "C"
line = "L2"
ideal_cycle_time_s = 0.5
[machines.signals]
total_count = { source = "opc", tag = "ns=2;s=C.Count" }

[[shifts]]
name = "Early"
start = "06:00"
end = "14:00"
breaks = [{ start = "10:00", end = "10:15" }]
[[shifts]]
name = "Late"
start = "14:00"
end = "22:00"

[[reasons]]
code = "FAIL"
name = "Failure"
loss = "breakdown"
[[reasons]]
code = "FAIL.MECH"
name = "Mechanical"
parent = "FAIL"
[[reasons]]
code = "SETUP"
name = "Changeover"
loss = "setup"
[[reasons]]
code = "PM"
name = "Planned maintenance"
planned = true
[[reasons]]
code = "JAM"
name = "Jam"
loss = "minor_stop"
"""
CONFIG = config_from_dict(tomllib.loads(CONFIG_TOML))


def at(hhmm: str, day: str = DAY) -> float:
    return datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=TZ).timestamp()


NOW = at("23:00")

# (ts, source, tag, value_num, value_text, quality)
SAMPLES = [
    (at("06:00"), "plc", "hr:0", 1.0, None, "good"),
    (at("06:00:01"), "plc", "hr:1", 1.0, None, "good"),
    (at("06:00:01.5"), "plc", "hr:10", 7.0, None, "good"),
    (at("06:00:02"), "opc", "ns=2;s=C.Count", 5.0, None, "good"),
    (at("06:00:03"), "plc", "hr:99", 3.0, None, "good"),  # mapped by no machine
    (at("06:00:04"), "plc", "hr:0", None, "comm error", "bad"),
    (at("06:00:05.25"), "opc", "ns=2;s=C.Count", 6.0, None, "uncertain"),
]

RUN, DOWN, MINOR = MachineState.RUNNING, MachineState.DOWN, MachineState.MINOR_STOP
CHANGE, PLANNED, OFFLINE = MachineState.CHANGEOVER, MachineState.PLANNED_STOP, MachineState.OFFLINE

INTERVALS = [
    StateInterval("A", at("06:00"), at("07:00"), RUN),
    StateInterval("A", at("07:00"), at("07:00:30"), DOWN),  # shorter than A's 60 s: a minor stop
    StateInterval("A", at("07:00:30"), at("08:00"), RUN),
    StateInterval("A", at("08:00"), at("08:20"), DOWN),  # reasons FAIL then FAIL.MECH: breakdown
    StateInterval("A", at("08:20"), at("08:40"), CHANGE),  # no reason: setup
    StateInterval("A", at("08:40"), at("11:00"), RUN),
    StateInterval("A", at("11:00"), at("11:05"), DOWN),  # reason SETUP: setup
    StateInterval("A", at("11:05"), at("12:00"), RUN),
    StateInterval("A", at("12:00"), at("12:10"), DOWN),  # reason PM: planned
    StateInterval("A", at("12:10"), at("12:30"), PLANNED),
    StateInterval("A", at("12:30"), at("13:00"), OFFLINE),  # not a stop
    StateInterval("A", at("13:00"), at("14:00"), RUN),
    StateInterval("B", at("06:00"), at("09:00"), RUN),
    StateInterval("B", at("09:00"), at("09:01"), MINOR),
    StateInterval("B", at("09:01"), at("09:10"), DOWN),  # reason JAM: minor stop whatever its length
    StateInterval("B", at("09:10"), None, DOWN),  # still open; a reason unknown to the config
    StateInterval("C", at("06:00"), at("14:00"), RUN),
    StateInterval("C", at("14:00"), at("14:05"), DOWN),
    StateInterval("C", at("14:05"), at("22:00"), RUN),
]

# (machine, stop start, reason, who, when); the newest per stop wins
REASONS = [
    ("A", at("08:00"), "FAIL", "ann", at("08:30")),
    ("A", at("08:00"), "FAIL.MECH", "bob", at("08:45")),
    ("A", at("11:00"), "SETUP", "ann", at("11:10")),
    ("A", at("12:00"), "PM", "ann", at("12:15")),
    ("B", at("09:01"), "JAM", "cy", at("09:20")),
    ("B", at("09:10"), "LUNCH", "cy", at("09:30")),
]

COUNTS = [
    CountBucket("A", at("07:30"), None, 1000, 10),
    CountBucket("A", at("13:00"), None, 500, 0),
    CountBucket("B", at("08:00"), None, 9000, 90),
    CountBucket("C", at("10:00"), None, 20000, 100),
    CountBucket("C", at("15:00"), None, 30000, 0),
]


def fill(data_dir: Path) -> None:
    """Write the rows above into a fresh store in data_dir and close it."""
    store = Store.open(data_dir)
    try:
        store.write_samples(*(list(column) for column in zip(*SAMPLES, strict=True)))
        store.upsert_intervals(INTERVALS)
        for machine, stop_start, reason, who, when in REASONS:
            store.write_stop_reason(machine, stop_start, reason, who, when)
        store.write_counts(COUNTS)
    finally:
        store.close()


def newest_reasons() -> dict[tuple[str, float], tuple[str, str, float]]:
    out: dict[tuple[str, float], tuple[str, str, float]] = {}
    for machine, stop_start, reason, who, when in REASONS:
        out[(machine, stop_start)] = (reason, who, when)
    return out
