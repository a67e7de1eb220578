"""watched_service: the metrics endpoint lives exactly as long as the block, and a port that cannot be had
leaves the engine running without metrics, said in the log."""

from __future__ import annotations

import asyncio
import logging
import urllib.error

import pytest

from oee_tui.config import MetricsAddress, ServiceSettings
from oee_tui.engine.live.engine import Engine
from oee_tui.service.sd_notify import SystemdNotifier
from oee_tui.service.service_watch import watched_service
from tests.drivers.conftest import ModbusSim
from tests.service.running_plant import modbus_plc, plant
from tests.service.scraping import scrape, value

__all__ = ["modbus_plc"]  # the fixture, used by name

NO_SYSTEMD = SystemdNotifier({})


async def test_the_endpoint_serves_inside_the_block_and_is_gone_after(modbus_plc: ModbusSim) -> None:
    engine = Engine(plant(modbus_plc.port), store=None, tick_s=0.05)
    await engine.start()
    try:
        settings = ServiceSettings(metrics_listen=MetricsAddress("127.0.0.1", 0))
        async with watched_service(engine, settings, NO_SYSTEMD) as endpoint:
            assert endpoint is not None
            samples = await asyncio.to_thread(scrape, endpoint.url)
            assert value(samples, "oee_engine_up") == 1
            assert ("oee_store_size_bytes", ()) not in samples  # an engine without a store has no size
        with pytest.raises(urllib.error.URLError):
            await asyncio.to_thread(scrape, endpoint.url)
    finally:
        await engine.stop()


async def test_a_taken_port_is_logged_and_the_engine_runs_on(modbus_plc: ModbusSim,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    engine = Engine(plant(modbus_plc.port), store=None, tick_s=0.05)
    await engine.start()
    try:
        settings = ServiceSettings(metrics_listen=MetricsAddress("127.0.0.1", 0))
        async with watched_service(engine, settings, NO_SYSTEMD) as first:
            assert first is not None
            taken = ServiceSettings(metrics_listen=first.address)
            with caplog.at_level(logging.ERROR, logger="oee_tui.service.service_watch"):
                async with watched_service(engine, taken, NO_SYSTEMD) as second:
                    assert second is None
            [error] = [r.getMessage() for r in caplog.records if r.name == "oee_tui.service.service_watch"]
            assert error.startswith(f"the metrics endpoint cannot listen on {first.address}: ")
            assert error.endswith("; running without metrics")
            assert value(await asyncio.to_thread(scrape, first.url), "oee_engine_up") == 1  # the first still serves
    finally:
        await engine.stop()
