"""Modbus driver: pure decode and planning, then against a real pymodbus server on loopback."""

from __future__ import annotations

import asyncio
import itertools
import math
import struct
import time

import pytest

from oee_tui.drivers.base import DriverError
from oee_tui.drivers.modbus.modbus_driver import (
    ModbusDriver,
    ModbusPoint,
    ReadBlock,
    decode_registers,
    encode_value,
    parse_point,
    plan_reads,
    split_block,
)
from oee_tui.drivers.registry import kind_named, make_driver
from oee_tui.model import Quality
from tests.drivers.conftest import Collector, ModbusSim, modbus_source, running, tag

ORDERS = ("big", "little")
REGISTER_TYPES = ("int16", "uint16", "int32", "uint32", "float32")
# One value per type that uses every byte, so a swapped byte or word shows.
VALUES: dict[str, int | float] = {
    "int16": -12345,
    "uint16": 0xBEEF,
    "int32": -123456789,
    "uint32": 0xDEADBEEF,
    "float32": -1234.5,  # exactly representable
}


def point(address: int, type: str = "uint16", area: str = "hr") -> ModbusPoint:
    return ModbusPoint(f"{area}:{address}", area, address, type)


# ---------------------------------------------------------------- decoding


@pytest.mark.parametrize(("regs", "type", "byte_order", "word_order", "expected"), [
    ([0x1234], "uint16", "big", "big", 0x1234),
    ([0x3412], "uint16", "little", "big", 0x1234),
    ([0xFFFF], "int16", "big", "big", -1),
    ([0x8000], "int16", "big", "big", -32768),
    ([0x0080], "int16", "little", "big", -32768),
    ([0x1234, 0x5678], "uint32", "big", "big", 0x12345678),
    ([0x5678, 0x1234], "uint32", "big", "little", 0x12345678),
    ([0x3412, 0x7856], "uint32", "little", "big", 0x12345678),
    ([0x7856, 0x3412], "uint32", "little", "little", 0x12345678),
    ([0xFFFF, 0xFFFE], "int32", "big", "big", -2),
    ([0xFEFF, 0xFFFF], "int32", "little", "little", -2),
    ([0x3F80, 0x0000], "float32", "big", "big", 1.0),
    ([0x0000, 0x3F80], "float32", "big", "little", 1.0),
    ([0x803F, 0x0000], "float32", "little", "big", 1.0),
    ([0x0000, 0x803F], "float32", "little", "little", 1.0),
    ([0x4049, 0x0FDB, 0x9999], "float32", "big", "big", struct.unpack(">f", bytes.fromhex("40490FDB"))[0]),
])
def test_decode_registers_known_vectors(regs: list[int], type: str, byte_order: str, word_order: str,
                                        expected: float) -> None:
    assert decode_registers(regs, type, byte_order, word_order) == expected


@pytest.mark.parametrize(("type", "byte_order", "word_order"), itertools.product(REGISTER_TYPES, ORDERS, ORDERS))
def test_encode_decode_round_trip(type: str, byte_order: str, word_order: str) -> None:
    regs = encode_value(VALUES[type], type, byte_order, word_order)
    assert len(regs) == (1 if type.endswith("16") else 2)
    assert all(0 <= r <= 0xFFFF for r in regs)
    assert decode_registers(regs, type, byte_order, word_order) == VALUES[type]


def test_decode_rejects_unknown_type_and_short_input() -> None:
    with pytest.raises(ValueError, match="unknown register type"):
        decode_registers([1, 2], "int64")
    with pytest.raises(ValueError, match="needs 2 registers"):
        decode_registers([1], "uint32")


def test_parse_point_defaults_and_overrides() -> None:
    source = modbus_source(502, byte_order="little", word_order="little")
    assert parse_point(tag("co:7"), source) == ModbusPoint("co:7", "co", 7, "bool", "little", "little")
    assert parse_point(tag("hr:3"), source).type == "uint16"
    p = parse_point(tag("ir:10", type="float32", word_order="big"), source)
    assert (p.area, p.address, p.type, p.byte_order, p.word_order, p.size) == ("ir", 10, "float32", "little",
                                                                               "big", 2)
    with pytest.raises(ValueError, match="not a Modbus address"):
        parse_point(tag("x:1"), source)
    with pytest.raises(ValueError, match="bit area"):
        parse_point(tag("di:1", type="uint16"), source)


