"""The Logix driver against a real EtherNet/IP conversation with tests/drivers/logix/logix_server.py.

pycomm3 runs unmodified: it registers a session, reads the identity, opens a
connection and uploads the tag list and UDT templates over TCP, exactly as it
would from a ControlLogix.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest

from oee_tui.drivers.base import BrowseEntry, DriverError
from oee_tui.drivers.logix.logix_driver import LogixDriver
from oee_tui.drivers.logix.logix_source import LogixSource
from oee_tui.drivers.logix.tag_list import check_tag_name
from oee_tui.drivers.registry import make_driver
from oee_tui.model import Quality
from tests.drivers.conftest import Collector, running, tag
from tests.drivers.logix.logix_server import LogixServer

MAPPED = {
    "Line1Count": 0,
    "Line1State": 1,
    "Line1Mode": 2,
    "Line1Speed": 12.5,
    "Line1Running": True,
    "Counts[3]": 103,
    "Filler.Count": 7,
    "Filler.State": 3,
    "Filler.Running": True,
    "Filler.Speed": 1.5,
    "Program:MainProgram.LocalCount": 55,
    "Program:MainProgram.LocalFlag": False,
}


@pytest.fixture
def logix_server() -> Iterator[LogixServer]:
    server = LogixServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def logix_source(port: int, **overrides: Any) -> LogixSource:
    settings: dict[str, Any] = {"name": "plc", "host": "127.0.0.1", "port": port,
                                "poll_interval_s": 0.05, "timeout_s": 1.0}
    settings.update(overrides)
    return LogixSource(**settings)


def logix_driver(server: LogixServer, *names: str, **overrides: Any) -> LogixDriver:
    driver = make_driver(logix_source(server.port, **overrides), [tag(n) for n in names], config_path=None)
    assert isinstance(driver, LogixDriver)
    return driver


def restart(server: LogixServer, port: int) -> None:
    """Serve again on the same port; another test's socket may hold it for a moment."""
    deadline = time.monotonic() + 5
    while True:
        try:
            server.start(port)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# ---------------------------------------------------------------- connect and the tag list


async def test_connect_uploads_controller_program_and_udt_definitions(logix_server: LogixServer) -> None:
    driver = logix_driver(logix_server, "Line1Count")
    await driver.connect()
    try:
        tags = driver.tag_list
        assert tags is not None
        assert set(tags.tags) == {"Line1Count", "Line1State", "Line1Mode", "Line1Speed", "Line1Running", "Counts",
                                  "Filler", "Program:MainProgram.LocalCount", "Program:MainProgram.LocalFlag"}
        assert tags.programs == ("MainProgram",)
        assert tags.tags["Counts"].dims == (10,)
        machine = tags.tags["Filler"].type
        assert machine.name == "Machine"
        # The hidden SINT that holds the BOOL bits is private and not offered.
        assert [(m.name, m.type.name) for m in machine.members] == [
            ("Count", "DINT"), ("State", "INT"), ("Running", "BOOL"), ("Speed", "REAL")]
        served, _ = logix_server.counts()
        # The controller list does not fit one reply: the upload followed the 0x06 partial transfers.
        assert served["get_instance_attribute_list"] >= 3
        assert served["template_attributes"] == 1
        assert served["read_template"] == 1
    finally:
        await driver.close()


async def test_connect_refused_names_host_and_slot(free_port: int) -> None:
    driver = make_driver(logix_source(free_port, slot=2), [tag("Line1Count")], config_path=None)
    with pytest.raises(DriverError, match=rf"127\.0\.0\.1:{free_port} slot 2: cannot connect: .*refused"):
        await driver.connect()


async def test_wrong_slot_is_refused_by_the_route(logix_server: LogixServer) -> None:
    driver = logix_driver(logix_server, "Line1Count", slot=3)
    with pytest.raises(DriverError, match=r"slot 3: cannot connect: .*Link address not available"):
        await driver.connect()


# ---------------------------------------------------------------- polling


async def test_reads_atomics_array_element_udt_members_and_program_tags(logix_server: LogixServer) -> None:
    driver = logix_driver(logix_server, *MAPPED)
    collector = Collector()
    async with running(driver, collector):
        batch = (await collector.wait_batches(1))[0]
    values = {s.tag: s.value for s in batch}
    assert values == MAPPED
    assert all(s.quality is Quality.GOOD and s.source == "plc" for s in batch)
    assert isinstance(values["Line1Running"], bool) and isinstance(values["Line1Speed"], float)


