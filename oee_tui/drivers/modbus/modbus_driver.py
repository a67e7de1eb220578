"""Modbus TCP polling driver.

Tags are addresses such as "hr:100"; neighbouring addresses of one area are
read in one request because on most PLCs the round trip, not the payload, is
what limits a poll. Decoding is done by plain functions so it can be tested
without a device.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import struct
import time
from collections.abc import Coroutine, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.pdu import ModbusPDU

from oee_tui.config import TagMapping
from oee_tui.drivers.base import DriverError, TagReading
from oee_tui.drivers.modbus.modbus_source import BIT_AREAS, REGISTER_AREAS, ModbusSource
from oee_tui.drivers.polled import PolledDriver
from oee_tui.model import Quality, TagSample, TagValue

log = logging.getLogger(__name__)

AREA_FUNCTION_CODES: Final = {"co": 1, "di": 2, "hr": 3, "ir": 4}
# Protocol limits of one read request (Modbus Application Protocol v1.1b3, 6.1 to 6.4).
PROTOCOL_MAX_REGISTERS: Final = 125
PROTOCOL_MAX_BITS: Final = 2000
# Reading a few unused registers costs 2 bytes each; another request costs a round trip.
DEFAULT_MAX_GAP_REGISTERS: Final = 8
DEFAULT_MAX_GAP_BITS: Final = 64
REQUEST_RETRIES: Final = 1
ILLEGAL_DATA_ADDRESS: Final = 2

_TAG = re.compile(r"^(hr|ir|co|di):(\d{1,5})$")
_REGISTER_TYPES: Final = {
    # type: (registers, struct format of the big-endian bytes)
    "int16": (1, ">h"),
    "uint16": (1, ">H"),
    "int32": (2, ">i"),
    "uint32": (2, ">I"),
    "float32": (2, ">f"),
}
_EXCEPTION_NAMES: Final = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    7: "negative acknowledge",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}


# ---------------------------------------------------------------- pure helpers


@dataclass(frozen=True, slots=True)
class ModbusPoint:
    """One tag resolved to an area, an address, a data type and byte/word orders."""

    tag: str
    area: str
    address: int
    type: str
    byte_order: str = "big"
    word_order: str = "big"

    @property
    def size(self) -> int:
        """Registers (hr/ir) or bits (co/di) the point occupies."""
        if self.type == "bool":
            return 1
        return _REGISTER_TYPES[self.type][0]

    @property
    def end(self) -> int:
        return self.address + self.size


@dataclass(frozen=True, slots=True)
class ReadBlock:
    """One read request: `count` registers or bits of `area` from `start`, and the points inside it."""

    area: str
    start: int
    count: int
    points: tuple[ModbusPoint, ...]

    @property
    def end(self) -> int:
        return self.start + self.count

    @property
    def function_code(self) -> int:
        return AREA_FUNCTION_CODES[self.area]

    def describe(self) -> str:
        if self.count == 1:
            return f"{self.area}:{self.start}"
        return f"{self.area}:{self.start}..{self.end - 1}"


def parse_point(mapping: TagMapping, source: ModbusSource) -> ModbusPoint:
    """Resolve a mapping's tag string and type; the mapping's orders override the source's."""
    match = _TAG.match(mapping.tag)
    if not match or int(match.group(2)) > 65535:
        raise ValueError(f"tag {mapping.tag!r} is not a Modbus address hr:N, ir:N, co:N or di:N (N 0..65535)")
    area, address = match.group(1), int(match.group(2))
    kind = mapping.type or ("bool" if area in BIT_AREAS else "uint16")
    if area in BIT_AREAS and kind != "bool":
        raise ValueError(f"tag {mapping.tag}: type {kind} is not valid for a bit area; use bool")
    if area in REGISTER_AREAS and kind not in _REGISTER_TYPES:
        raise ValueError(f"tag {mapping.tag}: type {kind} is not one of {', '.join(_REGISTER_TYPES)}")
    byte_order = mapping.byte_order or source.byte_order
    word_order = mapping.word_order or source.word_order
    for name, value in (("byte_order", byte_order), ("word_order", word_order)):
        if value not in ("big", "little"):
            raise ValueError(f"tag {mapping.tag}: {name} {value!r} must be big or little")
    return ModbusPoint(mapping.tag, area, address, kind, byte_order, word_order)


