"""oee_tui.mqtt.transport: settings from any config, the paho client it builds, and secrets kept out of
messages and logs, against a real Mosquitto that requires a password (and one TLS listener with a CA only)."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from oee_tui.config import EdgeConfig, TagMapping
from oee_tui.drivers.base import DriverError
from oee_tui.drivers.mqtt_json.mqtt_json_driver import MqttJsonDriver
from oee_tui.drivers.mqtt_json.mqtt_json_source import MqttSource
from oee_tui.drivers.registry import parse_config
from oee_tui.drivers.sparkplug.host_driver import SparkplugDriver
from oee_tui.drivers.sparkplug.sparkplug_source import SparkplugSource
from oee_tui.engine.live.engine import Engine
from oee_tui.model import Signal
from oee_tui.mqtt.transport import MqttSettings, TransportError, build_client, connect_options
from oee_tui.store import Store
from tests.mqtt.broker import MosquittoBroker, SampleCollector, TlsFiles, _accepts, free_port, make_tls_files

PASSWORD = "Pa55-w0rd-n0t-in-logs"
TIMEOUT = 10.0


class PasswordBroker(MosquittoBroker):
    """The fixture's broker, but a login is required; plus a TLS listener that checks no client certificate."""

    def __init__(self, directory: Path, tls: TlsFiles) -> None:
        super().__init__(directory, tls=tls)
        self.server_tls_port = free_port()
        self.password_file = directory / "passwords"

    def _write_config(self) -> None:
        super()._write_config()
        assert self.tls is not None
        text = self.config_path.read_text().replace("allow_anonymous true", "allow_anonymous false")
        text = text.replace("per_listener_settings false\n", "per_listener_settings false\n"
                            f"password_file {self.password_file}\n")
        text += (f"listener {self.server_tls_port} 127.0.0.1\ncafile {self.tls.ca}\n"
                 f"certfile {self.tls.server_cert}\nkeyfile {self.tls.server_key}\nrequire_certificate false\n")
        self.config_path.write_text(text)


@pytest.fixture
def password_broker(tmp_path: Path, tls_files: TlsFiles) -> Iterator[PasswordBroker]:
    server = PasswordBroker(tmp_path / "mosquitto", tls_files)
    server.directory.mkdir()
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(server.password_file), "oee", PASSWORD], check=True,
                   capture_output=True)
    server.start()
    deadline = time.monotonic() + TIMEOUT
    while not _accepts(server.server_tls_port):  # start() waits for the fixture's own listeners only
        assert time.monotonic() < deadline, f"the CA-only TLS listener did not open; log:\n{server.log()}"
        time.sleep(0.01)
    try:
        yield server
    finally:
        server.stop()


def json_source(port: int, **overrides: object) -> MqttSource:
    return MqttSource(**{"name": "json", "port": port, "timeout_s": 5.0,  # type: ignore[arg-type]
                           "username": "oee", "password": PASSWORD, **overrides})


TAGS = [TagMapping(Signal.STATE_CODE, "json", "plant/state")]


def test_settings_from_a_source_and_from_the_edge_section() -> None:
    source = MqttSource(name="hall a/1", host="b", port=8883, username="u", password=PASSWORD,
                          tls_ca_file="ca.pem", mqtt_version="5", keepalive_s=15)
    settings = MqttSettings.from_config(source, default_client_id="oee-tui-hall a/1", persistent_session=True)
    assert (settings.host, settings.port, settings.client_id, settings.protocol, settings.keepalive_s,
            settings.uses_tls, settings.persistent_session) == ("b", 8883, "oee-tui-hall_a_1", mqtt.MQTTv5, 15,
                                                                True, True)
    edge = MqttSettings.from_config(EdgeConfig(password=PASSWORD, client_id="edge-1"), default_client_id="x")
    assert (edge.client_id, edge.timeout_s, edge.mqtt_version, edge.uses_tls) == ("edge-1", 5.0, "3.1.1", False)
    for text in (settings.describe(), repr(settings), edge.describe(), repr(edge)):
        assert PASSWORD not in text
    assert settings.describe() == ("mqtts://b:8883 (MQTT 5, client id oee-tui-hall_a_1, user 'u', CA ca.pem, "
                                   "persistent session)")
    with pytest.raises(TransportError, match=r"mqtt_version must be one of 3.1.1, 5, not '4'"):
        MqttSettings.from_config(MqttSource(name="x", mqtt_version="4"), default_client_id="x")


def test_session_options_for_each_protocol() -> None:
    v311 = MqttSettings("h", 1883, "c", persistent_session=True)
    assert build_client(v311)._clean_session is False and connect_options(v311) == {}
    assert build_client(MqttSettings("h", 1883, "c"))._clean_session is True
    v5 = MqttSettings("h", 1883, "c", mqtt_version="5", persistent_session=True, session_expiry_s=600)
    options = connect_options(v5)
    assert options["clean_start"] is False and options["properties"].SessionExpiryInterval == 600
    assert connect_options(MqttSettings("h", 1883, "c", mqtt_version="5")) == {"clean_start": True}


