"""Immutable views of the plant that the engine publishes and the UI renders.

The engine builds one PlantSnapshot per tick (1 Hz) instead of one message per
tag; screens diff it against what they show.
"""

from __future__ import annotations

from dataclasses import dataclass

from oee_tui.engine.model import MachineState, StateInterval
from oee_tui.engine.oee_result import OeeResult


@dataclass(frozen=True, slots=True)
class MachineSnapshot:
    machine: str
    name: str
    line: str
    state: MachineState
    state_since: float  # POSIX seconds
    last_data: float | None  # newest good sample for this machine, None if never
    stale: bool  # no good data within site.stale_after_s, or bad quality
    product: str | None
    shift: str | None  # label of the current shift, None outside shifts
    oee: OeeResult  # current shift so far
    good_count: int  # current shift
    reject_count: int
    target_count: int  # what the machine should have made by now in this shift
    reason: str | None = None  # reason of the current stop, if given


@dataclass(frozen=True, slots=True)
class PlantSnapshot:
    ts: float
    shift: str | None
    machines: tuple[MachineSnapshot, ...]
    plant: OeeResult | None = None
    lines: tuple[OeeResult, ...] = ()


@dataclass(frozen=True, slots=True)
class ReasonTotal:
    reason: str | None  # None: stops without a reason yet
    name: str
    stops: int
    seconds: float


@dataclass(frozen=True, slots=True)
class TrendPoint:
    start: float
    end: float
    oee: float | None
    availability: float | None
    performance: float | None
    quality: float | None


@dataclass(frozen=True, slots=True)
class MachineDetail:
    """What the machine-detail screen shows, for the current shift."""

    machine: str
    name: str
    shift: str | None
    shift_start: float
    shift_end: float
    now: float
    intervals: tuple[StateInterval, ...]  # the shift's state timeline, oldest first
    stops: tuple[StateInterval, ...]  # stops an operator can give a reason to, newest first
    trend: tuple[TrendPoint, ...]  # OEE per hour (or part of an hour) of the shift
    top_reasons: tuple[ReasonTotal, ...]  # by seconds, descending
    oee: OeeResult
