"""A one-machine plant on a real in-process Modbus server, for the service's tests (metrics, systemd)."""

from __future__ import annotations

from oee_tui.config import DEFAULT_STATE_MAP, Config, LineConfig, MachineConfig, ShiftConfig, SiteConfig, TagMapping
from oee_tui.model import Signal
from tests.drivers.conftest import modbus_server, modbus_source

RUNNING, DOWN = 1, 3  # the state codes of the default state map


# The drivers' real pymodbus server fixture, under the name these tests use.
modbus_plc = modbus_server


def plant(port: int) -> Config:
    """M1 on line L1: its count in hr:0, its state code in hr:1; one shift all day, so OEE is never empty. A
    fast machine (1,000 parts/s), so that a count set at once is parts it can have made, not a jump."""
    source = modbus_source(port)
    count = TagMapping(Signal.TOTAL_COUNT, source.name, "hr:0", "uint16", width=16)
    state = TagMapping(Signal.STATE_CODE, source.name, "hr:1", "uint16")
    machine = MachineConfig(id="M1", name="Filler", line="L1", ideal_cycle_time_s=0.001,
                            signals={Signal.TOTAL_COUNT: count, Signal.STATE_CODE: state},
                            state_map=dict(DEFAULT_STATE_MAP))
    return Config(site=SiteConfig("Test plant", "UTC"), lines=(LineConfig("L1", "Line 1", "A"),),
                  machines=(machine,), sources=(source,), reasons=(), shifts=(ShiftConfig("Day", "00:00", "00:00"),))
