"""OPC UA driver against a real asyncua server on loopback.

The server is module-scoped (Server.init takes about 1.5 s), so every test here
runs in the module's event loop. The stop/restart test comes last and leaves
the server running again.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest
from asyncua import ua

from oee_tui.drivers.base import DriverError
from oee_tui.drivers.opcua.opcua_driver import OpcUaDriver
from oee_tui.model import Quality, TagSample
from tests.drivers.conftest import Collector, OpcUaSim, opcua_source, running, tag

pytestmark = pytest.mark.asyncio(loop_scope="module")


def driver_for(sim: OpcUaSim, *names: str, **overrides: object) -> OpcUaDriver:
    tags = [tag(sim.node_id(n) if n[0].isupper() else n, source="ua") for n in names]
    return OpcUaDriver(opcua_source(sim.endpoint, **overrides), tags)  # type: ignore[arg-type]


# ---------------------------------------------------------------- against a server


async def test_initial_values_of_every_type(opcua_server: OpcUaSim) -> None:
    await opcua_server.write("Count", -5)
    await opcua_server.write("Total", 4_000_000_000)
    await opcua_server.write("State", 3)
    await opcua_server.write("Speed", 12.5)
    await opcua_server.write("Running", True)
    await opcua_server.write("Product", "SKU-1")
    names = ("Count", "Total", "State", "Speed", "Running", "Product")
    driver = driver_for(opcua_server, *names)
    collector = Collector()
    async with running(driver, collector):
        for name in names:
            await collector.wait_for(lambda s, n=name: s.tag == opcua_server.node_id(n))
    got = {s.tag.rsplit(".", 1)[1]: s for s in collector.samples}
    assert {n: got[n].value for n in names} == {
        "Count": -5, "Total": 4_000_000_000, "State": 3, "Speed": 12.5, "Running": True, "Product": "SKU-1"}
    assert type(got["Running"].value) is bool and type(got["Speed"].value) is float
    for sample in got.values():
        assert sample.quality is Quality.GOOD and sample.error is None
        assert sample.source == "ua"
        assert abs(sample.ts_utc - time.time()) < 10


async def test_changes_arrive_as_notifications(opcua_server: OpcUaSim) -> None:
    await opcua_server.write("Count", 100)
    driver = driver_for(opcua_server, "Count", "Running")
    collector = Collector()
    count = opcua_server.node_id("Count")
    async with running(driver, collector):
        await collector.wait_for(lambda s: s.tag == count and s.value == 100)
        for value in (101, 102, 103):
            await opcua_server.write("Count", value)
            sample = await collector.wait_for(lambda s, v=value: s.tag == count and s.value == v)
            assert sample.quality is Quality.GOOD
    # Data-change, not polling: the unchanged Running was reported once, as the initial value.
    assert len([s for s in collector.samples if s.tag.endswith("Running")]) == 1


async def test_status_and_source_timestamp_are_passed_on(opcua_server: OpcUaSim) -> None:
    driver = driver_for(opcua_server, "Quality")
    collector = Collector()
    node = opcua_server.node_id("Quality")
    stamp = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    async with running(driver, collector):
        await collector.wait_for(lambda s: s.tag == node)
        await opcua_server.write("Quality", 41, ua.StatusCodes.UncertainLastUsableValue, stamp)
        uncertain = await collector.wait_for(lambda s: s.tag == node and s.value == 41)
        await opcua_server.write("Quality", 42, ua.StatusCodes.BadSensorFailure)
        bad = await collector.wait_for(lambda s: s.tag == node and s.quality is Quality.BAD)
    assert uncertain.quality is Quality.UNCERTAIN
    assert uncertain.ts_utc == stamp.timestamp()
    assert (uncertain.error or "").startswith("UncertainLastUsableValue")
    assert bad.value is None and (bad.error or "").startswith("BadSensorFailure")


async def test_unknown_node_gives_one_bad_sample_and_the_rest_work(opcua_server: OpcUaSim) -> None:
    missing = f"ns={opcua_server.ns};s=Line2.Filler.Nope"
    driver = driver_for(opcua_server, "Count", missing, "not a node id")
    collector = Collector()
    async with running(driver, collector) as task:
        unknown = await collector.wait_for(lambda s: s.tag == missing)
        invalid = await collector.wait_for(lambda s: s.tag == "not a node id")
        await opcua_server.write("Count", 7)
        await collector.wait_for(lambda s: s.tag == opcua_server.node_id("Count") and s.value == 7)
        assert not task.done()
    assert unknown.quality is Quality.BAD and unknown.value is None
    assert (unknown.error or "").startswith("BadNodeIdUnknown"), unknown.error
    assert invalid.quality is Quality.BAD and (invalid.error or "").startswith("BadNodeIdInvalid")
    assert [s for s in collector.samples if s.tag == missing] == [unknown]


async def test_one_node_under_two_names(opcua_server: OpcUaSim) -> None:
    await opcua_server.write("State", 4)
    string_id = opcua_server.node_id("State")
    alias = string_id.replace(f"ns={opcua_server.ns};", f"ns={opcua_server.ns}; ")
    driver = driver_for(opcua_server, string_id, alias)
    collector = Collector()
    async with running(driver, collector):
        await collector.wait_for(lambda s: s.tag == string_id and s.value == 4)
        await collector.wait_for(lambda s: s.tag == alias and s.value == 4)


async def test_connect_failure_names_the_endpoint(free_port: int) -> None:
    endpoint = f"opc.tcp://127.0.0.1:{free_port}/none/"
    driver = OpcUaDriver(opcua_source(endpoint, timeout_s=1.0), [tag("ns=2;s=A", "ua")])
    started = time.monotonic()
    with pytest.raises(DriverError, match=f"127.0.0.1:{free_port}"):
        await driver.connect()
    assert time.monotonic() - started < 2
    await driver.close()
    await driver.close()


async def test_close_ends_run(opcua_server: OpcUaSim) -> None:
    driver = driver_for(opcua_server, "Count")
    collector = Collector()
    await driver.connect()
    task = asyncio.create_task(driver.run(collector))
    await collector.wait_for(lambda s: True)
    await driver.close()
    await asyncio.wait_for(task, 3)  # returns, does not raise
    await driver.close()


async def test_many_changes_are_batched(opcua_server: OpcUaSim) -> None:
    driver = driver_for(opcua_server, "Count", "Total", publishing_interval_ms=200)
    collector = Collector()
    count, total = opcua_server.node_id("Count"), opcua_server.node_id("Total")
    async with running(driver, collector):
        await collector.wait_for(lambda s: s.tag == total)
        await collector.wait_for(lambda s: s.tag == count)
        # Two writes usually land in one publish response; a publishing tick
        # may fall between them, so allow a few tries.
        for value in (5000, 5001, 5002):
            before = len(collector.batches)
            await opcua_server.write("Count", value)
            await opcua_server.write("Total", value)
            await collector.wait_for(lambda s, v=value: s.tag == total and s.value == v)
            await collector.wait_for(lambda s, v=value: s.tag == count and s.value == v)
            new: list[list[TagSample]] = collector.batches[before:]
            if any({s.tag for s in batch} == {count, total} for batch in new):
                break
        else:
            pytest.fail(f"notifications of one publish response were not emitted together: {new}")


async def test_server_stop_raises_and_restart_reconnects(opcua_server: OpcUaSim) -> None:
    await opcua_server.write("Count", 1)
    driver = driver_for(opcua_server, "Count")
    collector = Collector()
    await driver.connect()
    task = asyncio.create_task(driver.run(collector))
    await collector.wait_for(lambda s: s.value == 1)

    started = time.monotonic()
    await opcua_server.stop()
    try:
        with pytest.raises(DriverError, match=f"127.0.0.1:{opcua_server.port}"):
            await asyncio.wait_for(task, 5)
        assert time.monotonic() - started < 5
        await driver.close()
        with pytest.raises(DriverError):
            await driver.connect()
        await driver.close()
    finally:
        await opcua_server.restart()

    await opcua_server.write("Count", 2)
    for again in (driver, driver_for(opcua_server, "Count")):  # the same driver object, and a new one
        collector = Collector()
        async with running(again, collector):
            sample = await collector.wait_for(lambda s: s.value == 2)
        assert sample.quality is Quality.GOOD
