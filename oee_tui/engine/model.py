"""Domain types shared by drivers, engine, store and screens.

Times are POSIX seconds (float, UTC) inside the engine: a float is cheap to
compare and subtract at 200k samples/s, and it cannot carry a wrong tzinfo.
Conversion to aware datetimes happens only at the edges (store, UI, reports).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, Literal

TagValue = float | int | bool | str | None


class Quality(StrEnum):
    GOOD = "good"
    UNCERTAIN = "uncertain"
    BAD = "bad"
    STALE = "stale"


@dataclass(frozen=True, slots=True)
class TagSample:
    """One value read from one tag of one source.

    `ts_utc` is POSIX seconds (UTC). `quality` is never omitted: a driver that
    loses its connection emits BAD samples so the engine can mark machines
    offline instead of guessing.
    """

    ts_utc: float
    source: str
    tag: str
    value: TagValue
    quality: Quality = Quality.GOOD
    error: str | None = None


# TagSample is a frozen dataclass: its __init__ sets each field through object.__setattr__,
# which costs as much as decoding a Sparkplug metric. good_samples, which turns a Sparkplug
# host's columns back into TagSamples for whoever iterates them (the edge node watching every
# sample, at the host's full rate), fills the slots through their descriptors instead: half the
# time, the same object. That is only the same object while TagSample is these six slots and
# nothing runs in __init__, checked here at import.
_SAMPLE_SLOTS: Final = ("ts_utc", "source", "tag", "value", "quality", "error")
if tuple(TagSample.__dataclass_fields__) != _SAMPLE_SLOTS or hasattr(TagSample, "__post_init__") or \
        TagSample.__slots__ != _SAMPLE_SLOTS:
    raise ImportError("TagSample changed: update the slot setters below and their users")
new_sample = TagSample.__new__
set_ts = TagSample.ts_utc.__set__  # type: ignore[attr-defined]
set_source = TagSample.source.__set__  # type: ignore[attr-defined]
set_tag = TagSample.tag.__set__  # type: ignore[attr-defined]
set_value = TagSample.value.__set__  # type: ignore[attr-defined]
set_quality = TagSample.quality.__set__  # type: ignore[attr-defined]
set_error = TagSample.error.__set__  # type: ignore[attr-defined]


def good_samples(source: str, times: list[float], tags: list[str], values: list[TagValue]) -> list[TagSample]:
    """TagSample(ts, source, tag, value) for each position of the three columns, quality GOOD."""
    samples: list[TagSample] = []
    add = samples.append
    good = Quality.GOOD
    for ts, tag, value in zip(times, tags, values, strict=True):
        sample = new_sample(TagSample)
        set_ts(sample, ts)
        set_source(sample, source)
        set_tag(sample, tag)
        set_value(sample, value)
        set_quality(sample, good)
        set_error(sample, None)
        add(sample)
    return samples


@dataclass(slots=True)
class SampleColumns:
    """GOOD samples of one source as three columns of equal length.

    What the Sparkplug host decodes DATA into and its worker process sends: the engine ingests
    them without building a TagSample for each (half a microsecond apiece, a third of the
    engine's time per sample). The host appends while it decodes a pass of messages; once
    emitted, nobody changes them. Iterating yields TagSamples, for anyone who needs them.
    """

    source: str
    times: list[float]
    tags: list[str]
    values: list[TagValue]

    def __len__(self) -> int:
        return len(self.times)

    def __iter__(self) -> Iterator[TagSample]:
        return iter(good_samples(self.source, self.times, self.tags, self.values))


SampleBatch = Sequence[TagSample] | SampleColumns  # what a driver emits to the engine


class MachineState(StrEnum):
    RUNNING = "running"
    MINOR_STOP = "minor_stop"
    DOWN = "down"
    PLANNED_STOP = "planned_stop"
    CHANGEOVER = "changeover"
    OFFLINE = "offline"

    @property
    def is_stop(self) -> bool:
        return self is not MachineState.RUNNING and self is not MachineState.OFFLINE


# States a PLC state code may map to. "stopped" is an unplanned stop whose class
# (minor stop or down) is decided by its duration, not by the PLC.
STATE_CODE_TARGETS: Final = ("running", "stopped", "down", "planned_stop", "changeover", "offline")


class Signal(StrEnum):
    """Machine signals a tag can feed."""

    TOTAL_COUNT = "total_count"
    REJECT_COUNT = "reject_count"
    GOOD_COUNT = "good_count"
    STATE_CODE = "state_code"
    FAULT = "fault"
    SPEED = "speed"
    PRODUCT = "product"


COUNTER_SIGNALS: Final = frozenset({Signal.TOTAL_COUNT, Signal.REJECT_COUNT, Signal.GOOD_COUNT})


class Loss(StrEnum):
    """The six big losses (Nakajima)."""

    BREAKDOWN = "breakdown"  # availability
    SETUP = "setup"  # availability
    MINOR_STOP = "minor_stop"  # performance (idling and minor stops)
    REDUCED_SPEED = "reduced_speed"  # performance
    DEFECTS = "defects"  # quality (process defects)
    STARTUP_REJECTS = "startup_rejects"  # quality


@dataclass(frozen=True, slots=True)
class StateInterval:
    """A span of one machine in one state. `end` is None while it is open.

    `reason` is the stop-reason code an operator (or the PLC) gave; None when
    not yet given.
    """

    machine: str
    start: float
    end: float | None
    state: MachineState
    reason: str | None = None
    reason_by: str | None = None
    reason_at: float | None = None


@dataclass(frozen=True, slots=True)
class CountBucket:
    """Count deltas of one machine, one product, in one minute (start of minute, UTC)."""

    machine: str
    minute: float
    product: str | None
    total: int
    reject: int

    @property
    def good(self) -> int:
        return self.total - self.reject


@dataclass(frozen=True, slots=True)
class DeadLetter:
    received_at: float
    source: str
    topic: str
    payload: bytes
    error: str


ReportFormat = Literal["table", "json", "csv"]


@dataclass(frozen=True, slots=True)
class Span:
    """Half-open time span [start, end) in POSIX seconds."""

    start: float
    end: float

    @property
    def seconds(self) -> float:
        return max(0.0, self.end - self.start)


@dataclass(frozen=True, slots=True)
class ShiftInstance:
    """One occurrence of a shift: its name, the local date it starts on, and its UTC span."""

    name: str
    local_date: str  # ISO date of the shift's start in plant local time
    start: float
    end: float
    breaks: tuple[Span, ...] = field(default_factory=tuple)

    @property
    def label(self) -> str:
        return f"{self.name}@{self.local_date}"
