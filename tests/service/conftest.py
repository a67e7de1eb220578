"""A real engine on a real Modbus device and a real store, served on its socket, for the attach tests."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest_asyncio

from oee_tui.config import DEFAULT_REASONS, Config, LineConfig, MachineConfig, ShiftConfig, SiteConfig, TagMapping
from oee_tui.engine.live.engine import Engine
from oee_tui.model import MachineState, Signal
from oee_tui.model.access import Caller, Role
from oee_tui.service.server import EngineServer
from oee_tui.store import Store
from tests.drivers.conftest import ModbusSim, modbus_source
from tests.support.waiting import until

MACHINES = ("M1", "M2")


def plant_config() -> Config:
    source = modbus_source(0)
    machines = tuple(
        MachineConfig(id=m, name=f"Machine {m}", line="L1", ideal_cycle_time_s=1.0, counter_jump_margin=1e6,
                      state_map={1: "running", 2: "stopped", 3: "down"},
                      signals={Signal.TOTAL_COUNT: TagMapping(Signal.TOTAL_COUNT, "plc", f"hr:{2 * i}", "uint16",
                                                              width=16),
                               Signal.STATE_CODE: TagMapping(Signal.STATE_CODE, "plc", f"hr:{2 * i + 1}", "uint16")})
        for i, m in enumerate(MACHINES))
    return Config(site=SiteConfig("Test plant", "UTC"), lines=(LineConfig("L1", "Line 1", "A"),),
                  machines=machines, sources=(source,),
                  reasons=DEFAULT_REASONS,
                  shifts=(ShiftConfig("Day", "00:00", "00:00"),))


@dataclass
class Roles:
    """[access] for the tests until the config's own is wired: a role per user name (FOR TESTS ONLY)."""

    roles: dict[str, Role]
    socket_group: str | None = None

    def role_of(self, caller: Caller) -> Role | None:
        return self.roles.get(caller.user)

    def people_of(self, account: str) -> Sequence[object]:
        return ()

    def check_pin(self, account: str, name: str, pin: str) -> Role | None:
        return None


def me() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


@dataclass
class Served:
    engine: Engine
    server: EngineServer
    device: ModbusSim
    data_dir: Path
    access: Roles


@pytest_asyncio.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    device = ModbusSim()
    await device.start()
    config = _with_source(plant_config(), device.port)
    data_dir = tmp_path / "data"
    engine = Engine(config, Store.open(data_dir), tick_s=0.05)
    access = Roles({me(): Role.ADMIN})
    server = EngineServer(engine, access, data_dir=data_dir, config_path=None, push_interval_s=0.05)
    await engine.start()
    await server.start()
    try:
        yield Served(engine, server, device, data_dir, access)
    finally:
        await server.close()
        await engine.stop()
        await device.stop()


async def stop_m1(served: Served) -> float:
    """Run M1, then stop it (its PLC's state code); returns when the stop began, as the engine saw it."""
    await served.device.set("hr", 1, [1])
    await until(lambda: served.engine.snapshot().machines[0].state is MachineState.RUNNING, what="M1 running")
    await served.device.set("hr", 1, [3])
    await until(lambda: served.engine.snapshot().machines[0].state.is_stop, what="M1 stopped")
    return served.engine.snapshot().machines[0].state_since


def _with_source(config: Config, port: int) -> Config:
    import dataclasses

    # Polled at 2 Hz: quick enough for the tests, slow enough that a busy loop (two TUIs in this process, on
    # a loaded CI machine) never makes the source stale (2 polls missed) and its machines offline, which
    # would end the stop a test gives a reason to.
    return dataclasses.replace(config, sources=(modbus_source(port, poll_interval_s=0.5),))
