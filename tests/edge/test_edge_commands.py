"""Commands to the edge node, against a real Mosquitto: NCMD Next Server (a new session with the
next bdSeq), other NCMD metrics ignored by name, every DCMD refused (the machines' metrics are
read-only), and undecodable commands kept as dead letters without stopping the node."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from oee_tui.edge.session import NEXT_SERVER_METRIC
from oee_tui.engine.live.engine import Engine
from oee_tui.mqtt.sparkplug_codec import (
    REBIRTH_METRIC,
    DataType,
    MessageType,
    MetricSpec,
    decode_payload,
    encode_ddata,
    topic,
)
from oee_tui.mqtt.sparkplug_host import rebirth_command
from oee_tui.store import Store
from tests.edge.edge_fixtures import TIMEOUT, SparkplugListener, bd_seqs, edge_engine, edge_of, sample
from tests.mqtt.broker import MosquittoBroker, mqtt_client, stop_client
from tests.support.waiting import until

NCMD = topic("plant", MessageType.NCMD, "oee")


def dcmd(device: str) -> str:
    return topic("plant", MessageType.DCMD, "oee", device)


@contextlib.asynccontextmanager
async def live_engine(port: int, data_dir: Path) -> AsyncIterator[Engine]:
    async with edge_engine(port, data_dir) as engine:
        await until(lambda: edge_of(engine).stats.live, what="the edge node to go live")
        yield engine


def command(metrics: list[MetricSpec]) -> bytes:
    return encode_ddata(metrics, seq=0, timestamp_ms=int(time.time() * 1000))


async def send(port: int, *messages: tuple[str, bytes]) -> None:
    """Publish as a host would (not retained), at QoS 1 so each is on the broker before the next step."""
    def publish() -> None:
        client, _ = mqtt_client(port, "commander")
        try:
            for topic_name, payload in messages:
                client.publish(topic_name, payload, qos=1).wait_for_publish(TIMEOUT)
        finally:
            stop_client(client)
    await asyncio.to_thread(publish)


async def test_ncmd_next_server_ends_the_session_with_ndeath_and_births_with_the_next_bdseq(
        broker: MosquittoBroker, tmp_path: Path) -> None:
    listener = await asyncio.to_thread(SparkplugListener, broker.port)
    try:
        async with live_engine(broker.port, tmp_path / "data") as engine:
            edge = edge_of(engine)
            await send(broker.port, (NCMD, command([MetricSpec(NEXT_SERVER_METRIC, DataType.Boolean, True)])))
            await asyncio.to_thread(listener.wait_for, lambda h: len(h.messages(MessageType.NBIRTH)) == 2)
            await until(lambda: edge.stats.live, what="the edge node to go live again")
            engine.ingest([sample("hr:0", 11, time.time())])
            await asyncio.to_thread(listener.wait_for, lambda h: len(h.data("M1", "total_count")) == 1)
            assert edge.stats.next_servers_answered == 1 and edge.stats.connects == 2
            assert edge.stats.last_error is None
        assert bd_seqs(listener, MessageType.NDEATH)[:1] == [0]
        assert bd_seqs(listener, MessageType.NBIRTH) == [0, 1]
        # The node's own messages (the NCMD may overtake the DBIRTHs: another client, another TCP stream).
        kinds = [t.split("/")[2] for t, _ in listener.raw if "/NCMD/" not in t]
        assert kinds[:7] == ["NBIRTH", "DBIRTH", "DBIRTH", "NDEATH", "NBIRTH", "DBIRTH", "DBIRTH"]
    finally:
        await asyncio.to_thread(listener.close)


async def test_other_ncmd_metrics_and_false_controls_are_ignored_by_name(
        broker: MosquittoBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="oee_tui.edge.host_messages")
    listener = await asyncio.to_thread(SparkplugListener, broker.port)
    try:
        async with live_engine(broker.port, tmp_path / "data") as engine:
            edge = edge_of(engine)
            await send(broker.port, (NCMD, command([MetricSpec("Node Control/Reboot", DataType.Boolean, True),
                                                    MetricSpec(NEXT_SERVER_METRIC, DataType.Boolean, False)])))
            await until(lambda: edge.stats.commands_ignored == 2, what="the NCMD")
            # Still the same session, and it answers a rebirth as before.
            rebirth = rebirth_command("plant", "oee", int(time.time() * 1000), "test")
            await send(broker.port, (rebirth.topic, rebirth.payload))
            await asyncio.to_thread(listener.wait_for, lambda h: len(h.messages(MessageType.NBIRTH)) == 2)
            assert edge.stats.connects == 1 and edge.stats.rebirths_answered == 1
            assert edge.stats.next_servers_answered == 0
    finally:
        await asyncio.to_thread(listener.close)
    expected = ("NCMD metric {!r} ignored (only Node Control/Rebirth = true and Node Control/Next Server = true "
                "are answered)")
    assert expected.format("Node Control/Reboot") in caplog.text
    assert expected.format(NEXT_SERVER_METRIC) in caplog.text
    assert bd_seqs(listener, MessageType.NBIRTH) == [0, 0]
    assert REBIRTH_METRIC in [m.name for m in decode_payload(listener.messages(MessageType.NBIRTH)[1][1]).metrics]


async def test_every_dcmd_is_refused_logged_and_counted(broker: MosquittoBroker, tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="oee_tui.edge.host_messages")
    async with live_engine(broker.port, tmp_path / "data") as engine:
        edge = edge_of(engine)
        by_alias = MetricSpec("", DataType.Double, 99.0, alias=3)  # M1's speed, as a host sends after DBIRTH
        await send(broker.port,
                   (dcmd("M1"), command([MetricSpec("total_count", DataType.Int64, 0),
                                         MetricSpec("product", DataType.String, "B-2")])),
                   (dcmd("M1"), command([by_alias])),
                   (dcmd("M9"), command([MetricSpec("total_count", DataType.Int64, 5)])))
        await until(lambda: edge.stats.commands_refused == 3, what="the three DCMDs")
        assert edge.stats.live and edge.stats.connects == 1
    assert ("DCMD for device M1 refused (metrics: total_count, product): machine metrics are read-only"
            in caplog.text)
    assert "DCMD for device M1 refused (metrics: speed): machine metrics are read-only" in caplog.text
    assert "DCMD for unknown device M9 refused (metrics: total_count)" in caplog.text


async def test_undecodable_commands_are_dead_letters_and_the_node_goes_on(
        broker: MosquittoBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="oee_tui.edge.host_messages")
    listener = await asyncio.to_thread(SparkplugListener, broker.port)
    try:
        async with live_engine(broker.port, tmp_path / "data") as engine:
            edge = edge_of(engine)
            await send(broker.port, (NCMD, b"\xff\xff\xff"), (dcmd("M1"), b"\x0a\x05no"))
            await until(lambda: edge.stats.commands_undecodable == 2, what="the two broken commands")
            engine.ingest([sample("hr:0", 3, time.time())])
            await asyncio.to_thread(listener.wait_for, lambda h: len(h.data("M1", "total_count")) == 1)
            assert edge.stats.live and edge.stats.connects == 1
    finally:
        await asyncio.to_thread(listener.close)
    with Store.open(tmp_path / "data") as store:
        letters = sorted(store.dead_letters(source="edge"), key=lambda d: d.topic)
    assert [(d.source, d.topic, d.payload) for d in letters] == [
        ("edge", dcmd("M1"), b"\x0a\x05no"), ("edge", NCMD, b"\xff\xff\xff")]
    corrupt = ("not a Sparkplug B payload: Error parsing message with type 'org.eclipse.tahu.protobuf.Payload': "
               "Wire format was corrupt")
    assert [d.error for d in letters] == [corrupt, corrupt]
    assert f"undecodable NCMD on {NCMD} ignored: {corrupt}" in caplog.text
    assert f"undecodable DCMD on {dcmd('M1')} ignored: {corrupt}" in caplog.text
