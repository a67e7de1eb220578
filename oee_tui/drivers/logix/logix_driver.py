"""Allen-Bradley ControlLogix / CompactLogix driver over EtherNet/IP (pycomm3).

pycomm3 is blocking, so every call to it runs in a worker thread. The calls
are serialised by a threading lock held inside the worker: an awaiting task
that is cancelled does not stop its thread, and a second call must never
reach the same socket while the first one is still on it.

On connect, pycomm3 uploads the controller's tag list (controller and program
scope, with UDT definitions). It is kept as a small immutable `TagList` so tag
names can be checked, and the address space browsed, without the PLC. Mapped
tags that do not resolve are never sent: they get a BAD sample each poll (the
other machines on the PLC keep counting) and pycomm3 does not log a traceback
for them every poll. All other mapped tags are read with one `plc.read(...)`
per poll, which pycomm3 packs into Multiple Service Packets.

`check_tag_name` is a pure syntax check that does not import pycomm3, so the
config loader can use it on any machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from oee_tui.config import SourceConfig, TagMapping
from oee_tui.drivers.base import BrowseEntry, Driver, DriverError, EmitFn, TagReading
from oee_tui.model import Quality, TagSample, TagValue

if TYPE_CHECKING:
    from pycomm3 import LogixDriver as Pycomm3LogixDriver

log = logging.getLogger(__name__)

DEFAULT_SLOT: Final = 0
# Browsing a big array lists its first elements only; a person pages a 10 000-element
# array by typing an index, not by scrolling.
BROWSE_MAX_ELEMENTS: Final = 1000
MAX_NAME_LENGTH: Final = 40  # Logix limit for tag, member and program names
INTEGER_BITS: Final = {"SINT": 8, "USINT": 8, "INT": 16, "UINT": 16, "DINT": 32, "UDINT": 32, "LINT": 64,
                       "ULINT": 64, "BYTE": 8, "WORD": 16, "DWORD": 32, "LWORD": 64}

# ---------------------------------------------------------------- tag names (no pycomm3)

_IDENT: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# The first part may be an I/O module tag such as Local:1:I; later parts are plain members.
_BASE_PART: Final = re.compile(r"([A-Za-z_][A-Za-z0-9_]*(?::[A-Za-z0-9_]+)*)(?:\[([^\]]*)\])?")
_MEMBER_PART: Final = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[([^\]]*)\])?")


@dataclass(frozen=True, slots=True)
class TagName:
    """A parsed Logix tag reference: optional program, parts with element indexes, optional bit number."""

    program: str | None
    parts: tuple[tuple[str, tuple[int, ...]], ...]
    bit: int | None = None

    @property
    def base(self) -> str:
        """The name of the tag in the tag list: "Counts", "Program:MainProgram.LocalCount"."""
        first = self.parts[0][0]
        return first if self.program is None else f"Program:{self.program}.{first}"


def _check_identifier(name: str, what: str, text: str) -> None:
    first, *others = name.split(":")  # only an I/O module tag (Local:1:I) has more than one piece
    for piece in [first, *others]:
        if not _IDENT.fullmatch(piece) and not (piece is not first and piece.isdigit()):
            raise ValueError(f"{text!r}: {what} {name!r} must start with a letter or _ and hold only letters, "
                             f"digits and _")
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"{text!r}: {what} {name!r} is longer than {MAX_NAME_LENGTH} characters")
    if "__" in name or name.endswith("_"):
        raise ValueError(f"{text!r}: {what} {name!r} has two underscores in a row or ends in _, "
                         f"which Logix does not allow")


def parse_tag_name(text: str) -> TagName:
    """Parse "Tag", "Arr[3]", "Arr[1,2]", "Udt.Member", "Word.5" or "Program:Name.Tag"; ValueError says why not."""
    if not text or not text.strip():
        raise ValueError("tag name is empty")
    if any(c.isspace() for c in text):
        raise ValueError(f"{text!r}: a Logix tag name has no spaces")
    if "{" in text or "}" in text:
        raise ValueError(f"{text!r}: an element count {{n}} reads several values; map one element, "
                         f"such as Counts[3]")
    program: str | None = None
    rest = text
    if text.startswith("Program:"):
        program, dot, rest = text[len("Program:"):].partition(".")
        if not program:
            raise ValueError(f"{text!r}: give the program's name after Program:")
        if ":" in program:
            raise ValueError(f"{text!r}: program {program!r} must not contain ':'")
        _check_identifier(program, "program", text)
        if not dot or not rest:
            raise ValueError(f"{text!r}: give a tag after the program, such as Program:{program}.Count")
    pieces = rest.split(".")
    bit: int | None = None
    if len(pieces) > 1 and pieces[-1].isdigit():
        bit = int(pieces.pop())
        if bit > 63:
            raise ValueError(f"{text!r}: bit {bit} is out of range; integers have at most 64 bits (0..63)")
    parts: list[tuple[str, tuple[int, ...]]] = []
    for position, piece in enumerate(pieces):
        pattern = _BASE_PART if position == 0 and program is None else _MEMBER_PART
        match = pattern.fullmatch(piece)
        if not match:
            if not piece:
                raise ValueError(f"{text!r}: empty name between dots")
            raise ValueError(f"{text!r}: {piece!r} is not a tag or member name; a name must start with a letter "
                             f"or _ and hold only letters, digits and _, optionally followed by an [index]")
        name, index_text = match.group(1), match.group(2)
        _check_identifier(name, "member" if position else "tag", text)
        indexes: tuple[int, ...] = ()
        if index_text is not None:
            items = index_text.split(",")
            if not all(item.isdigit() for item in items) or not 1 <= len(items) <= 3:
                raise ValueError(f"{text!r}: index [{index_text}] must be one to three whole numbers, "
                                 f"such as [3] or [1,2]")
            indexes = tuple(int(item) for item in items)
        parts.append((name, indexes))
    return TagName(program, tuple(parts), bit)


def check_tag_name(text: str) -> str | None:
    """Why `text` is not a syntactically valid Logix tag reference, or None if it is. Needs no PLC."""
    try:
        parse_tag_name(text)
    except ValueError as exc:
        return str(exc)
    return None


# ---------------------------------------------------------------- the uploaded tag list


@dataclass(frozen=True, slots=True)
class LogixType:
    """A data type: atomic ("DINT"), string-like (readable as text) or a structure with public members."""

    name: str
    members: tuple[LogixMember, ...] = ()
    is_struct: bool = False

    def member(self, name: str) -> LogixMember | None:
        return next((m for m in self.members if m.name == name), None)


@dataclass(frozen=True, slots=True)
class LogixMember:
    name: str
    type: LogixType
    dims: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class LogixTag:
    name: str  # as pycomm3 reads it: "Counts", "Program:MainProgram.LocalCount"
    type: LogixType
    dims: tuple[int, ...] = ()


def type_text(type_: LogixType, dims: Sequence[int]) -> str:
    return f"{type_.name}[{','.join(map(str, dims))}]" if dims else type_.name


@dataclass(frozen=True, slots=True)
class Node:
    """What a tag reference points at: a type, the array dimensions still to index, a bit number."""

    name: str
    type: LogixType
    dims: tuple[int, ...] = ()
    bit: int | None = None

    @property
    def readable(self) -> bool:
        return not self.dims and not self.type.is_struct

    @property
    def type_name(self) -> str:
        return "BOOL" if self.bit is not None else type_text(self.type, self.dims)


class TagList:
    """The controller's tags as uploaded on connect; resolves names and answers browse requests."""

    def __init__(self, tags: Iterable[LogixTag], programs: Iterable[str]) -> None:
        self.tags: dict[str, LogixTag] = {t.name: t for t in tags}
        self.programs: tuple[str, ...] = tuple(programs)

    def __len__(self) -> int:
        return len(self.tags)

    def node(self, text: str) -> Node:
        """Walk a reference through arrays and members; ValueError names the part that does not exist."""
        name = parse_tag_name(text)
        if name.program is not None and name.program not in self.programs:
            known = ", ".join(self.programs) or "none"
            raise ValueError(f"{text!r}: program {name.program!r} is not in the controller (programs: {known})")
        tag = self.tags.get(name.base)
        if tag is None:
            raise ValueError(f"{text!r}: tag {name.base!r} is not in the controller's tag list "
                             f"({len(self.tags)} tags uploaded on connect)")
        type_, dims = tag.type, tag.dims
        path = ""
        for position, (part, indexes) in enumerate(name.parts):
            if position:
                if dims:
                    raise ValueError(f"{text!r}: {path} is an array ({type_text(type_, dims)}); index it before "
                                     f".{part}")
                member = type_.member(part)
                if member is None:
                    if not type_.is_struct:
                        raise ValueError(f"{text!r}: {path} is a {type_.name}, which has no members")
                    members = ", ".join(m.name for m in type_.members)
                    raise ValueError(f"{text!r}: {type_.name} has no member {part!r} (members: {members})")
                type_, dims = member.type, member.dims
                path = f"{path}.{part}"
            else:
                path = name.base
            if indexes:
                if not dims:
                    raise ValueError(f"{text!r}: {path} is a {type_text(type_, dims)}, not an array")
                if len(indexes) != len(dims):
                    raise ValueError(f"{text!r}: {path} has {len(dims)} dimension(s) ({type_text(type_, dims)}); "
                                     f"give {len(dims)} index(es)")
                for index, size in zip(indexes, dims, strict=True):
                    if index >= size:
                        raise ValueError(f"{text!r}: index {index} is out of range for {path} "
                                         f"({type_text(type_, dims)}: 0..{size - 1})")
                path = f"{path}[{','.join(map(str, indexes))}]"
                dims = ()
        if name.bit is not None:
            width = INTEGER_BITS.get(type_.name)
            if dims or width is None:
                raise ValueError(f"{text!r}: {path} is a {type_text(type_, dims)}; only integers have numbered bits")
            if name.bit >= width:
                raise ValueError(f"{text!r}: bit {name.bit} is out of range for {path} ({type_.name}: "
                                 f"0..{width - 1})")
        return Node(text, type_, dims, name.bit)

    def resolve(self, text: str) -> Node:
        """The node for a mapping, which must be one readable value (an atomic, a bit, a string)."""
        node = self.node(text)
        if node.dims:
            first = f"{text}[{','.join('0' for _ in node.dims)}]"
            raise ValueError(f"{text!r} is an array ({node.type_name}); map one element, such as {first}")
        if node.type.is_struct:
            members = ", ".join(f"{text}.{m.name}" for m in node.type.members[:3])
            raise ValueError(f"{text!r} is a structure ({node.type.name}); map one of its members, such as {members}")
        return node

    def validate(self, names: Iterable[str]) -> dict[str, str]:
        errors: dict[str, str] = {}
        for name in names:
            try:
                self.resolve(name)
            except ValueError as exc:
                errors[name] = str(exc)
        return errors

    def children(self, parent: str | None) -> list[BrowseEntry]:
        if parent is None:
            entries = [self._entry(t.name, t.name) for t in self.tags.values() if not t.name.startswith("Program:")]
            entries += [BrowseEntry(f"Program:{p}", f"Program:{p}", None, True) for p in self.programs]
            return entries
        if parent.startswith("Program:") and "." not in parent:
            program = parent[len("Program:"):]
            if program not in self.programs:
                raise ValueError(f"{parent!r}: program {program!r} is not in the controller")
            prefix = f"{parent}."
            return [self._entry(t.name, t.name[len(prefix):]) for t in self.tags.values()
                    if t.name.startswith(prefix)]
        node = self.node(parent)
        if node.dims:
            ranges = (range(d) for d in node.dims)
            indexes = itertools.islice(itertools.product(*ranges), BROWSE_MAX_ELEMENTS)
            ids = [f"{parent}[{','.join(map(str, ix))}]" for ix in indexes]
            return [self._entry(i, i[len(parent):]) for i in ids]
        if node.type.is_struct:
            return [self._entry(f"{parent}.{m.name}", m.name) for m in node.type.members]
        return []

    def _entry(self, id_: str, name: str) -> BrowseEntry:
        node = self.node(id_)
        has_children = bool(node.dims) or node.type.is_struct
        return BrowseEntry(id_, name, None if has_children else node.type_name, has_children)


