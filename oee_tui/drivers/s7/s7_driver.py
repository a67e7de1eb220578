"""Siemens S7 polling driver over python-snap7's client (ISO-on-TCP, port 102).

Tags are addresses as PLC programmers write them (DB1.DBW20, M0.1, DB3.DBD4:REAL;
see s7_address). Neighbouring addresses of one area or DB are read in one
request, capped at what the negotiated PDU can carry, because the round trip,
not the payload, limits a poll.

snap7's client blocks, so every call on it runs in a worker thread and the
event loop never waits on a socket. Calls on the one client are serialised by
a lock, including a call whose awaiting coroutine was cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Final, TypeVar

from snap7 import Client
from snap7.error import S7Error, S7PacketLostError, S7ProtocolError, S7StalePacketError
from snap7.type import Area

from oee_tui.config import TagMapping
from oee_tui.drivers.base import DriverError, TagReading
from oee_tui.drivers.polled import PolledDriver
from oee_tui.drivers.s7 import db_refusal
from oee_tui.drivers.s7.address import AREAS, S7Address, decode, parse_s7_address
from oee_tui.drivers.s7.s7_source import S7Source
from oee_tui.model import Quality, TagSample, TagValue

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_SLOT: Final = 1  # S7-1200/1500 CPUs sit in slot 1; an S7-300 needs slot = 2 in the config
# A read response spends 18 bytes of the PDU on headers (S7 header 12, parameters 2, item header 4).
READ_OVERHEAD_BYTES: Final = 18
# The smallest PDU every S7 CPU negotiates; used if the client cannot say what was agreed.
FALLBACK_PDU_BYTES: Final = 240
# Reading 32 unused bytes costs less than a second round trip on any S7 link.
MAX_GAP_BYTES: Final = 32
CLOSE_WAIT_S: Final = 1.0  # close() waits this long for a call in flight, then leaves the disconnect to it

_SNAP7_AREAS: Final = {"DB": Area.DB, "M": Area.MK, "I": Area.PE, "Q": Area.PA}
_AREA_ORDER: Final = {area: i for i, area in enumerate(AREAS)}


# ---------------------------------------------------------------- pure helpers


@dataclass(frozen=True, slots=True)
class ReadBlock:
    """One read request: `size` bytes of one area (or DB) from byte `start`, and the addresses inside it."""

    area: str
    db: int
    start: int
    size: int
    addresses: tuple[S7Address, ...]

    @property
    def end(self) -> int:
        return self.start + self.size

    def describe(self) -> str:
        first = f"DB{self.db}.DBB{self.start}" if self.area == "DB" else f"{self.area}B{self.start}"
        return f"{first} ({self.size} byte{'' if self.size == 1 else 's'})"


def plan_reads(addresses: Iterable[S7Address], max_bytes: int = FALLBACK_PDU_BYTES - READ_OVERHEAD_BYTES,
               max_gap: int = MAX_GAP_BYTES) -> list[ReadBlock]:
    """Coalesce addresses into as few requests as the size and gap limits allow.

    Addresses may overlap (M0.1 and MB0 in one block). An address larger than
    `max_bytes` (a long STRING on a small PDU) gets a block of its own, which
    snap7 then reads in chunks. Blocks come out ordered by area, DB and byte.
    """
    limit = max(1, max_bytes)
    by_area: dict[tuple[str, int], list[S7Address]] = {}
    for address in addresses:
        by_area.setdefault((address.area, address.db), []).append(address)
    blocks: list[ReadBlock] = []
    for area, db in sorted(by_area, key=lambda key: (_AREA_ORDER[key[0]], key[1])):
        start = end = 0
        members: list[S7Address] = []
        for address in sorted(by_area[area, db], key=lambda a: (a.byte, -a.size, a.text)):
            if members and address.byte <= end + max_gap and max(end, address.end) - start <= limit:
                end = max(end, address.end)
                members.append(address)
                continue
            if members:
                blocks.append(ReadBlock(area, db, start, end - start, tuple(members)))
            start, end, members = address.byte, address.end, [address]
        if members:
            blocks.append(ReadBlock(area, db, start, end - start, tuple(members)))
    return blocks


def split_block(block: ReadBlock) -> list[ReadBlock]:
    """One block per address, so that only the address the CPU refuses goes BAD."""
    return [ReadBlock(a.area, a.db, a.byte, a.size, (a,)) for a in block.addresses]


def parse_tsap(text: str) -> int:
    """A TSAP as Siemens writes it, two hex bytes with a dot ("03.01"), as the 16-bit number on the wire."""
    high, dot, low = text.strip().partition(".")
    try:
        if not dot or len(high) != 2 or len(low) != 2:
            raise ValueError
        return int(high, 16) << 8 | int(low, 16)
    except ValueError:
        raise ValueError(f"TSAP {text!r} must be two hex bytes with a dot, such as 01.00 or 03.01") from None


def value_of(address: S7Address, data: bytes | bytearray, offset: int) -> tuple[TagValue, str | None]:
    """The decoded value and None, or None and why the bytes are not a usable value."""
    try:
        value = decode(address, data, offset)
    except ValueError as exc:
        return None, str(exc)
    if isinstance(value, float) and not math.isfinite(value):
        return None, f"REAL is {value}"
    return value, None


def _is_refusal(exc: BaseException) -> bool:
    """True when the CPU answered but refused the request: the link is fine, the address is not."""
    return isinstance(exc, S7ProtocolError) and not isinstance(exc, S7PacketLostError | S7StalePacketError)


# ---------------------------------------------------------------- driver


class S7Driver(PolledDriver):
    """Polls one S7 CPU (S7-300/400/1200/1500 with PUT/GET allowed) at a fixed rate."""

    source: S7Source

    def __init__(self, source: S7Source, tags: Sequence[TagMapping]) -> None:
        super().__init__(source, tags)
        self.addresses: list[S7Address] = []
        # Tags that cannot be read at all get a BAD sample every poll rather than
        # failing the source: the other machines on this PLC still count.
        self.invalid: dict[str, str] = {}
        for mapping in self.tags:
            try:
                self.addresses.append(parse_s7_address(mapping.tag, mapping.type))
            except ValueError as exc:
                self.invalid[mapping.tag] = str(exc)
        self.tsaps: tuple[int, int] | None = None
        self._setup_error: str | None = None  # raised by connect(): a factory must not fail the runner
        if source.local_tsap is not None and source.remote_tsap is not None:
            try:
                self.tsaps = parse_tsap(source.local_tsap), parse_tsap(source.remote_tsap)
            except ValueError as exc:
                self._setup_error = str(exc)
        self.slot = DEFAULT_SLOT if source.slot is None else source.slot
        self.pdu_length: int | None = None  # negotiated at connect()
        # Planned for the smallest PDU now, and again at connect() for the one the CPU agrees to.
        self.plan: list[ReadBlock] = plan_reads(self.addresses, max_bytes=self.max_read_bytes)
        self.requests = 0  # read requests sent; lets tests and health views see the coalescing work
        self._client: Client | None = None
        self._call_lock = threading.Lock()
        # Bytes that can be read of each DB found too short (0: missing), learnt on this connection.
        self._db_sizes: dict[int, int] = {}

    @property
    def where(self) -> str:
        place = f"s7 {self.source.host}:{self.source.port}"
        if self.source.local_tsap is not None and self.source.remote_tsap is not None:
            return f"{place} TSAP {self.source.local_tsap}/{self.source.remote_tsap}"
        return f"{place} rack {self.source.rack} slot {self.slot}"

    # ------------------------------------------------------------ connection

    async def connect(self) -> None:
        # A driver may be connected again after a loss or close(); start clean.
        await self.close()
        if self._setup_error is not None:
            raise DriverError(f"{self.where}: {self._setup_error}")
        self._closed = False
        self._wake.clear()
        self._db_sizes = {}  # a DB may have been downloaded or changed while the link was down
        # No auto_reconnect and no heartbeat: the acquisition runner owns reconnects
        # (with backoff and offline marking), and a client that silently reconnects
        # would hide the outage.
        client = Client()
        self._client = client
        try:
            pdu = await self._call(client, self._open, client)
        except (S7Error, OSError) as exc:
            raise DriverError(f"{self.where}: cannot connect: {exc}") from exc
        if pdu is None:
            raise DriverError(f"{self.where}: closed while connecting")
        self.pdu_length = pdu
        self.plan = plan_reads(self.addresses, max_bytes=self.max_read_bytes)
        log.info("%s: connected, PDU %d bytes, %d tags in %d requests per poll",
                 self.where, pdu, len(self.addresses), len(self.plan))

    def _open(self, client: Client) -> int:
        """Connect (in a worker thread) and return the negotiated PDU size."""
        host, port = self.source.host, self.source.port
        if self.tsaps is None:
            client.connect(host, self.source.rack, self.slot, port)
        else:
            local, remote = self.tsaps
            client.set_connection_params(host, local, remote)
            # snap7 3.3's connect() rebuilds the remote TSAP as type << 8 | rack << 5 | slot;
            # giving it the TSAP's own fields puts exactly the configured TSAP on the wire.
            client.set_connection_type(remote >> 8)
            client.connect(host, (remote & 0xFF) >> 5, remote & 0x1F, port)
        connection = client.connection
        if connection is not None and connection.socket is not None:
            # snap7 fixes its socket timeout at 5 s; the source's timeout_s is what the plant chose.
            connection.timeout = self.source.timeout_s
            connection.socket.settimeout(self.source.timeout_s)
        pdu = client.get_pdu_length()
        return pdu if pdu > READ_OVERHEAD_BYTES else FALLBACK_PDU_BYTES

    @property
    def max_read_bytes(self) -> int:
        return (self.pdu_length or FALLBACK_PDU_BYTES) - READ_OVERHEAD_BYTES

    async def close(self) -> None:
        self._closed = True
        self._wake.set()
        client, self._client = self._client, None
        if client is None:
            return
        if self._call_lock.locked():
            # A call is in flight: shut its socket so it fails now instead of at
            # timeout_s. When idle, the disconnect below says goodbye properly
            # (COTP DR), which frees one of the CPU's few connection slots at once.
            _interrupt(client)
        # The disconnect queues behind any call in flight; if that call still holds
        # on (a TCP connect to a silent host), the disconnect runs when it lets go.
        pending = asyncio.ensure_future(asyncio.to_thread(self._serialised, client.disconnect))
        pending.add_done_callback(_discard)
        try:
            await asyncio.wait_for(asyncio.shield(pending), CLOSE_WAIT_S)
        except Exception:  # close() must never raise; the link is being dropped either way
            log.debug("%s: disconnect did not finish within %g s", self.where, CLOSE_WAIT_S, exc_info=True)

    # ------------------------------------------------------------ polling

    @property
    def connected(self) -> bool:
        return self._client is not None

    async def poll(self) -> list[TagSample]:
        """Read every block once; one batch, one timestamp. Raises DriverError if the link is lost."""
        ts = time.time()
        samples = [TagSample(ts, self.name, tag, None, Quality.BAD, error) for tag, error in self.invalid.items()]
        new_plan: list[ReadBlock] = []
        for block in self.plan:
            result = await self._read(block)
            if isinstance(result, str) and len(block.addresses) > 1:
                # Coalescing may have read past the end of a DB, or one tag names a
                # DB the CPU does not have. Read the tags one by one from now on,
                # so only the tags that are really wrong go BAD.
                log.info("%s: %s refused as one block (%s); reading its %d tags one by one",
                         self.where, block.describe(), result, len(block.addresses))
                for single in split_block(block):
                    samples.extend(self._samples(single, await self._read(single), ts))
                    new_plan.append(single)
                continue
            samples.extend(self._samples(block, result, ts))
            new_plan.append(block)
        self.plan = new_plan
        return samples

    async def _read(self, block: ReadBlock) -> bytearray | str:
        """The block's bytes, or the CPU's reason for refusing it. Raises DriverError if the link is lost."""
        client = self._client
        if client is None or self._closed:
            raise DriverError(f"{self.where}: not connected")
        self.requests += 1
        started = time.perf_counter()
        try:
            data = await self._call(client, client.read_area, _SNAP7_AREAS[block.area], block.db,
                                    block.start, block.size)
        except Exception as exc:
            self.record_read(time.perf_counter() - started, False)
            if _is_refusal(exc):
                return await self._refusal(block, f"{exc} reading {block.describe()}")
            raise DriverError(f"{self.where}: error reading {block.describe()}: "
                              f"{exc or type(exc).__name__}") from exc
        if data is None:  # close() came first; the request's outcome is nobody's latency
            raise DriverError(f"{self.where}: closed while reading {block.describe()}")
        self.record_read(time.perf_counter() - started, True)
        if len(data) < block.size:
            return f"short response reading {block.describe()}: {len(data)} of {block.size} bytes"
        return data

    async def _refusal(self, block: ReadBlock, refusal: str) -> str:
        """The refusal of one tag of a DB said as "DB2 does not exist on the PLC" or "DB2 has 4 bytes; ...",
        when that is why; else as the CPU said it. A block of several tags is split and read again first."""
        if block.area != "DB" or len(block.addresses) != 1 or not db_refusal.worth_probing(refusal):
            return refusal
        size = self._db_sizes.get(block.db)
        if size is None:
            if db_refusal.return_code(refusal) == db_refusal.OBJECT_DOES_NOT_EXIST:
                size = 0
            else:
                size = await db_refusal.readable_size(partial(self._reads_db_byte, block.db), block.end)
                if size is None:
                    return refusal
            self._db_sizes[block.db] = size
        if size >= block.end:
            return refusal
        return db_refusal.explain(block.db, block.addresses[0].text, block.start, block.end, size)

    async def _reads_db_byte(self, db: int, offset: int) -> bool:
        """True if the CPU serves byte `offset` of DB `db`. Raises DriverError if the link is lost."""
        client = self._client
        if client is None or self._closed:
            raise DriverError(f"{self.where}: not connected")
        try:
            data = await self._call(client, client.read_area, Area.DB, db, offset, 1)
        except Exception as exc:
            if _is_refusal(exc):
                return False
            raise DriverError(f"{self.where}: error reading DB{db}.DBB{offset}: {exc or type(exc).__name__}") from exc
        if data is None:
            raise DriverError(f"{self.where}: closed while reading DB{db}.DBB{offset}")
        return len(data) == 1

    def _samples(self, block: ReadBlock, result: bytearray | str, ts: float) -> list[TagSample]:
        if isinstance(result, str):
            return [TagSample(ts, self.name, a.text, None, Quality.BAD, result) for a in block.addresses]
        out: list[TagSample] = []
        for address in block.addresses:
            value, error = value_of(address, result, address.byte - block.start)
            quality = Quality.GOOD if error is None else Quality.BAD
            out.append(TagSample(ts, self.name, address.text, value, quality, error))
        return out

    async def read_once(self) -> list[TagReading]:
        """Each tag read on its own request, so each latency is that tag's own."""
        readings: list[TagReading] = []
        for mapping in self.tags:
            if mapping.tag in self.invalid:
                readings.append(TagReading(mapping.tag, None, mapping.type or "?", Quality.BAD, 0.0,
                                           self.invalid[mapping.tag]))
        for address in self.addresses:
            started = time.perf_counter()
            result = await self._read(ReadBlock(address.area, address.db, address.byte, address.size, (address,)))
            latency = time.perf_counter() - started
            value: TagValue
            error: str | None
            if isinstance(result, str):
                value, error = None, result
            else:
                value, error = value_of(address, result, 0)
            quality = Quality.GOOD if error is None else Quality.BAD
            readings.append(TagReading(address.text, value, address.type_name, quality, latency, error))
        order = {mapping.tag: i for i, mapping in enumerate(self.tags)}
        return sorted(readings, key=lambda reading: order[reading.tag])

    # ------------------------------------------------------------ threads

    async def _call(self, client: Client, fn: Callable[..., T], *args: object) -> T | None:
        """fn(*args) in a worker thread; None if close() came first (the thread finishes on its own)."""
        if self._client is not client or self._closed:
            return None
        work = asyncio.ensure_future(asyncio.to_thread(self._serialised, fn, *args))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait((work, waker), return_when=asyncio.FIRST_COMPLETED)
        finally:
            waker.cancel()
            if not work.done():
                # Abandoned (close(), or the caller was cancelled): a thread cannot be
                # stopped, so only its outcome is dropped.
                work.add_done_callback(_discard)
        return work.result() if work.done() else None

    def _serialised(self, fn: Callable[..., T], *args: object) -> T:
        with self._call_lock:
            return fn(*args)


def _interrupt(client: Client) -> None:
    """Wake a worker blocked on the client's socket, so close() need not wait for a timeout."""
    connection = client.connection
    sock = None if connection is None else connection.socket
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _discard(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log "exception was never retrieved"
