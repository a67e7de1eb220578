"""bdSeq across runs of the app: the edge node keeps its next bdSeq in the store (``edge_session``),
so a new run never reuses the bdSeq of the last one. Real Mosquitto, real engine and DuckDB store;
a subscriber plays the host and reads the bdSeq of every NBIRTH and NDEATH."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from oee_tui.edge.bd_seq import SavedBdSeq
from oee_tui.mqtt.sparkplug_codec import MessageType
from oee_tui.runtime import build_engine
from oee_tui.store import Store
from tests.edge.edge_fixtures import SparkplugListener, bd_seqs, edge_of, plant_config
from tests.mqtt.broker import MosquittoBroker
from tests.support.waiting import until


async def run_once(port: int, data_dir: Path, listener: SparkplugListener, *, cut: bool = False) -> None:
    """One run of the app: start, go live (after a cut connection, twice), stop; the host sees the NDEATH."""
    deaths = len(listener.messages(MessageType.NDEATH))
    engine = build_engine(plant_config(port), Store.open(data_dir), acquire=False, tick_s=0.05, flush_interval_s=0.2)
    await engine.start()
    try:
        edge = edge_of(engine)
        await until(lambda: edge.stats.live, what="the edge node to go live")
        if cut:
            connection = edge.session.connection
            assert connection is not None
            connection.client.socket().shutdown(socket.SHUT_RDWR)  # no DISCONNECT: the broker sends the will
            await until(lambda: edge.stats.connects == 2 and edge.stats.live, what="the second session")
    finally:
        await engine.stop()
    await asyncio.to_thread(listener.wait_for,
                            lambda h: len(h.messages(MessageType.NDEATH)) == deaths + (2 if cut else 1))


def next_bd_seq(data_dir: Path) -> int:
    with Store.open(data_dir) as store:
        return SavedBdSeq(store, "plant", "oee").next_bd_seq()


async def test_consecutive_runs_continue_the_bdseq_and_never_reuse_the_last_one(
        broker: MosquittoBroker, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    listener = await asyncio.to_thread(SparkplugListener, broker.port)
    try:
        await run_once(broker.port, data_dir, listener)
        assert await asyncio.to_thread(next_bd_seq, data_dir) == 1
        await run_once(broker.port, data_dir, listener, cut=True)  # a reconnect within a run counts too
        assert await asyncio.to_thread(next_bd_seq, data_dir) == 3
        await run_once(broker.port, data_dir, listener)
    finally:
        await asyncio.to_thread(listener.close)
    assert bd_seqs(listener, MessageType.NBIRTH) == [0, 1, 2, 3]
    assert bd_seqs(listener, MessageType.NDEATH) == [0, 1, 2, 3]  # each session's will or goodbye, its own


async def test_the_bdseq_wraps_from_255_to_0_across_runs(broker: MosquittoBroker, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with Store.open(data_dir) as store:
        SavedBdSeq(store, "plant", "oee").save_next_bd_seq(255)
        SavedBdSeq(store, "plant", "other-node").save_next_bd_seq(17)  # another edge node's row: untouched
    listener = await asyncio.to_thread(SparkplugListener, broker.port)
    try:
        await run_once(broker.port, data_dir, listener)
        await run_once(broker.port, data_dir, listener)
    finally:
        await asyncio.to_thread(listener.close)
    assert bd_seqs(listener, MessageType.NBIRTH) == [255, 0]
    with Store.open(data_dir) as store:
        assert SavedBdSeq(store, "plant", "oee").next_bd_seq() == 1
        assert SavedBdSeq(store, "plant", "other-node").next_bd_seq() == 17
        assert SavedBdSeq(store, "elsewhere", "oee").next_bd_seq() == 0  # never connected: the spec's start


async def test_refused_connection_attempts_do_not_use_up_bdseqs(tmp_path: Path) -> None:
    # The broker is away when the app starts: attempts that never sent a CONNECT take no bdSeq.
    (tmp_path / "mosquitto").mkdir()
    broker = MosquittoBroker(tmp_path / "mosquitto").start()
    broker.stop()
    engine = build_engine(plant_config(broker.port), Store.open(tmp_path / "data"), acquire=False, tick_s=0.05,
                          flush_interval_s=0.2)
    await engine.start()
    listener = None
    try:
        edge = edge_of(engine)
        await until(lambda: edge.stats.last_error is not None, what="a refused attempt")
        await asyncio.sleep(1.0)  # several more attempts (reconnect_max_s = 0.3)
        assert edge.session.bd_seq == 0
        await asyncio.to_thread(broker.restart)
        listener = await asyncio.to_thread(SparkplugListener, broker.port)
        await until(lambda: edge.stats.live, what="the edge node to go live")
        await engine.stop()
        await asyncio.to_thread(listener.wait_for, lambda h: len(h.messages(MessageType.NDEATH)) == 1)
    finally:
        await engine.stop()
        if listener is not None:
            await asyncio.to_thread(listener.close)
        broker.stop()
    assert bd_seqs(listener, MessageType.NDEATH) == [0]  # the first CONNECT's bdSeq
    assert await asyncio.to_thread(next_bd_seq, tmp_path / "data") == 1