# ---------------------------------------------------------------- planning


def test_plan_reads_coalesces_adjacent_and_nearby_points() -> None:
    points = [point(100), point(101), point(102, "uint32"), point(110), point(125)]
    blocks = plan_reads(points, max_registers=120, max_gap=8)
    assert [(b.area, b.start, b.count) for b in blocks] == [("hr", 100, 11), ("hr", 125, 1)]
    assert [p.tag for p in blocks[0].points] == ["hr:100", "hr:101", "hr:102", "hr:110"]


def test_plan_reads_respects_the_register_limit_and_never_splits_a_value() -> None:
    points = [point(a, "uint32") for a in range(0, 40, 2)]  # 40 registers back to back
    blocks = plan_reads(points, max_registers=16)
    assert [(b.start, b.count) for b in blocks] == [(0, 16), (16, 16), (32, 8)]
    # 15 registers used, then a uint32 that would make 17: it starts the next block.
    points = [point(a, "uint32") for a in range(0, 14, 2)] + [point(14), point(15, "uint32")]
    blocks = plan_reads(points, max_registers=16)
    assert [(b.start, b.count) for b in blocks] == [(0, 15), (15, 2)]
    assert all(b.count <= 16 for b in blocks)


def test_plan_reads_keeps_areas_apart_and_orders_by_function_code() -> None:
    points = [point(5, area="ir"), point(5), point(5, "bool", "di"), point(5, "bool", "co"), point(6)]
    blocks = plan_reads(points)
    assert [(b.area, b.start, b.count, b.function_code) for b in blocks] == [
        ("co", 5, 1, 1), ("di", 5, 1, 2), ("hr", 5, 2, 3), ("ir", 5, 1, 4)]


def test_plan_reads_bits_up_to_2000_and_with_larger_gaps() -> None:
    bits = [point(a, "bool", "co") for a in range(0, 4000, 50)]
    blocks = plan_reads(bits, max_registers=10)  # the register limit does not apply to bits
    assert [(b.start, b.count) for b in blocks] == [(0, 1951), (2000, 1951)]
    assert plan_reads([point(0, "bool", "di"), point(65, "bool", "di")], max_bit_gap=64)[0].count == 66
    assert len(plan_reads([point(0, "bool", "di"), point(66, "bool", "di")], max_bit_gap=64)) == 2


def test_plan_reads_overlapping_points_share_registers() -> None:
    blocks = plan_reads([point(10, "int32"), point(11), point(10)])
    assert [(b.start, b.count, len(b.points)) for b in blocks] == [(10, 2, 3)]


def test_plan_reads_gap_limit_and_empty_input() -> None:
    assert plan_reads([]) == []
    assert len(plan_reads([point(0), point(9)], max_gap=8)) == 1
    assert len(plan_reads([point(0), point(10)], max_gap=8)) == 2
    assert len(plan_reads([point(0), point(1)], max_gap=0)) == 1


def test_split_block_gives_one_block_per_point() -> None:
    block = ReadBlock("hr", 10, 6, (point(10), point(14, "float32")))
    assert split_block(block) == [ReadBlock("hr", 10, 1, (point(10),)),
                                  ReadBlock("hr", 14, 2, (point(14, "float32"),))]


def test_make_driver_picks_by_kind_and_dedupes_tags() -> None:
    source = modbus_source(502)
    driver = make_driver(source, [tag("hr:1"), tag("hr:1"), tag("hr:2"), tag("bogus")], config_path=None)
    assert isinstance(driver, ModbusDriver)
    assert driver.name == "plc"
    assert [m.tag for m in driver.tags] == ["hr:1", "hr:2", "bogus"]
    assert list(driver.invalid) == ["bogus"]
    with pytest.raises(ValueError, match="unknown kind"):
        kind_named("profibus")


# ---------------------------------------------------------------- against a server


