"""The data-quality checks, counted live: for each mapped (source, tag), per clock hour (UTC), the
samples received against those expected, range violations, duplicates, out-of-order timestamps, and
the skew between the device's timestamps and the box's clock.

The counting itself is done by the router (routing.py), inline in its per-sample loops, on the
TagCounters each route holds: a few comparisons and additions per sample, no call. This module owns
those counters: it makes them for the plant's tag maps (keeping them across a reload), closes the
hour on the engine's tick, and turns them into the model's TagQuality and SourceQuality records.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Final

from oee_tui.config import Config, SourceConfig
from oee_tui.drivers.registry import KINDS
from oee_tui.model import TagValue
from oee_tui.model.data_quality import QualityReport, SourceQuality, TagQuality

HOUR_S: Final = 3600.0
KEPT_HOURS: Final = 24  # closed hours held in memory for `oee quality` and the Devices screen
_INF: Final = math.inf


class TagCounters:
    """One (source, tag)'s counters for the current hour, updated in place by the router's loops.

    `last_ts` and `last_value` are the tag's newest sample (by its own timestamp), across hours;
    the rest start again at every hour."""

    __slots__ = ("duplicates", "high", "last_ts", "last_value", "last_violation", "low", "out_of_order",
                 "range_violations", "ranged", "received", "skew_min", "source", "tag")

    def __init__(self, source: str, tag: str, low: float | None, high: float | None) -> None:
        self.source = source
        self.tag = tag
        self.last_ts = -_INF
        self.last_value: TagValue = None
        self.received = 0
        self.range_violations = 0
        self.duplicates = 0
        self.out_of_order = 0
        self.skew_min = _INF  # the smallest (time received - device timestamp) this hour
        self.last_violation: float | None = None
        self.set_range(low, high)

    def set_range(self, low: float | None, high: float | None) -> None:
        self.ranged = low is not None or high is not None
        self.low = -_INF if low is None else low
        self.high = _INF if high is None else high

    def restart_hour(self) -> None:
        self.received = self.range_violations = self.duplicates = self.out_of_order = 0
        self.skew_min = _INF
        self.last_violation = None


@dataclass(frozen=True, slots=True)
class SourceExpectation:
    """What the checks expect of one source: a sample per tag every `every_s` (None: n/a), device timestamps."""

    kind: str
    every_s: float | None
    device_time: bool


def expectation_of(source: SourceConfig) -> SourceExpectation:
    """A polled source sends each tag every poll (or `expected_every_s`); a subscription only as often as
    `expected_every_s` says, when it is set: values that do not change are not sent again."""
    kind = KINDS[source.kind]
    every = source.expected_every_s
    if every is None and not kind.subscribes:
        every = source.poll_interval_s
    return SourceExpectation(source.kind, every, kind.device_time(source))


def tag_ranges(config: Config) -> dict[tuple[str, str], tuple[float | None, float | None]]:
    """Each mapped (source, tag)'s range. A tag mapped by several signals is held to all their ranges:
    the highest `min` and the lowest `max`."""
    ranges: dict[tuple[str, str], tuple[float | None, float | None]] = {}
    for machine in config.machines:
        for mapping in machine.signals.values():
            key = (mapping.source, mapping.tag)
            low, high = ranges.get(key, (None, None))
            if mapping.range_min is not None:
                low = mapping.range_min if low is None else max(low, mapping.range_min)
            if mapping.range_max is not None:
                high = mapping.range_max if high is None else min(high, mapping.range_max)
            ranges[key] = (low, high)
    return ranges


class DataQuality:
    """The counters of every mapped tag, the current hour, and the last KEPT_HOURS closed hours."""

    def __init__(self, config: Config, now: float) -> None:
        self.hour = _hour_of(now)
        self.counters: dict[tuple[str, str], TagCounters] = {}
        self._expect: dict[str, SourceExpectation] = {}
        self._watched_from: dict[str, float] = {}  # source -> when the engine began watching it
        self._closed: deque[tuple[SourceQuality, ...]] = deque(maxlen=KEPT_HOURS)  # newest last
        self.set_plant(config, now)

    def set_plant(self, config: Config, now: float) -> dict[tuple[str, str], TagCounters]:
        """Counters for `config`'s tag maps, keeping those of tags still mapped (their hour goes on);
        returns them by (source, tag), for the router's routes."""
        expect = {source.name: expectation_of(source) for source in config.sources}
        for name in expect:
            if name not in self._watched_from or self._expect.get(name) != expect[name]:
                self._watched_from[name] = now  # a new or changed source is expected from now on
        self._watched_from = {name: at for name, at in self._watched_from.items() if name in expect}
        self._expect = expect
        counters: dict[tuple[str, str], TagCounters] = {}
        for key, (low, high) in tag_ranges(config).items():
            kept = self.counters.get(key)
            if kept is None:
                kept = TagCounters(key[0], key[1], low, high)
            else:
                kept.set_range(low, high)
            counters[key] = kept
        self.counters = counters
        return counters

    def advance(self, now: float) -> tuple[TagQuality, ...]:
        """At the engine's tick: once a clock hour has ended, close it (the counters start again) and
        return its rows, to be kept in the store; else ()."""
        hour = _hour_of(now)
        if hour <= self.hour:
            return ()
        closed = self._sources(self.hour, self.hour + HOUR_S)
        self._closed.append(closed)
        for counters in self.counters.values():
            counters.restart_hour()
        self.hour = hour
        return tuple(tag for source in closed for tag in source.tags)

    def current_rows(self, now: float) -> tuple[TagQuality, ...]:
        """The current hour so far, as rows for the store (when the engine stops)."""
        return tuple(tag for source in self._sources(self.hour, now) for tag in source.tags)

    def report(self, now: float, source: str | None = None, *, tags: bool = True) -> QualityReport:
        """Every source's (or `source`'s) current hour and the closed ones held; `tags=False` leaves out
        each tag's row (a plant of 10,000 tags asked once a second by the Devices screen)."""
        current = self._sources(self.hour, now)
        hours = tuple(quality for closed in reversed(self._closed) for quality in closed)
        if source is not None:
            current = tuple(quality for quality in current if quality.source == source)
            hours = tuple(quality for quality in hours if quality.source == source)
        if not tags:
            current = tuple(replace(quality, tags=()) for quality in current)
            hours = tuple(replace(quality, tags=()) for quality in hours)
        return QualityReport(now, current, hours)

    def _sources(self, hour: float, until: float) -> tuple[SourceQuality, ...]:
        by_source: dict[str, list[TagCounters]] = {name: [] for name in self._expect}
        for counters in self.counters.values():
            by_source.setdefault(counters.source, []).append(counters)
        out = []
        for name, tags in by_source.items():
            expect = self._expect.get(name)
            if expect is None:
                continue
            watched = max(0.0, min(until, hour + HOUR_S) - max(hour, self._watched_from.get(name, hour)))
            rows = tuple(_tag_row(counters, hour, watched, expect) for counters in tags)
            out.append(source_quality(name, expect, hour, watched, rows))
        return tuple(out)


