"""S7 driver: pure planning, then against snap7's own Server running in this process on a free port."""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from typing import Any

import pytest
import pytest_asyncio
from snap7.server import Server, ServerISOConnection
from snap7.type import SrvArea, SrvEvent

from oee_tui.config import TagMapping
from oee_tui.drivers.base import DriverError
from oee_tui.drivers.registry import make_driver
from oee_tui.drivers.s7.address import S7Address, parse_s7_address, store
from oee_tui.drivers.s7.s7_driver import (
    CLOSE_WAIT_S,
    FALLBACK_PDU_BYTES,
    MAX_GAP_BYTES,
    READ_OVERHEAD_BYTES,
    ReadBlock,
    S7Driver,
    parse_tsap,
    plan_reads,
    split_block,
)
from oee_tui.drivers.s7.s7_source import S7Source
from oee_tui.engine.live.acquisition import SourceRunner
from oee_tui.model import Quality, TagSample
from tests.drivers.conftest import Collector, running, tag

DB_SIZES = {1: 256, 2: 64, 3: 1000}
AREA_BYTES = 64  # M, I and Q each hold bytes 0..63
_SRV_AREAS = {"M": SrvArea.MK, "I": SrvArea.PE, "Q": SrvArea.PA}


# ---------------------------------------------------------------- the PLC


