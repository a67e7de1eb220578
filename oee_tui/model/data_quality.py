"""Data-quality figures of the samples the plant sends: per tag, per source and per clock hour.

The engine counts them live (engine/live/data_quality.py); `oee quality` and the Devices screen show
them, and the store keeps each tag's closed hours (store/quality_tables.py).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TagQuality:
    """One (source, tag) over one clock hour (UTC) or part of it."""

    source: str
    tag: str
    hour: float  # POSIX start of the clock hour
    received: int  # samples of good quality received in it (duplicates and late ones included)
    expected: float | None  # samples the source should have sent in the part of the hour watched; None: n/a
    range_violations: int  # good numeric samples outside the tag map's [min, max]
    duplicates: int  # the tag's last timestamp and value arriving again
    out_of_order: int  # timestamped before the tag's newest sample
    # The smallest (box's time of arrival - device timestamp) seen in the hour: the device clock's
    # lag behind the box plus the least transport delay (negative: the device's clock is ahead).
    # None where the source has no device timestamps, or before the first sample.
    skew_s: float | None
    range_low: float | None = None  # the range the samples were held to, as the tag maps give it
    range_high: float | None = None
    last_violation: float | None = None  # the newest value out of range

    @property
    def completeness(self) -> float | None:
        """received / expected, capped at 1 (a device that sends a little faster is complete); None: n/a."""
        if self.expected is None or self.expected <= 0:
            return None
        return min(1.0, self.received / self.expected)


@dataclass(frozen=True, slots=True)
class SourceQuality:
    """One source's tags summed over one clock hour; `tags` holds each one."""

    source: str
    kind: str
    hour: float
    watched_s: float  # how much of the hour the engine watched the source (since start or reload)
    expected_every_s: float | None  # one sample per tag every so often; None: completeness is n/a
    device_time: bool  # whether the samples carry the device's own timestamps (skew is measurable)
    received: int
    expected: float | None
    range_violations: int
    duplicates: int
    out_of_order: int
    skew_s: float | None  # the tags' median skew (see TagQuality.skew_s)
    skew_max_s: float | None  # the tag with the largest skew, either way
    tags: tuple[TagQuality, ...] = ()  # empty in a report asked for without tags (the Devices screen's)
    worst_range: TagQuality | None = None  # the tag with the most range violations, if any has one

    @property
    def completeness(self) -> float | None:
        if self.expected is None or self.expected <= 0:
            return None
        return min(1.0, self.received / self.expected)

    @property
    def problems(self) -> int:
        return self.range_violations + self.duplicates + self.out_of_order


@dataclass(frozen=True, slots=True)
class QualityReport:
    """What `oee quality` and the Devices screen show: each source's current hour, and each source's
    closed hours (newest first) that the engine still holds or the store kept."""

    ts: float  # when it was made
    current: tuple[SourceQuality, ...]
    hours: tuple[SourceQuality, ...] = ()
    live: bool = True  # False: read from the store, no engine counting now
