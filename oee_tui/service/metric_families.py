"""The engine's figures as Prometheus metric families: a pure mapping from one reading of the engine (its
snapshot and running counts, taken on its loop) to what a scrape returns. The README's "Metrics" section
lists them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from oee_tui.engine.live.engine_stats import EngineStats
from oee_tui.model import MachineState, OeeResult, PlantSnapshot

MACHINE_LABELS = ("machine", "line")
SOURCE_LABELS = ("source", "kind")


@dataclass(frozen=True, slots=True)
class EngineReading:
    """What one scrape reports, read on the engine's loop at one moment."""

    now: float  # POSIX seconds, the engine's clock
    snapshot: PlantSnapshot
    stats: EngineStats  # a copy: the engine goes on counting in its own
    samples_per_s: float | None  # samples in over the last ~10 s; None until two readings a second apart
    store_bytes: int | None  # the store's file (and its write-ahead log); None: no store


def engine_families(reading: EngineReading) -> Iterator[Metric]:
    yield from _engine(reading)
    yield from _store(reading)
    yield from _sources(reading.snapshot)
    yield from _machines(reading.snapshot)
    yield from _aggregates(reading.snapshot)


def _engine(reading: EngineReading) -> Iterator[Metric]:
    stats = reading.stats
    yield GaugeMetricFamily("oee_engine_up", "1 when the engine answered this scrape", value=1)
    yield CounterMetricFamily("oee_samples", "Samples the engine received from its sources",
                              value=stats.samples_in)
    if reading.samples_per_s is not None:
        yield GaugeMetricFamily("oee_samples_per_second", "Samples received per second, over the last 10 s",
                                value=reading.samples_per_s)
    yield CounterMetricFamily("oee_samples_stored", "Raw samples written to the store (kept on change)",
                              value=stats.samples_stored)
    yield CounterMetricFamily("oee_unknown_tag_samples", "Samples of tags no machine signal maps",
                              value=stats.unknown_tags)


def _store(reading: EngineReading) -> Iterator[Metric]:
    stats, health = reading.stats, reading.snapshot.store
    lag = 0.0 if health.unsaved_since is None else max(0.0, reading.now - health.unsaved_since)
    yield GaugeMetricFamily("oee_store_flush_lag_seconds",
                            "Seconds since the last write that reached the store while writes fail; 0 when all "
                            "is saved", value=lag)
    unsaved = health.unsaved_samples + health.unsaved_intervals + health.unsaved_count_minutes \
        + health.unsaved_dead_letters
    yield GaugeMetricFamily("oee_store_unsaved_rows", "Rows waiting in memory for the store while writes fail",
                            value=unsaved)
    yield CounterMetricFamily("oee_store_flushes", "Flushes of the engine to its store", value=stats.flushes)
    yield CounterMetricFamily("oee_store_flush_errors", "Flushes the store refused", value=stats.flush_errors)
    yield CounterMetricFamily("oee_store_lost_rows",
                              "Samples and dead letters dropped at [store] max_unsaved_rows", value=health.lost)
    yield CounterMetricFamily("oee_store_set_aside_rows",
                              "Rows the store could not take, kept as dead letters", value=health.set_aside)
    if reading.store_bytes is not None:
        yield GaugeMetricFamily("oee_store_size_bytes", "Size of the store's file and write-ahead log",
                                value=reading.store_bytes)