async def test_values_changed_on_the_server_are_seen_at_the_next_poll(logix_server: LogixServer) -> None:
    driver = logix_driver(logix_server, "Line1Count", "Counts[3]", "Filler.Running",
                          "Program:MainProgram.LocalCount")
    collector = Collector()
    async with running(driver, collector):
        await collector.wait_for(lambda s: s.tag == "Line1Count" and s.value == 0)
        logix_server.set("Line1Count", 42)
        logix_server.set("Counts[3]", -7)
        logix_server.set("Filler.Running", False)
        logix_server.set("Program:MainProgram.LocalCount", 56)
        await collector.wait_for(lambda s: s.tag == "Line1Count" and s.value == 42)
        await collector.wait_for(lambda s: s.tag == "Counts[3]" and s.value == -7)
        await collector.wait_for(lambda s: s.tag == "Filler.Running" and s.value is False)
        await collector.wait_for(lambda s: s.tag == "Program:MainProgram.LocalCount" and s.value == 56)


async def test_many_tags_go_in_one_multiple_service_packet(logix_server: LogixServer) -> None:
    driver = logix_driver(logix_server, *MAPPED)
    seen: list[tuple[float, bool]] = []
    driver.on_read = lambda latency, ok: seen.append((latency, ok))
    await driver.connect()
    try:
        before, before_embedded = logix_server.counts()
        seen.clear()
        samples = await driver.poll()
        after, after_embedded = logix_server.counts()
    finally:
        await driver.close()
    assert len(samples) == len(MAPPED)
    assert after - before == {"multiple_service_packet": 1}
    assert (after_embedded - before_embedded)["read_tag"] == len(MAPPED)
    assert len(seen) == 1 and seen[0][1] is True  # one request on the wire, reported to the health view


async def test_unknown_tags_are_bad_while_the_others_keep_coming(logix_server: LogixServer) -> None:
    driver = logix_driver(logix_server, "Line1Count", "Nope", "Filler.Nope", "Counts[12]")
    collector = Collector()
    async with running(driver, collector):
        first = {s.tag: s for s in (await collector.wait_batches(1))[0]}
        assert first["Line1Count"].quality is Quality.GOOD
        assert first["Nope"].quality is Quality.BAD
        assert "'Nope' is not in the controller's tag list" in (first["Nope"].error or "")
        assert "Machine has no member 'Nope'" in (first["Filler.Nope"].error or "")
        assert "index 12 is out of range for Counts (DINT[10]: 0..9)" in (first["Counts[12]"].error or "")
        logix_server.set("Line1Count", 5)
        await collector.wait_for(lambda s: s.tag == "Line1Count" and s.value == 5)
        latest = collector.latest()
        assert latest["Nope"].quality is Quality.BAD


async def test_a_tag_deleted_in_the_plc_reads_bad_with_the_controller_error(logix_server: LogixServer) -> None:
    driver = logix_driver(logix_server, "Line1Count", "Line1State")
    collector = Collector()
    async with running(driver, collector):
        await collector.wait_batches(1)
        logix_server.remove("Line1State")  # an online edit after our upload
        bad = await collector.wait_for(lambda s: s.tag == "Line1State" and s.quality is Quality.BAD)
        assert bad.error is not None and bad.error.startswith("Destination unknown")  # pycomm3's words for 0x05
        logix_server.set("Line1Count", 9)
        await collector.wait_for(lambda s: s.tag == "Line1Count" and s.value == 9)


async def test_read_once_reports_every_mapped_tag(logix_server: LogixServer) -> None:
    driver = logix_driver(logix_server, "Line1Speed", "Filler.State", "Program:MainProgram.LocalFlag", "Nope")
    await driver.connect()
    try:
        readings = {r.tag: r for r in await driver.read_once()}
    finally:
        await driver.close()
    assert [(r.value, r.type, r.quality) for r in readings.values()] == [
        (12.5, "REAL", Quality.GOOD), (3, "INT", Quality.GOOD), (False, "BOOL", Quality.GOOD),
        (None, "unknown", Quality.BAD)]
    assert readings["Line1Speed"].latency_s > 0
    assert "not in the controller's tag list" in (readings["Nope"].error or "")


# ---------------------------------------------------------------- validation and browsing


