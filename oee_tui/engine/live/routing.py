"""Routing samples to machines, the engine's hot path: each sample reaches the machines its tag
feeds, and its raw value is kept for the store when it changed beyond the tag's deadband.

Both loops run for every sample the plant sends, so they read everything through local
variables, looked up once per batch, and call no method per sample but the machines' own
on_sample; a machine derives its state once per batch (evaluate).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat

from oee_tui.config import Config
from oee_tui.drivers.registry import kind_of
from oee_tui.engine.live.data_quality import DataQuality, TagCounters
from oee_tui.engine.live.engine_stats import EngineStats
from oee_tui.engine.live.machine import MachineTracker
from oee_tui.engine.live.pending_samples import PendingSamples
from oee_tui.model import COUNTER_SIGNALS, Quality, SampleColumns, Signal, TagSample, TagValue

_GOOD = Quality.GOOD
# Quality.value is an enum property, as slow as the rest of a sample's bookkeeping: route()
# reads the text from this dict instead.
_QUALITY_TEXT = {quality: quality.value for quality in Quality}


@dataclass(slots=True)
class TagRoute:
    """Where the samples of one (source, tag) go, and the last value kept of it: the deadband's reference."""

    targets: tuple[tuple[MachineTracker, Signal], ...]
    deadband: float
    quality: TagCounters  # the data-quality checks' counters of this tag, updated by the loops below
    last_value: TagValue = None
    last_quality: Quality | None = None