def plan_reads(points: Iterable[ModbusPoint], max_registers: int = PROTOCOL_MAX_REGISTERS,
               max_gap: int = DEFAULT_MAX_GAP_REGISTERS, max_bits: int = PROTOCOL_MAX_BITS,
               max_bit_gap: int = DEFAULT_MAX_GAP_BITS) -> list[ReadBlock]:
    """Coalesce points into as few requests as the size and gap limits allow.

    A block spans from its first to its last point's end; points may overlap
    (one register read as uint16 by one machine, as part of an int32 by
    another). A point larger than the limit still gets a block of its own.
    Blocks come out ordered by area (fc order) and address.
    """
    register_limit = max(1, min(max_registers, PROTOCOL_MAX_REGISTERS))
    bit_limit = max(1, min(max_bits, PROTOCOL_MAX_BITS))
    by_area: dict[str, list[ModbusPoint]] = {}
    for point in points:
        by_area.setdefault(point.area, []).append(point)
    blocks: list[ReadBlock] = []
    for area in sorted(by_area, key=AREA_FUNCTION_CODES.__getitem__):
        limit, gap = (bit_limit, max_bit_gap) if area in BIT_AREAS else (register_limit, max_gap)
        start = end = 0
        members: list[ModbusPoint] = []
        for point in sorted(by_area[area], key=lambda p: (p.address, -p.size, p.tag)):
            if members and point.address <= end + gap and max(end, point.end) - start <= limit:
                end = max(end, point.end)
                members.append(point)
                continue
            if members:
                blocks.append(ReadBlock(area, start, end - start, tuple(members)))
            start, end, members = point.address, point.end, [point]
        if members:
            blocks.append(ReadBlock(area, start, end - start, tuple(members)))
    return blocks


def split_block(block: ReadBlock) -> list[ReadBlock]:
    """One block per point, for a device that refuses to be read across unmapped addresses."""
    return [ReadBlock(block.area, p.address, p.size, (p,)) for p in block.points]


def decode_registers(regs: Sequence[int], type: str, byte_order: str = "big",
                     word_order: str = "big") -> int | float:
    """Decode the first 1 or 2 registers of `regs` as `type`.

    byte_order is the order of the two bytes inside each register ("big": high
    byte first, as the Modbus spec says); word_order tells which register holds
    the high word of a 32-bit value ("big": the first, at the lower address).
    """
    try:
        count, fmt = _REGISTER_TYPES[type]
    except KeyError:
        raise ValueError(f"unknown register type {type!r}; expected one of {', '.join(_REGISTER_TYPES)}") from None
    if len(regs) < count:
        raise ValueError(f"{type} needs {count} registers, got {len(regs)}")
    words = list(regs[:count])
    if word_order == "little":
        words.reverse()
    raw = b"".join((w & 0xFFFF).to_bytes(2, "big" if byte_order == "big" else "little") for w in words)
    value: int | float = struct.unpack(fmt, raw)[0]
    return value


def encode_value(value: int | float, type: str, byte_order: str = "big", word_order: str = "big") -> list[int]:
    """The registers a device holds for `value`; the inverse of decode_registers (simulators use it)."""
    try:
        count, fmt = _REGISTER_TYPES[type]
    except KeyError:
        raise ValueError(f"unknown register type {type!r}; expected one of {', '.join(_REGISTER_TYPES)}") from None
    raw = struct.pack(fmt, value)
    words = [int.from_bytes(raw[i:i + 2], "big" if byte_order == "big" else "little") for i in range(0, 2 * count, 2)]
    if word_order == "little":
        words.reverse()
    return words


def exception_text(code: int | None) -> str:
    name = _EXCEPTION_NAMES.get(code or 0, "unknown exception")
    return f"Modbus exception {code} ({name})"


# ---------------------------------------------------------------- driver


