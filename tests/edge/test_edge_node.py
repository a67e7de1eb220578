"""The Sparkplug edge node inside the engine, against a real Mosquitto: births, data, rebirth,
the NDEATH will, and a round trip into the project's own Sparkplug host driver."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from dataclasses import replace
from pathlib import Path

from oee_tui.drivers.sparkplug.host_driver import SparkplugDriver, SparkplugSettings
from oee_tui.drivers.sparkplug.sparkplug_source import SparkplugSource
from oee_tui.edge.node import EdgeNode
from oee_tui.edge.session import NEXT_SERVER_METRIC
from oee_tui.model import Quality
from oee_tui.mqtt.sparkplug_codec import (
    BD_SEQ_METRIC,
    REBIRTH_METRIC,
    DataType,
    MessageType,
    decode_payload,
    metric_value,
)
from oee_tui.mqtt.sparkplug_host import rebirth_command
from tests.edge.edge_fixtures import TIMEOUT, SparkplugListener, edge_engine, edge_of, ms, plant_config, sample
from tests.mqtt.broker import MosquittoBroker, SampleCollector, TlsFiles, mqtt_client, stop_client
from tests.support.waiting import until


async def listening(port: int, client_id: str = "listener") -> SparkplugListener:
    return await asyncio.to_thread(SparkplugListener, port, client_id)


def births(listener: SparkplugListener) -> list[str]:
    return [topic_name for topic_name, _ in listener.raw
            if "/NBIRTH/" in topic_name or "/DBIRTH/" in topic_name]


async def test_births_and_data_carry_aliases_datatypes_and_values(broker: MosquittoBroker, tmp_path: Path) -> None:
    listener = await listening(broker.port)
    try:
        async with edge_engine(broker.port, tmp_path) as engine:
            now = time.time()
            engine.ingest([sample("hr:0", 100, now), sample("hr:2", 1, now)])  # before the first CONNACK
            await until(lambda: edge_of(engine).stats.live, what="the edge node to go live")
            await asyncio.to_thread(listener.wait_for, lambda h: len(births(h)) == 3)
            assert births(listener) == ["spBv1.0/plant/NBIRTH/oee", "spBv1.0/plant/DBIRTH/oee/M1",
                                        "spBv1.0/plant/DBIRTH/oee/M2"]
            nbirth = decode_payload(listener.messages(MessageType.NBIRTH)[0][1])
            assert nbirth.seq == 0
            assert [(m.name, m.datatype, metric_value(m)) for m in nbirth.metrics] == [
                (BD_SEQ_METRIC, DataType.Int64, 0), (REBIRTH_METRIC, DataType.Boolean, False),
                (NEXT_SERVER_METRIC, DataType.Boolean, False)]
            dbirth = decode_payload(listener.messages(MessageType.DBIRTH)[0][1])
            assert dbirth.seq == 1
            assert [(m.name, m.alias, DataType(m.datatype)) for m in dbirth.metrics] == [
                ("total_count", 1, DataType.Int64), ("state_code", 2, DataType.Int64), ("speed", 3, DataType.Double),
                ("fault", 4, DataType.Boolean), ("product", 5, DataType.String)]
            # Values seen before the connection are the birth's current values.
            assert [metric_value(m) for m in dbirth.metrics] == [100, 1, None, None, None]
            assert decode_payload(listener.messages(MessageType.DBIRTH)[1][1]).metrics[0].alias == 6

            t1 = time.time()
            engine.ingest([sample("hr:0", 101, t1), sample("hr:3", 12.5, t1), sample("co:0", True, t1),
                           sample("hr:4", "A-7", t1), sample("hr:10", 7, t1)])
            engine.ingest([sample("hr:0", 101, t1 + 0.001)])  # no change: not sent again
            engine.ingest([sample("hr:2", None, t1 + 0.002, Quality.BAD)])
            await asyncio.to_thread(listener.wait_for, lambda h: len(h.data("M1", "state_code")) == 1)
            await asyncio.to_thread(listener.wait_for, lambda h: len(h.data("M2", "total_count")) == 1)
            got = [(h.metric, h.value, h.timestamp_ms, h.historical)
                   for h in listener.heard if h.kind == "DDATA" and h.device == "M1"]
            # Changes made before the first CONNACK were buffered: replayed after the births, as history.
            assert got == [("total_count", 100, ms(now), True), ("state_code", 1, ms(now), True),
                           ("total_count", 101, ms(t1), False), ("speed", 12.5, ms(t1), False),
                           ("fault", True, ms(t1), False), ("product", "A-7", ms(t1), False),
                           ("state_code", None, ms(t1 + 0.002), False)]
            ddata = [decode_payload(raw) for topic_name, raw in listener.messages(MessageType.DDATA)
                     if topic_name.endswith("/M1")]
            # By alias only, seq continuing after the births; a bad value is null with its quality.
            assert all(not m.name and not m.datatype for payload in ddata for m in payload.metrics)
            every_seq = [decode_payload(raw).seq for _topic, raw in listener.messages(MessageType.DDATA)]
            assert every_seq == list(range(3, 3 + len(every_seq)))  # one seq for the node, after the births
            bad = ddata[-1].metrics[-1]
            assert bad.is_null and list(bad.properties.keys) == ["Quality"] and bad.properties.values[0].int_value == 0
    finally:
        await asyncio.to_thread(listener.close)


async def test_ncmd_rebirth_is_answered_with_a_new_nbirth_and_dbirths(broker: MosquittoBroker,
                                                                     tmp_path: Path) -> None:
    listener = await listening(broker.port)
    try:
        async with edge_engine(broker.port, tmp_path) as engine:
            await until(lambda: edge_of(engine).stats.live)
            await asyncio.to_thread(listener.wait_for, lambda h: len(births(h)) == 3)
            engine.ingest([sample("hr:0", 5, time.time())])
            await asyncio.to_thread(listener.wait_for, lambda h: len(h.data("M1", "total_count")) == 1)
            command = rebirth_command("plant", "oee", int(time.time() * 1000), "test")
            host, _ = await asyncio.to_thread(mqtt_client, broker.port, "host")
            try:
                await asyncio.to_thread(lambda: host.publish(command.topic, command.payload, qos=0)
                                        .wait_for_publish(TIMEOUT))
            finally:
                await asyncio.to_thread(stop_client, host)
            await asyncio.to_thread(listener.wait_for, lambda h: len(births(h)) == 6)
            assert births(listener)[3:] == ["spBv1.0/plant/NBIRTH/oee", "spBv1.0/plant/DBIRTH/oee/M1",
                                            "spBv1.0/plant/DBIRTH/oee/M2"]
            second = decode_payload(listener.messages(MessageType.NBIRTH)[1][1])
            assert second.seq == 0 and metric_value(second.metrics[0]) == 0  # same connection: same bdSeq
            rebirth = decode_payload(listener.messages(MessageType.DBIRTH)[2][1])
            assert (rebirth.metrics[0].name, metric_value(rebirth.metrics[0])) == ("total_count", 5)
            assert edge_of(engine).stats.rebirths_answered == 1
    finally:
        await asyncio.to_thread(listener.close)


async def test_a_killed_connection_delivers_the_ndeath_will_with_the_births_bdseq(
        broker: MosquittoBroker, tmp_path: Path) -> None:
    listener = await listening(broker.port)
    try:
        async with edge_engine(broker.port, tmp_path) as engine:
            edge = edge_of(engine)
            await until(lambda: edge.stats.live)
            connection = edge.session.connection
            assert connection is not None
            # No DISCONNECT: cut the TCP connection, as a crash or a pulled cable would.
            connection.client.socket().shutdown(socket.SHUT_RDWR)
            await asyncio.to_thread(listener.wait_for, lambda h: len(h.messages(MessageType.NDEATH)) == 1)
            ndeath = decode_payload(listener.messages(MessageType.NDEATH)[0][1])
            assert [(m.name, metric_value(m)) for m in ndeath.metrics] == [(BD_SEQ_METRIC, 0)]
            # The node comes back by itself with the next bdSeq, and its will carries that one.
            await asyncio.to_thread(listener.wait_for, lambda h: len(h.messages(MessageType.NBIRTH)) == 2)
            again = decode_payload(listener.messages(MessageType.NBIRTH)[1][1])
            assert metric_value(again.metrics[0]) == 1
            await until(lambda: edge.stats.live)
        # A clean stop publishes NDEATH with the current bdSeq itself (a clean DISCONNECT drops the will).
        await asyncio.to_thread(listener.wait_for, lambda h: len(h.messages(MessageType.NDEATH)) == 2)
        last = decode_payload(listener.messages(MessageType.NDEATH)[1][1])
        assert metric_value(last.metrics[0]) == 1
    finally:
        await asyncio.to_thread(listener.close)


async def test_round_trip_into_the_projects_own_host_driver(broker: MosquittoBroker, tmp_path: Path) -> None:
    """What the edge node publishes is what the project's Sparkplug host driver emits."""
    source = SparkplugSource(name="uns", host="127.0.0.1", port=broker.port, timeout_s=5.0)
    driver = SparkplugDriver(source, [], settings=SparkplugSettings(host_id="roundtrip", group_ids=("plant",)))
    collector = SampleCollector()
    await asyncio.wait_for(driver.connect(), TIMEOUT)
    host_task = asyncio.create_task(driver.run(collector))
    try:
        async with edge_engine(broker.port, tmp_path) as engine:
            await until(lambda: edge_of(engine).stats.live)
            start = time.time()
            published = []
            for step in range(40):
                ts = start + step * 0.01
                batch = [sample("hr:0", 1000 + step, ts), sample("hr:3", 0.5 * step, ts),
                         sample("co:0", step % 3 == 0, ts), sample("hr:4", f"P-{step // 10}", ts),
                         sample("hr:10", -step, ts)]  # Int64 keeps negative values
                engine.ingest(batch)
                published.extend(batch)
                await asyncio.sleep(0.005)
            tag_of = {"hr:0": "M1/total_count", "hr:3": "M1/speed", "co:0": "M1/fault", "hr:4": "M1/product",
                      "hr:10": "M2/total_count"}
            expected: dict[str, list[tuple[int, object]]] = {}
            last: dict[str, object] = {}
            for item in published:
                tag = f"plant/oee/{tag_of[item.tag]}"
                if last.get(tag, object()) != item.value:  # the edge reports by exception
                    expected.setdefault(tag, []).append((ms(item.ts_utc), item.value))
                    last[tag] = item.value
            await collector.wait_for(lambda s: s.tag == "plant/oee/M2/total_count" and s.value == -39, TIMEOUT)
            await collector.wait_for(lambda s: s.tag == "plant/oee/M1/product" and s.value == "P-3", TIMEOUT)
    finally:
        await driver.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(host_task, TIMEOUT)
    received: dict[str, list[tuple[int, object]]] = {}
    for item in collector.samples:
        if item.ts_utc >= start - 0.001 and item.quality is Quality.GOOD:
            received.setdefault(item.tag, []).append((round(item.ts_utc * 1000), item.value))
    assert received == expected
    assert not driver.dead_letters and driver.rebirths_sent == 0


