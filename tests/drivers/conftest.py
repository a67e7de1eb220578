"""Real in-process Modbus and OPC UA servers on free loopback ports, and helpers to drive a driver."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
from asyncua import Node, Server, ua
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from oee_tui.config import TagMapping
from oee_tui.drivers.base import Driver
from oee_tui.drivers.modbus.modbus_source import ModbusSource
from oee_tui.drivers.opcua.opcua_source import OpcUaSource
from oee_tui.model import Signal, TagSample

UNIT_ID = 1
REGISTERS = 1000  # hr and ir 0..999 exist; 1000 and up are illegal addresses
BITS = 256


# ---------------------------------------------------------------- helpers


def tag(name: str, source: str = "plc", type: str | None = None, byte_order: str | None = None,
        word_order: str | None = None, signal: Signal = Signal.TOTAL_COUNT) -> TagMapping:
    return TagMapping(signal=signal, source=source, tag=name, type=type, byte_order=byte_order,
                      word_order=word_order)


@dataclass
class Collector:
    """An EmitFn that keeps every batch and lets a test wait for the sample it expects."""

    batches: list[list[TagSample]] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, batch: Sequence[TagSample]) -> None:
        self.batches.append(list(batch))
        self._changed.set()

    @property
    def samples(self) -> list[TagSample]:
        return [s for batch in self.batches for s in batch]

    def latest(self) -> dict[str, TagSample]:
        return {s.tag: s for s in self.samples}

    async def wait_for(self, predicate: Callable[[TagSample], bool], timeout: float = 5.0) -> TagSample:
        """The first sample (old or new) that matches; fails the test after `timeout` seconds."""
        async def scan() -> TagSample:
            seen = 0
            while True:
                samples = self.samples
                for sample in samples[seen:]:
                    if predicate(sample):
                        return sample
                seen = len(samples)
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(scan(), timeout)

    async def wait_batches(self, count: int, timeout: float = 5.0) -> list[list[TagSample]]:
        async def scan() -> None:
            while len(self.batches) < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(scan(), timeout)
        return self.batches[:count]


@contextlib.asynccontextmanager
async def running(driver: Driver, emit: Collector) -> AsyncIterator[asyncio.Task[None]]:
    """connect() then run() in a task; on exit close() and require run() to return."""
    await asyncio.wait_for(driver.connect(), timeout=driver.source.timeout_s + 1)
    task = asyncio.create_task(driver.run(emit))
    try:
        yield task
    finally:
        await driver.close()
        if task.done():
            with contextlib.suppress(Exception):
                task.result()
        else:
            await asyncio.wait_for(task, timeout=3)


# ---------------------------------------------------------------- Modbus


class ModbusSim:
    """A pymodbus TCP server for unit 1 with its own coil, input, holding and input-register blocks."""

    def __init__(self) -> None:
        self.server: ModbusTcpServer | None = None
        self.port = 0
        self.requests = 0

    async def start(self, port: int = 0) -> None:
        device = SimDevice(UNIT_ID, simdata=(
            [SimData(0, count=BITS, values=False, datatype=DataType.BITS)],
            [SimData(0, count=BITS, values=False, datatype=DataType.BITS)],
            [SimData(0, count=REGISTERS, values=0, datatype=DataType.REGISTERS)],
            [SimData(0, count=REGISTERS, values=0, datatype=DataType.REGISTERS)],
        ))
        self.server = ModbusTcpServer(device, address=("127.0.0.1", port), trace_pdu=self._count)
        await self.server.serve_forever(background=True)
        self.port = self.server.transport.sockets[0].getsockname()[1]

    def _count(self, sending: bool, pdu: Any) -> Any:
        if not sending:
            self.requests += 1
        return pdu

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.shutdown()
            self.server = None

    async def set(self, area: str, address: int, values: Sequence[int] | Sequence[bool]) -> None:
        assert self.server is not None
        fc = {"co": 1, "di": 2, "hr": 3, "ir": 4}[area]
        await self.server.async_setValues(UNIT_ID, fc, address, list(values))  # type: ignore[arg-type]


@pytest_asyncio.fixture
async def modbus_server() -> AsyncIterator[ModbusSim]:
    sim = ModbusSim()
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


def modbus_source(port: int, **overrides: Any) -> ModbusSource:
    settings: dict[str, Any] = {"name": "plc", "host": "127.0.0.1", "port": port,
                                "unit_id": UNIT_ID, "poll_interval_s": 0.05, "timeout_s": 1.0}
    settings.update(overrides)
    return ModbusSource(**settings)


# ---------------------------------------------------------------- OPC UA

OPCUA_VARIABLES: dict[str, tuple[Any, ua.VariantType]] = {
    "Count": (0, ua.VariantType.Int32),
    "Total": (0, ua.VariantType.UInt32),
    "State": (1, ua.VariantType.UInt16),
    "Speed": (0.0, ua.VariantType.Double),
    "Running": (False, ua.VariantType.Boolean),
    "Product": ("none", ua.VariantType.String),
    "Quality": (0, ua.VariantType.Int32),
}


class OpcUaSim:
    """An asyncua server with a Line2.Filler object; nodes are ns=<ns>;s=Line2.Filler.<Name>."""

    def __init__(self) -> None:
        self.server = Server()
        self.port = 0
        self.ns = 0
        self.nodes: dict[str, Node] = {}
        self.running = False

    async def start(self) -> None:
        await self.server.init()
        self.server.set_endpoint("opc.tcp://127.0.0.1:0/oee/")
        self.ns = await self.server.register_namespace("urn:oee-tui:test")
        filler = await self.server.nodes.objects.add_object(ua.NodeId("Line2.Filler", self.ns), "Filler")
        for name, (value, vtype) in OPCUA_VARIABLES.items():
            self.nodes[name] = await filler.add_variable(
                ua.NodeId(f"Line2.Filler.{name}", self.ns), name, ua.Variant(value, vtype))
        await self.server.start()
        self.port = self.server.bserver.port
        self.running = True

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.port}/oee/"

    def node_id(self, name: str) -> str:
        return f"ns={self.ns};s=Line2.Filler.{name}"

    async def write(self, name: str, value: Any, status: int = ua.StatusCodes.Good,
                    source_ts: Any = None) -> None:
        vtype = OPCUA_VARIABLES[name][1]
        await self.nodes[name].write_value(ua.DataValue(
            ua.Variant(value, vtype), StatusCode=ua.StatusCode(status), SourceTimestamp=source_ts))

    async def stop(self) -> None:
        if self.running:
            self.running = False
            await self.server.stop()

    async def restart(self) -> None:
        """Serve the same address space again on the same port (Server.init is too slow to redo)."""
        await self.stop()
        self.server.set_endpoint(self.endpoint)
        deadline = time.monotonic() + 5
        while True:
            try:
                await self.server.start()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)
        assert self.server.bserver.port == self.port
        self.running = True


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def opcua_server() -> AsyncIterator[OpcUaSim]:
    sim = OpcUaSim()
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


def opcua_source(endpoint: str, **overrides: Any) -> OpcUaSource:
    settings: dict[str, Any] = {"name": "ua", "endpoint": endpoint, "publishing_interval_ms": 50, "timeout_s": 2.0}
    settings.update(overrides)
    return OpcUaSource(**settings)


@pytest.fixture
def free_port() -> int:
    """A loopback port that nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
