"""A config saved while the engine runs is taken without a restart, and without losing parts.

The device is a real pymodbus server on a free loopback port; the engine polls it
through the real Modbus driver and writes to a real DuckDB store.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from oee_tui.config import Config, LineConfig, MachineConfig, ShiftConfig, SiteConfig, SourceConfig, TagMapping
from oee_tui.engine.live.engine import Engine
from oee_tui.model import MachineState, Signal
from oee_tui.store import Store
from tests.drivers.conftest import ModbusSim, modbus_source
from tests.support.waiting import until


@pytest_asyncio.fixture
async def server() -> AsyncIterator[ModbusSim]:
    sim = ModbusSim()
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


def machine(machine_id: str, source: str, tag: str, cycle: float = 1.0) -> MachineConfig:
    # The tests move a counter by many parts within one poll: a wide jump margin lets them count.
    return MachineConfig(id=machine_id, name=machine_id, line="L1", ideal_cycle_time_s=cycle,
                         counter_jump_margin=1e6,
                         signals={Signal.TOTAL_COUNT: TagMapping(Signal.TOTAL_COUNT, source, tag, "uint16", width=16)})


def plant(sources: tuple[SourceConfig, ...], machines: tuple[MachineConfig, ...]) -> Config:
    return Config(site=SiteConfig("Test plant", "UTC"), lines=(LineConfig("L1", "Line 1", "A"),),
                  machines=machines, sources=sources, reasons=(), shifts=(ShiftConfig("Day", "00:00", "00:00"),))


def counted(engine: Engine, machine_id: str) -> int:
    return sum(total for total, _reject in engine.machines[machine_id].recent_counts.values())


def online(engine: Engine) -> set[str]:
    return {m.machine for m in engine.snapshot().machines if m.state is not MachineState.OFFLINE}


async def test_machine_settings_change_without_reconnecting_or_losing_parts(server: ModbusSim,
                                                                            tmp_path: Path) -> None:
    source = modbus_source(server.port)
    engine = Engine(plant((source,), (machine("M1", "plc", "hr:0"),)), Store.open(tmp_path), tick_s=0.05)
    await engine.start()
    try:
        await server.set("hr", 0, [100])
        await until(lambda: engine.machines["M1"].counters[Signal.TOTAL_COUNT].last == 100)
        await server.set("hr", 0, [110])
        await until(lambda: counted(engine, "M1") == 10)
        runner = engine.runners[0]

        summary = await engine.reload(plant((source,), (machine("M1", "plc", "hr:0", cycle=0.5),)))

        assert summary.sources_restarted == ()  # same tags, same device: the connection stays
        assert engine.runners[0] is runner
        assert engine.machines["M1"].config.ideal_cycle_time_s == 0.5
        await server.set("hr", 0, [125])
        await until(lambda: counted(engine, "M1") == 25)  # the counter kept its last value: no part lost
    finally:
        await engine.stop()


async def test_a_changed_tag_reconnects_and_starts_its_counter_from_a_baseline(server: ModbusSim,
                                                                              tmp_path: Path) -> None:
    source = modbus_source(server.port)
    engine = Engine(plant((source,), (machine("M1", "plc", "hr:0"),)), Store.open(tmp_path), tick_s=0.05)
    await engine.start()
    try:
        await server.set("hr", 0, [100])
        await server.set("hr", 5, [5000])
        await until(lambda: engine.machines["M1"].counters[Signal.TOTAL_COUNT].last == 100)

        summary = await engine.reload(plant((source,), (machine("M1", "plc", "hr:5"),)))

        assert summary.sources_restarted == ("plc",)
        await until(lambda: engine.machines["M1"].counters[Signal.TOTAL_COUNT].last == 5000)
        assert counted(engine, "M1") == 0  # 100 -> 5000 is a new tag's first value, not 4,900 parts
        await server.set("hr", 5, [5003])
        await until(lambda: counted(engine, "M1") == 3)
    finally:
        await engine.stop()


async def test_sources_and_machines_come_and_go(server: ModbusSim, tmp_path: Path) -> None:
    second = ModbusSim()
    await second.start()
    first = modbus_source(server.port)
    other = dataclasses.replace(modbus_source(second.port), name="plc2")
    engine = Engine(plant((first,), (machine("M1", "plc", "hr:0"),)), Store.open(tmp_path), tick_s=0.05)
    await engine.start()
    try:
        await until(lambda: online(engine) == {"M1"})

        summary = await engine.reload(plant((first, other), (machine("M1", "plc", "hr:0"),
                                                             machine("M2", "plc2", "hr:0"))))
        assert summary.sources_restarted == ("plc2",)
        await until(lambda: online(engine) == {"M1", "M2"})

        summary = await engine.reload(plant((other,), (machine("M2", "plc2", "hr:0"),)))
        assert summary == type(summary)(("plc",), ("M1",))
        assert [runner.source.name for runner in engine.runners] == ["plc2"]
        assert [m.machine for m in engine.snapshot().machines] == ["M2"]
    finally:
        await engine.stop()
        await second.stop()
    store = Store.open(tmp_path)
    try:
        m1 = [interval for interval in store.intervals(0, time.time() + 60) if interval.machine == "M1"]
    finally:
        store.close()
    assert m1 and all(interval.end is not None for interval in m1)  # closed and stored when it left