def tag_list_from_pycomm3(tags: Mapping[str, Mapping[str, Any]], programs: Iterable[str]) -> TagList:
    """Turn pycomm3's `plc.tags` (dicts of dicts) into a TagList."""
    cache: dict[str, LogixType] = {}

    def type_of(info: Mapping[str, Any]) -> LogixType:
        if info.get("tag_type") != "struct":
            return LogixType(str(info["data_type_name"]))
        definition = info["data_type"]
        name = str(definition["name"])
        if name not in cache:
            if "string" in definition:  # STRING and its kin read as text, not as LEN and DATA
                cache[name] = LogixType(name)
            else:
                members = []
                for member in definition["attributes"]:  # public members, in template order
                    member_info = definition["internal_tags"][member]
                    array = member_info.get("array") or 0
                    dims = (array,) if array and member_info.get("data_type_name") != "BOOL" else ()
                    members.append(LogixMember(member, type_of(member_info), dims))
                cache[name] = LogixType(name, tuple(members), is_struct=True)
        return cache[name]

    out = []
    for name, info in tags.items():
        dims = tuple(int(d) for d in info.get("dimensions", (0, 0, 0))[: int(info.get("dim", 0))])
        out.append(LogixTag(name, type_of(info), dims))
    return TagList(out, programs)


