"""What one flush of the engine hands the store, and what the store says it did with it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from oee_tui.model import CountBucket, CountEventColumns, DeadLetter, MachineEvent, StateInterval, TagSample
from oee_tui.model.audit import AuditChange


class KeptSamples(NamedTuple):
    """Raw samples as the columns of the store's samples table (Store.write_samples takes them as they are)."""

    ts: list[float]
    source: list[str]
    tag: list[str]
    value_num: list[float | None]
    value_text: list[str | None]
    quality: list[str]


def no_samples() -> KeptSamples:
    return KeptSamples([], [], [], [], [], [])


class ReasonEntry(NamedTuple):
    """A person gave the stop of `machine` that started at `stop_start` a reason; `audit`, when given, is
    the audit entry that records it, written in the same transaction (not at all if the reason is set aside)."""

    machine: str
    stop_start: float
    reason: str
    entered_by: str
    entered_at: float
    audit: AuditChange | None = None


@dataclass(frozen=True, slots=True)
class FactBatch:
    """Everything one flush writes, in one transaction (Store.write_facts)."""

    samples: KeptSamples = field(default_factory=no_samples)
    history: Sequence[TagSample] = ()  # replayed samples: each (source, tag, time) stored once
    intervals: Sequence[StateInterval] = ()  # the newest version of an interval wins
    counts: Sequence[CountBucket] = ()
    count_events: CountEventColumns = field(default_factory=CountEventColumns)  # each delta of `counts`, timed
    machine_events: Sequence[MachineEvent] = ()  # counters reset or rebaselined
    dead_letters: Sequence[DeadLetter] = ()
    reasons: Sequence[ReasonEntry] = ()

    @property
    def rows(self) -> int:
        return (len(self.samples.ts) + len(self.history) + len(self.intervals) + len(self.counts)
                + len(self.count_events) + len(self.machine_events)
                + len(self.dead_letters) + len(self.reasons))


@dataclass(frozen=True, slots=True)
class FactsWritten:
    """What a write_facts stored: rows per table, and the rows it could not store, which it kept
    as dead letters (with the row and the reason) instead of letting them block the rest."""

    samples: int = 0
    history: int = 0  # new ones: a replayed sample stored before is skipped
    intervals: int = 0
    counts: int = 0
    count_events: int = 0
    machine_events: int = 0
    reasons: int = 0
    dead_letters: int = 0  # those given, set-aside rows not included
    set_aside: tuple[DeadLetter, ...] = ()
