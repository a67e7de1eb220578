"""Modbus read_once() ("Test connection") and the per-request reports behind source health."""

from __future__ import annotations

import pytest

from oee_tui.drivers.base import DriverError
from oee_tui.drivers.modbus.modbus_driver import ModbusDriver, encode_value
from oee_tui.model import Quality
from tests.drivers.conftest import ModbusSim, modbus_source, tag


async def test_read_once_gives_one_reading_per_mapped_tag_in_order(modbus_server: ModbusSim) -> None:
    await modbus_server.set("hr", 10, encode_value(-1234.5, "float32"))
    await modbus_server.set("hr", 12, [7])
    await modbus_server.set("co", 3, [True])
    mappings = [
        tag("hr:12"),
        tag("hr:10", type="float32"),
        tag("co:3"),
        tag("hr:4000"),  # the device has no such register
        tag("bogus", type="uint16"),  # not a Modbus address at all
        tag("hr:12"),  # mapped twice (two machines): read and reported once
    ]
    driver = ModbusDriver(modbus_source(modbus_server.port), mappings)
    await driver.connect()
    try:
        readings = await driver.read_once()
    finally:
        await driver.close()
    assert [r.tag for r in readings] == ["hr:12", "hr:10", "co:3", "hr:4000", "bogus"]
    by_tag = {r.tag: r for r in readings}
    assert (by_tag["hr:12"].value, by_tag["hr:12"].type, by_tag["hr:12"].quality) == (7, "uint16", Quality.GOOD)
    assert (by_tag["hr:10"].value, by_tag["hr:10"].type) == (-1234.5, "float32")
    assert (by_tag["co:3"].value, by_tag["co:3"].type) == (True, "bool")
    for good in ("hr:12", "hr:10", "co:3"):
        assert by_tag[good].error is None
        assert 0 < by_tag[good].latency_s < 1.0
    missing = by_tag["hr:4000"]
    assert (missing.value, missing.quality) == (None, Quality.BAD)
    assert "illegal data address" in (missing.error or "") and missing.latency_s > 0
    bogus = by_tag["bogus"]
    assert (bogus.value, bogus.type, bogus.quality, bogus.latency_s) == (None, "uint16", Quality.BAD, 0.0)
    assert "not a Modbus address" in (bogus.error or "")


async def test_every_request_is_reported_with_its_latency(modbus_server: ModbusSim) -> None:
    driver = ModbusDriver(modbus_source(modbus_server.port), [tag("hr:1"), tag("hr:2"), tag("hr:4000"),
                                                              tag("co:0")])
    reports: list[tuple[float, bool]] = []
    driver.on_read = lambda latency, ok: reports.append((latency, ok))
    await driver.connect()
    try:
        await driver.poll()
        await driver.read_once()
    finally:
        await driver.close()
    assert len(reports) == driver.requests == 6  # co:0, hr:1..2, hr:4000 per pass
    assert [ok for _latency, ok in reports] == [True, True, False] * 2  # an exception answer is a failed read
    assert all(0 < latency < 1.0 for latency, _ok in reports)


async def test_read_once_raises_when_the_link_is_gone(modbus_server: ModbusSim) -> None:
    driver = ModbusDriver(modbus_source(modbus_server.port), [tag("hr:1")])
    reports: list[bool] = []
    driver.on_read = lambda _latency, ok: reports.append(ok)
    await driver.connect()
    try:
        await modbus_server.stop()
        with pytest.raises(DriverError, match=r"127\.0\.0\.1"):
            await driver.read_once()
    finally:
        await driver.close()
    assert True not in reports
