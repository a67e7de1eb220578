"""Logix without the tag-list upload (tag_upload = false): types declared in the tag map.

Against the project's EtherNet/IP server with the upload refused, and against cpppo's
simulator, which cannot serve it at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from oee_tui.config import ConfigError, TagMapping
from oee_tui.drivers.base import DriverError
from oee_tui.drivers.logix.logix_driver import LogixDriver
from oee_tui.drivers.logix.logix_source import LogixSource
from oee_tui.drivers.registry import make_driver, parse_config
from oee_tui.model import Quality, Signal
from tests.drivers.conftest import Collector, running
from tests.drivers.logix.cpppo_server import CpppoServer
from tests.drivers.logix.logix_server import LogixServer
from tests.drivers.test_registry import PLANT

DECLARED = {  # tag: (declared type, value in the server's default database)
    "Line1Count": ("DINT", 0),
    "Line1Speed": ("real", 12.5),  # the type is not case-sensitive
    "Line1Running": ("BOOL", True),
    "Line1Mode": ("SINT", 2),
    "Counts[3]": ("DINT", 103),
    "Filler.Count": ("DINT", 7),
    "Filler.Running": ("BOOL", True),
    "Filler.Speed": ("REAL", 1.5),
    "Program:MainProgram.LocalCount": ("DINT", 55),
    "Line1State.0": ("INT", True),  # bit 0 of the INT Line1State (= 1): declared as the integer
}


@pytest.fixture
def refusing_server() -> Iterator[LogixServer]:
    server = LogixServer(serve_tag_list=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def typed(name: str, type_: str | None) -> TagMapping:
    return TagMapping(signal=Signal.TOTAL_COUNT, source="plc", tag=name, type=type_)


def driver_for(port: int, tags: list[TagMapping], **overrides: Any) -> LogixDriver:
    settings: dict[str, Any] = {"name": "plc", "host": "127.0.0.1", "port": port, "poll_interval_s": 0.05,
                                "timeout_s": 2.0, "tag_upload": False}
    settings.update(overrides)
    driver = make_driver(LogixSource(**settings), tags, config_path=None)
    assert isinstance(driver, LogixDriver)
    return driver


async def test_a_refused_upload_says_to_switch_it_off(refusing_server: LogixServer) -> None:
    driver = driver_for(refusing_server.port, [typed("Line1Count", "DINT")], tag_upload=True)
    with pytest.raises(DriverError) as caught:
        await driver.connect()
    text = str(caught.value)
    assert "cannot upload the tag list: failed to get attribute list" in text
    assert "set tag_upload = false on source plc and declare each tag's type in its tag map" in text


async def test_declared_tags_are_read_without_the_upload(refusing_server: LogixServer) -> None:
    driver = driver_for(refusing_server.port, [typed(name, type_) for name, (type_, _) in DECLARED.items()])
    collector = Collector()
    async with running(driver, collector):
        first = (await collector.wait_batches(1))[0]
        refusing_server.set("Line1Count", 42)
        refusing_server.set("Filler", {"Count": 8, "State": 3, "Running": False, "Speed": 1.5})
        await collector.wait_for(lambda s: s.tag == "Line1Count" and s.value == 42)
        await collector.wait_for(lambda s: s.tag == "Filler.Count" and s.value == 8)
        await collector.wait_for(lambda s: s.tag == "Filler.Running" and s.value is False)
    assert {s.tag: s.value for s in first} == {name: value for name, (_, value) in DECLARED.items()}
    assert all(s.quality is Quality.GOOD for s in first)
    assert type(next(s for s in first if s.tag == "Line1Running").value) is bool
    served, _ = refusing_server.counts()
    assert served["get_instance_attribute_list"] == 0  # nothing asked for the list that is refused


async def test_a_tag_without_a_right_type_fails_alone(refusing_server: LogixServer) -> None:
    tags = [typed("Line1Count", "DINT"), typed("Line1State", None), typed("Line1Speed", "DINT"),
            typed("Line1Mode", "int16"), typed("NoSuchTag", "DINT"), typed("Filler", "DINT")]
    driver = driver_for(refusing_server.port, tags)
    collector = Collector()
    async with running(driver, collector):
        batch = (await collector.wait_batches(1))[0]
        readings = {r.tag: r for r in await driver.read_once()}
    got = {s.tag: s for s in batch}
    assert (got["Line1Count"].value, got["Line1Count"].quality) == (0, Quality.GOOD)
    assert readings["Line1Count"].type == "DINT"
    errors = {name: got[name].error or "" for name in got if name != "Line1Count"}
    assert all(got[name].quality is Quality.BAD and got[name].value is None for name in errors)
    assert "'Line1State' has no type: source plc has tag_upload = false" in errors["Line1State"]
    assert "declares DINT but the controller says REAL" in errors["Line1Speed"]
    assert "type 'int16' is not a Logix type" in errors["Line1Mode"]
    assert "'NoSuchTag': the controller refused to read it" in errors["NoSuchTag"]
    assert "declares DINT but the controller says a structure" in errors["Filler"]
    assert readings["Line1Speed"].error == got["Line1Speed"].error


async def test_browse_says_the_list_is_not_read(refusing_server: LogixServer) -> None:
    driver = driver_for(refusing_server.port, [typed("Line1Count", "DINT")])
    await driver.connect()
    try:
        with pytest.raises(DriverError, match="tag_upload = false, so the controller's tag list is not read"):
            await driver.browse()
    finally:
        await driver.close()


def test_tag_upload_is_read_from_the_config() -> None:
    def source(extra: str) -> LogixSource:
        config = parse_config(PLANT.format(kind="logix", extra=f'host = "127.0.0.1"\n{extra}', tag="Count"))
        found = config.sources[0]
        assert isinstance(found, LogixSource)
        return found

    assert source("tag_upload = false").tag_upload is False
    assert source("").tag_upload is True
    with pytest.raises(ConfigError, match=r"tag_upload = 'no': must be true or false"):
        source('tag_upload = "no"')


# ---------------------------------------------------------------- cpppo


@pytest.fixture
def cpppo() -> Iterator[CpppoServer]:
    server = CpppoServer("Line1Count=DINT", "Speed=REAL", "Flag=BOOL", "Counts=DINT[10]")
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_cpppo_upload_error_says_to_switch_it_off(cpppo: CpppoServer) -> None:
    """The issue's error, from the simulator that cannot serve the upload."""
    driver = driver_for(cpppo.port, [typed("Line1Count", "DINT")], tag_upload=True)
    with pytest.raises(DriverError, match=r"failed to get attribute list: send_unit_data returned not valid data"
                                          r".*set tag_upload = false on source plc"):
        await driver.connect()


async def test_cpppo_declared_tags_are_read(cpppo: CpppoServer) -> None:
    cpppo.write("Line1Count=(DINT)41", "Speed=(REAL)2.5", "Flag=(BOOL)1", "Counts[3]=(DINT)7")
    tags = [typed("Line1Count", "DINT"), typed("Speed", "REAL"), typed("Flag", "BOOL"), typed("Counts[3]", "DINT")]
    driver = driver_for(cpppo.port, tags)
    collector = Collector()
    async with running(driver, collector):
        first = (await collector.wait_batches(1))[0]
        cpppo.write("Line1Count=(DINT)42")
        changed = await collector.wait_for(lambda s: s.tag == "Line1Count" and s.value == 42, timeout=10)
    assert {s.tag: s.value for s in first} == {"Line1Count": 41, "Speed": 2.5, "Flag": True, "Counts[3]": 7}
    assert changed.quality is Quality.GOOD
