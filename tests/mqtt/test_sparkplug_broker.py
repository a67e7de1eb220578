"""The Sparkplug driver against a real Mosquitto: STATE and will, births and data, rebirth, dead letters, mTLS."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from oee_tui.config import TagMapping
from oee_tui.drivers.base import Driver, DriverError
from oee_tui.drivers.sparkplug.host_driver import SparkplugDriver, SparkplugSettings
from oee_tui.drivers.sparkplug.sparkplug_source import SparkplugSource
from oee_tui.engine.live.acquisition import QueueFullPolicy, SourceRunner
from oee_tui.model import Quality, Signal, TagSample
from oee_tui.mqtt.sparkplug_codec import REBIRTH_METRIC, DataType, MessageType, MetricSpec, decode_payload, metric_value
from oee_tui.mqtt.sparkplug_codec import parse_state as parse_state_payload
from tests.mqtt.broker import EdgeNode, MosquittoBroker, SampleCollector, TlsFiles, mqtt_client, stop_client

GROUP, EDGE, DEVICE = "plant", "line1", "press1"
PREFIX = f"{GROUP}/{EDGE}/{DEVICE}"
DEVICE_METRICS = [MetricSpec("Count", DataType.UInt32, 10, alias=11),
                  MetricSpec("State", DataType.Int16, 1, alias=12),
                  MetricSpec("Product", DataType.String, "A-1", alias=13)]
TIMEOUT = 10.0  # generous: two loaded cores under pytest -n 2


def make_driver(port: int, *, tags: tuple[str, ...] = (), **settings: Any) -> SparkplugDriver:
    """A driver for the broker on `port`; the host's own settings come as SparkplugSettings."""
    source = SparkplugSource(name="broker", host="127.0.0.1", port=port, timeout_s=5.0)
    mappings = [TagMapping(signal=Signal.TOTAL_COUNT, source="broker", tag=name) for name in tags]
    return SparkplugDriver(source, mappings, settings=SparkplugSettings(**settings))


@contextlib.asynccontextmanager
async def running(driver: Driver, emit: SampleCollector) -> AsyncIterator[asyncio.Task[None]]:
    """connect() then run() in a task; on exit close() and require run() to have ended."""
    await asyncio.wait_for(driver.connect(), TIMEOUT)
    task = asyncio.create_task(driver.run(emit))
    try:
        yield task
    finally:
        await driver.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, TIMEOUT)


@contextlib.contextmanager
def edge_node(port: int, bd_seq: int = 0) -> Iterator[EdgeNode]:
    node = EdgeNode(port, GROUP, EDGE, bd_seq=bd_seq)
    try:
        yield node
    finally:
        node.close()


def is_value(tag: str, value: object, quality: Quality = Quality.GOOD) -> Callable[[TagSample], bool]:
    return lambda sample: sample.tag == tag and sample.value == value and sample.quality is quality


async def test_state_online_is_retained_and_the_will_says_offline_after_an_abrupt_loss(
        broker: MosquittoBroker) -> None:
    driver = make_driver(broker.port, host_id="host-a")
    async with running(driver, SampleCollector()) as task:
        watcher, seen = await asyncio.to_thread(mqtt_client, broker.port, "watcher", subscribe=["spBv1.0/STATE/host-a"])
        try:
            _topic, payload, retained = await asyncio.to_thread(seen.wait_for, lambda *_: True, TIMEOUT)
            online, timestamp = parse_state_payload(payload)
            assert online and retained
            # Cut the TCP connection without an MQTT DISCONNECT: the broker must publish the will.
            assert driver._client is not None
            driver._client.socket().shutdown(socket.SHUT_RDWR)
            _topic, payload, _ = await asyncio.to_thread(
                seen.wait_for, lambda _t, raw, _r: not parse_state_payload(raw)[0], TIMEOUT)
            assert parse_state_payload(payload) == (False, timestamp)  # 3.0: the will repeats the birth's time
            with pytest.raises(DriverError, match="connection lost"):
                await asyncio.wait_for(task, TIMEOUT)
        finally:
            await asyncio.to_thread(stop_client, watcher)
    # A client arriving later finds the offline STATE retained.
    late, seen_late = await asyncio.to_thread(mqtt_client, broker.port, "late", subscribe=["spBv1.0/STATE/host-a"])
    try:
        _topic, payload, retained = await asyncio.to_thread(seen_late.wait_for, lambda *_: True, TIMEOUT)
        assert retained and parse_state_payload(payload) == (False, timestamp)
    finally:
        await asyncio.to_thread(stop_client, late)


