"""The data-quality checks' clock skew from a real OPC-UA server's source timestamps: a real asyncua server
whose values carry a device clock 30 s behind the box, read by the real driver into a real engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio

from oee_tui.config import Config, LineConfig, MachineConfig, ShiftConfig, SiteConfig, TagMapping
from oee_tui.engine.live.engine import Engine
from oee_tui.model import Signal
from oee_tui.model.data_quality import SourceQuality
from tests.drivers.conftest import OpcUaSim, opcua_source
from tests.support.waiting import until

DEVICE_LAG_S = 30.0


@pytest_asyncio.fixture
async def server() -> AsyncIterator[OpcUaSim]:
    sim = OpcUaSim()
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


def plant(sim: OpcUaSim) -> Config:
    source = opcua_source(sim.endpoint, publishing_interval_ms=50, expected_every_s=0.5)
    count = TagMapping(Signal.TOTAL_COUNT, source.name, sim.node_id("Count"), width=32, range_max=1000)
    machine = MachineConfig(id="M1", name="Filler", line="L1", ideal_cycle_time_s=0.001,
                            signals={Signal.TOTAL_COUNT: count})
    return Config(site=SiteConfig("Test plant", "UTC", stale_after_s=60), lines=(LineConfig("L1", "Line 1", "A"),),
                  machines=(machine,), sources=(source,), reasons=(), shifts=(ShiftConfig("Day", "00:00", "00:00"),))


async def quality(engine: Engine) -> SourceQuality:
    (only,) = (await engine.data_quality("ua")).current
    return only


async def test_skew_and_range_from_a_real_opcua_server(server: OpcUaSim) -> None:
    await server.write("Count", 1, source_ts=datetime.now(UTC) - timedelta(hours=2))  # last changed long ago
    engine = Engine(plant(server), store=None, tick_s=0.05)
    await engine.start()
    try:
        await until(lambda: engine.quality.counters[("ua", server.node_id("Count"))].received >= 1)
        for count in range(2, 7):
            await server.write("Count", count if count != 6 else 5000,
                               source_ts=datetime.now(UTC) - timedelta(seconds=DEVICE_LAG_S))
            await until(lambda value=count: engine.quality.counters[("ua", server.node_id("Count"))].last_value
                        in (value, 5000))
        ua = await quality(engine)
        assert ua.device_time and ua.kind == "opcua"
        # The first value's two-hour-old stamp is not the clock: the least delay is, 30 s plus the transport's.
        assert ua.skew_s is not None and DEVICE_LAG_S <= ua.skew_s < DEVICE_LAG_S + 2.0
        (count_tag,) = ua.tags
        assert (count_tag.range_violations, count_tag.last_violation) == (1, 5000)
        assert ua.received == 6 and ua.expected_every_s == 0.5 and ua.expected is not None
    finally:
        await engine.stop()


@pytest.mark.parametrize("ahead_s", [5.0])
async def test_a_device_clock_ahead_of_the_box_is_negative(server: OpcUaSim, ahead_s: float) -> None:
    engine = Engine(plant(server), store=None, tick_s=0.05)
    await engine.start()
    try:
        await until(lambda: engine.quality.counters[("ua", server.node_id("Count"))].received >= 1)
        await server.write("Count", 42, source_ts=datetime.now(UTC) + timedelta(seconds=ahead_s))
        await until(lambda: engine.quality.counters[("ua", server.node_id("Count"))].last_value == 42)
        skew = (await quality(engine)).skew_s
        assert skew is not None and -ahead_s <= skew < -ahead_s + 2.0
    finally:
        await engine.stop()