async def test_mutual_tls_with_a_client_certificate(broker: MosquittoBroker, tls_files: TlsFiles) -> None:
    assert broker.tls_port is not None
    config = plant_config(broker.tls_port)
    edge_config = replace(config.edge, tls_ca_file=str(tls_files.ca), tls_cert_file=str(tls_files.client_cert),
                          tls_key_file=str(tls_files.client_key))
    listener = await listening(broker.port)  # the plain listener of the same broker
    node = EdgeNode(edge_config, config.machines)
    assert node.where == f"mqtts://127.0.0.1:{broker.tls_port}"
    await node.start()
    try:
        await until(lambda: node.stats.live)
        await asyncio.to_thread(listener.wait_for, lambda h: len(births(h)) == 3)
    finally:
        await node.stop()
        await asyncio.to_thread(listener.close)


async def test_mutual_tls_without_a_certificate_is_refused_and_retried(broker: MosquittoBroker,
                                                                       tls_files: TlsFiles) -> None:
    assert broker.tls_port is not None
    config = plant_config(broker.tls_port)
    node = EdgeNode(replace(config.edge, tls_ca_file=str(tls_files.ca)), config.machines)
    await node.start()
    try:
        await until(lambda: node.stats.last_error is not None, what="the refusal")
        assert str(node.stats.last_error).startswith(f"mqtts://127.0.0.1:{broker.tls_port}: the broker closed the "
                                                     "connection before accepting it (")
        assert str(node.stats.last_error).endswith("); if it requires a client certificate, set tls_cert_file and "
                                                   "tls_key_file")
        assert not node.stats.live and node.stats.births == 0
    finally:
        await node.stop()