def _sources(snapshot: PlantSnapshot) -> Iterator[Metric]:
    def gauge(name: str, text: str) -> GaugeMetricFamily:
        return GaugeMetricFamily(name, text, labels=SOURCE_LABELS)

    def counter(name: str, text: str) -> CounterMetricFamily:
        return CounterMetricFamily(name, text, labels=SOURCE_LABELS)

    connected = gauge("oee_source_connected", "1 while the driver holds a connection to the source")
    stale = gauge("oee_source_stale", "1 when the source sent no data within twice its expected interval")
    queued = gauge("oee_source_queue_depth", "Samples of the source waiting for the engine")
    latency = GaugeMetricFamily("oee_source_read_latency_seconds",
                                "Request latency over the last 256 successful reads", labels=(*SOURCE_LABELS,
                                                                                              "quantile"))
    samples = counter("oee_source_samples", "Samples the source delivered")
    dropped = counter("oee_source_dropped_samples", "Samples lost because the queue to the engine was full")
    reads = counter("oee_source_reads", "Requests to the device")
    failed = counter("oee_source_failed_reads", "Requests to the device that failed")
    errors = counter("oee_source_errors", "Connection failures")
    reconnects = counter("oee_source_reconnects", "Reconnections after a connection failure")
    for source in snapshot.sources:
        labels = (source.name, source.kind)
        connected.add_metric(labels, int(source.connected))
        stale.add_metric(labels, int(source.stale))
        queued.add_metric(labels, source.queued)
        for quantile, value in (("0.5", source.latency_p50_s), ("0.95", source.latency_p95_s)):
            if value is not None:
                latency.add_metric((*labels, quantile), value)
        samples.add_metric(labels, source.samples)
        dropped.add_metric(labels, source.dropped)
        reads.add_metric(labels, source.reads)
        failed.add_metric(labels, source.failed_reads)
        errors.add_metric(labels, source.errors)
        reconnects.add_metric(labels, source.reconnects)
    yield from (connected, stale, queued, latency, samples, dropped, reads, failed, errors, reconnects)


def _machines(snapshot: PlantSnapshot) -> Iterator[Metric]:
    state = GaugeMetricFamily("oee_machine_state", "1 for the machine's current state, 0 for the others",
                              labels=(*MACHINE_LABELS, "state"))
    stale = GaugeMetricFamily("oee_machine_stale", "1 when the machine has no good data within site.stale_after_s",
                              labels=MACHINE_LABELS)
    good = GaugeMetricFamily("oee_machine_good_parts", "Good parts in the shift so far", labels=MACHINE_LABELS)
    rejects = GaugeMetricFamily("oee_machine_reject_parts", "Rejected parts in the shift so far",
                                labels=MACHINE_LABELS)
    target = GaugeMetricFamily("oee_machine_target_parts", "Parts the machine should have made by now this shift",
                               labels=MACHINE_LABELS)
    ratios = _RatioFamilies("machine", "the machine's", MACHINE_LABELS)
    for machine in snapshot.machines:
        labels = (machine.machine, machine.line)
        for each in MachineState:
            state.add_metric((*labels, each.value), int(each is machine.state))
        stale.add_metric(labels, int(machine.stale))
        good.add_metric(labels, machine.good_count)
        rejects.add_metric(labels, machine.reject_count)
        target.add_metric(labels, machine.target_count)
        ratios.add(labels, machine.oee)
    yield from (state, stale, good, rejects, target, *ratios.families)


def _aggregates(snapshot: PlantSnapshot) -> Iterator[Metric]:
    lines = _RatioFamilies("line", "the line's", ("line",))
    for line in snapshot.lines:
        lines.add((line.scope,), line)
    yield from lines.families
    plant = _RatioFamilies("plant", "the plant's", ())
    if snapshot.plant is not None:
        plant.add((), snapshot.plant)
    yield from plant.families
    shift = GaugeMetricFamily("oee_shift_info", "1, labelled with the current shift (none outside shifts)",
                              labels=("shift",))
    shift.add_metric((snapshot.shift or "",), 1)
    yield shift


class _RatioFamilies:
    """OEE, availability, performance and quality of one scope, for the shift so far; a ratio whose
    denominator is still zero is left out rather than reported as 0."""

    def __init__(self, scope: str, whose: str, labels: tuple[str, ...]) -> None:
        self.families = tuple(GaugeMetricFamily(f"oee_{scope}_{ratio}", f"{whose.capitalize()} {ratio} in the "
                                                f"shift so far (0 to 1)", labels=labels)
                              for ratio in ("oee", "availability", "performance", "quality"))

    def add(self, labels: tuple[str, ...], result: OeeResult) -> None:
        values = (result.oee, result.availability, result.performance, result.quality)
        for family, value in zip(self.families, values, strict=True):
            if value is not None:
                family.add_metric(labels, value)