async def test_validate_tags_against_the_uploaded_list(logix_server: LogixServer) -> None:
    driver = logix_driver(logix_server)
    with pytest.raises(DriverError, match="connect first"):
        driver.validate_tags(["Line1Count"])
    await driver.connect()
    try:
        errors = driver.validate_tags([*MAPPED, "Line1Count.3", "Nope", "Filler.Speedd", "Counts[10]", "Counts",
                                       "Filler", "Program:Other.X", "Program:MainProgram.Nope", "Line1Count[0]",
                                       "Line1Mode.8", "Line1Count.Foo", "bad name"])
    finally:
        await driver.close()
    assert set(errors) == {"Nope", "Filler.Speedd", "Counts[10]", "Counts", "Filler", "Program:Other.X",
                           "Program:MainProgram.Nope", "Line1Count[0]", "Line1Mode.8", "Line1Count.Foo", "bad name"}
    assert "tag 'Nope' is not in the controller's tag list" in errors["Nope"]
    assert "Machine has no member 'Speedd' (members: Count, State, Running, Speed)" in errors["Filler.Speedd"]
    assert "index 10 is out of range for Counts (DINT[10]: 0..9)" in errors["Counts[10]"]
    assert "is an array (DINT[10]); map one element, such as Counts[0]" in errors["Counts"]
    assert "is a structure (Machine); map one of its members" in errors["Filler"]
    assert "program 'Other' is not in the controller (programs: MainProgram)" in errors["Program:Other.X"]
    assert "'Program:MainProgram.Nope' is not in the controller's tag list" in errors["Program:MainProgram.Nope"]
    assert "Line1Count is a DINT, not an array" in errors["Line1Count[0]"]
    assert "bit 8 is out of range for Line1Mode (SINT: 0..7)" in errors["Line1Mode.8"]
    assert "Line1Count is a DINT, which has no members" in errors["Line1Count.Foo"]
    assert "no spaces" in errors["bad name"]


@pytest.mark.parametrize(("text", "problem"), [
    ("Line1Count", None),
    ("Counts[3]", None),
    ("Grid[1,2]", None),
    ("Filler.Count", None),
    ("Status.31", None),
    ("Machines[2].Stats[0].Count", None),
    ("Program:MainProgram.LocalCount", None),
    ("Local:1:I.Data", None),
    ("", "empty"),
    ("Line 1", "no spaces"),
    ("Counts{10}", "element count"),
    ("1Count", "must start with a letter"),
    ("Count__A", "two underscores"),
    ("Count_", "ends in _"),
    ("Counts[a]", "whole numbers"),
    ("Counts[1,2,3,4]", "one to three"),
    ("Filler..Count", "empty name between dots"),
    ("Status.64", "bit 64 is out of range"),
    ("Program:.Count", "program's name"),
    ("Program:Main", "give a tag after the program"),
    ("A" * 41, "longer than 40"),
])
def test_check_tag_name_syntax(text: str, problem: str | None) -> None:
    error = check_tag_name(text)
    if problem is None:
        assert error is None
    else:
        assert error is not None and problem in error


async def test_browse_controller_programs_udt_members_and_array_elements(logix_server: LogixServer) -> None:
    driver = logix_driver(logix_server)
    with pytest.raises(DriverError, match="connect first"):
        await driver.browse()
    await driver.connect()
    try:
        top = {e.id: e for e in await driver.browse()}
        filler = await driver.browse("Filler")
        counts = await driver.browse("Counts")
        program = await driver.browse("Program:MainProgram")
        leaf = await driver.browse("Line1Count")
        with pytest.raises(DriverError, match="not in the controller's tag list"):
            await driver.browse("Nope")
    finally:
        await driver.close()
    assert top["Line1Count"] == BrowseEntry("Line1Count", "Line1Count", "DINT", False)
    assert top["Line1Running"] == BrowseEntry("Line1Running", "Line1Running", "BOOL", False)
    assert top["Counts"] == BrowseEntry("Counts", "Counts", None, True)
    assert top["Filler"] == BrowseEntry("Filler", "Filler", None, True)
    assert top["Program:MainProgram"] == BrowseEntry("Program:MainProgram", "Program:MainProgram", None, True)
    assert not any(i.startswith("Program:MainProgram.") for i in top)
    assert filler == [BrowseEntry("Filler.Count", "Count", "DINT", False),
                      BrowseEntry("Filler.State", "State", "INT", False),
                      BrowseEntry("Filler.Running", "Running", "BOOL", False),
                      BrowseEntry("Filler.Speed", "Speed", "REAL", False)]
    assert [e.id for e in counts] == [f"Counts[{i}]" for i in range(10)]
    assert counts[3] == BrowseEntry("Counts[3]", "[3]", "DINT", False)
    assert program == [BrowseEntry("Program:MainProgram.LocalCount", "LocalCount", "DINT", False),
                       BrowseEntry("Program:MainProgram.LocalFlag", "LocalFlag", "BOOL", False)]
    assert leaf == []


# ---------------------------------------------------------------- losing the controller


async def test_server_stopped_mid_run_raises_and_a_new_driver_connects_when_it_is_back(
        logix_server: LogixServer) -> None:
    port = logix_server.port
    driver = logix_driver(logix_server, "Line1Count")
    collector = Collector()
    await asyncio.wait_for(driver.connect(), timeout=3)
    task = asyncio.create_task(driver.run(collector))
    try:
        await collector.wait_for(lambda s: s.value == 0)
        await asyncio.to_thread(logix_server.stop)
        with pytest.raises(DriverError, match=rf"logix 127\.0\.0\.1:{port} slot 0: connection lost: "):
            await asyncio.wait_for(task, timeout=5)
    finally:
        await driver.close()
        if not task.done():
            task.cancel()

    await asyncio.to_thread(restart, logix_server, port)
    logix_server.set("Line1Count", 77)
    again = logix_driver(logix_server, "Line1Count")
    collector = Collector()
    async with running(again, collector):
        await collector.wait_for(lambda s: s.value == 77)


