"""The generic MQTT driver against a real Mosquitto: JSON and plain topics, wildcards, timestamps,
the persistent session, dead letters (hypothesis-fuzzed too), test reads and mutual TLS."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oee_tui.config import TagMapping
from oee_tui.drivers.base import DriverError
from oee_tui.drivers.mqtt_json.mqtt_json_driver import MqttJsonDriver
from oee_tui.drivers.mqtt_json.mqtt_json_source import MqttSource
from oee_tui.model import Quality, Signal
from oee_tui.mqtt.json_paths import parse_path
from oee_tui.mqtt.json_source import PayloadDecoder, parse_tag
from tests.mqtt.broker import MosquittoBroker, SampleCollector, TlsFiles, make_tls_files, mqtt_client, stop_client

TIMEOUT = 10.0
COUNT = "plant/+/filler $.machine.count"
STATE = "plant/line1/state"
SPEED = "plant/# $.data[0]['speed value']"


def source(port: int, **overrides: Any) -> MqttSource:
    return MqttSource(**{"name": "json", "host": "127.0.0.1", "port": port, "timeout_s": 5.0,
                           "client_id": "oee-test-json", **overrides})


def mappings(*tags: tuple[Signal, str]) -> list[TagMapping]:
    return [TagMapping(signal, "json", tag) for signal, tag in tags]


DEFAULT_TAGS = ((Signal.TOTAL_COUNT, COUNT), (Signal.STATE_CODE, STATE))


@contextlib.asynccontextmanager
async def running(driver: MqttJsonDriver, collector: SampleCollector) -> AsyncIterator[MqttJsonDriver]:
    await asyncio.wait_for(driver.connect(), TIMEOUT)
    task = asyncio.create_task(driver.run(collector))
    try:
        yield driver
    finally:
        await driver.close()
        task.cancel()
        with contextlib.suppress(BaseException):
            await task


@contextlib.contextmanager
def publisher(port: int) -> Iterator[Any]:
    client, _ = mqtt_client(port, f"publisher-{time.monotonic_ns()}")
    try:
        yield client
    finally:
        stop_client(client)


def publish(client: Any, topic: str, payload: bytes | str, *, retain: bool = False) -> None:
    client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(TIMEOUT)


async def test_json_and_plain_topics_with_wildcards_become_samples(broker: MosquittoBroker) -> None:
    collector = SampleCollector()
    driver = MqttJsonDriver(source(broker.port), mappings(*DEFAULT_TAGS, (Signal.SPEED, SPEED)), probe=False)
    assert driver.subscriptions == ["plant/+/filler", STATE, "plant/#"]
    async with running(driver, collector):
        before = time.time()
        with publisher(broker.port) as client:
            publish(client, "plant/line1/filler", json.dumps({"machine": {"count": 7}}))
            publish(client, "plant/line2/filler", json.dumps({"machine": {"count": 9}}))
            publish(client, STATE, b"3")
            publish(client, "plant/line1/press/speeds", json.dumps({"data": [{"speed value": 61.5}]}))
        await collector.wait_for(lambda s: s.tag == SPEED and s.value == 61.5, TIMEOUT)
        await collector.wait_for(lambda s: s.tag == STATE, TIMEOUT)
        counts = [s.value for s in collector.samples if s.tag == COUNT]
        assert counts == [7, 9]  # both lines match the wildcard; each message once
        state = collector.latest()[STATE]
        assert (state.value, state.quality, state.source) == (3, Quality.GOOD, "json")
        assert before <= state.ts_utc <= time.time()  # stamped on arrival
        # plant/# also matches the filler and state topics, whose payloads have no $.data: dead letters.
        assert {letter.topic for letter in driver.dead_letters} == {"plant/line1/filler", "plant/line2/filler",
                                                                   STATE}


async def test_timestamp_from_a_payload_field(broker: MosquittoBroker) -> None:
    collector = SampleCollector()
    driver = MqttJsonDriver(source(broker.port, timestamp_path="$.ts", timestamp_format="iso8601"),
                            mappings(*DEFAULT_TAGS), probe=False)
    async with running(driver, collector):
        with publisher(broker.port) as client:
            publish(client, "plant/line1/filler", json.dumps({"machine": {"count": 1}, "ts": "2026-11-27T06:00:00Z"}))
            publish(client, "plant/line1/filler", json.dumps({"machine": {"count": 2}}))
            publish(client, STATE, b"1")
        state = await collector.wait_for(lambda s: s.tag == STATE, TIMEOUT)
    count = [s for s in collector.samples if s.tag == COUNT]
    assert [(s.value, s.ts_utc) for s in count] == [(1, 1795759200.0)]
    assert abs(state.ts_utc - time.time()) < TIMEOUT  # a plain value has no field: arrival
    [letter] = driver.dead_letters
    assert letter.error == "timestamp $.ts: $ has no member 'ts'"
    assert letter.payload == b'{"machine": {"count": 2}}'


@pytest.mark.parametrize("version", ["3.1.1", "5"])
async def test_persistent_session_delivers_what_was_published_while_away(broker: MosquittoBroker,
                                                                        version: str) -> None:
    config = source(broker.port, mqtt_version=version)
    first = SampleCollector()
    async with running(MqttJsonDriver(config, mappings(*DEFAULT_TAGS), probe=False), first):
        with publisher(broker.port) as client:
            publish(client, STATE, b"1")
        await first.wait_for(lambda s: s.tag == STATE, TIMEOUT)
    # The driver is gone; the broker keeps its session and queues QoS 1 messages.
    with publisher(broker.port) as client:
        for number in range(1, 201):
            publish(client, "plant/line1/filler", json.dumps({"machine": {"count": number}}))
    second = SampleCollector()
    driver = MqttJsonDriver(config, mappings(*DEFAULT_TAGS), probe=False)
    async with running(driver, second):
        assert driver.session_present
        await second.wait_for(lambda s: s.tag == COUNT and s.value == 200, TIMEOUT)
        await asyncio.sleep(0.3)  # anything delivered twice would arrive now
    assert [s.value for s in second.samples if s.tag == COUNT] == list(range(1, 201))


async def test_clean_session_when_configured_gets_nothing_from_while_away(broker: MosquittoBroker) -> None:
    config = source(broker.port, persistent_session=False)
    async with running(MqttJsonDriver(config, mappings(*DEFAULT_TAGS), probe=False), SampleCollector()):
        pass
    with publisher(broker.port) as client:
        publish(client, "plant/line1/filler", json.dumps({"machine": {"count": 5}}))
    collector = SampleCollector()
    driver = MqttJsonDriver(config, mappings(*DEFAULT_TAGS), probe=False)
    async with running(driver, collector):
        assert not driver.session_present
        with publisher(broker.port) as client:
            publish(client, STATE, b"2")
        await collector.wait_for(lambda s: s.tag == STATE, TIMEOUT)
    assert [s.tag for s in collector.samples] == [STATE]


async def test_bad_payloads_are_dead_letters_with_their_bytes_and_the_stream_goes_on(
        broker: MosquittoBroker) -> None:
    collector = SampleCollector()
    driver = MqttJsonDriver(source(broker.port), mappings(*DEFAULT_TAGS), probe=False)
    bad = [b"\x00\x01\xffbinary", b"{not json", b'{"machine": {"count": "many"}}', b"running"]
    async with running(driver, collector):
        with publisher(broker.port) as client:
            for number, payload in enumerate(bad, start=1):
                publish(client, "plant/line1/filler" if number < 4 else STATE, payload)
                publish(client, "plant/line1/filler", json.dumps({"machine": {"count": number}}))
        await collector.wait_for(lambda s: s.tag == COUNT and s.value == 4, TIMEOUT)
    assert [s.value for s in collector.samples] == [1, 2, 3, 4]
    assert [(d.topic, d.payload, d.error) for d in driver.dead_letters] == [
        ("plant/line1/filler", bad[0], "payload is not UTF-8 text (byte 2: 0xff)"),
        ("plant/line1/filler", bad[1], "payload is not JSON: Expecting property name enclosed in double quotes: "
                                       "line 1 column 2 (char 1)"),
        ("plant/line1/filler", bad[2], "total_count needs a number, got a string 'many'"),
        (STATE, bad[3], "state_code needs a number, got a string 'running'"),
    ]
    assert all(d.source == "json" and d.received_at > 0 for d in driver.dead_letters)


@pytest.fixture(scope="module")
def module_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    """One broker for the fuzz examples: hypothesis runs many, and each needs no fresh broker."""
    directory = tmp_path_factory.mktemp("fuzz-broker")
    server = MosquittoBroker(directory / "mosquitto")
    server.directory.mkdir()
    server.start()
    yield server
    server.stop()


FUZZ_TAGS = ((Signal.TOTAL_COUNT, "fuzz/+ $.machine.count"), (Signal.PRODUCT, "fuzz/+ $.product"))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.sampled_from(["machine", "count", "product", "x"]), children, max_size=3),
    max_leaves=8)
payloads = st.one_of(st.binary(max_size=48), json_values.map(lambda v: json.dumps(v).encode()))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(payloads, min_size=1, max_size=12))
def test_fuzzed_payloads_land_in_dead_letters_and_good_ones_flow(module_broker: MosquittoBroker,
                                                                batch: list[bytes]) -> None:
    # What the pure decoder says of each payload is what the driver must do with it over the broker.
    reference = PayloadDecoder("json", [parse_tag(tag, signal) for signal, tag in FUZZ_TAGS])
    expected_letters = [payload for payload in batch if reference.decode("fuzz/a", payload, 0.0)[1] is not None]
    expected_values = [sample.value for payload in batch for sample in reference.decode("fuzz/a", payload, 0.0)[0]]

    async def scenario() -> tuple[list[bytes], list[Any]]:
        collector = SampleCollector()
        driver = MqttJsonDriver(source(module_broker.port, persistent_session=False, client_id=None),
                                mappings(*FUZZ_TAGS, (Signal.STATE_CODE, "done/end")), probe=False)
        async with running(driver, collector):
            with publisher(module_broker.port) as client:
                for payload in batch:
                    publish(client, "fuzz/a", payload)
                publish(client, "done/end", b"1")
            await collector.wait_for(lambda s: s.tag == "done/end", TIMEOUT)
        return ([d.payload for d in driver.dead_letters],
                [s.value for s in collector.samples if s.tag != "done/end"])

    letters, values = asyncio.run(scenario())
    assert letters == expected_letters
    assert values == expected_values


async def test_read_once_waits_for_the_next_message_and_names_silent_topics(broker: MosquittoBroker) -> None:
    with publisher(broker.port) as client:
        publish(client, "plant/line1/filler", json.dumps({"machine": {"count": 12}}), retain=True)
    driver = MqttJsonDriver(source(broker.port, timeout_s=1.0), mappings(*DEFAULT_TAGS))
    try:
        await asyncio.wait_for(driver.connect(), TIMEOUT)
        assert driver.mqtt.client_id == "oee-test-json-probe"  # not under the engine: a probe
        count, state = await driver.read_once()
    finally:
        await driver.close()
    assert (count.tag, count.value, count.type, count.quality, count.error) == (COUNT, 12, "a number",
                                                                                Quality.GOOD, None)
    assert (state.tag, state.value, state.quality) == (STATE, None, Quality.BAD)
    assert state.error == "no message on plant/line1/state within 1 s"


async def test_a_test_read_does_not_take_over_the_engines_session(broker: MosquittoBroker) -> None:
    collector = SampleCollector()
    acquiring = MqttJsonDriver(source(broker.port), mappings(*DEFAULT_TAGS))
    acquiring.on_read = lambda _latency, _ok: None  # as the acquisition runner sets it
    async with running(acquiring, collector):
        assert acquiring.mqtt.client_id == "oee-test-json"
        probe = MqttJsonDriver(source(broker.port, timeout_s=0.5), mappings(*DEFAULT_TAGS))
        try:
            await probe.connect()
            await probe.read_once()
        finally:
            await probe.close()
        with publisher(broker.port) as client:
            publish(client, STATE, b"4")
        await collector.wait_for(lambda s: s.tag == STATE and s.value == 4, TIMEOUT)
        assert acquiring._lost is None


async def test_mutual_tls_with_the_ca_and_a_client_certificate(broker: MosquittoBroker, tls_files: TlsFiles) -> None:
    assert broker.tls_port is not None
    collector = SampleCollector()
    config = source(broker.tls_port, tls_ca_file=str(tls_files.ca), tls_cert_file=str(tls_files.client_cert),
                    tls_key_file=str(tls_files.client_key))
    driver = MqttJsonDriver(config, mappings(*DEFAULT_TAGS), probe=False)
    assert driver.where == f"mqtt mqtts://127.0.0.1:{broker.tls_port}"
    async with running(driver, collector):
        with publisher(broker.port) as client:  # the plain listener of the same broker
            publish(client, STATE, b"1")
        await collector.wait_for(lambda s: s.tag == STATE, TIMEOUT)


async def test_mutual_tls_without_a_client_certificate_is_refused(broker: MosquittoBroker,
                                                                  tls_files: TlsFiles) -> None:
    assert broker.tls_port is not None
    driver = MqttJsonDriver(source(broker.tls_port, tls_ca_file=str(tls_files.ca)), mappings(*DEFAULT_TAGS),
                            probe=False)
    try:
        with pytest.raises(DriverError, match="set tls_cert_file and tls_key_file"):
            await asyncio.wait_for(driver.connect(), TIMEOUT)
    finally:
        await driver.close()


async def test_a_server_certificate_from_another_ca_is_refused(broker: MosquittoBroker, tls_files: TlsFiles,
                                                              tmp_path: Path) -> None:
    assert broker.tls_port is not None
    other = make_tls_files(tmp_path / "other-pki")
    driver = MqttJsonDriver(source(broker.tls_port, tls_ca_file=str(other.ca), tls_cert_file=str(other.client_cert),
                                   tls_key_file=str(other.client_key)), mappings(*DEFAULT_TAGS), probe=False)
    try:
        with pytest.raises(DriverError, match=r"cannot connect: .*certificate verify failed"):
            await asyncio.wait_for(driver.connect(), TIMEOUT)
    finally:
        await driver.close()


def test_timestamp_path_is_parsed_once_at_start() -> None:
    driver = MqttJsonDriver(source(1883, timestamp_path="$.meta.time", timestamp_format="epoch_s"), [])
    assert driver.decoder.timestamp_path == parse_path("$.meta.time")
    assert driver.subscriptions == []


def test_oee_devices_test_reads_each_mapped_topic_once(broker: MosquittoBroker, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from oee_tui.cli import main

    config = tmp_path / "oee.toml"
    config.write_text(f"""
[site]
name = "Plant"
timezone = "UTC"
[[lines]]
id = "L1"
[[sources]]
name = "uns"
kind = "mqtt"
port = {broker.port}
timeout_s = 1.0
[[machines]]
id = "M1"
line = "L1"
ideal_cycle_time_s = 1.0
[machines.signals]
total_count = {{ source = "uns", tag = "{COUNT}" }}
state_code = {{ source = "uns", tag = "{STATE}" }}
""")
    with publisher(broker.port) as client:
        publish(client, "plant/line9/filler", json.dumps({"machine": {"count": 31}}), retain=True)
    assert main(["--config", str(config), "devices", "test", "uns"]) == 1  # one topic stayed silent
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["tag", "value", "type", "quality", "latency", "error"]
    assert lines[1].startswith(f"{COUNT}  31     a number  good")
    assert lines[2].startswith(f"{STATE}")
    assert lines[2].split()[1:4] == ["None", "-", "bad"]
    assert lines[2].endswith("ms  no message on plant/line1/state within 1 s")
