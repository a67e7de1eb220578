"""Store and forward: changes made while the broker is away are buffered in the local store and
replayed in order, as historical metrics, before live data resumes; the buffer survives a
restart of the app and is bounded. Real Mosquitto (keeping sessions across its restart, so the
listening host misses nothing), real engine and DuckDB store."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from oee_tui.engine.live.engine import Engine
from oee_tui.runtime import build_engine
from oee_tui.store import Store
from tests.edge.edge_fixtures import (
    Heard,
    PersistentBroker,
    SparkplugListener,
    edge_of,
    edge_rows,
    ms,
    plant_config,
    sample,
)
from tests.mqtt.broker import TlsFiles, running_broker
from tests.support.waiting import until


@pytest.fixture
def persistent_broker(tmp_path: Path, tls_files: TlsFiles) -> Iterator[PersistentBroker]:
    with running_broker(PersistentBroker, tmp_path / "mosquitto") as server:
        yield server


def counts(listener: SparkplugListener) -> list[tuple[int, bool]]:
    return [(h.value, h.historical) for h in listener.data("M1", "total_count")]


async def ingest_counts(engine: Engine, values: range, start: float) -> None:
    for value in values:
        engine.ingest([sample("hr:0", value, start + value * 0.001)])
        await asyncio.sleep(0)


def buffered_rows(engine: Engine) -> int:
    assert engine.store is not None
    cur = engine.store.cursor()
    try:
        return cur.execute("SELECT count(*) FROM edge_buffer").fetchall()[0][0]
    finally:
        cur.close()


async def test_broker_down_buffer_then_replay_in_order_as_history_then_live(
        persistent_broker: PersistentBroker, tmp_path: Path) -> None:
    listener = await asyncio.to_thread(SparkplugListener, persistent_broker.port)
    engine = build_engine(plant_config(persistent_broker.port), Store.open(tmp_path / "data"), acquire=False,
                          tick_s=0.05, flush_interval_s=0.2)
    await engine.start()
    edge = edge_of(engine)
    start = time.time()
    try:
        await until(lambda: edge.stats.live)
        await ingest_counts(engine, range(1, 6), start)
        await asyncio.to_thread(listener.wait_for, lambda h: len(counts(h)) == 5)

        await asyncio.to_thread(persistent_broker.stop)
        await until(lambda: not edge.stats.connected, what="the edge node to see the broker go")
        await ingest_counts(engine, range(6, 31), start)
        await until(lambda: buffered_rows(engine) == 25, what="25 rows in the buffer table")

        await asyncio.to_thread(persistent_broker.restart)
        await ingest_counts(engine, range(31, 36), start)  # during reconnect or replay: behind the replay
        await until(lambda: edge.stats.live, what="the replay to finish")
        # Live DDATA is QoS 0: a subscriber that is not connected yet would not get it queued.
        await until(lambda: listener.connects == 2, what="the listener to be back")
        await ingest_counts(engine, range(36, 41), start)
        await asyncio.to_thread(listener.wait_for, lambda h: len(counts(h)) >= 40)
        await until(lambda: buffered_rows(engine) == 0, what="acknowledged rows to leave the buffer")
    finally:
        await engine.stop()
        await asyncio.to_thread(listener.close)
    heard = counts(listener)
    assert [value for value, _ in heard] == list(range(1, 41))  # nothing lost, nothing doubled, in order
    assert heard[:5] == [(value, False) for value in range(1, 6)]
    assert heard[5:30] == [(value, True) for value in range(6, 31)]  # replayed as history
    assert heard[35:] == [(value, False) for value in range(36, 41)]  # then live again
    timestamps = [h.timestamp_ms for h in listener.data("M1", "total_count")]
    assert timestamps == [ms(start + value * 0.001) for value in range(1, 41)]  # original times
    assert edge.stats.replayed >= 25 and edge.stats.dropped == 0


@pytest.mark.parametrize("mqtt_version", ["3.1.1", "5"])
async def test_the_buffer_survives_a_restart_of_the_app(persistent_broker: PersistentBroker, tmp_path: Path,
                                                        mqtt_version: str) -> None:
    port = persistent_broker.port
    await asyncio.to_thread(persistent_broker.stop)  # the broker is away from the start
    data_dir = tmp_path / "data"
    first = build_engine(plant_config(port), Store.open(data_dir), acquire=False, tick_s=0.05, flush_interval_s=0.2)
    await first.start()
    start = time.time()
    # More rows than MQTT 5's receive maximum (Mosquitto: 20) lets be unacknowledged at once.
    await ingest_counts(first, range(1, 501), start)
    first.ingest([sample("hr:4", "A-1", start + 0.5), sample("hr:10", 3, start + 0.5)])
    await first.stop()  # offline the whole time: everything is in the store now
    rows = await asyncio.to_thread(edge_rows, data_dir)
    assert [(device, metric, num, text) for _id, device, metric, num, text, _q in rows] == [
        *[("M1", "total_count", float(value), None) for value in range(1, 501)],
        ("M1", "product", None, "A-1"), ("M2", "total_count", 3.0, None)]

    await asyncio.to_thread(persistent_broker.restart)
    listener = await asyncio.to_thread(SparkplugListener, port)
    second = build_engine(plant_config(port, mqtt_version=mqtt_version), Store.open(data_dir), acquire=False,
                          tick_s=0.05, flush_interval_s=0.2)
    await second.start()
    try:
        await until(lambda: edge_of(second).stats.live)
        second.ingest([sample("hr:0", 501, start + 1.0)])
        await asyncio.to_thread(listener.wait_for, lambda h: len(counts(h)) == 501)
        await until(lambda: buffered_rows(second) == 0, what="the replayed rows to leave the buffer")
    finally:
        await second.stop()
        await asyncio.to_thread(listener.close)
    assert counts(listener) == [(value, True) for value in range(1, 501)] + [(501, False)]
    assert [(h.value, h.historical) for h in listener.data("M1", "product")] == [("A-1", True)]
    assert [(h.value, h.historical) for h in listener.data("M2", "total_count")] == [(3, True)]
    assert await asyncio.to_thread(edge_rows, data_dir) == []


async def test_a_full_buffer_drops_the_oldest_changes_and_says_so(
        persistent_broker: PersistentBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    port = persistent_broker.port
    await asyncio.to_thread(persistent_broker.stop)
    data_dir = tmp_path / "data"
    engine = build_engine(plant_config(port, buffer_max_rows=10), Store.open(data_dir), acquire=False, tick_s=0.05,
                          flush_interval_s=0.2)
    caplog.set_level(logging.WARNING, logger="oee_tui.edge.buffer")
    await engine.start()
    edge = edge_of(engine)
    try:
        engine.ingest([sample("hr:0", value, 1_800_000_000 + value) for value in range(1, 26)])
        await until(lambda: edge.stats.buffered == 25, what="the changes to reach the buffer")
    finally:
        await engine.stop()
    assert edge.stats.dropped == 15
    assert "edge buffer full (10 rows): dropped the 15 oldest changes (15 dropped so far)" in caplog.text
    rows = await asyncio.to_thread(edge_rows, data_dir)
    assert [num for _id, _device, _metric, num, _text, _q in rows] == [float(v) for v in range(16, 26)]


async def test_a_connection_cut_during_the_replay_sends_again_what_was_not_acknowledged(
        persistent_broker: PersistentBroker, tmp_path: Path) -> None:
    port = persistent_broker.port
    await asyncio.to_thread(persistent_broker.stop)
    data_dir = tmp_path / "data"
    first = build_engine(plant_config(port), Store.open(data_dir), acquire=False, tick_s=0.05, flush_interval_s=0.2)
    await first.start()
    start = time.time()
    await ingest_counts(first, range(1, 3001), start)
    await first.stop()

    await asyncio.to_thread(persistent_broker.restart)
    listener = await asyncio.to_thread(SparkplugListener, port)
    second = build_engine(plant_config(port), Store.open(data_dir), acquire=False, tick_s=0.05, flush_interval_s=0.2)
    await second.start()
    edge = edge_of(second)
    send_replay = edge.store_and_forward.send_replay
    cut: list[int] = []

    def send_then_cut(device: str, group: list[Any]) -> None:
        # After 1,000 rows went out, the connection dies without a DISCONNECT: their PUBACKs
        # never arrive (the edge node's tasks have not run yet, so this is in place in time).
        send_replay(device, group)
        if edge.stats.replayed >= 1000 and not cut:
            connection = edge.session.connection
            assert connection is not None
            connection.client.socket().shutdown(socket.SHUT_RDWR)
            cut.append(edge.stats.replayed)

    edge.store_and_forward.send_replay = send_then_cut  # type: ignore[method-assign]
    try:
        await until(lambda: edge.stats.connects == 2 and edge.stats.live, what="the second replay")
        await asyncio.to_thread(listener.wait_for, lambda h: any(x.value == 3000 for x in counts_of(h)))
        await until(lambda: buffered_rows(second) == 0, what="the buffer to empty")
    finally:
        await second.stop()
        await asyncio.to_thread(listener.close)
    # Rows leave the buffer only when acknowledged: what was in flight at the cut was sent again
    # (a host keeps one copy per timestamp), and nothing is missing.
    assert cut and edge.stats.replayed >= 3000 + cut[0]
    assert [h.value for h in counts_of(listener)] == list(range(1, 3001))
    assert all(h.historical for h in counts_of(listener))


def counts_of(listener: SparkplugListener) -> list[Heard]:
    return listener.data("M1", "total_count")