async def test_a_controller_that_stops_answering_times_out(logix_server: LogixServer) -> None:
    driver = logix_driver(logix_server, "Line1Count", timeout_s=0.5)
    collector = Collector()
    await driver.connect()
    task = asyncio.create_task(driver.run(collector))
    try:
        await collector.wait_batches(1)
        logix_server.hold_replies()
        with pytest.raises(DriverError, match=r"slot 0: connection lost: .*timed out"):
            await asyncio.wait_for(task, timeout=5)
    finally:
        logix_server.resume_replies()
        await driver.close()
        if not task.done():
            task.cancel()


async def test_a_cancelled_connect_closes_what_it_opened_later(logix_server: LogixServer) -> None:
    driver = logix_driver(logix_server, "Line1Count")
    logix_server.hold_replies()
    try:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(driver.connect(), timeout=0.2)
    finally:
        logix_server.resume_replies()

    def closed() -> bool:
        served, _ = logix_server.counts()
        return served["forward_close"] == served["large_forward_open"] == 1

    deadline = time.monotonic() + 5
    while not closed():  # the worker finishes opening, then the driver closes it in the background
        assert time.monotonic() < deadline, logix_server.counts()
        await asyncio.sleep(0.02)
    await driver.close()


def test_check_tag_name_does_not_need_pycomm3() -> None:
    """The config reader checks tag syntax on machines (and in processes) that never load pycomm3."""
    code = ("import sys, oee_tui.drivers.logix.logix_driver as logix, oee_tui.drivers.logix.tag_list as names; "
            "assert names.check_tag_name('Program:P.Tag[1].3') is None; "
            "assert 'pycomm3' not in sys.modules, 'pycomm3 was imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


async def test_pycomm3_writes_and_fragmented_reads_through_the_server(logix_server: LogixServer) -> None:
    """The server answers what pycomm3 sends for writes (the 1.2.16 double payload) and large reads."""
    from pycomm3 import LogixDriver as Pycomm3LogixDriver

    logix_server.db.add_tag("Big", "DINT", dims=(1500,), value=list(range(1500)))

    def exchange() -> tuple[Any, Any, Any]:
        with Pycomm3LogixDriver(f"127.0.0.1:{logix_server.port}/0") as plc:
            single = plc.write("Line1Count", 1234)
            several = plc.write(("Filler.Speed", 2.5), ("Program:MainProgram.LocalCount", -1))
            big = plc.read("Big{1500}")
        return single, several, big

    single, several, big = await asyncio.to_thread(exchange)
    assert single.error is None and [t.error for t in several] == [None, None]
    assert logix_server.get("Line1Count") == 1234
    assert logix_server.get("Filler.Speed") == 2.5
    assert logix_server.get("Program:MainProgram.LocalCount") == -1
    assert big.error is None and big.value == list(range(1500))
    served, _ = logix_server.counts()
    assert served["read_tag_fragmented"] >= 2  # 6000 bytes do not fit one 4000-byte connection


async def test_source_runner_marks_offline_and_reconnects_by_itself(logix_server: LogixServer) -> None:
    from oee_tui.engine.live.acquisition import SourceRunner

    port = logix_server.port
    logix_server.set("Line1Count", 5)
    runner = SourceRunner(logix_source(port, reconnect_min_s=0.05, reconnect_max_s=0.3), [tag("Line1Count")],
                          partial(make_driver, config_path=None))
    runner_task = asyncio.create_task(runner.run())

    async def next_sample(wanted: Any) -> Any:
        while True:
            for sample in await runner.queue.get():
                if wanted(sample):
                    return sample

    try:
        await asyncio.wait_for(next_sample(lambda s: s.value == 5), 10)
        await asyncio.to_thread(logix_server.stop)
        offline = await asyncio.wait_for(next_sample(lambda s: s.quality is Quality.BAD), 10)
        assert f"logix 127.0.0.1:{port} slot 0" in (offline.error or "")
        logix_server.set("Line1Count", 6)
        await asyncio.to_thread(restart, logix_server, port)
        back = await asyncio.wait_for(next_sample(lambda s: s.quality is Quality.GOOD), 10)
        assert back.value == 6
        assert runner.health.reconnects >= 1 and runner.health.connected
    finally:
        runner_task.cancel()
        await asyncio.gather(runner_task, return_exceptions=True)
