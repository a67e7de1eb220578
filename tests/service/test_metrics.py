"""The Prometheus endpoint: a real engine reading a real Modbus server into a real store, the endpoint on a
free port, scraped over HTTP and parsed with prometheus_client's own parser; the figures must be the
engine's snapshot's."""

from __future__ import annotations

import asyncio
import socket
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from oee_tui.config import MetricsAddress, ServiceSettings
from oee_tui.engine.live.engine import Engine
from oee_tui.engine.live.engine_stats import EngineStats
from oee_tui.model import MachineSnapshot, MachineState, OeeResult, PlantSnapshot, SourceStatus, StoreHealth
from oee_tui.service import metrics
from oee_tui.service.metric_families import EngineReading, engine_families
from oee_tui.service.metrics import MetricsEndpoint, MetricsUnavailableError, start_metrics
from oee_tui.store import Store
from tests.drivers.conftest import ModbusSim
from tests.service.running_plant import DOWN, RUNNING, modbus_plc, plant
from tests.service.scraping import scrape, value
from tests.support.waiting import until

__all__ = ["modbus_plc"]  # the fixture, used by name

ANY_PORT = ServiceSettings(metrics_listen=MetricsAddress("127.0.0.1", 0))
@pytest_asyncio.fixture
async def engine(tmp_path: Path, modbus_plc: ModbusSim) -> AsyncIterator[Engine]:
    """The engine ticks and flushes only when the test says (tick_s and flush_interval_s of an hour), so the
    snapshot a scrape reads is the one the test reads after it. Its source polls every 50 ms."""
    await modbus_plc.set("hr", 0, [0, RUNNING])
    running = Engine(plant(modbus_plc.port), Store.open(tmp_path / "data"), tick_s=3600.0, flush_interval_s=3600.0)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


async def test_a_scrape_reports_the_engines_snapshot(engine: Engine, modbus_plc: ModbusSim) -> None:
    endpoint = start_metrics(engine, ANY_PORT)
    assert endpoint is not None and endpoint.address.port != 0
    try:
        await until(lambda: engine.tick().machines[0].state is MachineState.RUNNING, what="M1 running")
        await modbus_plc.set("hr", 0, [40])
        await until(lambda: engine.tick().machines[0].good_count == 40, what="40 parts counted")
        await engine.flush()
        # The samples/s gauge needs two of its once-a-second readings. Scrapes run off the loop, which answers them.
        while ("oee_samples_per_second", ()) not in await asyncio.to_thread(scrape, endpoint.url):
            await asyncio.sleep(0.2)
        before = engine.stats.samples_in
        samples = await asyncio.to_thread(scrape, endpoint.url)
        after = engine.stats.samples_in
        snapshot = engine.snapshot()  # the one the scrape read: the engine has not ticked since
    finally:
        await asyncio.to_thread(endpoint.close)

    [machine] = snapshot.machines
    assert machine.state is MachineState.RUNNING
    labels = {"machine": "M1", "line": "L1"}
    for state in MachineState:
        assert value(samples, "oee_machine_state", **labels, state=state.value) == (state is MachineState.RUNNING)
    assert value(samples, "oee_machine_good_parts", **labels) == 40 == machine.good_count
    assert value(samples, "oee_machine_reject_parts", **labels) == machine.reject_count
    assert value(samples, "oee_machine_target_parts", **labels) == machine.target_count
    assert value(samples, "oee_machine_stale", **labels) == 0
    for ratio in ("oee", "availability", "performance", "quality"):
        figure = getattr(machine.oee, ratio)
        assert figure is not None and value(samples, f"oee_machine_{ratio}", **labels) == figure
        assert value(samples, f"oee_line_{ratio}", line="L1") == getattr(snapshot.lines[0], ratio)
        assert snapshot.plant is not None and value(samples, f"oee_plant_{ratio}") == getattr(snapshot.plant, ratio)
    assert value(samples, "oee_shift_info", shift=snapshot.shift or "") == 1

    [source] = snapshot.sources
    on = {"source": "plc", "kind": "modbus"}
    assert value(samples, "oee_source_connected", **on) == 1 and value(samples, "oee_source_stale", **on) == 0
    assert value(samples, "oee_source_queue_depth", **on) == source.queued
    assert value(samples, "oee_source_samples_total", **on) == source.samples > 0
    assert value(samples, "oee_source_reads_total", **on) == source.reads > 0
    assert value(samples, "oee_source_failed_reads_total", **on) == source.failed_reads
    assert value(samples, "oee_source_errors_total", **on) == source.errors
    assert value(samples, "oee_source_reconnects_total", **on) == source.reconnects
    assert value(samples, "oee_source_dropped_samples_total", **on) == source.dropped
    assert value(samples, "oee_source_read_latency_seconds", **on, quantile="0.95") == source.latency_p95_s

    assert before <= value(samples, "oee_samples_total") <= after
    # Two samples every 50 ms poll, give or take a loaded machine; never more than were received.
    assert 5 <= value(samples, "oee_samples_per_second") <= 80
    assert value(samples, "oee_engine_up") == 1
    assert value(samples, "oee_store_flushes_total") == engine.stats.flushes >= 1
    assert value(samples, "oee_store_flush_errors_total") == 0
    assert value(samples, "oee_store_flush_lag_seconds") == 0 and value(samples, "oee_store_unsaved_rows") == 0
    assert engine.store is not None
    wal = engine.store.path.with_name(engine.store.path.name + ".wal")
    on_disk = engine.store.path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    assert value(samples, "oee_store_size_bytes") == on_disk > 0
    assert value(samples, "oee_process_resident_memory_bytes") > 0


