"""A minimal EtherNet/IP + CIP server that answers what pycomm3 1.2.16's LogixDriver asks.

cpppo's simulator cannot serve the tag-list upload pycomm3 needs on open(), so
this server speaks just enough of a ControlLogix to be connected, browsed and
polled over a real TCP conversation:

* encapsulation: ListIdentity, RegisterSession, UnRegisterSession, SendRRData,
  SendUnitData (Vol. 2, chapter 2);
* unconnected messages: Unconnected Send (unwrapped, the route's slot is
  checked), Forward Open and Large Forward Open, Forward Close, Get Attributes
  All on the Identity object;
* connected messages: Get Attributes All on the program-name object (0x64),
  the symbol object's Get Instance Attribute List (0x55, controller and
  `Program:` scope, split over several replies with status 0x06), the template
  object's Get Attribute List (0x03) and Read Template (0x4C), Read Tag (0x4C),
  Read Tag Fragmented (0x52), Write Tag (0x4D), Write Tag Fragmented (0x53)
  and Multiple Service Packet (0x0A).

Tag values live in per-symbol byte buffers laid out as a Logix lays them out
(UDT members at aligned offsets, BOOL members as bits of a hidden SINT), so a
read returns the same bytes a controller would. The layout follows Rockwell's
"Logix 5000 Controllers Data Access" (1756-PM020); statuses are CIP general
status codes with Logix's extended codes.

Sections: CIP encoding, tag database, request dispatcher, TCP server.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import re
import socket
import struct
import threading
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

# ================================================================ CIP encoding

ENCAP_HEADER: Final = struct.Struct("<HHII8sI")  # command, length, session, status, context, options

LIST_IDENTITY: Final = 0x63
REGISTER_SESSION: Final = 0x65
UNREGISTER_SESSION: Final = 0x66
SEND_RR_DATA: Final = 0x6F
SEND_UNIT_DATA: Final = 0x70

ENCAP_INVALID_COMMAND: Final = 0x0001
ENCAP_INVALID_SESSION: Final = 0x0064

ITEM_NULL_ADDRESS: Final = 0x0000
ITEM_CONNECTED_ADDRESS: Final = 0x00A1
ITEM_CONNECTED_DATA: Final = 0x00B1
ITEM_UNCONNECTED_DATA: Final = 0x00B2
ITEM_IDENTITY: Final = 0x000C

# Services
GET_ATTRIBUTES_ALL: Final = 0x01
GET_ATTRIBUTE_LIST: Final = 0x03
MULTIPLE_SERVICE: Final = 0x0A
READ_TAG: Final = 0x4C  # also Read Template on class 0x6C
WRITE_TAG: Final = 0x4D
FORWARD_CLOSE: Final = 0x4E  # on the connection manager; Read-Modify-Write elsewhere
READ_TAG_FRAGMENTED: Final = 0x52  # Unconnected Send on the connection manager
WRITE_TAG_FRAGMENTED: Final = 0x53
FORWARD_OPEN: Final = 0x54
GET_INSTANCE_ATTRIBUTE_LIST: Final = 0x55
LARGE_FORWARD_OPEN: Final = 0x5B

# Classes
IDENTITY_CLASS: Final = 0x01
MESSAGE_ROUTER_CLASS: Final = 0x02
CONNECTION_MANAGER_CLASS: Final = 0x06
PROGRAM_NAME_CLASS: Final = 0x64
SYMBOL_CLASS: Final = 0x6B
TEMPLATE_CLASS: Final = 0x6C

# General status codes (CIP Vol. 1, appendix B) and the Logix extended codes used with 0xFF.
SUCCESS: Final = 0x00
CONNECTION_FAILURE: Final = 0x01
PATH_SEGMENT_ERROR: Final = 0x04
PATH_DESTINATION_UNKNOWN: Final = 0x05
PARTIAL_TRANSFER: Final = 0x06
SERVICE_NOT_SUPPORTED: Final = 0x08
NOT_ENOUGH_DATA: Final = 0x13
ATTRIBUTE_NOT_SUPPORTED: Final = 0x14
EMBEDDED_SERVICE_ERROR: Final = 0x1E
GENERAL_ERROR: Final = 0xFF
EXT_LINK_ADDRESS_NOT_AVAILABLE: Final = 0x0312
EXT_CONNECTION_NOT_FOUND: Final = 0x0107
EXT_BEYOND_END_OF_OBJECT: Final = 0x2105
EXT_TYPE_MISMATCH: Final = 0x2107

STRUCT_TYPE_MARK: Final = 0xA0  # "abbreviated structure type" prefix of a UDT's type in read/write
SYMBOL_STRUCT_BIT: Final = 0x8000
SYMBOL_SYSTEM_BIT: Final = 0x1000
BASE_TAG_BIT: Final = 1 << 26  # attribute 6: set for a base tag, clear for an alias


@dataclass(frozen=True, slots=True)
class AtomicType:
    name: str
    code: int
    size: int
    fmt: str  # struct format of one little-endian element

    def encode(self, value: Any) -> bytes:
        if self.name == "BOOL":
            return b"\x01" if value else b"\x00"
        return struct.pack(self.fmt, value)

    def decode(self, raw: bytes) -> Any:
        if self.name == "BOOL":
            return raw[0] != 0
        return struct.unpack(self.fmt, raw[: self.size])[0]


ATOMIC_TYPES: Final = {t.name: t for t in (
    AtomicType("BOOL", 0xC1, 1, "<B"),
    AtomicType("SINT", 0xC2, 1, "<b"),
    AtomicType("INT", 0xC3, 2, "<h"),
    AtomicType("DINT", 0xC4, 4, "<i"),
    AtomicType("LINT", 0xC5, 8, "<q"),
    AtomicType("USINT", 0xC6, 1, "<B"),
    AtomicType("UINT", 0xC7, 2, "<H"),
    AtomicType("UDINT", 0xC8, 4, "<I"),
    AtomicType("REAL", 0xCA, 4, "<f"),
    AtomicType("LREAL", 0xCB, 8, "<d"),
)}
ATOMIC_BY_CODE: Final = {t.code: t for t in ATOMIC_TYPES.values()}


class CipError(Exception):
    """A request the controller refuses: general status and optional extended status words."""

    def __init__(self, status: int, *extended: int) -> None:
        super().__init__(f"CIP status 0x{status:02X} {[hex(e) for e in extended]}")
        self.status = status
        self.extended = extended


@dataclass(frozen=True, slots=True)
class Segment:
    """One decoded path segment: kind is class, instance, member, attribute, connection_point, symbol or port."""

    kind: str
    value: int | str
    link: bytes = b""  # port segments only


_LOGICAL_KINDS: Final = ("class", "instance", "member", "connection_point", "attribute")


def parse_path(data: bytes) -> list[Segment]:
    """Decode a padded EPATH (without its size byte), as pycomm3's PADDED_EPATH encodes it."""
    segments: list[Segment] = []
    i = 0
    while i < len(data):
        head = data[i]
        kind = head >> 5
        if kind == 0b000:  # port segment
            port = head & 0x0F
            if head & 0x10:
                size = data[i + 1]
                link = data[i + 2:i + 2 + size]
                i += 2 + size + (size % 2)
            else:
                link = data[i + 1:i + 2]
                i += 2
            segments.append(Segment("port", port, link))
        elif kind == 0b001:  # logical segment
            logical = (head >> 2) & 0b111
            fmt = head & 0b11
            if logical >= len(_LOGICAL_KINDS) or fmt == 0b10:
                raise CipError(PATH_SEGMENT_ERROR)
            if fmt == 0:
                value = data[i + 1]
                i += 2
            elif fmt == 1:
                value = int.from_bytes(data[i + 2:i + 4], "little")
                i += 4
            else:
                value = int.from_bytes(data[i + 2:i + 6], "little")
                i += 6
            segments.append(Segment(_LOGICAL_KINDS[logical], value))
        elif head == 0x91:  # ANSI extended symbol
            size = data[i + 1]
            name = data[i + 2:i + 2 + size].decode("ascii", errors="replace")
            i += 2 + size + (size % 2)
            segments.append(Segment("symbol", name))
        else:
            raise CipError(PATH_SEGMENT_ERROR)
    return segments