async def test_clean_close_publishes_state_offline(broker: MosquittoBroker) -> None:
    driver = make_driver(broker.port, host_id="host-b")
    async with running(driver, SampleCollector()):
        pass
    late, seen = await asyncio.to_thread(mqtt_client, broker.port, "late", subscribe=["spBv1.0/STATE/host-b"])
    try:
        _topic, payload, retained = await asyncio.to_thread(seen.wait_for, lambda *_: True, TIMEOUT)
        assert retained and not parse_state_payload(payload)[0]
    finally:
        await asyncio.to_thread(stop_client, late)


async def test_births_and_data_from_an_edge_node_become_samples(broker: MosquittoBroker) -> None:
    collector = SampleCollector()
    driver = make_driver(broker.port, tags=(f"{PREFIX}/Count", f"{PREFIX}/State"), mqtt_version="5")
    async with running(driver, collector):
        with edge_node(broker.port, bd_seq=3) as edge:
            await asyncio.to_thread(edge.nbirth, [])
            await asyncio.to_thread(edge.dbirth, DEVICE, DEVICE_METRICS)
            await collector.wait_for(is_value(f"{PREFIX}/Count", 10), TIMEOUT)
            await asyncio.to_thread(edge.ddata, DEVICE, [MetricSpec("Count", DataType.UInt32, 11, alias=11)])
            await collector.wait_for(is_value(f"{PREFIX}/Count", 11), TIMEOUT)
            assert collector.latest()[f"{PREFIX}/State"].value == 1
            assert {s.tag for s in collector.samples} == {f"{PREFIX}/Count", f"{PREFIX}/State"}  # mapped only
            # The edge node dies without a word: its will (NDEATH, bdSeq 3) makes its metrics BAD.
            edge.client.socket().shutdown(socket.SHUT_RDWR)
            await collector.wait_for(is_value(f"{PREFIX}/Count", None, Quality.BAD), TIMEOUT)
        assert not driver.dead_letters


async def test_a_seq_gap_makes_the_driver_ask_the_edge_node_for_a_rebirth(broker: MosquittoBroker) -> None:
    collector = SampleCollector()
    driver = make_driver(broker.port, reorder_timeout_s=0.3)
    async with running(driver, collector):
        with edge_node(broker.port) as edge:
            await asyncio.to_thread(edge.nbirth, [])
            await asyncio.to_thread(edge.dbirth, DEVICE, DEVICE_METRICS)
            await collector.wait_for(is_value(f"{PREFIX}/Count", 10), TIMEOUT)
            await asyncio.to_thread(edge.ddata, DEVICE, [MetricSpec("Count", DataType.UInt32, 15, alias=11)], skip=1)
            command_topic, payload, _ = await asyncio.to_thread(edge.commands.wait_for, lambda *_: True, TIMEOUT)
            assert command_topic == f"spBv1.0/{GROUP}/NCMD/{EDGE}"
            assert [(m.name, metric_value(m)) for m in decode_payload(payload).metrics] == [(REBIRTH_METRIC, True)]
            await collector.wait_for(is_value(f"{PREFIX}/Count", 15), TIMEOUT)  # the value after the gap is kept
            assert driver.rebirths_sent == 1


async def test_a_garbage_payload_is_dead_lettered_and_the_stream_goes_on(broker: MosquittoBroker) -> None:
    collector = SampleCollector()
    driver = make_driver(broker.port)
    garbage = b"\xff\xfe definitely not protobuf"
    async with running(driver, collector):
        with edge_node(broker.port) as edge:
            await asyncio.to_thread(edge.nbirth, [])
            await asyncio.to_thread(edge.dbirth, DEVICE, DEVICE_METRICS)
            await asyncio.to_thread(edge.publish, MessageType.DDATA, garbage, DEVICE)
            await asyncio.to_thread(edge.ddata, DEVICE, [MetricSpec("Count", DataType.UInt32, 12, alias=11)])
            await collector.wait_for(is_value(f"{PREFIX}/Count", 12), TIMEOUT)
    [letter] = list(driver.dead_letters)
    assert (letter.topic, letter.payload, letter.source) == (
        f"spBv1.0/{GROUP}/DDATA/{EDGE}/{DEVICE}", garbage, "broker")
    assert "not a Sparkplug B payload" in letter.error
    assert driver.dead_letter_count == 1