class SampleRouter:
    """The routes of a plant's tags to its machines' signals; set_plant() builds them again after a reload."""

    def __init__(self, config: Config, machines: Mapping[str, MachineTracker], pending: PendingSamples,
                 stats: EngineStats, clock: Callable[[], float], quality: DataQuality) -> None:
        self.pending = pending
        self.quality = quality
        self.stats = stats
        self.clock = clock
        self.states_changed = False  # a machine's state changed since the engine last looked
        self.routes: dict[tuple[str, str], TagRoute] = {}
        self._routes_by_source: dict[str, dict[str, TagRoute]] = {}
        self._fed_by: dict[str, list[MachineTracker]] = {}
        # Sources whose samples of tags no machine maps are kept for the store too (Sparkplug's
        # keep_all_metrics): such a tag gets a route without targets when it first comes.
        self._keeps_all: frozenset[str] = frozenset()
        self.set_plant(config, machines)

    def set_plant(self, config: Config, machines: Mapping[str, MachineTracker]) -> None:
        """Routes for `config`'s tag maps; every tag starts again without a last kept value."""
        targets: dict[tuple[str, str], list[tuple[MachineTracker, Signal]]] = {}
        deadbands: dict[tuple[str, str], float] = {}
        for machine in config.machines:
            for signal, mapping in machine.signals.items():
                key = (mapping.source, mapping.tag)
                targets.setdefault(key, []).append((machines[machine.id], signal))
                # Counters are kept exactly: a deadband on a counter would hide parts.
                deadband = 0.0 if signal in COUNTER_SIGNALS else mapping.deadband
                deadbands[key] = max(deadbands.get(key, 0.0), deadband)
        self._fed_by = {}
        for (source, _tag), value in targets.items():
            fed = self._fed_by.setdefault(source, [])
            fed.extend(tracker for tracker, _signal in value if tracker not in fed)
        counters = self.quality.set_plant(config, self.clock())
        self.routes = {key: TagRoute(tuple(value), deadbands[key], counters[key]) for key, value in targets.items()}
        self._keeps_all = frozenset(source.name for source in config.sources
                                    if kind_of(source).keeps_every_sample(source))
        self._routes_by_source = {}
        for (source, tag), route in self.routes.items():
            self._routes_by_source.setdefault(source, {})[tag] = route

    def fed_by(self, source: str) -> Sequence[MachineTracker]:
        """The machines that a tag of `source` feeds."""
        return self._fed_by.get(source, ())

    def route(self, batch: Iterable[TagSample]) -> None:
        """Route samples to machines, keep raw samples on change (deadband), derive states."""
        routes = self.routes
        ts_col, source_col, tag_col, num_col, text_col, quality_col = self.pending.columns
        quality_text = _QUALITY_TEXT
        received = self.clock()
        touched: set[MachineTracker] = set()
        count = 0
        unknown = 0
        for sample in batch:
            count += 1
            route = routes.get((sample.source, sample.tag))
            if route is None:
                if sample.source not in self._keeps_all:
                    unknown += 1
                    continue
                route = self._kept_only(sample.source, sample.tag)
            value = sample.value
            quality = sample.quality
            good = quality is _GOOD
            ts = sample.ts_utc
            # The data-quality checks (data_quality.py), inline: this loop runs for every sample.
            checks = route.quality
            newest = checks.last_ts
            if ts > newest:
                checks.last_ts = ts
                checks.last_value = value
                lag = received - ts
                if lag < checks.skew_min:
                    checks.skew_min = lag
            elif ts < newest:
                checks.out_of_order += 1
            elif value == checks.last_value:
                checks.duplicates += 1
            if good:
                checks.received += 1
                if checks.ranged and (value.__class__ is float or value.__class__ is int) and \
                        not checks.low <= value <= checks.high:
                    checks.range_violations += 1
                    checks.last_violation = value
            last = route.last_value
            if (quality is not route.last_quality or value != last) and (
                not good or route.deadband == 0.0 or last is None or isinstance(value, str | bool)
                or isinstance(last, str | bool) or value is None or abs(value - last) > route.deadband
            ):
                route.last_value = value
                route.last_quality = quality
                ts_col.append(ts)
                source_col.append(sample.source)
                tag_col.append(sample.tag)
                if value is None or isinstance(value, str):
                    num_col.append(None)
                    text_col.append(value)
                else:
                    num_col.append(float(value))
                    text_col.append(None)
                quality_col.append(quality_text[quality])
            for machine, signal in route.targets:
                machine.on_sample(signal, ts, value, good, sample.error, received)
                touched.add(machine)
        self.stats.samples_in += count
        self.stats.unknown_tags += unknown
        self._evaluate(touched, received)

    def route_columns(self, batch: SampleColumns) -> None:
        """route() of GOOD samples of one source given as columns: the Sparkplug host's hot path.

        The loop above with the quality fixed at GOOD and no error, the source's routes found
        once instead of by (source, tag) for every sample, and the kept rows' source and quality
        added in one go. No TagSample is built. tests/engine/test_ingest.py holds the two loops to
        the same results.
        """
        source = batch.source
        keeps_all = source in self._keeps_all
        # setdefault when it keeps all: the routes _kept_only adds must be seen by this batch's next samples.
        routes = self._routes_by_source.setdefault(source, {}) if keeps_all else self._routes_by_source.get(source, {})
        ts_col, source_col, tag_col, num_col, text_col, quality_col = self.pending.columns
        received = self.clock()
        touched: set[MachineTracker] = set()
        kept = 0
        unknown = 0
        for ts, tag, value in zip(batch.times, batch.tags, batch.values, strict=True):
            route = routes.get(tag)
            if route is None:
                if not keeps_all:
                    unknown += 1
                    continue
                route = self._kept_only(source, tag)
            checks = route.quality
            newest = checks.last_ts
            if ts > newest:
                checks.last_ts = ts
                checks.last_value = value
                lag = received - ts
                if lag < checks.skew_min:
                    checks.skew_min = lag
            elif ts < newest:
                checks.out_of_order += 1
            elif value == checks.last_value:
                checks.duplicates += 1
            checks.received += 1
            if checks.ranged and (value.__class__ is float or value.__class__ is int) and \
                    not checks.low <= value <= checks.high:
                checks.range_violations += 1
                checks.last_violation = value
            last = route.last_value
            if (route.last_quality is not _GOOD or value != last) and (
                route.deadband == 0.0 or last is None or isinstance(value, str | bool)
                or isinstance(last, str | bool) or value is None or abs(value - last) > route.deadband
            ):
                route.last_value = value
                route.last_quality = _GOOD
                kept += 1
                ts_col.append(ts)
                tag_col.append(tag)
                if value is None or isinstance(value, str):
                    num_col.append(None)
                    text_col.append(value)
                else:
                    num_col.append(float(value))
                    text_col.append(None)
            for machine, signal in route.targets:
                machine.on_sample(signal, ts, value, True, None, received)
                touched.add(machine)
        source_col.extend(repeat(source, kept))
        quality_col.extend(repeat(_QUALITY_TEXT[_GOOD], kept))
        self.stats.samples_in += len(batch)
        self.stats.unknown_tags += unknown
        self._evaluate(touched, received)

    def _kept_only(self, source: str, tag: str) -> TagRoute:
        """A route that feeds no machine, for a tag of a source that keeps every sample: its raw
        values are kept on change (no deadband) under the tag's own name."""
        # Its counters are its own: the data-quality checks cover mapped tags only.
        route = self.routes[(source, tag)] = TagRoute((), 0.0, TagCounters(source, tag, None, None))
        self._routes_by_source.setdefault(source, {})[tag] = route
        return route

    def _evaluate(self, touched: set[MachineTracker], received: float) -> None:
        """Each machine a batch fed derives its state once; `states_changed` says whether one changed (the
        engine then rebuilds its snapshot before the next tick, for the TUIs attached to it)."""
        for machine in touched:
            kind = machine.kind
            machine.evaluate(received)
            if machine.kind != kind:
                self.states_changed = True