@dataclass(frozen=True, slots=True)
class Request:
    service: int
    path: list[Segment]
    data: bytes


def parse_request(message: bytes) -> Request:
    """Split a Message Router request into service, decoded path and request data."""
    if len(message) < 2:
        raise CipError(NOT_ENOUGH_DATA)
    words = message[1]
    end = 2 + 2 * words
    if len(message) < end:
        raise CipError(PATH_SEGMENT_ERROR)
    try:
        path = parse_path(message[2:end])
    except IndexError:  # a segment runs past the path size
        raise CipError(PATH_SEGMENT_ERROR) from None
    return Request(message[0], path, message[end:])


def reply(service: int, status: int = SUCCESS, data: bytes = b"", extended: Sequence[int] = ()) -> bytes:
    """A Message Router reply: service | 0x80, reserved, general status, extended status words, data."""
    ext = b"".join(struct.pack("<H", e) for e in extended)
    return bytes((service | 0x80, 0, status, len(extended))) + ext + data


def short_string(text: str) -> bytes:
    raw = text.encode("ascii")
    return bytes((len(raw),)) + raw


def cip_string(text: str) -> bytes:
    raw = text.encode("ascii")
    return struct.pack("<H", len(raw)) + raw


def _class_instance(path: Sequence[Segment]) -> tuple[int | None, int | None]:
    cls = next((int(s.value) for s in path if s.kind == "class"), None)
    inst = next((int(s.value) for s in path if s.kind == "instance"), None)
    return cls, inst


# ================================================================ tag database


@dataclass(frozen=True, slots=True)
class Member:
    name: str
    type: str  # an atomic type name or a UDT name
    offset: int
    array: int = 0  # elements for an array member, 0 for a scalar
    bit: int | None = None  # BOOL members: the bit of the (hidden) host SINT at `offset`
    hidden: bool = False


@dataclass
class Udt:
    """A user-defined type as its template object describes it."""

    name: str
    instance_id: int
    members: list[Member]
    size: int
    handle: int = 0

    def template_data(self, types: dict[str, Udt]) -> bytes:
        """Member infos (array size or bit, type, offset) then "Name;n" and member names, NUL-terminated."""
        infos = []
        for m in self.members:
            if m.type in ATOMIC_TYPES:
                code = ATOMIC_TYPES[m.type].code
            else:
                code = SYMBOL_STRUCT_BIT | types[m.type].instance_id
            infos.append(struct.pack("<HHI", m.bit if m.bit is not None else m.array, code, m.offset))
        names = f"{self.name};n\x00".encode() + b"".join(m.name.encode() + b"\x00" for m in self.members)
        return b"".join(infos) + names

    def definition_size_words(self, types: dict[str, Udt]) -> int:
        # Attribute 4 counts 32-bit words of the whole definition including a 23-byte
        # header the Read Template service does not return (1756-PM020, "Read template").
        return math.ceil((len(self.template_data(types)) + 23) / 4)