def source_quality(name: str, expect: SourceExpectation, hour: float, watched_s: float,
                   tags: tuple[TagQuality, ...]) -> SourceQuality:
    """One source's hour from its tags' rows: sums, the median skew and the largest either way."""
    skews = [tag.skew_s for tag in tags if tag.skew_s is not None]
    expected = [tag.expected for tag in tags if tag.expected is not None]
    return SourceQuality(
        source=name, kind=expect.kind, hour=hour, watched_s=watched_s, expected_every_s=expect.every_s,
        device_time=expect.device_time, received=sum(tag.received for tag in tags),
        expected=sum(expected) if expected and len(expected) == len(tags) else None,
        range_violations=sum(tag.range_violations for tag in tags), duplicates=sum(tag.duplicates for tag in tags),
        out_of_order=sum(tag.out_of_order for tag in tags),
        skew_s=statistics.median(skews) if skews else None,
        skew_max_s=max(skews, key=abs) if skews else None, tags=tags,
        worst_range=max((tag for tag in tags if tag.range_violations), key=lambda tag: tag.range_violations,
                        default=None))


def group_by_source(rows: Iterable[TagQuality], expectations: Mapping[str, SourceExpectation]) -> list[SourceQuality]:
    """Stored rows (one per tag and hour) as one SourceQuality per source and hour, newest hour first.
    A source no longer in the config is shown with what its rows say."""
    grouped: dict[tuple[float, str], list[TagQuality]] = {}
    for row in rows:
        grouped.setdefault((row.hour, row.source), []).append(row)
    out = []
    for (hour, name), tags in sorted(grouped.items(), key=lambda item: (-item[0][0], item[0][1])):
        expect = expectations.get(name) or SourceExpectation("?", None, any(tag.skew_s is not None for tag in tags))
        out.append(source_quality(name, expect, hour, HOUR_S, tuple(tags)))
    return out


def _tag_row(counters: TagCounters, hour: float, watched_s: float, expect: SourceExpectation) -> TagQuality:
    skew = counters.skew_min
    return TagQuality(
        source=counters.source, tag=counters.tag, hour=hour, received=counters.received,
        expected=None if expect.every_s is None else watched_s / expect.every_s,
        range_violations=counters.range_violations, duplicates=counters.duplicates,
        out_of_order=counters.out_of_order,
        skew_s=skew if expect.device_time and skew != _INF else None,
        range_low=None if counters.low == -_INF else counters.low,
        range_high=None if counters.high == _INF else counters.high,
        last_violation=counters.last_violation)


def _hour_of(ts: float) -> float:
    return math.floor(ts / HOUR_S) * HOUR_S
