"""The demo plant: the simulation on its own (stepped by hand), its config, and its real servers."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest
import snap7
from asyncua import Client
from pymodbus.client import AsyncModbusTcpClient

from oee_tui.demo.servers import (
    DEMO_MACHINES,
    MODBUS_MACHINES,
    MODBUS_UNIT,
    OPCUA_MACHINES,
    OPCUA_NAMESPACE_URI,
    S7_DB,
    S7_DB_BYTES,
    S7_MACHINES,
    DemoPlant,
    build_simulation,
    demo_config,
    demo_config_dict,
    opcua_node_id,
    s7_db_image,
    s7_tag,
)
from oee_tui.demo.simulation import (
    CHANGEOVER,
    DOWN,
    PLANNED_STOP,
    RUNNING,
    STOPPED,
    BreakCalendar,
)
from oee_tui.drivers.registry import config_from_dict
from oee_tui.drivers.s7.address import decode, parse_s7_address
from oee_tui.model import Signal
from tests.demo.conftest import SERVER_TIMEOUT_S

BERLIN = ZoneInfo("Europe/Berlin")
# Monday 08:30 in Berlin: two hours from here include the 09:30-09:45 break.
START = datetime(2024, 3, 4, 8, 30, tzinfo=BERLIN).timestamp()
TWO_HOURS = 7200
T = TypeVar("T")


@dataclass
class Trace:
    """What the simulation did, second by second, per machine."""

    states: dict[str, list[int]] = field(default_factory=dict)
    products: dict[str, list[int | str]] = field(default_factory=dict)
    faults: dict[str, list[bool]] = field(default_factory=dict)
    made: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    wraps: dict[str, int] = field(default_factory=dict)
    counters: dict[str, list[tuple[int, int, int]]] = field(default_factory=dict)


def simulate(seed: int, seconds: int, start: float = START) -> Trace:
    plant = build_simulation(demo_config(), seed)
    trace = Trace()
    previous = {mid: (m.total, m.reject) for mid, m in plant.machines.items()}
    for mid in plant.machines:
        for series in (trace.states, trace.products, trace.faults, trace.counters):
            series[mid] = []
        trace.made[mid] = trace.rejected[mid] = trace.wraps[mid] = 0
    for second in range(1, seconds + 1):
        plant.step(start + second, 1.0)
        for mid, machine in plant.machines.items():
            total, reject = previous[mid]
            trace.made[mid] += (machine.total - total) % machine.modulus
            trace.rejected[mid] += (machine.reject - reject) % machine.modulus
            trace.wraps[mid] += machine.total < total
            previous[mid] = (machine.total, machine.reject)
            trace.states[mid].append(machine.state_code)
            trace.products[mid].append(machine.product)
            trace.faults[mid].append(machine.fault)
            trace.counters[mid].append((machine.total, machine.reject, machine.good))
    return trace


@pytest.fixture(scope="module")
def two_hours() -> Trace:
    return simulate(seed=7, seconds=TWO_HOURS)


# ---------------------------------------------------------------- simulation


def test_two_hours_show_every_state_code(two_hours: Trace) -> None:
    seen = {state for states in two_hours.states.values() for state in states}
    assert seen == {RUNNING, STOPPED, DOWN, CHANGEOVER, PLANNED_STOP}
    # Someone watching the first five minutes sees more than green machines.
    first_five_minutes = {state for states in two_hours.states.values() for state in states[:300]}
    assert len(first_five_minutes) >= 2
    for machine, states in two_hours.states.items():
        # Every machine runs most of the time and has several minor stops.
        assert states.count(RUNNING) > 0.4 * len(states), machine
        entries = sum(1 for before, after in itertools.pairwise(states)
                      if after == STOPPED and before != STOPPED)
        assert entries >= 5, machine


def test_minor_stops_breakdowns_and_changeovers_last_realistic_times(two_hours: Trace) -> None:
    lengths: dict[int, list[int]] = {STOPPED: [], DOWN: [], CHANGEOVER: []}
    for states in two_hours.states.values():
        run_state, run_length = states[0], 0
        complete = False  # the first run may have started before the trace
        for state in states:
            if state == run_state:
                run_length += 1
                continue
            if complete and run_state in lengths:
                lengths[run_state].append(run_length)
            run_state, run_length, complete = state, 1, True
    # A break can cut a minor stop short; otherwise the documented ranges hold.
    assert lengths[STOPPED] and max(lengths[STOPPED]) <= 90
    assert lengths[DOWN] and all(180 <= n <= 721 for n in lengths[DOWN])
    assert lengths[CHANGEOVER] and all(240 <= n <= 601 for n in lengths[CHANGEOVER])


def test_planned_break_stops_the_plant(two_hours: Trace) -> None:
    # 09:31 to 09:44 Berlin: inside the Early shift's break, away from its edges.
    inside = range(61 * 60, 74 * 60)
    for machine, states in two_hours.states.items():
        during = {states[i] for i in inside}
        # Repairs and changeovers carry on through a break; nothing runs.
        assert PLANNED_STOP in during, machine
        assert during <= {PLANNED_STOP, DOWN, CHANGEOVER}, machine
    assert not any(PLANNED_STOP in states[: 55 * 60] for states in two_hours.states.values())


def test_sixteen_bit_counters_wrap_and_stay_in_range(two_hours: Trace) -> None:
    for machine in MODBUS_MACHINES:
        assert two_hours.wraps[machine.id] >= 1, machine.id
        assert all(0 <= total < 65536 and 0 <= reject < 65536 for total, reject, _ in two_hours.counters[machine.id])
    for machine in OPCUA_MACHINES + S7_MACHINES:
        assert all(0 <= total < 2**32 for total, _, _ in two_hours.counters[machine.id])


def test_a_sixteen_bit_counter_wraps_within_minutes() -> None:
    trace = simulate(seed=7, seconds=15 * 60)
    assert any(trace.wraps[machine.id] for machine in MODBUS_MACHINES)


def test_every_s7_dint_total_turns_negative_within_minutes() -> None:
    # The S7 totals start just below 2**31: the DINT the PLC holds goes from
    # 2147483647 to -2147483648 there, which the engine must count as one part.
    trace = simulate(seed=7, seconds=15 * 60)
    for machine in S7_MACHINES:
        totals = [total for total, _, _ in trace.counters[machine.id]]
        assert totals[0] < 2**31 <= totals[-1], machine.id
        assert trace.wraps[machine.id] == 0, machine.id  # counted on, modulo 2**32, without a wrap


def test_rejects_are_counted_at_a_plausible_rate(two_hours: Trace) -> None:
    for machine in DEMO_MACHINES:
        made, rejected = two_hours.made[machine.id], two_hours.rejected[machine.id]
        assert made > 1000, machine.id
        assert 0 < rejected < 0.06 * made, machine.id
    plant_scrap = sum(two_hours.rejected.values()) / sum(two_hours.made.values())
    assert 0.005 <= plant_scrap <= 0.04
    # Good parts are total minus rejects, modulo the counter width.
    for machine in OPCUA_MACHINES:
        for total, reject, good in two_hours.counters[machine.id]:
            assert good == (total - reject) % 2**32


def test_changeover_changes_the_product_and_fault_means_down(two_hours: Trace) -> None:
    changes = 0
    for machine, states in two_hours.states.items():
        products = two_hours.products[machine]
        for i in range(1, len(states)):
            if products[i] != products[i - 1]:
                changes += 1
                assert states[i - 1] == CHANGEOVER, machine  # products change only at the end of a changeover
        assert all(fault == (state == DOWN) for fault, state in zip(two_hours.faults[machine], states, strict=True))
    assert changes >= 3


def test_simulation_is_deterministic_for_a_seed() -> None:
    first, again, other = simulate(7, 1800), simulate(7, 1800), simulate(8, 1800)
    assert first.states == again.states
    assert first.counters == again.counters
    assert first.products == again.products
    assert first.counters != other.counters


def test_break_calendar_handles_zones_and_midnight() -> None:
    calendar = BreakCalendar([("09:30", "09:45"), ("23:50", "00:10")], "Europe/Berlin")

    def at(hour: int, minute: int) -> float:
        return datetime(2024, 7, 1, hour, minute, tzinfo=BERLIN).timestamp()

    assert calendar(at(9, 30)) and calendar(at(9, 44))
    assert not calendar(at(9, 29)) and not calendar(at(9, 45))
    assert calendar(at(23, 55)) and calendar(at(0, 5)) and not calendar(at(0, 10))
    # 09:35 in Berlin (summer time) is 07:35 UTC: outside a UTC calendar's break.
    assert not BreakCalendar([("09:30", "09:45")], "UTC")(at(9, 35))


# ---------------------------------------------------------------- config


def _toml_types_only(value: object) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _toml_types_only(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_toml_types_only(v) for v in value)
    return isinstance(value, str | int | float | bool)


def test_demo_config_dict_validates() -> None:
    data = demo_config_dict(15020, 14840, 11102, "America/Chicago")
    assert _toml_types_only(data)
    config = config_from_dict(data)
    assert config.site.name == "Demo Works" and config.site.timezone == "America/Chicago"
    assert [(line.id, line.name, line.area) for line in config.lines] == [
        ("L1", "Bottling", "Hall A"), ("L2", "Canning", "Hall B"), ("L3", "Packaging", "Hall C")]
    assert config.source("demo-modbus").port == 15020
    assert config.source("demo-opcua").endpoint == "opc.tcp://127.0.0.1:14840/oee-demo/"
    s7 = config.source("demo-s7")
    assert (s7.kind, s7.host, s7.port, s7.rack, s7.slot, s7.poll_interval_s) == ("s7", "127.0.0.1", 11102, 0, 1, 1.0)
    assert [m.id for m in config.machines] == [m.id for m in DEMO_MACHINES]
    assert len(config.machines) == 11
    modbus = [m for m in config.machines if m.line == "L1"]
    opcua = [m for m in config.machines if m.line == "L2"]
    packaging = [m for m in config.machines if m.line == "L3"]
    assert [m.name for m in packaging] == ["Cartoner", "Case sealer", "Palletizer"]
    # Exactly one Modbus machine has only counters: the engine derives its state.
    assert [m.id for m in modbus if Signal.STATE_CODE not in m.signals] == ["L1-DEPAL"]
    assert all(m.signals[Signal.TOTAL_COUNT].width == 16 for m in modbus)
    assert any(Signal.GOOD_COUNT in m.signals and Signal.REJECT_COUNT not in m.signals for m in opcua)
    assert all(mapping.tag.startswith("ns=2;s=L2.") for m in opcua for mapping in m.signals.values())
    # Line 3 maps every signal of its struct, with the PLC's own types and counter widths.
    assert [(signal.value, mapping.tag, mapping.type, mapping.width)
            for signal, mapping in packaging[0].signals.items()] == [
        ("state_code", "DB1.DBW6", "int", None), ("total_count", "DB1.DBD0", "dint", 32),
        ("reject_count", "DB1.DBW4", "int", 16), ("speed", "DB1.DBD8:REAL", "real", None),
        ("product", "DB1.DBW12", "int", None), ("fault", "DB1.DBX14.0", "bool", None)]
    assert packaging[2].signals[Signal.TOTAL_COUNT].tag == "DB1.DBD32"
    assert all(m.signals[s].source == "demo-s7" for m in packaging for s in m.signals)
    for machine, spec in zip(config.machines, DEMO_MACHINES, strict=True):
        assert 0.3 <= machine.ideal_cycle_time_s <= 1.5
        assert machine.product_cycle_times == {str(code): t for code, t in spec.products.items()}
    assert demo_config().source("demo-s7").port == 1102  # the placeholder `oee report --demo` names
    assert [(s.name, s.start, s.end) for s in config.shifts] == [
        ("Early", "06:00", "14:00"), ("Late", "14:00", "22:00"), ("Night", "22:00", "06:00")]
    jam = config.reason("FAIL.JAM")
    assert jam is not None and jam.parent == "FAIL" and jam.loss is not None and jam.loss.value == "breakdown"
    assert {r.code for r in config.reasons if r.planned} == {"BREAK", "PM", "CLEAN"}


def test_s7_db_image_holds_each_machine_struct_as_the_config_reads_it() -> None:
    config = demo_config()
    simulation = build_simulation(config, seed=7)
    for second in range(1, 600):
        simulation.step(START + second, 1.0)
    # One L3 total past the sign change and a reject count past 16 bits: both wrap as the PLC's types do.
    simulation["L3-SEAL"].total = 2**31 + 5
    simulation["L3-PAL"].reject = 70_000
    image = s7_db_image(simulation)
    assert len(image) == S7_DB_BYTES
    used: set[int] = set()
    for spec in S7_MACHINES:
        sim = simulation[spec.id]
        values = {}
        for signal, mapping in config.machine(spec.id).signals.items():
            address = parse_s7_address(mapping.tag, mapping.type)
            assert address.area == "DB" and address.db == S7_DB and address.end <= S7_DB_BYTES, mapping.tag
            assert used.isdisjoint(range(address.byte, address.end)), f"{mapping.tag} overlaps another field"
            used |= set(range(address.byte, address.end))
            values[signal] = decode(address, image, address.byte)  # the image starts at DB1.DBB0
        assert values[Signal.TOTAL_COUNT] % 2**32 == sim.total
        assert values[Signal.REJECT_COUNT] % 2**16 == sim.reject % 2**16
        assert values[Signal.STATE_CODE] == sim.state_code and values[Signal.FAULT] == sim.fault
        assert values[Signal.PRODUCT] == sim.product and values[Signal.PRODUCT] in spec.products
        assert isinstance(values[Signal.SPEED], float)
        assert math.isclose(values[Signal.SPEED], sim.speed, rel_tol=1e-6)  # REAL is a float32
    sealer_total = parse_s7_address(s7_tag(S7_MACHINES[1], "Total"))
    palletizer_reject = parse_s7_address(s7_tag(S7_MACHINES[2], "Reject"))
    assert decode(sealer_total, image, sealer_total.byte) == -(2**31) + 5
    assert decode(palletizer_reject, image, palletizer_reject.byte) == 70_000 - 2**16


def test_plant_config_is_ready_before_any_server() -> None:
    started = time.perf_counter()
    plant = DemoPlant(seed=3, timezone="UTC")  # no event loop needed, nothing started
    assert time.perf_counter() - started < 1.0
    assert len({plant.modbus_port, plant.opcua_port, plant.s7_port}) == 3
    assert plant.config.source("demo-modbus").port == plant.modbus_port
    assert plant.config.source("demo-s7").port == plant.s7_port
    assert plant.config.source("demo-opcua").endpoint == f"opc.tcp://127.0.0.1:{plant.opcua_port}/oee-demo/"
    assert plant.config.site.timezone == "UTC"
    assert not plant.ready.is_set()


# ---------------------------------------------------------------- servers


async def _until_changed(read: Callable[[], Awaitable[T]], first: T, timeout: float = 15.0) -> T:
    """Poll `read()` until it differs from `first`; the timeout is the assertion."""
    async with asyncio.timeout(timeout):
        while (value := await read()) == first:
            await asyncio.sleep(0.2)
    return value


async def test_modbus_serves_every_mapped_tag(plant: DemoPlant) -> None:
    assert plant.ready.is_set()
    client = AsyncModbusTcpClient("127.0.0.1", port=plant.modbus_port, timeout=2)
    assert await client.connect()
    try:
        for spec in MODBUS_MACHINES:
            machine = plant.config.machine(spec.id)
            for signal, mapping in machine.signals.items():
                address = int(mapping.tag.split(":")[1])
                if mapping.tag.startswith("co:"):
                    bits = await client.read_coils(address, count=1, device_id=MODBUS_UNIT)
                    assert not bits.isError()
                    continue
                count = 2 if mapping.type == "float32" else 1
                reply = await client.read_holding_registers(address, count=count, device_id=MODBUS_UNIT)
                assert not reply.isError(), mapping.tag
                if signal is Signal.STATE_CODE:
                    assert reply.registers[0] in range(1, 6)
                elif signal is Signal.PRODUCT:
                    assert reply.registers[0] in spec.products  # the register map lines up with the config
                elif signal is Signal.SPEED:
                    speed = client.convert_from_registers(reply.registers, client.DATATYPE.FLOAT32)
                    assert isinstance(speed, float) and 0 <= speed < 400
        # A driver may read the whole block in one request.
        whole = await client.read_holding_registers(100, count=40, device_id=MODBUS_UNIT)
        assert not whole.isError() and len(whole.registers) == 40

        async def totals() -> list[int]:
            reply = await client.read_holding_registers(100, count=40, device_id=MODBUS_UNIT)
            return [reply.registers[spec.base_register - 100 + 1] for spec in MODBUS_MACHINES]

        await _until_changed(totals, await totals())
        assert plant.ticks >= 1
    finally:
        client.close()


async def test_opcua_serves_every_mapped_node(plant: DemoPlant) -> None:
    async with Client(plant.endpoint, timeout=4) as client:
        assert await client.get_namespace_index(OPCUA_NAMESPACE_URI) == 2
        expected = {Signal.STATE_CODE: int, Signal.TOTAL_COUNT: int, Signal.REJECT_COUNT: int,
                    Signal.GOOD_COUNT: int, Signal.SPEED: float, Signal.PRODUCT: str, Signal.FAULT: bool}
        for spec in OPCUA_MACHINES:
            for signal, mapping in plant.config.machine(spec.id).signals.items():
                value = await client.get_node(mapping.tag).read_value()
                assert isinstance(value, expected[signal]), mapping.tag
                if signal is Signal.PRODUCT:
                    assert value in spec.products
        nodes = [client.get_node(opcua_node_id(spec, "Total")) for spec in OPCUA_MACHINES]

        async def totals() -> list[int]:
            return [await node.read_value() for node in nodes]

        await _until_changed(totals, await totals())


async def test_s7_serves_db1_as_the_simulation_writes_it(plant: DemoPlant) -> None:
    client = snap7.Client()
    source = plant.config.source("demo-s7")
    # snap7's client blocks: run it in a thread so the plant keeps ticking meanwhile.
    await asyncio.to_thread(client.connect, source.host, source.rack, source.slot or 0, source.port)
    try:
        async def db1() -> bytes:
            return bytes(await asyncio.to_thread(client.db_read, S7_DB, 0, S7_DB_BYTES))

        # What the client reads is the registered bytearray, unless a tick wrote it in between.
        async with asyncio.timeout(10):
            while (served := await db1()) != bytes(plant.s7_db):
                await asyncio.sleep(0.05)
        for spec in S7_MACHINES:
            for signal, mapping in plant.config.machine(spec.id).signals.items():
                address = parse_s7_address(mapping.tag, mapping.type)
                value = decode(address, served, address.byte)
                if signal is Signal.STATE_CODE:
                    assert value in range(1, 6)
                elif signal is Signal.PRODUCT:
                    assert value in spec.products
                elif signal is Signal.SPEED:
                    assert isinstance(value, float) and 0 <= value < 400
        await _until_changed(db1, served)
        assert plant.ticks >= 1
    finally:
        await asyncio.to_thread(client.disconnect)


def _port_is_free(port: int) -> bool:
    # SO_REUSEADDR, as a restarted server would set: TIME_WAIT connections don't count.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


async def test_stop_frees_the_ports_and_is_idempotent() -> None:
    demo = DemoPlant(seed=11, timezone="UTC")
    await demo.stop()  # before start: nothing to do
    demo = DemoPlant(seed=11, timezone="UTC")
    await asyncio.wait_for(demo.start(), SERVER_TIMEOUT_S)
    ports = (demo.modbus_port, demo.opcua_port, demo.s7_port)
    assert not any(_port_is_free(port) for port in ports)
    # An S7 client that stays connected must not hold up stop(): snap7's server
    # runs threads of its own, which stop() joins off the event loop.
    client = snap7.Client()
    await asyncio.to_thread(client.connect, "127.0.0.1", 0, 1, demo.s7_port)
    started = time.perf_counter()
    await asyncio.gather(demo.stop(), demo.stop())
    assert time.perf_counter() - started < 5.0
    await demo.stop()
    await asyncio.to_thread(client.disconnect)
    assert all(_port_is_free(port) for port in ports)
    for port in ports:
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", port)
    assert not demo.ready.is_set()
    with pytest.raises(RuntimeError):
        await demo.start()


async def test_cancelling_start_then_stop_leaves_nothing_running() -> None:
    # What DemoEngine.stop does when the UI quits during asyncua's start-up.
    demo = DemoPlant(seed=5, timezone="UTC")
    task = asyncio.create_task(demo.start())
    async with asyncio.timeout(SERVER_TIMEOUT_S):
        while not await _accepts(demo.modbus_port):  # Modbus is up, OPC UA still starting
            await asyncio.sleep(0.05)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await demo.stop()
    assert _port_is_free(demo.modbus_port) and _port_is_free(demo.opcua_port) and _port_is_free(demo.s7_port)


async def _accepts(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


@pytest.mark.parametrize("seed", [7, 1, 2, 3, 42])
def test_every_kind_of_loss_shows_in_the_first_minutes_whatever_the_seed(seed: int) -> None:
    """A new user's first look at the Losses and Pareto views is not empty (issue 14, item 11)."""
    trace = simulate(seed=seed, seconds=4 * 60)
    seen = {code for states in trace.states.values() for code in states}
    assert DOWN in seen and CHANGEOVER in seen