# ---------------------------------------------------------------- the driver

ReadResult = tuple[str, TagValue, str, str | None]  # tag, value, type, error


def _describe(exc: BaseException) -> str:
    """pycomm3 wraps causes in generic errors ("failed to open a connection"); name the whole chain."""
    messages: list[str] = []
    current: BaseException | None = exc
    while current is not None and len(messages) < 6:
        text = str(current) or type(current).__name__
        if text not in messages:
            messages.append(text)
        current = current.__cause__ or current.__context__
    return ": ".join(messages)


@functools.cache
def _timed_plc_class() -> type[Pycomm3LogixDriver]:
    """pycomm3's LogixDriver, reporting the latency of every request it puts on the wire.

    Built on first use so that importing this module (for check_tag_name) does not import pycomm3.
    """
    from pycomm3 import LogixDriver as Pycomm3LogixDriver

    class TimedLogixDriver(Pycomm3LogixDriver):  # type: ignore[misc]
        observer: Callable[[float, bool], None] | None = None

        def send(self, request: Any) -> Any:
            started = time.perf_counter()
            ok = False
            try:
                response = super().send(request)
                ok = bool(response)
                return response
            finally:
                if self.observer is not None:
                    self.observer(time.perf_counter() - started, ok)

    return TimedLogixDriver