async def test_an_unknown_metric_name_costs_only_itself_and_asks_for_a_rebirth(broker: MosquittoBroker) -> None:
    """mqtt-spb-wrapper 2.1.2 births ``DATA/Running`` and then publishes ``Running`` by name.

    Neither tahu nor the node sparkplug-client is installed here, so the publisher is the
    tests' own edge node (paho and our encoder), sending exactly those messages."""
    collector = SampleCollector()
    driver = make_driver(broker.port)
    birth = [MetricSpec("DATA/Running", DataType.Boolean, True, alias=100),
             MetricSpec("GoodCount", DataType.UInt32, 5, alias=101)]
    async with running(driver, collector):
        with edge_node(broker.port) as edge:
            await asyncio.to_thread(edge.nbirth, [])
            await asyncio.to_thread(edge.dbirth, DEVICE, birth)
            await collector.wait_for(is_value(f"{PREFIX}/GoodCount", 5), TIMEOUT)
            await asyncio.to_thread(edge.ddata, DEVICE, [MetricSpec("Running", DataType.Boolean, False),
                                                         MetricSpec("GoodCount", DataType.UInt32, 6, alias=101)])
            await collector.wait_for(is_value(f"{PREFIX}/GoodCount", 6), TIMEOUT)
            command_topic, payload, _ = await asyncio.to_thread(edge.commands.wait_for, lambda *_: True, TIMEOUT)
            assert command_topic == f"spBv1.0/{GROUP}/NCMD/{EDGE}"
            assert [(m.name, metric_value(m)) for m in decode_payload(payload).metrics] == [(REBIRTH_METRIC, True)]
    [letter] = list(driver.dead_letters)
    assert letter.topic == f"spBv1.0/{GROUP}/DDATA/{EDGE}/{DEVICE}"
    assert letter.error.startswith("metric with name 'Running' was not defined by a birth certificate")
    assert [m.name for m in decode_payload(letter.payload).metrics] == ["Running", ""]  # the message's own bytes
    assert driver.rebirths_sent == 1
    assert f"{PREFIX}/Running" not in collector.latest()


async def test_a_broker_restart_ends_run_with_a_driver_error(broker: MosquittoBroker) -> None:
    driver = make_driver(broker.port)
    async with running(driver, SampleCollector()) as task:
        await asyncio.to_thread(broker.restart)
        with pytest.raises(DriverError, match="connection lost"):
            await asyncio.wait_for(task, TIMEOUT)
    # The runner's next connect() finds the broker on the same port.
    again = make_driver(broker.port)
    async with running(again, SampleCollector()):
        pass


async def test_a_quiet_network_still_reports_keep_alive_round_trips(broker: MosquittoBroker) -> None:
    """Without them the acquisition runner could not tell a quiet plant from a dead broker."""
    driver = make_driver(broker.port)
    reads: list[tuple[float, bool]] = []
    two_reads = asyncio.Event()  # the first is the echo of our own STATE; the second the ping

    def observe(latency_s: float, ok: bool) -> None:
        reads.append((latency_s, ok))
        if len(reads) >= 2:
            two_reads.set()

    driver.on_read = observe
    watcher, seen = await asyncio.to_thread(mqtt_client, broker.port, "watcher", subscribe=["oee-tui/alive/#"])
    try:
        async with running(driver, SampleCollector()):
            alive_topic, _, _ = await asyncio.to_thread(seen.wait_for, lambda *_: True,
                                                        driver.check_interval_s + TIMEOUT)
            assert alive_topic == f"oee-tui/alive/{driver.client_id}"
            # The round trip is recorded once the PUBACK is back: give it the driver's own timeout.
            await asyncio.wait_for(two_reads.wait(), TIMEOUT)
    finally:
        await asyncio.to_thread(stop_client, watcher)
    assert all(ok and 0 <= latency < TIMEOUT for latency, ok in reads)