class S7Sim:
    """A snap7 Server with DB1..DB3, M, I and Q; the bytearrays are the PLC's memory, shared live with clients."""

    def __init__(self) -> None:
        self.dbs = {number: bytearray(size) for number, size in DB_SIZES.items()}
        self.areas = {area: bytearray(AREA_BYTES) for area in _SRV_AREAS}
        self.server: Server | None = None
        self.port = 0
        self.reads: list[tuple[int, int, int, int]] = []  # (SrvArea, db, start, size) of each read it served
        self.before_reply: Callable[[], None] | None = None  # runs in the server's thread before it answers

    def start(self, port: int = 0) -> None:
        server = Server(log=False)
        for number, memory in self.dbs.items():
            server.register_area(SrvArea.DB, number, memory)
        for area, memory in self.areas.items():
            server.register_area(_SRV_AREAS[area], 0, memory)
        server.set_read_events_callback(self._on_read)
        server.start_to("127.0.0.1", port)
        assert server.server_socket is not None
        self.server = server
        self.port = server.server_socket.getsockname()[1]

    def _on_read(self, event: SrvEvent) -> None:
        self.reads.append((event.EvtParam1, event.EvtParam2, event.EvtParam3, event.EvtParam4))
        if self.before_reply is not None:
            self.before_reply()

    async def stop(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            await asyncio.to_thread(server.stop)  # it joins its threads; keep the loop free meanwhile

    def memory(self, address: S7Address) -> bytearray:
        return self.dbs[address.db] if address.area == "DB" else self.areas[address.area]

    def set(self, text: str, value: bool | int | float | str) -> None:
        address = parse_s7_address(text)
        store(address, self.memory(address), value)


@pytest_asyncio.fixture
async def s7_server() -> AsyncIterator[S7Sim]:
    sim = S7Sim()
    sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


def s7_source(port: int, **overrides: Any) -> S7Source:
    settings: dict[str, Any] = {"name": "plc", "host": "127.0.0.1", "port": port,
                                "poll_interval_s": 0.05, "timeout_s": 1.0}
    settings.update(overrides)
    return S7Source(**settings)


def counted(driver: S7Driver) -> list[tuple[float, bool]]:
    """Every (latency, ok) the driver reports through record_read, as the acquisition runner sees them."""
    seen: list[tuple[float, bool]] = []
    driver.on_read = lambda latency, ok: seen.append((latency, ok))
    return seen


@contextlib.contextmanager
def recorded_tsaps() -> Iterator[list[tuple[int, int]]]:
    """(calling, called) TSAP of every connection request the server receives.

    Spies on the real server's COTP parsing; the server itself still answers.
    """
    seen: list[tuple[int, int]] = []
    original = ServerISOConnection._parse_cotp_cr

    def parse(self: ServerISOConnection, data: bytes) -> bool:
        ok = original(self, data)
        assert self.calling_tsap is not None and self.called_tsap is not None
        seen.append((int.from_bytes(self.calling_tsap, "big"), int.from_bytes(self.called_tsap, "big")))
        return ok

    ServerISOConnection._parse_cotp_cr = parse  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        ServerISOConnection._parse_cotp_cr = original  # type: ignore[method-assign]


# ---------------------------------------------------------------- planning, no device


def addresses(*texts: str) -> list[S7Address]:
    return [parse_s7_address(text) for text in texts]


def spans(blocks: list[ReadBlock]) -> list[tuple[str, int, int, int]]:
    return [(b.area, b.db, b.start, b.size) for b in blocks]


def test_plan_coalesces_within_the_gap_and_keeps_areas_and_dbs_apart() -> None:
    blocks = plan_reads(addresses("DB1.DBW0", "DB1.DBD2", "DB1.DBX6.1", "DB1.DBW39",  # gap 39 - 7 = 32: merged
                                  "DB1.DBW74",  # gap 74 - 41 = 33: a new block
                                  "DB2.DBW0", "MW0", "M5.0", "IW0", "QB3", "QB0"))
    assert spans(blocks) == [("DB", 1, 0, 41), ("DB", 1, 74, 2), ("DB", 2, 0, 2), ("M", 0, 0, 6),
                             ("I", 0, 0, 2), ("Q", 0, 0, 4)]
    assert [a.text for a in blocks[0].addresses] == ["DB1.DBW0", "DB1.DBD2", "DB1.DBX6.1", "DB1.DBW39"]
    assert MAX_GAP_BYTES == 32


def test_plan_respects_the_pdu_and_never_splits_a_value() -> None:
    dints = addresses(*(f"DB3.DBD{offset}" for offset in range(0, 40, 4)))
    assert spans(plan_reads(dints, max_bytes=16)) == [("DB", 3, 0, 16), ("DB", 3, 16, 16), ("DB", 3, 32, 8)]
    # 14 bytes used, then a DINT that would make 18: it starts the next block.
    assert spans(plan_reads(addresses("MW0", "MD10", "MD14"), max_bytes=16)) == [("M", 0, 0, 14), ("M", 0, 14, 4)]
    # A value larger than the limit still gets its block (snap7 reads it in chunks).
    assert spans(plan_reads(addresses("DB1.DBB0:STRING[254]", "DB1.DBW300"), max_bytes=222)) == [
        ("DB", 1, 0, 256), ("DB", 1, 300, 2)]
    assert FALLBACK_PDU_BYTES - READ_OVERHEAD_BYTES == 222


def test_plan_lets_overlapping_addresses_share_bytes() -> None:
    blocks = plan_reads(addresses("MW0", "M0.3", "MB1", "MD0:REAL"))
    assert spans(blocks) == [("M", 0, 0, 4)]
    assert [a.text for a in blocks[0].addresses] == ["MD0:REAL", "MW0", "M0.3", "MB1"]
    assert plan_reads([]) == []


def test_split_block_gives_one_block_per_address() -> None:
    [block] = plan_reads(addresses("DB1.DBW0", "DB1.DBD4:REAL", "DB1.DBX9.7"))
    assert spans(split_block(block)) == [("DB", 1, 0, 2), ("DB", 1, 4, 4), ("DB", 1, 9, 1)]
    assert block.describe() == "DB1.DBB0 (10 bytes)"
    assert split_block(block)[2].describe() == "DB1.DBB9 (1 byte)"


def test_parse_tsap() -> None:
    assert parse_tsap("01.00") == 0x0100
    assert parse_tsap("03.01") == 0x0301
    assert parse_tsap("4d.57") == 0x4D57
    for bad in ("0301", "3.1", "03.0x", "zz.00"):
        with pytest.raises(ValueError, match="must be two hex bytes with a dot"):
            parse_tsap(bad)


def test_make_driver_picks_s7_and_keeps_bad_tags_as_bad_samples() -> None:
    driver = make_driver(s7_source(102), [tag("DB1.DBW0"), tag("DB1.DBW0"), tag("DB1.DBW"), tag("MD4", type="REAL")],
                         config_path=None)
    assert isinstance(driver, S7Driver)
    assert [a.text for a in driver.addresses] == ["DB1.DBW0", "MD4"]
    assert driver.addresses[1].type == "REAL"
    assert driver.invalid == {"DB1.DBW": '"DB1.DBW" is not an S7 address: the byte offset is missing; write it as '
                                         "DB1.DBW20, DB1.DBX8.0, MW0, I0.1 or DB3.DBD4:REAL"}
    assert driver.where == "s7 127.0.0.1:102 rack 0 slot 1"  # no slot configured: 1, as on an S7-1200/1500


# ---------------------------------------------------------------- against the server

# One value per type that uses every byte, so a swapped byte shows.
LAYOUT: list[tuple[int, str, str | None, bool | int | float | str]] = [
    # (byte, address after the area prefix, mapping type, value)
    (0, "X0.0", None, True),
    (0, "X0.7", None, False),
    (0, "X0.6", None, True),
    (1, "B1", None, 0xA5),
    (2, "W2", "WORD", 0xBEEF),
    (4, "W4", None, -12345),
    (6, "D6", "DWORD", 0xDEADBEEF),
    (10, "D10", None, -123456789),
    (14, "D14", "REAL", -1234.5),
    (18, "B18:STRING[10]", None, "Linie 3"),
]


def area_text(area: str, rest: str) -> str:
    if area.startswith("DB"):
        return f"{area}.DB{rest}"
    return f"{area}{rest[1:]}" if rest.startswith("X") else f"{area}{rest}"


async def test_reads_every_type_from_db_m_i_and_q(s7_server: S7Sim) -> None:
    mappings: list[TagMapping] = []
    expected: dict[str, object] = {}
    for area in ("DB2", "M", "I", "Q"):
        for _, rest, type, value in LAYOUT:
            text = area_text(area, rest)
            mapping = tag(text, type=type)
            s7_server.set(text + (f":{type}" if type else ""), value)
            mappings.append(mapping)
            expected[text] = value
    assert "M0.7" in expected and "DB2.DBX0.7" in expected and "QD14" in expected and "IB18:STRING[10]" in expected
    driver = S7Driver(s7_source(s7_server.port), mappings)
    seen = counted(driver)
    await driver.connect()
    try:
        samples = await driver.poll()
    finally:
        await driver.close()
    assert {s.tag: s.value for s in samples} == expected
    assert all(s.quality is Quality.GOOD and s.error is None and s.source == "plc" for s in samples)
    by_tag = {s.tag: s for s in samples}
    assert isinstance(by_tag["MD14"].value, float) and isinstance(by_tag["I0.0"].value, bool)
    # One request per area: 30 bytes of DB2, M, I and Q each.
    assert spans(driver.plan) == [("DB", 2, 0, 30), ("M", 0, 0, 30), ("I", 0, 0, 30), ("Q", 0, 0, 30)]
    assert len(seen) == 4 == driver.requests and all(ok for _, ok in seen)
    assert s7_server.reads == [(SrvArea.DB, 2, 0, 30), (SrvArea.MK, 0, 0, 30), (SrvArea.PE, 0, 0, 30),
                               (SrvArea.PA, 0, 0, 30)]


async def test_adjacent_tags_are_read_in_one_request(s7_server: S7Sim) -> None:
    for offset in range(0, 20, 2):
        s7_server.set(f"DB1.DBW{offset}", offset * 100)
    mappings = [tag(f"DB1.DBW{offset}") for offset in range(0, 20, 2)]
    driver = S7Driver(s7_source(s7_server.port), mappings)
    seen = counted(driver)
    await driver.connect()
    try:
        samples = await driver.poll()
        assert len(seen) == 1 and s7_server.reads == [(SrvArea.DB, 1, 0, 20)]
        assert [s.value for s in samples] == [offset * 100 for offset in range(0, 20, 2)]

        # Within the gap (DBW52 starts 32 bytes after DBW18 ends) it joins; DBW120 is too far.
        wider = S7Driver(s7_source(s7_server.port), [*mappings, tag("DB1.DBW52"), tag("DB1.DBW120")])
        seen_wider = counted(wider)
        await wider.connect()
        try:
            s7_server.reads.clear()
            assert len(await wider.poll()) == 12
        finally:
            await wider.close()
        assert len(seen_wider) == 2 and s7_server.reads == [(SrvArea.DB, 1, 0, 54), (SrvArea.DB, 1, 120, 2)]
    finally:
        await driver.close()


async def test_a_request_never_exceeds_the_negotiated_pdu(s7_server: S7Sim) -> None:
    offsets = range(0, 600, 4)  # 150 DINTs back to back: 600 bytes
    for offset in offsets:
        s7_server.set(f"DB3.DBD{offset}", offset - 300)
    driver = S7Driver(s7_source(s7_server.port), [tag(f"DB3.DBD{offset}") for offset in offsets])
    assert max(b.size for b in driver.plan) <= FALLBACK_PDU_BYTES - READ_OVERHEAD_BYTES  # before connect
    await driver.connect()
    try:
        samples = await driver.poll()
    finally:
        await driver.close()
    assert driver.pdu_length == 480  # what snap7's server agrees to
    assert s7_server.reads == [(SrvArea.DB, 3, 0, 460), (SrvArea.DB, 3, 460, 140)]  # 462 bytes fit; 464 would not
    assert [s.value for s in samples] == [offset - 300 for offset in offsets]


async def test_a_change_in_plc_memory_is_seen_at_the_next_poll(s7_server: S7Sim) -> None:
    s7_server.set("MD4:REAL", 1.5)
    s7_server.set("DB1.DBX3.2", False)
    driver = S7Driver(s7_source(s7_server.port), [tag("MD4", type="REAL"), tag("DB1.DBX3.2")])
    collector = Collector()
    async with running(driver, collector):
        await collector.wait_for(lambda s: s.tag == "MD4" and s.value == 1.5)
        emitted = len(collector.batches)
        s7_server.set("MD4:REAL", 2.25)
        s7_server.set("DB1.DBX3.2", True)
        await collector.wait_for(lambda s: s.tag == "MD4" and s.value == 2.25)
        await collector.wait_for(lambda s: s.tag == "DB1.DBX3.2" and s.value is True)
    # A poll in flight at the change may carry the old values; the one after it must not.
    first_new = next(i for i, batch in enumerate(collector.batches) if {s.value for s in batch} == {2.25, True})
    assert first_new <= emitted + 1


async def test_bad_addresses_give_bad_samples_while_good_tags_keep_coming(s7_server: S7Sim) -> None:
    s7_server.set("DB1.DBW240", 7)
    mappings = [
        tag("DB1.DBW240"),  # fine, but coalesced with DBD254, which runs past the end of DB1's 256 bytes
        tag("DB1.DBD254"),
        tag("DB9.DBW0"),  # there is no DB9
        tag("DB1.DBW"),  # not an address at all
        tag("MW0"),
    ]
    driver = S7Driver(s7_source(s7_server.port), mappings)
    assert spans(driver.plan)[0] == ("DB", 1, 240, 18)
    seen = counted(driver)
    collector = Collector()
    async with running(driver, collector) as task:
        first, second = await collector.wait_batches(2)
        s7_server.set("DB1.DBW240", 8)
        s7_server.set("MW0", -1)
        await collector.wait_for(lambda s: s.tag == "DB1.DBW240" and s.value == 8)
        await collector.wait_for(lambda s: s.tag == "MW0" and s.value == -1)
        assert not task.done()
    for batch in (first, second):
        by_tag = {s.tag: s for s in batch}
        assert {t for t, s in by_tag.items() if s.quality is Quality.BAD} == {"DB1.DBD254", "DB9.DBW0", "DB1.DBW"}
        assert by_tag["DB1.DBW240"].value == 7 and by_tag["MW0"].value == 0
        assert all(by_tag[t].value is None for t in ("DB1.DBD254", "DB9.DBW0", "DB1.DBW"))
        assert by_tag["DB1.DBD254"].error == "DB1 has 256 bytes; DB1.DBD254 needs bytes 254-257"
        assert by_tag["DB9.DBW0"].error == "DB9 does not exist on the PLC"
        assert (by_tag["DB1.DBW"].error or "").startswith('"DB1.DBW" is not an S7 address: the byte offset is missing')
    # The refused block was split for good: later polls do not send the read that fails.
    assert ("DB", 1, 240, 18) not in spans(driver.plan)
    assert ("DB", 1, 240, 2) in spans(driver.plan)
    assert any(not ok for _, ok in seen) and any(ok for _, ok in seen)


async def test_bad_real_and_bad_string_are_bad_samples(s7_server: S7Sim) -> None:
    s7_server.set("MD0:REAL", math.nan)
    s7_server.dbs[2][0:6] = b"\x04\x09abcd"  # says 9 characters in a STRING[4]
    driver = S7Driver(s7_source(s7_server.port), [tag("MD0:REAL"), tag("DB2.DBB0:STRING[4]")])
    await driver.connect()
    try:
        by_tag = {s.tag: s for s in await driver.poll()}
    finally:
        await driver.close()
    real, string = by_tag["MD0:REAL"], by_tag["DB2.DBB0:STRING[4]"]
    assert (real.quality, real.value, real.error) == (Quality.BAD, None, "REAL is nan")
    assert (string.quality, string.value) == (Quality.BAD, None)
    assert string.error == "DB2.DBB0:STRING[4]: the STRING's current length 9 exceeds its maximum 4"


@pytest.mark.parametrize(("settings", "calling", "called", "where"), [
    ({}, 0x0100, 0x0101, "rack 0 slot 1"),
    ({"rack": 0, "slot": 2}, 0x0100, 0x0102, "rack 0 slot 2"),  # an S7-300
    ({"rack": 1, "slot": 3}, 0x0100, 0x0123, "rack 1 slot 3"),
    ({"local_tsap": "10.00", "remote_tsap": "03.01"}, 0x1000, 0x0301, "TSAP 10.00/03.01"),
    ({"local_tsap": "4D.57", "remote_tsap": "4D.57", "slot": 2}, 0x4D57, 0x4D57, "TSAP 4D.57/4D.57"),
])
async def test_rack_slot_and_tsaps_reach_the_wire(s7_server: S7Sim, settings: dict[str, Any], calling: int,
                                                  called: int, where: str) -> None:
    s7_server.set("MW2", 42)
    driver = S7Driver(s7_source(s7_server.port, **settings), [tag("MW2")])
    assert driver.where == f"s7 127.0.0.1:{s7_server.port} {where}"
    with recorded_tsaps() as seen:
        await driver.connect()
        try:
            [sample] = await driver.poll()
        finally:
            await driver.close()
    assert sample.value == 42
    assert seen == [(calling, called)]


async def test_connect_to_a_dead_port_names_the_device(free_port: int) -> None:
    driver = S7Driver(s7_source(free_port, slot=2), [tag("MW0")])
    started = time.monotonic()
    with pytest.raises(DriverError, match=f"s7 127.0.0.1:{free_port} rack 0 slot 2: cannot connect: .*refused"):
        await driver.connect()
    assert time.monotonic() - started < 2
    await driver.close()
    await driver.close()


async def test_a_malformed_tsap_fails_connect_not_the_factory() -> None:
    driver = make_driver(s7_source(102, local_tsap="0100", remote_tsap="03.01"), [tag("MW0")], config_path=None)
    with pytest.raises(DriverError, match=r"TSAP 0100/03.01: TSAP '0100' must be two hex bytes with a dot"):
        await driver.connect()


async def test_close_ends_run_and_is_idempotent(s7_server: S7Sim) -> None:
    driver = S7Driver(s7_source(s7_server.port, poll_interval_s=10), [tag("MW0")])
    collector = Collector()
    await driver.connect()
    task = asyncio.create_task(driver.run(collector))
    await collector.wait_batches(1)
    await driver.close()
    await asyncio.wait_for(task, 2)  # returns, does not raise
    await driver.close()
    assert len(collector.batches) == 1


async def test_a_slow_plc_never_blocks_the_event_loop(s7_server: S7Sim) -> None:
    answer = threading.Event()
    s7_server.set("MW0", 5)
    s7_server.before_reply = lambda: answer.wait(5)  # the PLC holds each answer until told
    driver = S7Driver(s7_source(s7_server.port, timeout_s=4.0), [tag("MW0")])
    await driver.connect()
    try:
        poll = asyncio.create_task(driver.poll())
        ticks = 0
        for _ in range(5):  # if the read blocked the loop, these ticks could only run after it
            await asyncio.sleep(0.02)
            ticks += 1
        assert ticks == 5 and not poll.done()
        answer.set()
        [sample] = await asyncio.wait_for(poll, 3)
    finally:
        answer.set()
        await driver.close()
    assert sample.value == 5


async def test_timeout_s_bounds_a_read_the_plc_never_answers(s7_server: S7Sim) -> None:
    answer = threading.Event()
    s7_server.before_reply = lambda: answer.wait(5)
    driver = S7Driver(s7_source(s7_server.port, timeout_s=0.3), [tag("MW0")])
    await driver.connect()
    started = time.monotonic()
    try:
        # snap7's own socket timeout is 5 s; the driver gives up after the source's 0.3 s.
        with pytest.raises(DriverError, match=r"rack 0 slot 1: error reading MB0 \(2 bytes\): Receive timeout"):
            await asyncio.wait_for(driver.poll(), 3)
    finally:
        answer.set()
        await driver.close()
    assert time.monotonic() - started < 2.5


async def test_close_during_a_read_the_plc_holds_returns_at_once(s7_server: S7Sim) -> None:
    asked, answer = threading.Event(), threading.Event()

    def hold() -> None:
        asked.set()
        answer.wait(5)

    s7_server.before_reply = hold
    driver = S7Driver(s7_source(s7_server.port, timeout_s=4.0), [tag("MW0")])
    collector = Collector()
    await driver.connect()
    task = asyncio.create_task(driver.run(collector))
    try:
        assert await asyncio.to_thread(asked.wait, 3)  # the read is now waiting on the PLC
        started = time.monotonic()
        await driver.close()
        # Without shutting the socket, close() would wait CLOSE_WAIT_S for the read to let go.
        assert time.monotonic() - started < CLOSE_WAIT_S * 0.6
        await asyncio.wait_for(task, 1)  # run() returns without raising and without a batch
        assert collector.batches == []
    finally:
        answer.set()
        await driver.close()


async def test_server_loss_raises_and_a_restarted_server_is_read_again(s7_server: S7Sim) -> None:
    s7_server.set("DB1.DBD0:REAL", 11.5)
    port = s7_server.port
    source = s7_source(port, rack=0, slot=2)
    driver = S7Driver(source, [tag("DB1.DBD0", type="REAL")])
    collector = Collector()
    await driver.connect()
    task = asyncio.create_task(driver.run(collector))
    await collector.wait_for(lambda s: s.value == 11.5)

    started = time.monotonic()
    await s7_server.stop()
    with pytest.raises(DriverError, match=f"s7 127.0.0.1:{port} rack 0 slot 2: error reading DB1.DBB0 "):
        await asyncio.wait_for(task, 5)
    assert time.monotonic() - started < 4
    with pytest.raises(DriverError, match="cannot connect"):  # nothing listens now
        await driver.connect()
    await driver.close()

    s7_server.set("DB1.DBD0:REAL", 22.5)
    s7_server.start(port)  # a new server on the same port
    assert s7_server.port == port
    for again in (driver, S7Driver(source, [tag("DB1.DBD0", type="REAL")])):  # the same driver, and a new one
        collector = Collector()
        async with running(again, collector):
            sample = await collector.wait_for(lambda s: s.tag == "DB1.DBD0")
        assert (sample.value, sample.quality) == (22.5, Quality.GOOD)


async def test_source_runner_marks_offline_and_reconnects(s7_server: S7Sim) -> None:
    s7_server.set("MW10", 1)
    port = s7_server.port
    runner = SourceRunner(s7_source(port, reconnect_min_s=0.05, reconnect_max_s=0.2), [tag("MW10")],
                          partial(make_driver, config_path=None))
    runner_task = asyncio.create_task(runner.run())

    async def next_sample(predicate: Callable[[TagSample], bool]) -> TagSample:
        while True:
            for sample in await runner.queue.get():
                if predicate(sample):
                    return sample

    try:
        await asyncio.wait_for(next_sample(lambda s: s.value == 1), 5)
        await s7_server.stop()
        offline = await asyncio.wait_for(next_sample(lambda s: s.quality is Quality.BAD), 5)
        assert offline.tag == "MW10" and f"s7 127.0.0.1:{port} rack 0 slot 1" in (offline.error or "")
        s7_server.set("MW10", 2)
        s7_server.start(port)
        back = await asyncio.wait_for(next_sample(lambda s: s.quality is Quality.GOOD), 5)
        assert back.value == 2
        assert runner.health.reconnects >= 1 and runner.health.connected
    finally:
        runner_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner_task


async def test_read_once_reports_each_tag_with_its_s7_type_and_latency(s7_server: S7Sim) -> None:
    s7_server.set("DB1.DBD4:REAL", 3.5)
    s7_server.set("DB1.DBB8:STRING[6]", "OK")
    s7_server.set("I0.3", True)
    mappings = [tag("DB1.DBD4", type="REAL"), tag("DB1.DBB8:STRING[6]"), tag("I0.3"), tag("DB9.DBW0"),
                tag("QW2:REAL"), tag("DB1.DBW0:WORD")]
    driver = S7Driver(s7_source(s7_server.port), mappings)
    seen = counted(driver)
    await driver.connect()
    try:
        readings = await driver.read_once()
    finally:
        await driver.close()
    assert [(r.tag, r.value, r.type, r.quality) for r in readings] == [
        ("DB1.DBD4", 3.5, "REAL", Quality.GOOD),
        ("DB1.DBB8:STRING[6]", "OK", "STRING[6]", Quality.GOOD),
        ("I0.3", True, "BOOL", Quality.GOOD),
        ("DB9.DBW0", None, "INT", Quality.BAD),
        ("QW2:REAL", None, "?", Quality.BAD),
        ("DB1.DBW0:WORD", 0, "WORD", Quality.GOOD),
    ]
    assert readings[3].error == "DB9 does not exist on the PLC"
    assert (readings[4].error or "").startswith('"QW2:REAL" cannot be read as REAL')
    assert all(r.latency_s > 0 for r in readings if r.tag != "QW2:REAL")
    assert len(seen) == 5  # one request per readable tag, so each latency is the tag's own


async def test_a_missing_or_short_db_is_named_as_such_and_the_source_stays_up(s7_server: S7Sim) -> None:
    s7_server.set("DB2.DBW60", 5)
    mappings = [tag("DB2.DBW60"), tag("DB2.DBD62"), tag("DB2.DBB64"), tag("DB7.DBX0.0"), tag("DB7.DBW10"),
                tag("MW2")]
    driver = S7Driver(s7_source(s7_server.port), mappings)
    collector = Collector()
    async with running(driver, collector) as task:
        first, _second, third = await collector.wait_batches(3)
        s7_server.set("MW2", 9)
        await collector.wait_for(lambda s: s.tag == "MW2" and s.value == 9)
        assert not task.done()
    for batch in (first, third):
        by_tag = {s.tag: s for s in batch}
        assert (by_tag["DB2.DBW60"].value, by_tag["DB2.DBW60"].quality) == (5, Quality.GOOD)
        assert {t: (s.quality, s.value, s.error) for t, s in by_tag.items() if t != "DB2.DBW60" and t != "MW2"} == {
            "DB2.DBD62": (Quality.BAD, None, "DB2 has 64 bytes; DB2.DBD62 needs bytes 62-65"),
            "DB2.DBB64": (Quality.BAD, None, "DB2 has 64 bytes; DB2.DBB64 needs byte 64"),
            "DB7.DBX0.0": (Quality.BAD, None, "DB7 does not exist on the PLC"),
            "DB7.DBW10": (Quality.BAD, None, "DB7 does not exist on the PLC"),
        }
    assert s7_server.server is not None


async def test_the_length_of_a_db_is_learnt_once_per_connection(s7_server: S7Sim) -> None:
    driver = S7Driver(s7_source(s7_server.port), [tag("DB3.DBD998"), tag("DB3.DBW1000")])
    await driver.connect()
    try:
        first = await driver.read_once()
        reads_after_first = len(s7_server.reads)
        second = await driver.read_once()
    finally:
        await driver.close()
    assert [r.error for r in first] == [r.error for r in second] == [
        "DB3 has 1000 bytes; DB3.DBD998 needs bytes 998-1001", "DB3 has 1000 bytes; DB3.DBW1000 needs bytes 1000-1001"]
    # The server records the reads it serves: not the refused tag reads, but the probes inside DB3. The
    # first refusal searched for DB3's end (a binary search over 1002 bytes: at most 10 probes served);
    # the second read_once reused what it found and probed nothing.
    assert 0 < reads_after_first <= 10
    assert len(s7_server.reads) == reads_after_first