class _LostLinkCloseFilter(logging.Filter):
    """Drops pycomm3's ERROR traceback for the Forward Close it cannot send over a link already lost.

    pycomm3's close() still closes the socket after logging; the loss itself was
    already reported by the DriverError that run() raised. Only records logged by
    a thread that has set `quiet.on` are dropped.
    """

    quiet = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(self.quiet, "on", False)


@functools.cache
def _lost_link_filter() -> type[_LostLinkCloseFilter]:
    logging.getLogger("pycomm3.cip_driver.CIPDriver").addFilter(_LostLinkCloseFilter())
    return _LostLinkCloseFilter


class LogixDriver(Driver):
    """Polls one Logix controller at a fixed rate; the tag list is uploaded once per connect."""

    def __init__(self, source: SourceConfig, tags: Sequence[TagMapping]) -> None:
        super().__init__(source, tags)
        self.slot = DEFAULT_SLOT if source.slot is None else source.slot
        self.tag_list: TagList | None = None
        self.invalid: dict[str, str] = {}  # mapped tags that do not resolve, and why
        self.readable: list[str] = []
        self._types: dict[str, str] = {}
        self._plc: Pycomm3LogixDriver | None = None
        self._io = threading.Lock()  # one pycomm3 call at a time, whatever happens to the awaiting task
        self._timings: list[tuple[float, bool]] = []  # filled by worker threads, drained on the event loop
        self._closed = False
        self._lost = False  # the link broke under a read; close() then skips the Forward Close noise
        self._wake = asyncio.Event()  # set by close(), to cut short the sleep between polls

    @property
    def where(self) -> str:
        return f"logix {self.source.host}:{self.source.port} slot {self.slot}"

    @property
    def path(self) -> str:
        """pycomm3's connection path: host:port, then the CPU's backplane slot."""
        return f"{self.source.host}:{self.source.port}/{self.slot}"

    # -- lifecycle

    async def connect(self) -> None:
        await self.close()
        self._closed = False
        self._lost = False
        self._wake.clear()
        opening = asyncio.ensure_future(self._call(self._open))
        try:
            plc, tag_list = await asyncio.shield(opening)
        except asyncio.CancelledError:
            # The worker thread cannot be stopped; when it has finished opening,
            # close what it opened so no session is left behind on the controller.
            opening.add_done_callback(self._discard_opened)
            raise
        self._plc, self.tag_list = plc, tag_list
        self.invalid = {}
        self._types = {}
        for mapping in self.tags:
            try:
                self._types[mapping.tag] = tag_list.resolve(mapping.tag).type_name
            except ValueError as exc:
                self.invalid[mapping.tag] = str(exc)
        self.readable = [m.tag for m in self.tags if m.tag not in self.invalid]
        for error in self.invalid.values():
            log.warning("%s: %s", self.where, error)
        log.info("%s: connected; %d tags uploaded, %d of %d mapped tags readable", self.where, len(tag_list),
                 len(self.readable), len(self.tags))

    def _open(self) -> tuple[Pycomm3LogixDriver, TagList]:
        from pycomm3 import PycommError

        plc = _timed_plc_class()(self.path, init_tags=True, init_program_tags=True)
        plc.observer = self._observe
        plc.socket_timeout = self.source.timeout_s
        with self._io:
            try:
                if not plc.open():
                    raise DriverError(f"{self.where}: cannot connect: the controller refused the session")
                tag_list = tag_list_from_pycomm3(plc.tags, plc.info.get("programs", {}))
            except (PycommError, OSError) as exc:
                with contextlib.suppress(Exception):
                    plc.close()
                raise DriverError(f"{self.where}: cannot connect: {_describe(exc)}") from exc
            except DriverError:
                with contextlib.suppress(Exception):
                    plc.close()
                raise
        return plc, tag_list

    def _discard_opened(self, opening: asyncio.Future[tuple[Pycomm3LogixDriver, TagList]]) -> None:
        if opening.cancelled() or opening.exception() is not None:
            return
        plc = opening.result()[0]
        threading.Thread(target=self._close_plc, args=(plc,), name=f"logix-discard-{self.name}", daemon=True).start()

    async def run(self, emit: EmitFn) -> None:
        if self._plc is None:
            raise DriverError(f"{self.where}: run() before connect()")
        loop = asyncio.get_running_loop()
        interval = max(0.001, self.source.poll_interval_s)
        next_at = loop.time()
        while not self._closed:
            try:
                batch = await self.poll()
            except DriverError:
                if self._closed:
                    return
                raise
            if self._closed:
                return
            await emit(batch)
            # Fixed-rate schedule; a poll that overruns skips the ticks it missed.
            next_at += interval
            now = loop.time()
            if next_at <= now:
                next_at += math.ceil((now - next_at) / interval + 1e-9) * interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=next_at - now)

    async def poll(self) -> list[TagSample]:
        """Read every mapped tag once; one batch, one timestamp. Raises DriverError if the link is lost."""
        results = await self._call(self._read_all)
        ts = time.time()
        samples = [TagSample(ts, self.name, tag, None, Quality.BAD, error) for tag, error in self.invalid.items()]
        for tag, value, _type, error in results:
            if error is None:
                samples.append(TagSample(ts, self.name, tag, value))
            else:
                samples.append(TagSample(ts, self.name, tag, None, Quality.BAD, error))
        return samples

    async def read_once(self) -> list[TagReading]:
        started = time.perf_counter()
        results = {r[0]: r for r in await self._call(self._read_all)}
        latency = time.perf_counter() - started
        readings: list[TagReading] = []
        for mapping in self.tags:
            if mapping.tag in self.invalid:
                readings.append(TagReading(mapping.tag, None, "unknown", Quality.BAD, 0.0, self.invalid[mapping.tag]))
                continue
            tag, value, type_, error = results[mapping.tag]
            quality = Quality.GOOD if error is None else Quality.BAD
            readings.append(TagReading(tag, value, type_, quality, latency, error))
        return readings

    def _read_all(self) -> list[ReadResult]:
        from pycomm3 import PycommError

        with self._io:
            plc = self._plc
            if plc is None or self._closed:
                raise DriverError(f"{self.where}: not connected")
            if not self.readable:
                return []
            try:
                tags = plc.read(*self.readable)
            except (PycommError, OSError) as exc:
                self._lost = True
                raise DriverError(f"{self.where}: connection lost: {_describe(exc)}") from exc
        if not isinstance(tags, list):  # pycomm3 returns a bare Tag for a single name
            tags = [tags]
        return [self._result(name, tag) for name, tag in zip(self.readable, tags, strict=True)]

    def _result(self, name: str, tag: Any) -> ReadResult:
        type_ = tag.type or self._types.get(name, "unknown")
        if tag.error is not None or tag.value is None:
            return name, None, type_, tag.error or "no value returned"
        value = tag.value
        if isinstance(value, float) and not math.isfinite(value):
            return name, None, type_, f"{type_} is {value}"
        if not isinstance(value, (bool, int, float, str)):
            return name, None, type_, f"not a single value ({type_}); map one element or member"
        return name, value, type_, None

    async def close(self) -> None:
        self._closed = True
        self._wake.set()
        plc, self._plc = self._plc, None
        if plc is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._close_plc, plc)

    def _close_plc(self, plc: Pycomm3LogixDriver) -> None:
        # Waits for a read in flight (at most timeout_s): pycomm3's close sends Forward
        # Close and UnRegisterSession on the same socket.
        quiet = _lost_link_filter().quiet
        with self._io:
            quiet.on = self._lost
            try:
                plc.close()
            except Exception as exc:  # a link already lost cannot carry the Forward Close
                log.debug("%s: while closing: %s", self.where, _describe(exc))
            finally:
                quiet.on = False

    # -- the tag list

    def validate_tags(self, names: Iterable[str]) -> dict[str, str]:
        """Each name that does not resolve against the uploaded tag list, with why (unknown tag or member, index)."""
        if self.tag_list is None:
            raise DriverError(f"{self.where}: connect first; tags are checked against the controller's tag list")
        return self.tag_list.validate(names)

    async def browse(self, parent: str | None = None) -> list[BrowseEntry]:
        if self.tag_list is None:
            raise DriverError(f"{self.where}: connect first; browsing reads the controller's tag list")
        try:
            return self.tag_list.children(parent)
        except ValueError as exc:
            raise DriverError(f"{self.where}: cannot browse {parent!r}: {exc}") from exc

    # -- plumbing

    async def _call(self, fn: Callable[[], Any]) -> Any:
        try:
            return await asyncio.to_thread(fn)
        finally:
            self._flush_timings()

    def _observe(self, latency_s: float, ok: bool) -> None:
        self._timings.append((latency_s, ok))  # list.append is atomic; the observer may not be thread-safe

    def _flush_timings(self) -> None:
        while self._timings:
            latency_s, ok = self._timings.pop(0)
            self.record_read(latency_s, ok)
