"""The edge node with a Sparkplug primary host application (``[edge] primary_host_id``), against a
real Mosquitto: nothing is published before the host's STATE says online, data made meanwhile is
buffered and replayed, the host going offline ends the session (NDEATH, a new connection with
the next bdSeq), stale and broken STATE messages are ignored. The host is a plain paho client
that publishes STATE as Sparkplug 3.0 asks: retained, QoS 1, its will the offline STATE."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from oee_tui.mqtt.sparkplug_codec import MessageType, state_payload, state_topic
from oee_tui.store import Store
from tests.edge.edge_fixtures import TIMEOUT, SparkplugListener, bd_seqs, edge_engine, edge_of, ms, sample
from tests.mqtt.broker import MosquittoBroker
from tests.support.waiting import until

HOST_ID = "scada"
STATE_TOPIC = state_topic(HOST_ID)


class PrimaryHost:
    """A host application's STATE as 3.0 has it: the will is ``online: false`` with the timestamp
    of the ``online: true`` published right after CONNACK; both retained, QoS 1."""

    def __init__(self, port: int, timestamp_ms: int, *, announce: bool = True) -> None:
        self.timestamp_ms = timestamp_ms
        connected = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"host-{timestamp_ms}",
                                  reconnect_on_failure=False)
        self.client.on_connect = lambda *_args: connected.set()
        self.client.will_set(STATE_TOPIC, state_payload(False, timestamp_ms), qos=1, retain=True)
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        if not connected.wait(TIMEOUT):
            raise TimeoutError("host: no CONNACK")
        if announce:
            self.state(True, timestamp_ms)

    def state(self, online: bool, timestamp_ms: int) -> None:
        self.publish(state_payload(online, timestamp_ms))

    def publish(self, payload: bytes, *, retain: bool = True) -> None:
        self.client.publish(STATE_TOPIC, payload, qos=1, retain=retain).wait_for_publish(TIMEOUT)

    def crash(self) -> None:
        """No DISCONNECT: the broker publishes the will."""
        self.client.socket().shutdown(socket.SHUT_RDWR)
        self.client.loop_stop()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def node_messages(listener: SparkplugListener) -> list[str]:
    """Every message type the edge node published, in order (STATE is the host's, not ours)."""
    return [topic_name.split("/")[2] for topic_name, _ in listener.raw if "/STATE/" not in topic_name]


async def test_nothing_is_published_until_the_primary_host_is_online_then_births_and_the_buffer(
        broker: MosquittoBroker, tmp_path: Path) -> None:
    listener = await asyncio.to_thread(SparkplugListener, broker.port)
    try:
        async with edge_engine(broker.port, tmp_path / "data", primary_host_id=HOST_ID) as engine:
            edge = edge_of(engine)
            await until(lambda: edge.stats.connected, what="the CONNACK")
            assert edge.stats.status == f"waiting for primary host {HOST_ID}"
            start = time.time()
            engine.ingest([sample("hr:0", 7, start), sample("hr:10", 3, start)])
            await until(lambda: edge.stats.buffered == 2, what="the changes to reach the buffer")
            await asyncio.sleep(0.5)  # births would have gone out within milliseconds of the CONNACK
            assert node_messages(listener) == []
            assert not edge.stats.live and edge.stats.births == 0

            host = await asyncio.to_thread(PrimaryHost, broker.port, int(time.time() * 1000))
            try:
                await until(lambda: edge.stats.live, what="the edge node to go live")
                assert edge.stats.status == "live"
                engine.ingest([sample("hr:0", 8, start + 1)])
                await asyncio.to_thread(listener.wait_for, lambda h: len(h.data("M1", "total_count")) == 2)
            finally:
                await asyncio.to_thread(host.close)
            assert node_messages(listener)[:3] == ["NBIRTH", "DBIRTH", "DBIRTH"]
            assert [(h.value, h.timestamp_ms, h.historical) for h in listener.data("M1", "total_count")] == [
                (7, ms(start), True), (8, ms(start + 1), False)]
            assert [(h.value, h.historical) for h in listener.data("M2", "total_count")] == [(3, True)]
            assert bd_seqs(listener, MessageType.NBIRTH) == [0]
    finally:
        await asyncio.to_thread(listener.close)


async def test_the_primary_host_going_offline_ends_the_session_until_it_is_back(
        broker: MosquittoBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="oee_tui.edge.host_messages")
    listener = await asyncio.to_thread(SparkplugListener, broker.port)
    first_host = await asyncio.to_thread(PrimaryHost, broker.port, 1_000)
    try:
        async with edge_engine(broker.port, tmp_path / "data", primary_host_id=HOST_ID) as engine:
            edge = edge_of(engine)
            await until(lambda: edge.stats.live, what="the edge node to go live")
            start = time.time()
            engine.ingest([sample("hr:0", 1, start)])
            await asyncio.to_thread(listener.wait_for, lambda h: len(h.data("M1", "total_count")) == 1)

            # The host dies: the broker publishes its will, STATE offline with the same timestamp.
            await asyncio.to_thread(first_host.crash)
            await asyncio.to_thread(listener.wait_for, lambda h: len(h.messages(MessageType.NDEATH)) == 1)
            assert bd_seqs(listener, MessageType.NDEATH) == [0]  # this session's, published by the node itself
            await until(lambda: edge.stats.connects == 2 and edge.stats.connected, what="the new connection")
            assert edge.stats.status == f"waiting for primary host {HOST_ID}"
            assert edge.stats.host_offline_ends == 1 and edge.stats.last_error is None
            engine.ingest([sample("hr:0", 2, start + 1)])  # while the host is away: buffered
            await until(lambda: edge.stats.buffered == 1, what="the change to reach the buffer")
            await asyncio.sleep(0.3)
            assert node_messages(listener) == ["NBIRTH", "DBIRTH", "DBIRTH", "DDATA", "NDEATH"]

            second_host = await asyncio.to_thread(PrimaryHost, broker.port, 2_000)
            try:
                await until(lambda: edge.stats.live, what="the edge node to go live again")
                await asyncio.to_thread(listener.wait_for, lambda h: len(h.data("M1", "total_count")) == 2)
            finally:
                await asyncio.to_thread(second_host.close)
        assert bd_seqs(listener, MessageType.NBIRTH) == [0, 1]  # a new connection, the next bdSeq
        assert [(h.value, h.historical) for h in listener.data("M1", "total_count")] == [(1, False), (2, True)]
        assert (f"primary host {HOST_ID} went offline (STATE timestamp 1000): NDEATH, then a new session"
                in caplog.text)
    finally:
        await asyncio.to_thread(listener.close)


async def test_a_stale_offline_state_is_ignored_and_a_current_one_ends_the_session(
        broker: MosquittoBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="oee_tui.edge.host_messages")
    listener = await asyncio.to_thread(SparkplugListener, broker.port)
    host = await asyncio.to_thread(PrimaryHost, broker.port, 5_000)
    try:
        async with edge_engine(broker.port, tmp_path / "data", primary_host_id=HOST_ID) as engine:
            edge = edge_of(engine)
            await until(lambda: edge.stats.live, what="the edge node to go live")
            # A host's old session (an earlier timestamp) ending: not the current host.
            await asyncio.to_thread(host.state, False, 4_999)
            await until(lambda: "older than the last one seen" in caplog.text, what="the stale STATE")
            assert (f"STATE of primary host {HOST_ID} (online false, timestamp 4999) ignored: older than the last "
                    "one seen (5000)") in caplog.text
            assert edge.stats.live and edge.stats.connects == 1 and edge.stats.host_offline_ends == 0

            await asyncio.to_thread(host.state, False, 5_000)
            await asyncio.to_thread(listener.wait_for, lambda h: len(h.messages(MessageType.NDEATH)) == 1)
            await until(lambda: edge.stats.connects == 2 and edge.stats.connected, what="the new connection")
            # The retained STATE is now the offline one: the new session waits.
            assert edge.stats.status == f"waiting for primary host {HOST_ID}"
            await asyncio.to_thread(host.state, True, 6_000)
            await until(lambda: edge.stats.live, what="the edge node to go live again")
        await asyncio.to_thread(listener.wait_for, lambda h: len(h.messages(MessageType.NDEATH)) == 2)
        assert bd_seqs(listener, MessageType.NBIRTH) == [0, 1]
        assert bd_seqs(listener, MessageType.NDEATH) == [0, 1]  # the second from the clean stop
    finally:
        await asyncio.to_thread(host.close)
        await asyncio.to_thread(listener.close)


async def test_a_broken_state_is_logged_and_kept_as_a_dead_letter(
        broker: MosquittoBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="oee_tui.edge.host_messages")
    host = await asyncio.to_thread(PrimaryHost, broker.port, 7_000, announce=False)
    try:
        async with edge_engine(broker.port, tmp_path / "data", primary_host_id=HOST_ID) as engine:
            edge = edge_of(engine)
            await until(lambda: edge.stats.connected, what="the CONNACK")
            await asyncio.to_thread(host.publish, b'{"online": "yes", "timestamp": 7000}')
            await until(lambda: edge.stats.commands_undecodable == 1, what="the broken STATE")
            assert (f"undecodable STATE on {STATE_TOPIC} ignored: STATE payload needs a boolean 'online'"
                    in caplog.text)
            assert edge.stats.status == f"waiting for primary host {HOST_ID}"
            await asyncio.to_thread(host.state, True, 7_000)
            await until(lambda: edge.stats.live, what="the edge node to go live")
    finally:
        await asyncio.to_thread(host.close)
    with Store.open(tmp_path / "data") as store:
        letters = store.dead_letters(source="edge")
    assert [(d.topic, d.payload, d.error) for d in letters] == [
        (STATE_TOPIC, b'{"online": "yes", "timestamp": 7000}', "STATE payload needs a boolean 'online'")]