async def test_reads_every_type_and_byte_and_word_order(modbus_server: ModbusSim) -> None:
    mappings = []
    expected: dict[str, int | float] = {}
    address = 0
    for area, kind, byte_order, word_order in itertools.product(("hr", "ir"), REGISTER_TYPES, ORDERS, ORDERS):
        value = VALUES[kind]
        await modbus_server.set(area, address, encode_value(value, kind, byte_order, word_order))
        name = f"{area}:{address}"
        mappings.append(tag(name, type=kind, byte_order=byte_order, word_order=word_order))
        expected[name] = value
        address += 3  # leave a register unused between values: reads go through gaps
    driver = ModbusDriver(modbus_source(modbus_server.port), mappings)
    collector = Collector()
    async with running(driver, collector):
        batch = (await collector.wait_batches(1))[0]
    assert len(batch) == len(mappings) == 40
    assert {s.tag for s in batch} == set(expected)
    assert len({s.ts_utc for s in batch}) == 1, "one poll, one timestamp"
    assert abs(batch[0].ts_utc - time.time()) < 5
    for sample in batch:
        assert sample.quality is Quality.GOOD, sample
        assert sample.source == "plc"
        assert sample.value == expected[sample.tag], sample
        assert type(sample.value) is type(expected[sample.tag])


async def test_source_orders_apply_when_the_mapping_has_none(modbus_server: ModbusSim) -> None:
    await modbus_server.set("hr", 0, encode_value(0x12345678, "uint32", "little", "little"))
    source = modbus_source(modbus_server.port, byte_order="little", word_order="little")
    driver = ModbusDriver(source, [tag("hr:0", type="uint32"), tag("hr:0", type="uint32")])
    await driver.connect()
    try:
        [sample] = await driver.poll()
    finally:
        await driver.close()
    assert sample.value == 0x12345678


async def test_reads_coils_and_discrete_inputs(modbus_server: ModbusSim) -> None:
    await modbus_server.set("co", 0, [True, False, True])
    await modbus_server.set("di", 9, [True])
    await modbus_server.set("co", 200, [True])
    mappings = [tag(f"co:{a}") for a in (0, 1, 2, 200)] + [tag(f"di:{a}", type="bool") for a in (8, 9)]
    driver = ModbusDriver(modbus_source(modbus_server.port), mappings)
    collector = Collector()
    async with running(driver, collector):
        await collector.wait_batches(1)
        await modbus_server.set("co", 1, [True])
        await collector.wait_for(lambda s: s.tag == "co:1" and s.value is True)
    first = {s.tag: s.value for s in collector.batches[0]}
    assert first == {"co:0": True, "co:1": False, "co:2": True, "co:200": True, "di:8": False, "di:9": True}
    assert all(isinstance(s.value, bool) for s in collector.samples)


async def test_nearby_tags_are_read_in_few_requests(modbus_server: ModbusSim) -> None:
    await modbus_server.set("hr", 100, list(range(1, 61)))
    mappings = [tag(f"hr:{a}") for a in range(100, 160)]  # 60 registers
    mappings += [tag(f"hr:{a}", type="uint32") for a in range(300, 340, 4)]  # 10 values, 2-register gaps
    mappings += [tag(f"co:{a}") for a in range(0, 100, 5)]  # 20 bits
    driver = ModbusDriver(modbus_source(modbus_server.port, max_registers_per_read=50), mappings)
    assert [(b.area, b.start, b.count) for b in driver.plan] == [
        ("co", 0, 96), ("hr", 100, 50), ("hr", 150, 10), ("hr", 300, 38)]
    await driver.connect()
    try:
        before = modbus_server.requests
        samples = await driver.poll()
        assert modbus_server.requests - before == 4 == driver.requests
    finally:
        await driver.close()
    assert len(samples) == 90
    values = {s.tag: s.value for s in samples}
    assert [values[f"hr:{a}"] for a in range(100, 160)] == list(range(1, 61))