def build_udt(name: str, instance_id: int, fields: Sequence[tuple[str, str] | tuple[str, str, int]],
              types: dict[str, Udt]) -> Udt:
    """Lay out a UDT as Logix does: members aligned to their size, runs of BOOLs packed into hidden SINTs."""
    members: list[Member] = []
    offset = 0
    host: tuple[int, int] | None = None  # (offset of the current hidden SINT, next free bit)
    hosts = 0
    align = 1
    for spec in fields:
        member_name, type_name = spec[0], spec[1]
        array = spec[2] if len(spec) == 3 else 0  # type: ignore[misc]
        if type_name == "BOOL" and not array:
            if host is None or host[1] == 8:
                host = (offset, 0)
                members.append(Member(f"ZZZZZZZZZZ{name}{hosts}", "SINT", offset, hidden=True))
                hosts += 1
                offset += 1
            members.append(Member(member_name, "BOOL", host[0], bit=host[1]))
            host = (host[0], host[1] + 1)
            continue
        host = None
        if type_name in ATOMIC_TYPES:
            size = ATOMIC_TYPES[type_name].size
            member_align = size
        else:
            size = types[type_name].size
            member_align = 4
        align = max(align, member_align)
        offset = -(-offset // member_align) * member_align
        members.append(Member(member_name, type_name, offset, array))
        offset += size * max(1, array)
    size = -(-offset // max(align, 4)) * max(align, 4)
    udt = Udt(name, instance_id, members, size)
    udt.handle = zlib.crc32(udt.template_data({**types, name: udt})) & 0xFFFF
    return udt


@dataclass
class Symbol:
    """One tag: a name, a type, array dimensions and the bytes that hold its value."""

    instance_id: int
    name: str
    type: str
    dims: tuple[int, ...] = ()
    data: bytearray = field(default_factory=bytearray)
    system: bool = False  # Program:/Task:/Routine: entries the symbol object also lists

    def symbol_type(self, types: dict[str, Udt]) -> int:
        if self.system:
            return SYMBOL_SYSTEM_BIT | 0x68
        if self.type in ATOMIC_TYPES:
            code = ATOMIC_TYPES[self.type].code
        else:
            code = SYMBOL_STRUCT_BIT | types[self.type].instance_id
        return code | (len(self.dims) << 13)


@dataclass(frozen=True, slots=True)
class Location:
    """Where a request path points: a symbol's buffer, a byte offset, the type there and how many elements follow."""

    symbol: Symbol
    offset: int
    type: str
    elements: int  # elements of `type` from offset to the end of the array (1 for a scalar)
    bit: int | None = None


_NAME_PART = re.compile(r"([A-Za-z_][A-Za-z0-9_:]*)(?:\[([0-9,\s]+)\])?$")


class TagDatabase:
    """Controller- and program-scoped symbols, UDT templates, and their values."""

    def __init__(self) -> None:
        self.types: dict[str, Udt] = {}
        self.controller: dict[str, Symbol] = {}
        self.programs: dict[str, dict[str, Symbol]] = {}
        self._ids = itertools.count(0x10)  # instance ids, shared across scopes like a real controller's
        self.lock = threading.RLock()

    # -- definitions

    def add_udt(self, name: str, fields: Sequence[tuple[str, str] | tuple[str, str, int]]) -> Udt:
        udt = build_udt(name, 0x100 + len(self.types) * 7 + 3, fields, self.types)
        self.types[name] = udt
        return udt

    def add_program(self, name: str) -> None:
        self.programs.setdefault(name, {})
        self.controller[f"Program:{name}"] = Symbol(next(self._ids), f"Program:{name}", "DINT", system=True)
        self.programs[name]["Routine:MainRoutine"] = Symbol(next(self._ids), "Routine:MainRoutine", "DINT",
                                                            system=True)

    def add_task(self, name: str) -> None:
        self.controller[f"Task:{name}"] = Symbol(next(self._ids), f"Task:{name}", "DINT", system=True)

    def add_tag(self, name: str, type_name: str, dims: Sequence[int] = (), value: Any = None,
                program: str | None = None) -> Symbol:
        size = self.type_size(type_name) * math.prod(dims or (1,))
        symbol = Symbol(next(self._ids), name, type_name, tuple(dims), bytearray(size))
        scope = self.controller if program is None else self.programs[program]
        scope[name] = symbol
        if value is not None:
            self.set(name if program is None else f"Program:{program}.{name}", value)
        return symbol

    def remove_tag(self, name: str) -> None:
        """Delete a tag, as an online edit in the PLC would; clients that uploaded it see status 0x05."""
        with self.lock:
            program, base = self._split_program(name)
            scope = self.controller if program is None else self.programs[program]
            del scope[base]

    def type_size(self, type_name: str) -> int:
        if type_name in ATOMIC_TYPES:
            return ATOMIC_TYPES[type_name].size
        return self.types[type_name].size

    # -- values by name, for tests

    def set(self, name: str, value: Any) -> None:
        with self.lock:
            self._store(self.locate_name(name), value)

    def get(self, name: str) -> Any:
        with self.lock:
            return self._load(self.locate_name(name))

    def _store(self, loc: Location, value: Any) -> None:
        if loc.type in self.types:
            udt = self.types[loc.type]
            for m in udt.members:
                if m.name in value:
                    self._store(self._member(loc, m), value[m.name])
            return
        if loc.elements > 1 and isinstance(value, (list, tuple)):
            size = self.type_size(loc.type)
            for i, item in enumerate(value[: loc.elements]):
                self._store(Location(loc.symbol, loc.offset + i * size, loc.type, 1), item)
            return
        if loc.bit is not None:
            mask = 1 << loc.bit
            data = loc.symbol.data
            data[loc.offset] = (data[loc.offset] | mask) if value else (data[loc.offset] & ~mask & 0xFF)
            return
        raw = ATOMIC_TYPES[loc.type].encode(value)
        loc.symbol.data[loc.offset:loc.offset + len(raw)] = raw

    def _load(self, loc: Location) -> Any:
        if loc.bit is not None:
            return bool(loc.symbol.data[loc.offset] & (1 << loc.bit))
        if loc.type in self.types:
            return {m.name: self._load(self._member(loc, m)) for m in self.types[loc.type].members if not m.hidden}
        atomic = ATOMIC_TYPES[loc.type]
        return atomic.decode(bytes(loc.symbol.data[loc.offset:loc.offset + atomic.size]))

    def locate_name(self, name: str) -> Location:
        """Resolve "Tag", "Arr[3]", "Udt.Member" or "Program:P.Tag" the way a request path would."""
        program, rest = self._split_program(name)
        segments: list[Segment] = []
        if program is not None:
            segments.append(Segment("symbol", f"Program:{program}"))
        for part in rest.split("."):
            match = _NAME_PART.match(part)
            if not match:
                raise KeyError(name)
            segments.append(Segment("symbol", match.group(1)))
            if match.group(2):
                segments.extend(Segment("member", int(i)) for i in match.group(2).split(","))
        try:
            return self.locate(segments)
        except CipError as exc:
            raise KeyError(f"{name}: {exc}") from exc

    @staticmethod
    def _split_program(name: str) -> tuple[str | None, str]:
        if name.startswith("Program:"):
            program, _, rest = name[len("Program:"):].partition(".")
            return program, rest
        return None, name

    # -- request paths

    def locate(self, path: Sequence[Segment]) -> Location:
        """Walk a Read/Write Tag request path: a symbol (by name or instance), then element indexes and members."""
        segments = list(path)
        if not segments:
            raise CipError(PATH_SEGMENT_ERROR)
        first = segments.pop(0)
        if first.kind == "class":
            if first.value != SYMBOL_CLASS or not segments or segments[0].kind != "instance":
                raise CipError(PATH_DESTINATION_UNKNOWN)
            instance = segments.pop(0).value
            symbol = next((s for s in self.controller.values() if s.instance_id == instance and not s.system), None)
        elif first.kind == "symbol":
            name = str(first.value)
            if name.startswith("Program:"):
                scope = self.programs.get(name[len("Program:"):])
                if scope is None or not segments or segments[0].kind != "symbol":
                    raise CipError(PATH_DESTINATION_UNKNOWN)
                symbol = scope.get(str(segments.pop(0).value))
            else:
                symbol = self.controller.get(name)
        else:
            raise CipError(PATH_SEGMENT_ERROR)
        if symbol is None or symbol.system:
            raise CipError(PATH_DESTINATION_UNKNOWN)

        loc = Location(symbol, 0, symbol.type, math.prod(symbol.dims or (1,)))
        dims = symbol.dims
        while segments:
            seg = segments.pop(0)
            if seg.kind == "member":  # element index; consecutive ones address a multi-dimensional array
                indexes = [int(seg.value)]
                while segments and segments[0].kind == "member":
                    indexes.append(int(segments.pop(0).value))
                if not dims or len(indexes) != len(dims):
                    raise CipError(PATH_SEGMENT_ERROR)
                if any(i >= d for i, d in zip(indexes, dims, strict=True)):
                    raise CipError(GENERAL_ERROR, EXT_BEYOND_END_OF_OBJECT)
                flat = 0
                for i, d in zip(indexes, dims, strict=True):
                    flat = flat * d + i
                loc = Location(symbol, loc.offset + flat * self.type_size(loc.type), loc.type, loc.elements - flat)
                dims = ()
            elif seg.kind == "symbol":
                udt = self.types.get(loc.type)
                if udt is None or dims:
                    raise CipError(PATH_DESTINATION_UNKNOWN)
                member = next((m for m in udt.members if m.name == seg.value), None)
                if member is None:
                    raise CipError(PATH_DESTINATION_UNKNOWN)
                loc = self._member(loc, member)
                dims = (member.array,) if member.array else ()
            else:
                raise CipError(PATH_SEGMENT_ERROR)
        return loc

    def _member(self, loc: Location, member: Member) -> Location:
        return Location(loc.symbol, loc.offset + member.offset, member.type, max(1, member.array), member.bit)

    def type_field(self, type_name: str) -> bytes:
        """The data type a Read Tag reply starts with: UINT code, or 0xA0 0x02 + structure handle."""
        if type_name in ATOMIC_TYPES:
            return struct.pack("<H", ATOMIC_TYPES[type_name].code)
        return bytes((STRUCT_TYPE_MARK, 0x02)) + struct.pack("<H", self.types[type_name].handle)

    def read_bytes(self, loc: Location, elements: int) -> bytes:
        if elements < 1 or elements > loc.elements:
            raise CipError(GENERAL_ERROR, EXT_BEYOND_END_OF_OBJECT)
        if loc.bit is not None:
            return b"\x01" if loc.symbol.data[loc.offset] & (1 << loc.bit) else b"\x00"
        size = self.type_size(loc.type) * elements
        return bytes(loc.symbol.data[loc.offset:loc.offset + size])

    def write_bytes(self, loc: Location, elements: int, raw: bytes, offset: int = 0) -> None:
        if elements < 1 or elements > loc.elements:
            raise CipError(GENERAL_ERROR, EXT_BEYOND_END_OF_OBJECT)
        if loc.bit is not None:
            if not raw:
                raise CipError(NOT_ENOUGH_DATA)
            self._store(loc, raw[0] != 0)
            return
        total = self.type_size(loc.type) * elements
        if offset + len(raw) > total:
            raw = raw[: max(0, total - offset)]
        loc.symbol.data[loc.offset + offset:loc.offset + offset + len(raw)] = raw


def default_database() -> TagDatabase:
    """The tags the Logix tests use: atomics, an array, a UDT and program-scoped tags."""
    db = TagDatabase()
    db.add_udt("Machine", [("Count", "DINT"), ("State", "INT"), ("Running", "BOOL"), ("Speed", "REAL")])
    db.add_tag("Line1Count", "DINT", value=0)
    db.add_tag("Line1State", "INT", value=1)
    db.add_tag("Line1Mode", "SINT", value=2)
    db.add_tag("Line1Speed", "REAL", value=12.5)
    db.add_tag("Line1Running", "BOOL", value=True)
    db.add_tag("Counts", "DINT", dims=(10,), value=list(range(100, 110)))
    db.add_tag("Filler", "Machine", value={"Count": 7, "State": 3, "Running": True, "Speed": 1.5})
    db.add_program("MainProgram")
    db.add_tag("LocalCount", "DINT", value=55, program="MainProgram")
    db.add_tag("LocalFlag", "BOOL", value=False, program="MainProgram")
    db.add_task("MainTask")
    return db


# ================================================================ request dispatcher


@dataclass(frozen=True, slots=True)
class Identity:
    vendor: int = 1  # Rockwell Automation/Allen-Bradley
    product_type: int = 0x0E  # programmable logic controller
    product_code: int = 166
    revision: tuple[int, int] = (33, 11)  # >= 21 so pycomm3 addresses tags by instance id
    status: bytes = b"\x60\x30"  # keyswitch REMOTE RUN
    serial: int = 0x00C0FFEE
    product_name: str = "1756-L83E/B"
    program_name: str = "OEE_TEST"

    def attributes_all(self) -> bytes:
        return (struct.pack("<HHHBB", self.vendor, self.product_type, self.product_code, *self.revision)
                + self.status + struct.pack("<I", self.serial) + short_string(self.product_name))


@dataclass
class Connection:
    o_t_id: int  # chosen by us; the client puts it in every SendUnitData address item
    t_o_id: int
    serial: int
    vendor: int
    originator_serial: int
    size: int


class Dispatcher:
    """Answers CIP requests from one TCP client; keeps that client's connections."""

    def __init__(self, server: LogixServer) -> None:
        self.server = server
        self.db = server.db
        self.connections: dict[int, Connection] = {}

    # -- unconnected (SendRRData)

    def unconnected(self, message: bytes) -> bytes:
        try:
            request = parse_request(message)
        except CipError as exc:
            return reply(message[0] if message else 0, exc.status, extended=exc.extended)
        cls, _ = _class_instance(request.path)
        try:
            if cls == CONNECTION_MANAGER_CLASS and request.service == READ_TAG_FRAGMENTED:
                return self._unconnected_send(request)
            if cls == CONNECTION_MANAGER_CLASS and request.service in (FORWARD_OPEN, LARGE_FORWARD_OPEN):
                return self._forward_open(request)
            if cls == CONNECTION_MANAGER_CLASS and request.service == FORWARD_CLOSE:
                return self._forward_close(request)
        except (struct.error, IndexError):  # a request shorter than its service needs
            return reply(request.service, NOT_ENOUGH_DATA)
        return self.message_router(request, connected=False)

    def _check_route(self, route: bytes) -> None:
        """A route through the backplane must name the slot our CPU sits in."""
        for seg in parse_path(route):
            if seg.kind == "port" and seg.value == 1 and int.from_bytes(seg.link, "little") != self.server.slot:
                raise CipError(CONNECTION_FAILURE, EXT_LINK_ADDRESS_NOT_AVAILABLE)

    def _unconnected_send(self, request: Request) -> bytes:
        data = request.data
        size = struct.unpack_from("<H", data, 2)[0]
        embedded = data[4:4 + size]
        route_at = 4 + size + (size % 2)
        words = data[route_at]
        try:
            self._check_route(data[route_at + 2:route_at + 2 + 2 * words])  # size, reserved, path
        except CipError as exc:
            return reply(request.service, exc.status, extended=exc.extended)
        self.server.record("unconnected_send")
        # Success: the reply is the embedded request's own reply (CIP Vol. 1, 3-5.6).
        return self.unconnected(embedded)

    def _forward_open(self, request: Request) -> bytes:
        large = request.service == LARGE_FORWARD_OPEN
        data = request.data
        _ot_id, t_o_id, serial, vendor, orig_serial = struct.unpack_from("<IIHHI", data, 2)
        params_at = 2 + 16 + 4 + 4  # ticks/priority, ids/serials, multiplier+reserved, O->T RPI
        if large:
            size = struct.unpack_from("<I", data, params_at)[0] & 0xFFFF
            route_at = params_at + 4 + 4 + 4 + 1
        else:
            size = struct.unpack_from("<H", data, params_at)[0] & 0x01FF
            route_at = params_at + 2 + 4 + 2 + 1
        words = data[route_at]
        try:
            self._check_route(data[route_at + 1:route_at + 1 + 2 * words])
        except CipError as exc:
            return reply(request.service, exc.status, extended=exc.extended)
        conn = Connection(self.server.next_connection_id(), t_o_id, serial, vendor, orig_serial, size)
        self.connections[conn.o_t_id] = conn
        self.server.record("large_forward_open" if large else "forward_open")
        rpi = 0x00204001
        body = struct.pack("<IIHHIIIBB", conn.o_t_id, t_o_id, serial, vendor, orig_serial, rpi, rpi, 0, 0)
        return reply(request.service, data=body)

    def _forward_close(self, request: Request) -> bytes:
        serial, vendor, orig_serial = struct.unpack_from("<HHI", request.data, 2)
        for cid, conn in list(self.connections.items()):
            if (conn.serial, conn.vendor, conn.originator_serial) == (serial, vendor, orig_serial):
                del self.connections[cid]
                self.server.record("forward_close")
                return reply(request.service, data=struct.pack("<HHIBB", serial, vendor, orig_serial, 0, 0))
        return reply(request.service, CONNECTION_FAILURE, extended=(EXT_CONNECTION_NOT_FOUND,))

    # -- connected (SendUnitData)

    def connected(self, connection_id: int, message: bytes) -> bytes:
        conn = self.connections.get(connection_id)
        if conn is None:
            return reply(message[0] if message else 0, CONNECTION_FAILURE, extended=(EXT_CONNECTION_NOT_FOUND,))
        try:
            request = parse_request(message)
        except CipError as exc:
            return reply(message[0] if message else 0, exc.status, extended=exc.extended)
        return self.message_router(request, connected=True, size=conn.size)

    def message_router(self, request: Request, connected: bool, size: int = 500, top: bool = True) -> bytes:
        """Route one request to the object its path names; CipError becomes an error reply."""
        service = request.service
        cls, inst = _class_instance(request.path)
        try:
            with self.db.lock:
                if cls == IDENTITY_CLASS and service == GET_ATTRIBUTES_ALL and inst == 1:
                    name, body = "identity", self.server.identity.attributes_all()
                elif cls == PROGRAM_NAME_CLASS and service == GET_ATTRIBUTES_ALL and inst == 1:
                    name, body = "program_name", cip_string(self.server.identity.program_name)
                elif cls == MESSAGE_ROUTER_CLASS and service == MULTIPLE_SERVICE and connected:
                    self.server.record("multiple_service_packet")
                    return self._multiple_service(request, size)
                elif service == GET_INSTANCE_ATTRIBUTE_LIST and connected:
                    self.server.record("get_instance_attribute_list")
                    if not self.server.serve_tag_list:
                        raise CipError(SERVICE_NOT_SUPPORTED)
                    body, more = self._instance_attribute_list(request, size)
                    return reply(service, PARTIAL_TRANSFER if more else SUCCESS, body)
                elif cls == TEMPLATE_CLASS and service == GET_ATTRIBUTE_LIST and connected:
                    name, body = "template_attributes", self._template_attributes(request)
                elif cls == TEMPLATE_CLASS and service == READ_TAG and connected:
                    self.server.record("read_template")
                    body, more = self._read_template(request, size)
                    return reply(service, PARTIAL_TRANSFER if more else SUCCESS, body)
                elif service in (READ_TAG, READ_TAG_FRAGMENTED, WRITE_TAG, WRITE_TAG_FRAGMENTED) and connected:
                    return self._tag_service(request, size, top)
                else:
                    raise CipError(SERVICE_NOT_SUPPORTED)
            self.server.record(name)
            return reply(service, data=body)
        except CipError as exc:
            return reply(service, exc.status, extended=exc.extended)
        except (struct.error, IndexError):
            return reply(service, NOT_ENOUGH_DATA)

    def _multiple_service(self, request: Request, size: int) -> bytes:
        data = request.data
        count = struct.unpack_from("<H", data, 0)[0]
        offsets = [*struct.unpack_from(f"<{count}H", data, 2), len(data)]
        replies = []
        for start, end in itertools.pairwise(offsets):
            try:
                embedded = parse_request(data[start:end])
            except CipError as exc:
                replies.append(reply(data[start], exc.status, extended=exc.extended))
                continue
            replies.append(self.message_router(embedded, connected=True, size=size, top=False))
        header = struct.pack("<H", count)
        at = 2 + 2 * count
        for body in replies:
            header += struct.pack("<H", at)
            at += len(body)
        # Any failed embedded service makes the whole packet's status 0x1E; each reply keeps its own.
        status = EMBEDDED_SERVICE_ERROR if any(r[2] not in (SUCCESS, PARTIAL_TRANSFER) for r in replies) else SUCCESS
        return reply(request.service, status, header + b"".join(replies))

    def _instance_attribute_list(self, request: Request, size: int) -> tuple[bytes, bool]:
        scope = self.db.controller
        segments = list(request.path)
        if segments and segments[0].kind == "symbol":
            program = str(segments.pop(0).value)
            found = self.db.programs.get(program.removeprefix("Program:"))
            if not program.startswith("Program:") or found is None:
                raise CipError(PATH_DESTINATION_UNKNOWN)
            scope = found
        cls, start = _class_instance(segments)
        if cls != SYMBOL_CLASS:
            raise CipError(PATH_DESTINATION_UNKNOWN)
        count = struct.unpack_from("<H", request.data, 0)[0]
        attributes = struct.unpack_from(f"<{count}H", request.data, 2)
        budget = min(size, self.server.max_list_reply) - 8  # leave room for the reply header
        body = b""
        for symbol in sorted(scope.values(), key=lambda s: s.instance_id):
            if symbol.instance_id < (start or 0):
                continue
            entry = struct.pack("<I", symbol.instance_id) + b"".join(
                self._symbol_attribute(symbol, a) for a in attributes)
            if body and len(body) + len(entry) > budget:
                return body, True  # partial transfer: the client asks again from the last instance + 1
            body += entry
        return body, False

    def _symbol_attribute(self, symbol: Symbol, attribute: int) -> bytes:
        dims = (*symbol.dims, 0, 0, 0)[:3]
        values = {
            1: cip_string(symbol.name),
            2: struct.pack("<H", symbol.symbol_type(self.db.types)),
            3: struct.pack("<I", 0x1000 + symbol.instance_id * 0x40),  # symbol address: opaque to clients
            5: struct.pack("<I", 0x2000 + symbol.instance_id),  # symbol object address
            6: struct.pack("<I", 0 if symbol.system else BASE_TAG_BIT),
            8: struct.pack("<III", *dims),
            10: b"\x00",  # external access: read/write
        }
        if attribute not in values:
            raise CipError(ATTRIBUTE_NOT_SUPPORTED)
        return values[attribute]

    def _template(self, request: Request) -> Udt:
        _, inst = _class_instance(request.path)
        udt = next((u for u in self.db.types.values() if u.instance_id == inst), None)
        if udt is None:
            raise CipError(PATH_DESTINATION_UNKNOWN)
        return udt

    def _template_attributes(self, request: Request) -> bytes:
        udt = self._template(request)
        count = struct.unpack_from("<H", request.data, 0)[0]
        attributes = struct.unpack_from(f"<{count}H", request.data, 2)
        body = struct.pack("<H", count)
        for attribute in attributes:
            if attribute == 1:
                body += struct.pack("<HHH", 1, SUCCESS, udt.handle)
            elif attribute == 2:
                body += struct.pack("<HHH", 2, SUCCESS, len(udt.members))
            elif attribute == 4:
                body += struct.pack("<HHI", 4, SUCCESS, udt.definition_size_words(self.db.types))
            elif attribute == 5:
                body += struct.pack("<HHI", 5, SUCCESS, udt.size)
            else:
                body += struct.pack("<HH", attribute, ATTRIBUTE_NOT_SUPPORTED)
        return body

    def _read_template(self, request: Request, size: int) -> tuple[bytes, bool]:
        udt = self._template(request)
        offset, wanted = struct.unpack_from("<IH", request.data, 0)
        data = udt.template_data(self.db.types)
        chunk = data[offset:offset + min(wanted, size - 8)]
        return chunk, offset + len(chunk) < len(data) and len(chunk) < wanted

    def _tag_service(self, request: Request, size: int, top: bool) -> bytes:
        service = request.service
        name = {READ_TAG: "read_tag", READ_TAG_FRAGMENTED: "read_tag_fragmented", WRITE_TAG: "write_tag",
                WRITE_TAG_FRAGMENTED: "write_tag_fragmented"}[service]
        self.server.record(name, embedded=not top)
        loc = self.db.locate(request.path)
        data = request.data
        if service in (READ_TAG, READ_TAG_FRAGMENTED):
            elements = struct.unpack_from("<H", data, 0)[0]
            offset = struct.unpack_from("<I", data, 2)[0] if service == READ_TAG_FRAGMENTED else 0
            type_field = self.db.type_field(loc.type if loc.bit is None else "BOOL")
            value = self.db.read_bytes(loc, elements)
            room = size - 8 - len(type_field)
            chunk = value[offset:offset + room]
            more = offset + len(chunk) < len(value)
            return reply(service, PARTIAL_TRANSFER if more else SUCCESS, type_field + chunk)

        # Write Tag: type, elements, [offset,] data.
        if data[0] == STRUCT_TYPE_MARK:
            handle = struct.unpack_from("<H", data, 2)[0]
            udt = self.db.types.get(loc.type)
            if udt is None or udt.handle != handle:
                raise CipError(GENERAL_ERROR, EXT_TYPE_MISMATCH)
            at = 4
        else:
            code = struct.unpack_from("<H", data, 0)[0]
            expected = ATOMIC_TYPES[loc.type].code if loc.type in ATOMIC_TYPES else None
            if code != expected:
                raise CipError(GENERAL_ERROR, EXT_TYPE_MISMATCH)
            at = 2
        elements = struct.unpack_from("<H", data, at)[0]
        at += 2
        offset = 0
        if service == WRITE_TAG_FRAGMENTED:
            offset = struct.unpack_from("<I", data, at)[0]
            at += 4
        payload = data[at:]
        needed = (1 if loc.bit is not None else self.db.type_size(loc.type)) * elements
        if service == WRITE_TAG and len(payload) < needed:
            raise CipError(NOT_ENOUGH_DATA)
        # A Logix takes the element bytes it needs and ignores what follows. pycomm3
        # 1.2.16 sends a single-tag write with its payload twice (LIBRARY-NOTES), so
        # refusing extra bytes here would refuse every write pycomm3 makes.
        if service == WRITE_TAG:
            payload = payload[:needed]
        self.db.write_bytes(loc, elements, payload, offset)
        return reply(service)


# ================================================================ TCP server


class LogixServer:
    """An in-process EtherNet/IP server on 127.0.0.1; start(), stop(), start() again on the same port."""

    def __init__(self, db: TagDatabase | None = None, slot: int = 0, max_list_reply: int = 200,
                 serve_tag_list: bool = True) -> None:
        self.db = db or default_database()
        # False: the tag-list upload is refused, as by cpppo and by gateways that do not serve it.
        self.serve_tag_list = serve_tag_list
        self.slot = slot
        self.identity = Identity()
        # Small on purpose: a tag-list reply this size holds a few tags, so every upload
        # exercises the partial-transfer (0x06) continuation a big controller needs.
        self.max_list_reply = max_list_reply
        self.port = 0
        self.requests: Counter[str] = Counter()  # CIP services served (top-level), by name
        self.embedded: Counter[str] = Counter()  # services served inside Multiple Service Packets
        self._listener: socket.socket | None = None
        self._clients: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._replying = threading.Event()  # cleared: requests are read but never answered (a hung CPU)
        self._replying.set()
        self._sessions = itertools.count(0x1001)
        self._connection_ids = itertools.count(0x7E000001)

    # -- lifecycle

    def start(self, port: int | None = None) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port if port is None else port))
        listener.listen(8)
        self.port = listener.getsockname()[1]
        self._listener = listener
        thread = threading.Thread(target=self._accept, args=(listener,), name=f"logix-accept-{self.port}",
                                  daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        """Close the listener and every client connection, as a PLC losing power would."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            clients = list(self._clients)
            self._clients.clear()
        for client in clients:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
            client.close()
        self._replying.set()  # wake client threads held by hold_replies(); their sockets are closed now
        with self._lock:
            threads, self._threads = self._threads, []
        for thread in threads:
            thread.join(timeout=5)

    @property
    def running(self) -> bool:
        return self._listener is not None

    # -- test helpers

    def set(self, name: str, value: Any) -> None:
        self.db.set(name, value)

    def get(self, name: str) -> Any:
        return self.db.get(name)

    def remove(self, name: str) -> None:
        self.db.remove_tag(name)

    def hold_replies(self) -> None:
        """Keep connections open but answer nothing, like a controller that hangs; stop() or resume ends it."""
        self._replying.clear()

    def resume_replies(self) -> None:
        self._replying.set()

    def record(self, service: str, embedded: bool = False) -> None:
        with self._lock:
            (self.embedded if embedded else self.requests)[service] += 1

    def next_connection_id(self) -> int:
        with self._lock:
            return next(self._connection_ids)

    def counts(self) -> tuple[Counter[str], Counter[str]]:
        with self._lock:
            return Counter(self.requests), Counter(self.embedded)

    # -- sockets

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stop() closed the listener
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    return
                self._clients.add(client)
            thread = threading.Thread(target=self._serve, args=(client,), name=f"logix-client-{self.port}",
                                      daemon=True)
            thread.start()
            with self._lock:
                self._threads.append(thread)

    def _serve(self, client: socket.socket) -> None:
        dispatcher = Dispatcher(self)
        session = 0
        try:
            for header, body in _frames(client):
                command, _length, their_session, _status, context, options = ENCAP_HEADER.unpack(header)
                status, out_session, data = SUCCESS, their_session, b""
                if command == LIST_IDENTITY:
                    data = self._list_identity()
                elif command == REGISTER_SESSION:
                    session = out_session = next(self._sessions)
                    data = body[:4]  # protocol version and options, echoed
                elif command == UNREGISTER_SESSION:
                    return  # no reply; the client closes the socket
                elif command in (SEND_RR_DATA, SEND_UNIT_DATA):
                    if session == 0 or their_session != session:
                        status = ENCAP_INVALID_SESSION
                    else:
                        data = self._send_data(dispatcher, command, body)
                else:
                    status = ENCAP_INVALID_COMMAND
                self._replying.wait()
                client.sendall(ENCAP_HEADER.pack(command, len(data), out_session, status, context, options) + data)
        except OSError:
            pass  # the client went away, or stop() closed the socket
        except (struct.error, IndexError):
            pass  # a garbled encapsulation stream: drop the connection, as a device does
        finally:
            with self._lock:
                self._clients.discard(client)
            client.close()

    def _send_data(self, dispatcher: Dispatcher, command: int, body: bytes) -> bytes:
        items = dict(_cpf_items(body[6:]))  # after interface handle and timeout
        if command == SEND_RR_DATA:
            answer = dispatcher.unconnected(items.get(ITEM_UNCONNECTED_DATA, b""))
            return _cpf([(ITEM_NULL_ADDRESS, b""), (ITEM_UNCONNECTED_DATA, answer)])
        connection_id = int.from_bytes(items.get(ITEM_CONNECTED_ADDRESS, b"\0\0\0\0"), "little")
        message = items.get(ITEM_CONNECTED_DATA, b"\0\0")
        sequence, request = message[:2], message[2:]
        answer = dispatcher.connected(connection_id, request)
        conn = dispatcher.connections.get(connection_id)
        t_o_id = struct.pack("<I", conn.t_o_id if conn else 0)
        return _cpf([(ITEM_CONNECTED_ADDRESS, t_o_id), (ITEM_CONNECTED_DATA, sequence + answer)])

    def _list_identity(self) -> bytes:
        ident = self.identity
        sockaddr = struct.pack(">HH4s8x", socket.AF_INET, self.port or 44818, socket.inet_aton("127.0.0.1"))
        item = (struct.pack("<H", 1) + sockaddr + struct.pack("<HHHBB", ident.vendor, ident.product_type,
                                                              ident.product_code, *ident.revision)
                + ident.status + struct.pack("<I", ident.serial) + short_string(ident.product_name) + b"\x03")
        return struct.pack("<H", 1) + struct.pack("<HH", ITEM_IDENTITY, len(item)) + item


def _frames(client: socket.socket) -> Iterator[tuple[bytes, bytes]]:
    """Encapsulation messages from a stream: a 24-byte header, then `length` bytes."""
    buffer = b""
    while True:
        while len(buffer) < ENCAP_HEADER.size:
            chunk = client.recv(4096)
            if not chunk:
                return
            buffer += chunk
        length = struct.unpack_from("<H", buffer, 2)[0]
        while len(buffer) < ENCAP_HEADER.size + length:
            chunk = client.recv(4096)
            if not chunk:
                return
            buffer += chunk
        end = ENCAP_HEADER.size + length
        yield buffer[:ENCAP_HEADER.size], buffer[ENCAP_HEADER.size:end]
        buffer = buffer[end:]


def _cpf_items(data: bytes) -> Iterator[tuple[int, bytes]]:
    count = struct.unpack_from("<H", data, 0)[0]
    at = 2
    for _ in range(count):
        kind, size = struct.unpack_from("<HH", data, at)
        yield kind, data[at + 4:at + 4 + size]
        at += 4 + size


def _cpf(items: Sequence[tuple[int, bytes]]) -> bytes:
    """Common Packet Format: interface handle 0, timeout 0, then the items."""
    out = struct.pack("<IHH", 0, 0, len(items))
    for kind, data in items:
        out += struct.pack("<HH", kind, len(data)) + data
    return out