async def test_the_acquisition_runner_drives_it_like_any_subscription(broker: MosquittoBroker) -> None:
    """The real contract: the runner's connect timeout, run(), its queue, its health figures."""
    tags = [TagMapping(signal=Signal.TOTAL_COUNT, source="broker", tag=f"{PREFIX}/Count")]
    source = SparkplugSource(name="broker", host="127.0.0.1", port=broker.port, timeout_s=5.0)
    runner = SourceRunner(source, tags, factory=lambda src, maps: SparkplugDriver(src, maps),
                          policy=QueueFullPolicy.DROP_OLDEST)
    task = asyncio.create_task(runner.run())
    try:
        with edge_node(broker.port) as edge:
            async with asyncio.timeout(TIMEOUT):
                while not runner.health.connected:  # no event to wait on in the runner: poll its state
                    await asyncio.sleep(0.01)
            await asyncio.to_thread(edge.nbirth, [])
            await asyncio.to_thread(edge.dbirth, DEVICE, DEVICE_METRICS)
            batch = await asyncio.wait_for(runner.queue.get(), TIMEOUT)
            assert [(s.tag, s.value, s.quality) for s in batch] == [(f"{PREFIX}/Count", 10, Quality.GOOD)]
            status = runner.status()
            assert status.connected and not status.stale and status.errors == 0 and status.reads >= 1
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_settings_come_from_the_source_where_it_has_them() -> None:
    source = SparkplugSource(name="broker", port=1883)
    settings = SparkplugSettings.from_source(source)
    assert settings == SparkplugSettings()  # a source that sets none of them: all defaults
    assert (settings.host_id, settings.reorder_timeout_s, settings.mqtt_version) == ("oee-tui", 2.0, "3.1.1")
    assert not settings.uses_tls and SparkplugSettings(tls_ca_file="ca.pem").uses_tls
    driver = SparkplugDriver(source, [])
    assert driver.subscriptions == ["spBv1.0/#"]
    assert driver.client_id == "oee-tui-broker"
    grouped = SparkplugDriver(source, [], settings=SparkplugSettings(group_ids=("a", "b")))
    assert grouped.subscriptions == ["spBv1.0/a/#", "spBv1.0/b/#", "spBv1.0/STATE/oee-tui"]


# ---------------------------------------------------------------- mutual TLS


def test_mtls_refuses_a_client_without_a_certificate_as_a_lost_connection(
        broker: MosquittoBroker, tls_files: TlsFiles) -> None:
    """Under TLS 1.3 the refusal comes after the handshake: connect() succeeds, then rc 7."""
    assert broker.tls_port is not None
    disconnected = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="no-cert", reconnect_on_failure=False)
    client.tls_set(ca_certs=str(tls_files.ca), tls_version=ssl.PROTOCOL_TLS_CLIENT)
    client.on_disconnect = lambda *_args: disconnected.set()
    client.on_connect = lambda *_args: pytest.fail("a client without a certificate was accepted")
    # Which call sees it depends on timing: connect() itself when the refusal arrives while
    # CONNECT is written, else the first loop() after. Either way a code, never an exception.
    code = client.connect("127.0.0.1", broker.tls_port)
    for _ in range(200):  # each loop() waits for the socket at most 0.05 s
        if code != MQTTErrorCode.MQTT_ERR_SUCCESS:
            break
        code = client.loop(0.05)
    assert code == MQTTErrorCode.MQTT_ERR_CONN_LOST  # 7
    assert disconnected.is_set()


async def test_mtls_driver_without_a_certificate_gets_a_driver_error(
        broker: MosquittoBroker, tls_files: TlsFiles) -> None:
    assert broker.tls_port is not None
    driver = make_driver(broker.tls_port, tls_ca_file=str(tls_files.ca))
    try:
        with pytest.raises(DriverError, match="client certificate"):
            await asyncio.wait_for(driver.connect(), TIMEOUT)
    finally:
        await driver.close()


async def test_mtls_driver_with_a_certificate_connects_and_receives(
        broker: MosquittoBroker, tls_files: TlsFiles) -> None:
    assert broker.tls_port is not None
    collector = SampleCollector()
    driver = make_driver(broker.tls_port, tls_ca_file=str(tls_files.ca), tls_cert_file=str(tls_files.client_cert),
                         tls_key_file=str(tls_files.client_key))
    assert driver.where.startswith("sparkplug mqtts://")
    async with running(driver, collector):
        with edge_node(broker.port) as edge:  # the edge node uses the plain listener of the same broker
            await asyncio.to_thread(edge.nbirth, [])
            await asyncio.to_thread(edge.dbirth, DEVICE, DEVICE_METRICS)
            await collector.wait_for(is_value(f"{PREFIX}/Product", "A-1"), TIMEOUT)
