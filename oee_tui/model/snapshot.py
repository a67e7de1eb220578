"""Immutable views of the plant that the engine publishes and the UI renders.

The engine builds one PlantSnapshot per tick (1 Hz) instead of one message per
tag; screens diff it against what they show.
"""

from __future__ import annotations

from dataclasses import dataclass

from oee_tui.model.events import MachineEvent
from oee_tui.model.facts import MachineState, StateInterval
from oee_tui.model.results import OeeResult


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
    events: tuple[MachineEvent, ...] = ()  # this shift's counter resets and jumps the engine saw, oldest first


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """Health of one data source (a PLC, a server) as its acquisition runner sees it."""

    name: str
    kind: str
    connected: bool  # the driver holds a connection
    stale: bool  # no data within 2 x expected_interval_s: its machines are offline
    last_error: str | None  # in the device's or the network's words
    last_data: float | None  # POSIX time of the newest samples, None if never
    expected_interval_s: float  # the poll interval, or the keep-alive check of a subscription
    reads_per_s: float  # requests to the device, over the last 10 s
    latency_p50_s: float | None  # over the last 256 successful requests; None before the first
    latency_p95_s: float | None
    reads: int  # requests since start
    failed_reads: int
    errors: int  # connection failures (each one ends in a reconnect)
    reconnects: int
    samples: int  # samples the driver delivered to the queue (later dropped ones included)
    dropped: int  # samples lost because the queue to the engine was full
    queued: int  # samples waiting for the engine now
    policy: str  # what a full queue does: "wait" or "drop oldest"
    next_retry_in_s: float | None = None  # while disconnected: when the next attempt is due

    @property
    def online(self) -> bool:
        return self.connected and not self.stale


@dataclass(frozen=True, slots=True)
class PlantSnapshot:
    ts: float
    shift: str | None
    machines: tuple[MachineSnapshot, ...]
    plant: OeeResult | None = None
    lines: tuple[OeeResult, ...] = ()
    sources: tuple[SourceStatus, ...] = ()  # one per source that feeds a machine


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
    events: tuple[MachineEvent, ...] = ()  # this shift's counter resets and jumps the engine saw, oldest first
