"""What the engine makes of samples: machine states, signals, the six big losses, state
intervals, count buckets and events, and payloads that could not be decoded."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final


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

    def duration(self, now: float) -> float:
        """Its length; an open one lasts until `now`."""
        return (self.end if self.end is not None else now) - self.start

    def needs_reason(self, now: float, min_s: float) -> bool:
        """No reason given yet, and long enough to want one (the site's `reason_min_stop_s`)."""
        return self.reason is None and self.duration(now) >= min_s


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
class CountEvent:
    """One counted delta of one machine at the time its parts were made (UTC epoch seconds): the middle
    of the read that saw it and the one before, capped after a gap. Its minute's CountBucket holds it
    too; events let a report cut a minute."""

    machine: str
    ts: float
    product: str | None
    total: int
    reject: int


CountEventRow = tuple[float, str | None, int, int]  # a machine's count event: ts, product, total, reject


@dataclass(slots=True)
class CountEventColumns:
    """Count events of many machines as five columns of equal length, as a flush writes them: the
    engine keeps each machine's events as plain rows and never builds a CountEvent for each."""

    machine: list[str] = field(default_factory=list)
    ts: list[float] = field(default_factory=list)
    product: list[str | None] = field(default_factory=list)
    total: list[int] = field(default_factory=list)
    reject: list[int] = field(default_factory=list)

    @classmethod
    def of(cls, events: Iterable[CountEvent]) -> CountEventColumns:
        columns = cls()
        for event in events:
            columns.add(event.machine, [(event.ts, event.product, event.total, event.reject)])
        return columns

    def __len__(self) -> int:
        return len(self.ts)

    def add(self, machine: str, rows: Sequence[CountEventRow]) -> None:
        """One machine's rows, at the end."""
        if not rows:
            return
        ts, product, total, reject = zip(*rows, strict=True)
        self.machine.extend([machine] * len(rows))
        self.ts.extend(ts)
        self.product.extend(product)
        self.total.extend(total)
        self.reject.extend(reject)

    def rows_by_machine(self) -> dict[str, list[CountEventRow]]:
        """The rows again, per machine, in their order."""
        out: dict[str, list[CountEventRow]] = {}
        for machine, ts, product, total, reject in zip(self.machine, self.ts, self.product, self.total,
                                                       self.reject, strict=True):
            out.setdefault(machine, []).append((ts, product, total, reject))
        return out


@dataclass(frozen=True, slots=True)
class DeadLetter:
    received_at: float
    source: str
    topic: str
    payload: bytes
    error: str