def test_an_unreadable_tls_file_is_named_without_its_contents(tmp_path: Path) -> None:
    key = tmp_path / "client.key"
    key.write_text("-----BEGIN PRIVATE KEY-----\nnot really a key\n-----END PRIVATE KEY-----\n")
    settings = MqttSettings("h", 8883, "c", tls_ca_file=str(tmp_path / "missing-ca.pem"),
                            tls_cert_file=str(key), tls_key_file=str(key))
    with pytest.raises(TransportError) as caught:
        build_client(settings)
    assert str(caught.value).startswith(f"cannot load the TLS files {tmp_path / 'missing-ca.pem'}, {key}, {key}: ")
    assert "not really a key" not in str(caught.value)


def test_the_sparkplug_host_builds_its_connection_here() -> None:
    source = SparkplugSource(name="uns", port=1884, username="u", password=PASSWORD)
    driver = SparkplugDriver(source, [])
    assert isinstance(driver.mqtt, MqttSettings)
    assert (driver.mqtt.port, driver.mqtt.client_id, driver.mqtt.persistent_session) == (1884, "oee-tui-uns", False)
    assert driver.where == "sparkplug mqtt://127.0.0.1:1884"


async def test_login_and_tls_with_a_ca_only(password_broker: PasswordBroker, tls_files: TlsFiles,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    collector = SampleCollector()
    driver = MqttJsonDriver(json_source(password_broker.server_tls_port, tls_ca_file=str(tls_files.ca)), TAGS,
                            probe=False)
    await asyncio.wait_for(driver.connect(), TIMEOUT)
    task = asyncio.create_task(driver.run(collector))
    try:
        publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="pub")
        publisher.username_pw_set("oee", PASSWORD)
        publisher.connect("127.0.0.1", password_broker.port)
        publisher.loop_start()
        publisher.publish("plant/state", b"2", qos=1).wait_for_publish(TIMEOUT)
        publisher.disconnect()
        publisher.loop_stop()
        sample = await collector.wait_for(lambda s: s.tag == "plant/state", TIMEOUT)
        assert sample.value == 2
        assert f"connected (mqtts://127.0.0.1:{password_broker.server_tls_port} (MQTT 3.1.1, client id " \
               f"oee-tui-json, user 'oee', CA {tls_files.ca}, persistent session)" in caplog.text
        assert PASSWORD not in caplog.text
    finally:
        await driver.close()
        task.cancel()


async def test_a_wrong_password_is_refused_and_named_without_the_password(password_broker: PasswordBroker) -> None:
    driver = MqttJsonDriver(json_source(password_broker.port, password="wrong-" + PASSWORD), TAGS, probe=False)
    try:
        with pytest.raises(DriverError) as caught:
            await asyncio.wait_for(driver.connect(), TIMEOUT)
    finally:
        await driver.close()
    assert str(caught.value) == (f"mqtt mqtt://127.0.0.1:{password_broker.port}: the broker refused the connection: "
                                 "Not authorized (user 'oee')")


async def test_failed_logins_and_tls_handshakes_never_log_secrets(password_broker: PasswordBroker, tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    """Through the real engine and acquisition runner, at DEBUG: every log line of the failures."""
    other = make_tls_files(tmp_path / "other-pki")  # a CA the broker's certificate is not signed by
    key_text = other.client_key.read_text()
    config = parse_config(f"""
[site]
name = "Secrets"
timezone = "UTC"
[[lines]]
id = "L1"
[[sources]]
name = "badlogin"
kind = "mqtt"
port = {password_broker.port}
username = "oee"
password = "wrong-{PASSWORD}"
reconnect_min_s = 0.1
reconnect_max_s = 0.2
[[sources]]
name = "badtls"
kind = "mqtt"
port = {password_broker.server_tls_port}
username = "oee"
password = "{PASSWORD}"
tls_ca_file = "{other.ca}"
tls_cert_file = "{other.client_cert}"
tls_key_file = "{other.client_key}"
reconnect_min_s = 0.1
reconnect_max_s = 0.2
[[sources]]
name = "badhost"
kind = "sparkplug"
port = {password_broker.port}
username = "oee"
password = "wrong-{PASSWORD}"
reconnect_min_s = 0.1
reconnect_max_s = 0.2
[[machines]]
id = "M1"
line = "L1"
ideal_cycle_time_s = 1.0
[machines.signals]
total_count = {{ source = "badlogin", tag = "plant/count" }}
state_code = {{ source = "badtls", tag = "plant/state" }}
fault = {{ source = "badhost", tag = "G/E/D/Fault" }}
""", "oee.toml")
    caplog.set_level(logging.DEBUG)
    engine = Engine(config, Store.open(tmp_path / "data"), tick_s=0.05, flush_interval_s=0.2)
    await engine.start()
    try:
        deadline = time.monotonic() + TIMEOUT
        while not all(runner.health.errors >= 2 for runner in engine.runners):
            assert time.monotonic() < deadline, "the sources did not fail twice each"
            await asyncio.sleep(0.05)
        errors = {runner.source.name: runner.health.last_error or "" for runner in engine.runners}
    finally:
        await engine.stop()
    assert "Not authorized (user 'oee')" in errors["badlogin"]
    assert "Not authorized (user 'oee')" in errors["badhost"]
    assert "certificate verify failed" in errors["badtls"]
    logged = caplog.text + "".join(str(record.args) for record in caplog.records)
    assert "Not authorized" in logged and "certificate verify failed" in logged  # the failures were logged
    assert PASSWORD not in logged
    assert key_text.splitlines()[1] not in logged
    assert PASSWORD not in repr(config.sources) and PASSWORD not in str(errors)