async def test_a_reload_that_changes_the_machines_births_again(broker: MosquittoBroker, tmp_path: Path) -> None:
    listener = await listening(broker.port)
    try:
        async with edge_engine(broker.port, tmp_path) as engine:
            await until(lambda: edge_of(engine).stats.live)
            engine.ingest([sample("hr:0", 42, time.time())])
            await asyncio.to_thread(listener.wait_for, lambda h: len(h.data("M1", "total_count")) == 1)
            await engine.reload(replace(engine.config, machines=engine.config.machines[:1]))
            await asyncio.to_thread(listener.wait_for, lambda h: len(births(h)) == 5)
            assert births(listener)[3:] == ["spBv1.0/plant/NBIRTH/oee", "spBv1.0/plant/DBIRTH/oee/M1"]
            dbirth = decode_payload(listener.messages(MessageType.DBIRTH)[-1][1])
            assert (dbirth.metrics[0].name, metric_value(dbirth.metrics[0])) == ("total_count", 42)  # kept
            engine.ingest([sample("hr:10", 5, time.time())])  # M2's tag: no longer published
            engine.ingest([sample("hr:0", 43, time.time())])
            await asyncio.to_thread(listener.wait_for, lambda h: len(h.data("M1", "total_count")) == 2)
            assert edge_of(engine).devices == ["M1"] and not listener.data("M2", "total_count")
    finally:
        await asyncio.to_thread(listener.close)