class ModbusDriver(PolledDriver):
    """Polls one Modbus TCP device (one unit id) at a fixed rate."""

    source: ModbusSource

    def __init__(self, source: ModbusSource, tags: Sequence[TagMapping]) -> None:
        super().__init__(source, tags)
        self.points: list[ModbusPoint] = []
        # Tags that cannot be read at all get a BAD sample every poll rather than
        # failing the source: the other machines on this PLC still count.
        self.invalid: dict[str, str] = {}
        for mapping in self.tags:
            try:
                self.points.append(parse_point(mapping, source))
            except ValueError as exc:
                self.invalid[mapping.tag] = str(exc)
        self.plan: list[ReadBlock] = plan_reads(self.points, max_registers=source.max_registers_per_read)
        self.requests = 0  # read requests sent; lets tests and health views see the coalescing work
        self._client: AsyncModbusTcpClient | None = None
        self._lost: str | None = None

    @property
    def where(self) -> str:
        return f"modbus {self.source.host}:{self.source.port} unit {self.source.unit_id}"

    async def connect(self) -> None:
        # A driver may be connected again after a loss or close(); start clean.
        await self.close()
        self._closed = False
        self._lost = None
        self._wake.clear()
        client = AsyncModbusTcpClient(
            self.source.host,
            port=self.source.port,
            name=f"oee:{self.source.name}",
            timeout=self.source.timeout_s,
            retries=REQUEST_RETRIES,
            # The acquisition runner owns reconnects (with backoff and offline
            # marking); a client that silently reconnects would hide the outage.
            reconnect_delay=0,
            trace_connect=self._on_connection_change,
        )
        self._client = client
        started = time.monotonic()
        try:
            ok = await client.connect()
        except (OSError, ModbusException) as exc:
            client.close()
            raise DriverError(f"{self.where}: cannot connect: {exc}") from exc
        if not ok:
            client.close()
            waited = time.monotonic() - started
            why = (f"no answer within {self.source.timeout_s:g} s" if waited >= self.source.timeout_s * 0.9
                   else "connection refused or host unreachable")
            raise DriverError(f"{self.where}: cannot connect: {why}")

    def _on_connection_change(self, connected: bool) -> None:
        # pymodbus calls this only for a loss it did not cause itself (not for close()).
        if not connected and not self._closed:
            self._lost = "connection closed by the device or the network"
            self._wake.set()

    @property
    def connected(self) -> bool:
        return self._client is not None

    def check_link(self) -> None:
        self._raise_if_lost()

    async def poll(self) -> list[TagSample]:
        """Read every block once; one batch, one timestamp. Raises DriverError if the link is lost."""
        self._raise_if_lost()
        ts = time.time()
        samples: list[TagSample] = [
            TagSample(ts, self.name, tag, None, Quality.BAD, error) for tag, error in self.invalid.items()
        ]
        for block, response, _latency in await self._read_plan():
            samples.extend(self._samples(block, response, ts))
        return samples

    async def read_once(self) -> list[TagReading]:
        """Every mapped tag read once, in mapping order, with the latency of the request that read it."""
        self._raise_if_lost()
        ts = time.time()
        types = {point.tag: point.type for point in self.points}
        readings: dict[str, TagReading] = {
            mapping.tag: TagReading(mapping.tag, None, mapping.type or "unknown", Quality.BAD, 0.0, error)
            for mapping in self.tags if (error := self.invalid.get(mapping.tag)) is not None
        }
        for block, response, latency in await self._read_plan():
            for sample in self._samples(block, response, ts):
                readings[sample.tag] = TagReading(sample.tag, sample.value, types[sample.tag], sample.quality,
                                                  latency, sample.error)
        return [readings[mapping.tag] for mapping in self.tags if mapping.tag in readings]

    async def _read_plan(self) -> list[tuple[ReadBlock, ModbusPDU, float]]:
        """Send every request of the plan once: (block, response, latency in seconds) each."""
        results: list[tuple[ReadBlock, ModbusPDU, float]] = []
        new_plan: list[ReadBlock] = []
        for block in self.plan:
            response, latency = await self._read(block)
            code = getattr(response, "exception_code", None) if response.isError() else None
            if code == ILLEGAL_DATA_ADDRESS and len(block.points) > 1:
                # Coalescing may have read across addresses the device does not
                # map. Read the points one by one from now on, so only the tags
                # that are really wrong go BAD.
                log.info("%s: %s refused as one block (%s); reading its %d tags one by one",
                         self.where, block.describe(), exception_text(code), len(block.points))
                for single in split_block(block):
                    single_response, single_latency = await self._read(single)
                    results.append((single, single_response, single_latency))
                    new_plan.append(single)
                continue
            results.append((block, response, latency))
            new_plan.append(block)
        self.plan = new_plan
        return results

    async def _read(self, block: ReadBlock) -> tuple[ModbusPDU, float]:
        """One request; its response and latency. Every request is reported through record_read()."""
        client = self._client
        if client is None or self._closed:
            raise DriverError(f"{self.where}: not connected")
        self.requests += 1
        started = time.perf_counter()
        try:
            response = await self._race(self._request(client, block))
        except ConnectionException as exc:
            self.record_read(time.perf_counter() - started, False)
            raise DriverError(f"{self.where}: connection lost reading {block.describe()}: {exc}") from exc
        except ModbusIOException as exc:
            self.record_read(time.perf_counter() - started, False)
            raise DriverError(f"{self.where}: no response reading {block.describe()} "
                              f"within {self.source.timeout_s:g} s: {exc}") from exc
        except (ModbusException, OSError, TimeoutError) as exc:
            self.record_read(time.perf_counter() - started, False)
            raise DriverError(f"{self.where}: error reading {block.describe()}: {exc or type(exc).__name__}") from exc
        latency = time.perf_counter() - started
        if response is None:
            if self._lost is not None:
                self.record_read(latency, False)
            self._raise_if_lost()
            raise DriverError(f"{self.where}: closed while reading {block.describe()}")
        # An exception response is an answer (the link works) but not a successful read.
        self.record_read(latency, not response.isError())
        return response, latency

    async def _request(self, client: AsyncModbusTcpClient, block: ReadBlock) -> ModbusPDU:
        unit = self.source.unit_id
        # pymodbus raises ConnectionException before returning the awaitable when
        # the socket is already gone, so the call itself belongs inside the task.
        if block.area == "hr":
            return await client.read_holding_registers(block.start, count=block.count, device_id=unit)
        if block.area == "ir":
            return await client.read_input_registers(block.start, count=block.count, device_id=unit)
        if block.area == "co":
            return await client.read_coils(block.start, count=block.count, device_id=unit)
        return await client.read_discrete_inputs(block.start, count=block.count, device_id=unit)

    async def _race(self, request: Coroutine[Any, Any, ModbusPDU]) -> ModbusPDU | None:
        """The request's response, or None if close() or a lost link came first.

        pymodbus leaves a request waiting for its full timeout when the socket
        drops under it; racing it against the wake event ends the poll at once.
        """
        task = asyncio.ensure_future(request)
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait((task, waker), return_when=asyncio.FIRST_COMPLETED)
        finally:
            waker.cancel()
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        if task.cancelled():
            return None
        return task.result()

    def _samples(self, block: ReadBlock, response: ModbusPDU, ts: float) -> list[TagSample]:
        if response.isError():
            error = (f"{exception_text(getattr(response, 'exception_code', None))} "
                     f"reading {block.describe()} (fc{block.function_code})")
            return [TagSample(ts, self.name, p.tag, None, Quality.BAD, error) for p in block.points]
        values: Sequence[int] | Sequence[bool] = (
            response.bits if block.area in BIT_AREAS else response.registers
        )
        if len(values) < block.count:
            error = f"short response reading {block.describe()}: {len(values)} of {block.count} values"
            return [TagSample(ts, self.name, p.tag, None, Quality.BAD, error) for p in block.points]
        out: list[TagSample] = []
        for point in block.points:
            offset = point.address - block.start
            value: TagValue
            if point.type == "bool":
                value = bool(values[offset])
            else:
                value = decode_registers(values[offset:offset + point.size], point.type,
                                         point.byte_order, point.word_order)
                if isinstance(value, float) and not math.isfinite(value):
                    out.append(TagSample(ts, self.name, point.tag, None, Quality.BAD, f"{point.type} is {value}"))
                    continue
            out.append(TagSample(ts, self.name, point.tag, value))
        return out

    def _raise_if_lost(self) -> None:
        if self._lost is not None:
            raise DriverError(f"{self.where}: {self._lost}")

    async def close(self) -> None:
        self._closed = True
        self._wake.set()
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:  # close() must never raise; the socket is gone either way
                log.debug("%s: error while closing", self.where, exc_info=True)