async def test_illegal_address_marks_only_those_tags_bad(modbus_server: ModbusSim) -> None:
    await modbus_server.set("hr", 990, [7, 0, 0, 0, 0, 0, 0, 0, 0, 0xFFFF])
    mappings = [
        tag("hr:5"),
        tag("hr:990"),  # fine, but coalesced with hr:999 whose second register (1000) does not exist
        tag("hr:999", type="uint32"),
        tag("hr:4000"),  # nowhere near: its own block
        tag("ir:1"),
        tag("co:9999"),
    ]
    driver = ModbusDriver(modbus_source(modbus_server.port), mappings)
    collector = Collector()
    async with running(driver, collector) as task:
        first, second = await collector.wait_batches(2)
        assert not task.done()
    for batch in (first, second):
        by_tag = {s.tag: s for s in batch}
        assert {t for t, s in by_tag.items() if s.quality is Quality.BAD} == {"hr:999", "hr:4000", "co:9999"}
        assert by_tag["hr:990"].value == 7 and by_tag["hr:5"].value == 0 and by_tag["ir:1"].value == 0
        for bad in ("hr:999", "hr:4000", "co:9999"):
            assert by_tag[bad].value is None
            assert "illegal data address" in (by_tag[bad].error or ""), by_tag[bad]
    assert "fc1" in (by_tag["co:9999"].error or "") and "hr:4000" in (by_tag["hr:4000"].error or "")
    # The refused block was split for good: the second poll sent no coalesced read that fails.
    assert ("hr", 990, 11) not in [(b.area, b.start, b.count) for b in driver.plan]


async def test_polls_at_a_fixed_rate(modbus_server: ModbusSim) -> None:
    driver = ModbusDriver(modbus_source(modbus_server.port, poll_interval_s=0.05), [tag("hr:1")])
    collector = Collector()
    async with running(driver, collector):
        batches = await collector.wait_batches(11)
    span = batches[10][0].ts_utc - batches[0][0].ts_utc
    assert 0.45 <= span <= 0.8, span
    assert all(len(b) == 1 for b in batches)


async def test_connect_to_a_dead_port_raises(free_port: int) -> None:
    driver = ModbusDriver(modbus_source(free_port), [tag("hr:1")])
    started = time.monotonic()
    with pytest.raises(DriverError, match=f"127.0.0.1:{free_port}"):
        await driver.connect()
    assert time.monotonic() - started < 2
    await driver.close()
    await driver.close()


async def test_close_ends_run_and_is_idempotent(modbus_server: ModbusSim) -> None:
    driver = ModbusDriver(modbus_source(modbus_server.port, poll_interval_s=10), [tag("hr:1")])
    collector = Collector()
    await driver.connect()
    task = asyncio.create_task(driver.run(collector))
    await collector.wait_batches(1)
    await driver.close()
    await asyncio.wait_for(task, 2)  # returns, does not raise
    await driver.close()
    assert len(collector.batches) == 1


async def test_server_loss_raises_and_a_restarted_server_is_read_again(modbus_server: ModbusSim) -> None:
    await modbus_server.set("hr", 1, [11])
    port = modbus_server.port
    source = modbus_source(port, poll_interval_s=0.05)
    driver = ModbusDriver(source, [tag("hr:1")])
    collector = Collector()
    await driver.connect()
    task = asyncio.create_task(driver.run(collector))
    await collector.wait_for(lambda s: s.value == 11)

    started = time.monotonic()
    await modbus_server.stop()
    with pytest.raises(DriverError, match=f"127.0.0.1:{port}"):
        await asyncio.wait_for(task, 3)
    assert time.monotonic() - started < 2
    with pytest.raises(DriverError):  # nothing listens now
        await driver.connect()
    await driver.close()

    await modbus_server.start(port)  # a new server, same port, fresh registers
    assert modbus_server.port == port
    await modbus_server.set("hr", 1, [22])
    for again in (driver, ModbusDriver(source, [tag("hr:1")])):  # the same driver object, and a new one
        collector = Collector()
        async with running(again, collector):
            sample = await collector.wait_for(lambda s: s.tag == "hr:1")
        assert (sample.value, sample.quality) == (22, Quality.GOOD)


async def test_nan_float_is_bad(modbus_server: ModbusSim) -> None:
    await modbus_server.set("hr", 0, encode_value(math.nan, "float32"))
    driver = ModbusDriver(modbus_source(modbus_server.port), [tag("hr:0", type="float32")])
    await driver.connect()
    try:
        [sample] = await driver.poll()
    finally:
        await driver.close()
    assert sample.quality is Quality.BAD and sample.value is None
