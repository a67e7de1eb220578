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
    previous_error: str | None = None  # the newest error after the device answered again, in its words
    previous_error_at: float | None = None  # POSIX time of that error

    @property
    def online(self) -> bool:
        return self.connected and not self.stale


@dataclass(frozen=True, slots=True)
class SyncHealth:
    """How far the central database ([central]) is behind this box's store, and the sync's last error."""

    target: str  # the central database as shown to a person (a URL without password)
    lag_rows: int = 0  # rows (and change-log entries) not pushed yet
    lag_s: float | None = None  # seconds since the centre last had everything; None: never synced
    last_ok: float | None = None  # POSIX time of the last round that succeeded
    last_error: str | None = None  # None: the last round succeeded
    error_at: float | None = None

    def short_text(self) -> str:
        """The header's item: 'central: 12 s behind, 3,400 rows' or 'central: FAILING (...)'."""
        if self.last_error is not None:
            return f"central: SYNC FAILING ({self.last_error[:60]}); {self.lag_rows:,} rows waiting"
        if self.lag_s is None:
            return f"central: not synced yet; {self.lag_rows:,} rows waiting"
        if self.lag_rows == 0:
            return "central: up to date"
        return f"central: {self.lag_s:.0f} s behind, {self.lag_rows:,} rows"


@dataclass(frozen=True, slots=True)
class StoreHealth:
    """Whether what the engine gathers reaches its store: what waits unsaved, since when and why,
    what was lost at the memory limit, and what was kept as dead letters because it could not be
    stored. Every screen shows it while anything is wrong."""

    unsaved_samples: int = 0  # raw and replayed samples waiting for the store
    unsaved_intervals: int = 0  # state intervals
    unsaved_count_minutes: int = 0  # count rows (machine, minute, product)
    unsaved_parts: int = 0  # the parts those count rows hold
    unsaved_dead_letters: int = 0
    unsaved_since: float | None = None  # POSIX time of the last write that reached the store; None: all saved
    last_error: str | None = None  # why the store could not be written, in a few words
    lost_samples: int = 0  # dropped at the memory limit (the oldest first) since the engine started
    lost_dead_letters: int = 0
    set_aside: int = 0  # rows the store could not take, kept as dead letters (topic store:<table>)
    path: str | None = None  # the store's directory

    @property
    def failing(self) -> bool:
        return self.unsaved_since is not None

    @property
    def lost(self) -> int:
        return self.lost_samples + self.lost_dead_letters

    @property
    def ok(self) -> bool:
        return not self.failing and not self.lost and not self.set_aside

    def unsaved_text(self) -> str:
        """What waits, in words: '1,204 samples, 3 state intervals, 2 minutes of counts (57 parts)'."""
        return _listed((self.unsaved_samples, "sample"), (self.unsaved_intervals, "state interval"),
                       (self.unsaved_count_minutes, "count row"), (self.unsaved_dead_letters, "dead letter"),
                       parts=self.unsaved_parts) or "nothing"

    def lost_text(self) -> str:
        """What was dropped at the memory limit, in words."""
        return _listed((self.lost_samples, "sample"), (self.lost_dead_letters, "dead letter")) or "nothing"


def _listed(*counts: tuple[int, str], parts: int = 0) -> str:
    said = [f"{count:,} {noun}{'' if count == 1 else 's'}" for count, noun in counts if count]
    if parts and said:
        said = [f"{item} ({parts:,} parts)" if "count row" in item else item for item in said]
    return ", ".join(said)


@dataclass(frozen=True, slots=True)
class PlantSnapshot:
    ts: float
    shift: str | None
    machines: tuple[MachineSnapshot, ...]
    plant: OeeResult | None = None
    lines: tuple[OeeResult, ...] = ()
    sources: tuple[SourceStatus, ...] = ()  # one per source that feeds a machine
    store: StoreHealth = StoreHealth()  # whether the engine's data reaches its store
    sync: SyncHealth | None = None  # the central sync's state; None: no [central] section


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
