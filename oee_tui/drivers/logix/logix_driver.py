"""Allen-Bradley ControlLogix / CompactLogix driver over EtherNet/IP (pycomm3).

pycomm3 is blocking, so every call to it runs in a worker thread. The calls
are serialised by a threading lock held inside the worker: an awaiting task
that is cancelled does not stop its thread, and a second call must never
reach the same socket while the first one is still on it.

On connect, pycomm3 uploads the controller's tag list (controller and program
scope, with UDT definitions). It is kept as a small immutable `TagList`
(tag_list.py) so tag names can be checked, and the address space browsed,
without the PLC. With `tag_upload = false` (gateways and simulators that cannot
serve the upload) each tag map declares its tag's type instead, checked against
the controller's reply on connect (declared_tags.py, declared_reads.py). Mapped
tags that do not resolve are never sent: they get a BAD sample each poll (the
other machines on the PLC keep counting) and pycomm3 does not log a traceback
for them every poll. All other mapped tags are read with one `plc.read(...)`
per poll, which pycomm3 packs into Multiple Service Packets.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, Protocol

from oee_tui.config import TagMapping
from oee_tui.drivers.base import BrowseEntry, DriverError, TagReading
from oee_tui.drivers.logix.declared_reads import check_declared_types, install_definitions
from oee_tui.drivers.logix.declared_tags import declare_tags
from oee_tui.drivers.logix.logix_source import LogixSource
from oee_tui.drivers.logix.tag_list import TagList, tag_list_from_pycomm3
from oee_tui.drivers.polled import PolledDriver
from oee_tui.model import Quality, TagSample, TagValue

log = logging.getLogger(__name__)

DEFAULT_SLOT: Final = 0

ReadResult = tuple[str, TagValue, str, str | None]  # tag, value, type, error
# Tag list (None: not uploaded), then the declared types and the tags that cannot be read when it was not.
Opened = tuple["Plc", TagList | None, dict[str, str], dict[str, str]]


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


class Plc(Protocol):
    """What this driver uses of pycomm3's LogixDriver, typed here: pycomm3 leaves it unannotated."""

    observer: Callable[[float, bool], None] | None
    socket_timeout: float

    @property
    def tags(self) -> Mapping[str, Mapping[str, Any]]: ...

    @property
    def info(self) -> Mapping[str, Any]: ...

    def open(self) -> bool: ...

    def close(self) -> None: ...

    def read(self, *tags: str) -> Any: ...

    def get_tag_list(self, program: str | None = None) -> Any: ...


@functools.cache
def _timed_plc_class() -> Callable[..., Plc]:
    """pycomm3's LogixDriver, reporting the latency of every request it puts on the wire.

    Built on first use, so that pycomm3 is imported when a Logix source connects, not before.
    """
    from pycomm3 import LogixDriver as Pycomm3LogixDriver

    class TimedLogixDriver(Pycomm3LogixDriver):
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


class LogixDriver(PolledDriver):
    """Polls one Logix controller at a fixed rate; the tag list is uploaded once per connect (unless switched off)."""

    source: LogixSource

    def __init__(self, source: LogixSource, tags: Sequence[TagMapping]) -> None:
        super().__init__(source, tags)
        self.slot = DEFAULT_SLOT if source.slot is None else source.slot
        self.tag_list: TagList | None = None
        self.invalid: dict[str, str] = {}  # mapped tags that do not resolve, and why
        self.readable: list[str] = []
        self._types: dict[str, str] = {}
        self._plc: Plc | None = None
        self._io = threading.Lock()  # one pycomm3 call at a time, whatever happens to the awaiting task
        self._timings: list[tuple[float, bool]] = []  # filled by worker threads, drained on the event loop
        self._lost = False  # the link broke under a read; close() then skips the Forward Close noise

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
            opened: Opened = await asyncio.shield(opening)
        except asyncio.CancelledError:
            # The worker thread cannot be stopped; when it has finished opening,
            # close what it opened so no session is left behind on the controller.
            opening.add_done_callback(self._discard_opened)
            raise
        plc, tag_list, declared_types, declared_invalid = opened
        self._plc, self.tag_list = plc, tag_list
        self.invalid = dict(declared_invalid)
        self._types = dict(declared_types)
        if tag_list is not None:
            for mapping in self.tags:
                try:
                    self._types[mapping.tag] = tag_list.resolve(mapping.tag).type_name
                except ValueError as exc:
                    self.invalid[mapping.tag] = str(exc)
        self.readable = [m.tag for m in self.tags if m.tag not in self.invalid]
        for error in self.invalid.values():
            log.warning("%s: %s", self.where, error)
        if tag_list is None:
            log.info("%s: connected; tag list not uploaded (tag_upload = false), %d of %d mapped tags readable by "
                     "their declared types", self.where, len(self.readable), len(self.tags))
        else:
            log.info("%s: connected; %d tags uploaded, %d of %d mapped tags readable", self.where, len(tag_list),
                     len(self.readable), len(self.tags))

    def _open(self) -> Opened:
        from pycomm3 import PycommError

        # The tag list is uploaded below rather than by open(), so its failure can be told apart.
        plc = _timed_plc_class()(self.path, init_tags=False, init_program_tags=False)
        plc.observer = self._observe
        plc.socket_timeout = self.source.timeout_s
        with self._io:
            try:
                if not plc.open():
                    raise DriverError(f"{self.where}: cannot connect: the controller refused the session")
            except (PycommError, OSError) as exc:
                with contextlib.suppress(Exception):
                    plc.close()
                raise DriverError(f"{self.where}: cannot connect: {_describe(exc)}") from exc
            except DriverError:
                with contextlib.suppress(Exception):
                    plc.close()
                raise
            try:
                if not self.source.tag_upload:
                    return (plc, None, *self._declare(plc))
                plc.get_tag_list(program="*")
                return plc, tag_list_from_pycomm3(plc.tags, plc.info.get("programs", {})), {}, {}
            except (PycommError, OSError) as exc:
                with contextlib.suppress(Exception):
                    plc.close()
                if not self.source.tag_upload:
                    raise DriverError(f"{self.where}: cannot connect: {_describe(exc)}") from exc
                raise DriverError(
                    f"{self.where}: cannot upload the tag list: {_describe(exc)}. If the controller or gateway does "
                    f"not serve its tag list (cpppo's simulator and some gateways do not), set tag_upload = false "
                    f"on source {self.name} and declare each tag's type in its tag map (type = \"DINT\")") from exc

    def _declare(self, plc: Plc) -> tuple[dict[str, str], dict[str, str]]:
        """The mapped tags' declared types as read values will carry them, and the tags that cannot be read."""
        declared, invalid = declare_tags(self.tags, self.name)
        invalid.update(install_definitions(plc, declared.values()))
        invalid.update(check_declared_types(plc, [d for tag, d in declared.items() if tag not in invalid]))
        return {tag: d.value_type for tag, d in declared.items() if tag not in invalid}, invalid

    def _discard_opened(self, opening: asyncio.Future[Opened]) -> None:
        if opening.cancelled() or opening.exception() is not None:
            return
        plc = opening.result()[0]
        threading.Thread(target=self._close_plc, args=(plc,), name=f"logix-discard-{self.name}", daemon=True).start()

    @property
    def connected(self) -> bool:
        return self._plc is not None

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

    def _close_plc(self, plc: Plc) -> None:
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
        if not self.source.tag_upload:
            raise DriverError(f"{self.where}: source {self.name} has tag_upload = false, so the controller's tag "
                              f"list is not read and cannot be browsed: type the tag's name and declare its type")
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
