"""A machine on a subscription whose values stand still (a break, a long stop) is not offline.

OPC-UA sends nothing while nothing changes, so silence alone says nothing; the
source's own keep-alive does. Real asyncua server, real driver, real engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest_asyncio

from oee_tui.config import Config, LineConfig, MachineConfig, ShiftConfig, SiteConfig, TagMapping
from oee_tui.engine.live.engine import Engine
from oee_tui.model import MachineState, Signal
from tests.drivers.conftest import OpcUaSim, opcua_source
from tests.support.waiting import until

STALE_AFTER_S = 1.0


@pytest_asyncio.fixture
async def server() -> AsyncIterator[OpcUaSim]:
    sim = OpcUaSim()
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


def plant(sim: OpcUaSim) -> Config:
    source = opcua_source(sim.endpoint, publishing_interval_ms=100)
    state = TagMapping(Signal.STATE_CODE, source.name, sim.node_id("State"))
    machine = MachineConfig(id="M1", name="Filler", line="L1", ideal_cycle_time_s=1.0,
                            state_map={1: "running", 5: "planned_stop"}, signals={Signal.STATE_CODE: state})
    return Config(site=SiteConfig("Test plant", "UTC", stale_after_s=STALE_AFTER_S),
                  lines=(LineConfig("L1", "Line 1", "A"),), machines=(machine,), sources=(source,), reasons=(),
                  shifts=(ShiftConfig("Day", "00:00", "00:00"),))


def state(engine: Engine) -> MachineState | None:
    machines = engine.tick().machines
    return machines[0].state if machines else None


async def test_a_quiet_subscription_keeps_its_machine_online_until_the_server_goes(server: OpcUaSim) -> None:
    await server.write("State", 5)  # on a break: the value will not change again
    engine = Engine(plant(server), store=None, tick_s=0.05)
    await engine.start()
    try:
        await until(lambda: state(engine) is MachineState.PLANNED_STOP)
        await asyncio.sleep(3 * STALE_AFTER_S)  # silence, far longer than stale_after_s
        assert state(engine) is MachineState.PLANNED_STOP
        assert not engine.snapshot().machines[0].stale

        await server.stop()
        await until(lambda: state(engine) is MachineState.OFFLINE)
    finally:
        await engine.stop()
        await server.restart()  # the fixture stops what it started
