"""The contract every protocol driver keeps.

A driver owns one connection to one source. It never retries on its own: the
acquisition runner (oee_tui.engine.live.acquisition) owns reconnect, backoff and the
offline marking, so a driver's only duty on a lost link is to say so by raising.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from oee_tui.config import SourceConfig, TagMapping
from oee_tui.model import Quality, SampleBatch, TagValue

log = logging.getLogger(__name__)

EmitFn = Callable[[SampleBatch], Awaitable[None]]
S = TypeVar("S", bound=SourceConfig)


def keep_alive_interval_s(publishing_interval_ms: int) -> float:
    """How often a subscription driver (opcua, mqtt, sparkplug) checks its connection and reports
    the check as a read, and so how often the acquisition runner expects a sign of life from it:
    every max(1 s, 2 x the publishing interval)."""
    return max(1.0, 2 * publishing_interval_ms / 1000)


def settings_of(source: SourceConfig, settings_type: type[S]) -> S:
    """`source` as its kind's own settings type; a source of another kind is a programming error."""
    if not isinstance(source, settings_type):
        raise TypeError(f"source {source.name}: {type(source).__name__} given where {settings_type.__name__} "
                        "is needed")
    return source


class DriverError(Exception):
    """A connection or protocol failure; the message names the device and the cause."""


@dataclass(frozen=True, slots=True)
class TagReading:
    """One mapped tag read once, for "Test connection": what came back, and how fast."""

    tag: str
    value: TagValue
    type: str  # the device's type name for it: "uint16", "REAL", "DINT", "Int32"
    quality: Quality
    latency_s: float
    error: str | None = None  # why quality is not good, in the device's words


@dataclass(frozen=True, slots=True)
class BrowseEntry:
    """One item of a device's address space: an OPC-UA node, a Logix tag or UDT member."""

    id: str  # what goes into a tag mapping's `tag`: a node id, a tag name
    name: str  # what a person reads
    type: str | None  # the data type of a readable item; None for folders and objects
    has_children: bool


ReadObserver = Callable[[float, bool], None]  # (latency in seconds, succeeded)


class Driver(ABC):
    """One source's connection. Lifecycle: connect() → run(emit) → close()."""

    def __init__(self, source: SourceConfig, tags: Sequence[TagMapping]) -> None:
        self.source = source
        # Several machines may feed from one tag (a shared line counter); the
        # device must be read once and the sample fanned out by the engine.
        unique: dict[str, TagMapping] = {}
        for mapping in tags:
            first = unique.setdefault(mapping.tag, mapping)
            if first is not mapping and (first.type, first.byte_order, first.word_order) != (
                    mapping.type, mapping.byte_order, mapping.word_order):
                log.warning("source %s: tag %s is mapped with different types or orders; using %s/%s/%s",
                            source.name, mapping.tag, first.type, first.byte_order, first.word_order)
        self.tags: tuple[TagMapping, ...] = tuple(unique.values())

        # Set by the acquisition runner: every request to the device reports its latency here,
        # which gives the source's reads per second and latency percentiles.
        self.on_read: ReadObserver | None = None

    @property
    def name(self) -> str:
        return self.source.name

    @property
    @abstractmethod
    def where(self) -> str:
        """The device as messages name it: the kind and its address (unit, slot, endpoint, broker)."""

    @property
    def connect_timeout_s(self) -> float:
        """How long the runner lets connect() take."""
        return self.source.timeout_s

    def record_read(self, latency_s: float, ok: bool) -> None:
        if self.on_read is not None:
            self.on_read(latency_s, ok)

    @abstractmethod
    async def connect(self) -> None:
        """Open the connection. Raises DriverError, OSError or TimeoutError if the device can't be reached."""

    @abstractmethod
    async def run(self, emit: EmitFn) -> None:
        """Deliver samples through `emit` until close(); raise DriverError when the link is lost."""

    @abstractmethod
    async def close(self) -> None:
        """Release the connection. Idempotent; never raises."""

    async def read_once(self) -> list[TagReading]:
        """Read every mapped tag once (after connect()), one reading per tag, bad ones included."""
        raise NotImplementedError(f"{self.source.kind} sources cannot be test-read yet")

    async def read_clock(self) -> float | None:
        """The device's own clock (after connect()) as a POSIX time, for `oee validate`'s clock check;
        None when its protocol carries no clock with a time zone (Modbus has none, an S7 clock is local)."""
        return None

    async def browse(self, parent: str | None = None) -> list[BrowseEntry]:
        """The children of `parent` (None: the top level) in the device's address space."""
        raise NotImplementedError(f"{self.source.kind} sources cannot be browsed")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.source.name!r}, {len(self.tags)} tags)"