async def test_a_state_change_shows_in_the_next_scrape(engine: Engine, modbus_plc: ModbusSim) -> None:
    endpoint = start_metrics(engine, ANY_PORT)
    assert endpoint is not None
    try:
        await modbus_plc.set("hr", 1, [DOWN])
        # A stop is a minor stop until the machine's micro-stop threshold passes: either is a stop.
        await until(lambda: engine.tick().machines[0].state.is_stop, what="M1 stopped")
        samples = await asyncio.to_thread(scrape, endpoint.url)
        stopped = engine.snapshot().machines[0].state
    finally:
        await asyncio.to_thread(endpoint.close)
    states = {state.value: value(samples, "oee_machine_state", machine="M1", line="L1", state=state.value)
              for state in MachineState}
    assert states == {state.value: float(state is stopped) for state in MachineState}
    assert states["running"] == 0


async def test_without_metrics_listen_there_is_no_endpoint(engine: Engine) -> None:
    assert start_metrics(engine, ServiceSettings()) is None


async def test_a_taken_port_is_a_clear_error_and_close_frees_the_port(engine: Engine) -> None:
    endpoint = start_metrics(engine, ANY_PORT)
    assert isinstance(endpoint, MetricsEndpoint)
    taken = ServiceSettings(metrics_listen=endpoint.address)
    with pytest.raises(MetricsUnavailableError, match=rf"cannot listen on 127\.0\.0\.1:{endpoint.address.port}"):
        start_metrics(engine, taken)
    await asyncio.to_thread(endpoint.close)
    with pytest.raises(urllib.error.URLError):
        await asyncio.to_thread(scrape, endpoint.url)
    with socket.socket() as probe:  # the port is free again
        probe.bind(("127.0.0.1", endpoint.address.port))


async def test_a_loop_too_busy_to_answer_reports_the_engine_down(engine: Engine,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "SCRAPE_TIMEOUT_S", 0.2)
    endpoint = start_metrics(engine, ANY_PORT)
    assert endpoint is not None
    try:
        loop = asyncio.get_running_loop()
        scraped = loop.run_in_executor(None, scrape, endpoint.url)
        time.sleep(1.0)  # the engine's loop blocked: it cannot answer the scrape
        samples = await scraped
        assert samples == {("oee_engine_up", ()): 0.0} | {key: figure for key, figure in samples.items()
                                                        if key[0].startswith("oee_process_")}
        assert value(await asyncio.to_thread(scrape, endpoint.url), "oee_engine_up") == 1
    finally:
        await asyncio.to_thread(endpoint.close)


def no_figures(scope: str) -> OeeResult:
    """A machine with no planned production time yet: every ratio is None."""
    return OeeResult(scope, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, 0, 0,
                     None, None, None, None, None, None)


def test_failing_writes_lost_rows_and_missing_ratios() -> None:
    now = 1_800_000_000.0
    store = StoreHealth(unsaved_samples=1204, unsaved_intervals=3, unsaved_count_minutes=2, unsaved_parts=57,
                        unsaved_dead_letters=1, unsaved_since=now - 42.5, last_error="no space left on the disk",
                        lost_samples=10, lost_dead_letters=2, set_aside=4)
    source = SourceStatus("plc", "modbus", connected=False, stale=True, last_error="refused", last_data=None,
                          expected_interval_s=1.0, reads_per_s=0.0, latency_p50_s=None, latency_p95_s=None, reads=9,
                          failed_reads=9, errors=3, reconnects=2, samples=0, dropped=0, queued=0, policy="wait")
    machine = MachineSnapshot("M1", "Filler", "L1", MachineState.OFFLINE, now - 60, None, True, None, None,
                              no_figures("M1"), 0, 0, 0)
    snapshot = PlantSnapshot(ts=now, shift=None, machines=(machine,), sources=(source,), store=store)
    reading = EngineReading(now=now, snapshot=snapshot, stats=EngineStats(samples_in=5, flushes=8, flush_errors=6),
                            samples_per_s=None, store_bytes=None)
    families = {family.name: family for family in engine_families(reading)}
    figures = {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
               for family in families.values() for sample in family.samples}
    assert figures[("oee_store_flush_lag_seconds", ())] == 42.5
    assert figures[("oee_store_unsaved_rows", ())] == 1204 + 3 + 2 + 1
    assert figures[("oee_store_lost_rows_total", ())] == 12 and figures[("oee_store_set_aside_rows_total", ())] == 4
    assert figures[("oee_store_flush_errors_total", ())] == 6
    on = (("kind", "modbus"), ("source", "plc"))
    assert figures[("oee_source_connected", on)] == 0 and figures[("oee_source_stale", on)] == 1
    assert figures[("oee_source_errors_total", on)] == 3 and figures[("oee_source_reconnects_total", on)] == 2
    assert figures[("oee_machine_state", (("line", "L1"), ("machine", "M1"), ("state", "offline")))] == 1
    assert figures[("oee_machine_stale", (("line", "L1"), ("machine", "M1")))] == 1
    # No ratio is made up: a figure without a denominator is absent, not 0; so is what is not known yet.
    assert families["oee_machine_oee"].samples == [] and families["oee_source_read_latency_seconds"].samples == []
    assert "oee_samples_per_second" not in families and "oee_store_size_bytes" not in families
    assert figures[("oee_shift_info", (("shift", ""),))] == 1
