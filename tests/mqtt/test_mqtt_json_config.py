"""Config of generic MQTT sources: defaults, every key, and the exact message of each mistake."""

from __future__ import annotations

import pytest

from oee_tui.config import ConfigError
from oee_tui.drivers.mqtt_json.mqtt_json_driver import MqttJsonDriver
from oee_tui.drivers.registry import make_driver, parse_config

BASE = """
[site]
name = "Plant"
timezone = "UTC"

[[lines]]
id = "L1"

[[sources]]
name = "uns"
kind = "mqtt"
{source}

[[machines]]
id = "M1"
line = "L1"
ideal_cycle_time_s = 1.0
[machines.signals]
total_count = {{ source = "uns", tag = {tag!r} }}
"""


def load(source: str = "", tag: str = "plant/+/filler $.machine.count") -> object:
    return parse_config(BASE.format(source=source, tag=tag), "oee.toml")


def test_defaults_and_every_key() -> None:
    config = load()
    source = config.sources[0]  # type: ignore[attr-defined]
    assert (source.port, source.qos, source.persistent_session, source.session_expiry_s, source.timestamp_path,
            source.timestamp_format, source.client_id) == (1883, 1, True, 86_400, None, "iso8601", None)
    config = load('''host = "broker.plant"
port = 8883
client_id = "oee-hall-a"
mqtt_version = "5"
username = "oee"
password = "s3cret"
keepalive_s = 20
tls_ca_file = "ca.pem"
tls_cert_file = "client.pem"
tls_key_file = "client.key"
qos = 1
persistent_session = true
session_expiry_s = 3600
timestamp_path = "$.meta['time stamp']"
timestamp_format = "epoch_ms"''')
    source = config.sources[0]  # type: ignore[attr-defined]
    assert (source.host, source.port, source.client_id, source.mqtt_version, source.username, source.keepalive_s,
            source.session_expiry_s, source.timestamp_path, source.timestamp_format) == (
        "broker.plant", 8883, "oee-hall-a", "5", "oee", 20, 3600, "$.meta['time stamp']", "epoch_ms")
    driver = make_driver(source, list(config.machines[0].signals.values()), config_path=None)
    assert isinstance(driver, MqttJsonDriver)
    assert driver.mqtt.describe() == ("mqtts://broker.plant:8883 (MQTT 5, client id oee-hall-a, user 'oee', "
                                      "CA ca.pem, client certificate client.pem, persistent session)")
    assert "s3cret" not in repr(source) and "s3cret" not in driver.mqtt.describe()


@pytest.mark.parametrize(("source", "tag", "key", "message"), [
    ("", "plant/#/x", "machines[M1].signals.total_count.tag", "# must be a whole level and the last one (plant/#)"),
    ("", "plant/x $.data[*]", "machines[M1].signals.total_count.tag",
     "JSON path '$.data[*]': at character 8: expected an index such as [0] or a quoted name such as ['key'] inside "
     "[ ]; wildcards, slices and filters are not supported"),
    ("", "plant/x $machine", "machines[M1].signals.total_count.tag",
     "JSON path '$machine': at character 2: expected '.' or '[', found 'm'"),
    ('timestamp_path = "ts"', "a", "sources[uns].timestamp_path",
     "a JSON path starts with $ (the whole payload), e.g. $.machine.count"),
    ('timestamp_path = "$.ts"\ntimestamp_format = "unix"', "a", "sources[uns].timestamp_format",
     "must be one of iso8601, epoch_s, epoch_ms"),
    ('timestamp_format = "epoch_s"', "a", "sources[uns].timestamp_format",
     "needs timestamp_path (the JSON path of the time in each payload); without it the arrival time is used"),
    ("qos = 2", "a", "sources[uns].qos",
     "must be 1 (every message, also those sent while we were away) or 0"),
    ("qos = 0", "a", "sources[uns].qos",
     "must be 1 with persistent_session = true: a broker queues only QoS 1 messages for a client that is away; "
     "set persistent_session = false for QoS 0"),
    ('persistent_session = "yes"', "a", "sources[uns].persistent_session", "must be true or false"),
    ("session_expiry_s = -1", "a", "sources[uns].session_expiry_s", "must be a whole number from 0 to 4294967295"),
    ('mqtt_version = "3"', "a", "sources[uns].mqtt_version", "must be one of 3.1.1, 5"),
    ('tls_cert_file = "c.pem"', "a", "sources[uns].tls_key_file",
     "give both tls_cert_file and tls_key_file for a client certificate, or neither"),
    ('password = "x"', "a", "sources[uns].username", "is needed when a password is given"),
    ('host_id = "h"', "a", "sources[uns].host_id", None),
])
def test_mistakes_name_the_key(source: str, tag: str, key: str, message: str | None) -> None:
    with pytest.raises(ConfigError) as caught:
        load(source, tag)
    assert caught.value.key == key
    if message is not None:
        assert caught.value.expected == message
    else:
        assert caught.value.expected.startswith(
            "is not a known key; known keys: client_id, expected_every_s, host, keepalive_s, kind,")


def test_qos_0_without_a_persistent_session_is_allowed() -> None:
    source = load("qos = 0\npersistent_session = false").sources[0]  # type: ignore[attr-defined]
    assert (source.qos, source.persistent_session) == (0, False)
