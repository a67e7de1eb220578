"""The ``[edge]`` section: defaults, every key read, and errors that name the key."""

from __future__ import annotations

import pytest

from oee_tui.config import ConfigError, EdgeConfig
from oee_tui.drivers.registry import parse_config

BASE = """
[site]
name = "Plant"

[[lines]]
id = "L1"

[[sources]]
name = "plc"
kind = "modbus"

[[machines]]
id = "{machine}"
line = "L1"
ideal_cycle_time_s = 1.0
[machines.signals]
total_count = {{ source = "plc", tag = "hr:0" }}
"""


def config_with(edge: str, machine: str = "M1") -> str:
    return BASE.format(machine=machine) + "\n[edge]\n" + edge


def test_without_an_edge_section_nothing_is_published() -> None:
    config = parse_config(BASE.format(machine="M1"), "plant.toml")
    assert config.edge == EdgeConfig()
    assert not config.edge.enabled and config.edge.primary_host_id is None  # births go out without waiting


def test_every_key_is_read() -> None:
    config = parse_config(config_with("""
enabled = true
host = "broker.plant"
port = 8883
group_id = "Plant1"
edge_node_id = "oee-line1"
client_id = "oee-edge-1"
mqtt_version = "5"
keepalive_s = 20
timeout_s = 4.0
reconnect_min_s = 1.0
reconnect_max_s = 10.0
username = "edge"
password = "secret"
tls_ca_file = "ca.pem"
tls_cert_file = "edge.pem"
tls_key_file = "edge.key"
publish_interval_s = 0.5
data_qos = 1
buffer_max_rows = 5000
buffer_flush_s = 2.0
primary_host_id = "scada-1"
"""), "plant.toml")
    assert config.edge == EdgeConfig(
        enabled=True, host="broker.plant", port=8883, group_id="Plant1", edge_node_id="oee-line1",
        client_id="oee-edge-1", mqtt_version="5", keepalive_s=20, timeout_s=4.0, reconnect_min_s=1.0,
        reconnect_max_s=10.0, username="edge", password="secret", tls=False, tls_ca_file="ca.pem",
        tls_cert_file="edge.pem", tls_key_file="edge.key", publish_interval_s=0.5, data_qos=1,
        buffer_max_rows=5000, buffer_flush_s=2.0, primary_host_id="scada-1")
    assert "secret" not in repr(config.edge)


@pytest.mark.parametrize(("edge", "message"), [
    ('data_qos = 2', "plant.toml: edge.data_qos = 2: must be 0 (the Sparkplug default) or 1"),
    ('group_id = "Plant/1"',
     "plant.toml: edge.group_id = 'Plant/1': must not contain /, + or # (it is one level of the MQTT topic)"),
    ('edge_node_id = "#"',
     "plant.toml: edge.edge_node_id = '#': must not contain /, + or # (it is one level of the MQTT topic)"),
    ('port = 0', "plant.toml: edge.port = 0: must be a whole number from 1 to 65535"),
    ('buffer_max_rows = 0', "plant.toml: edge.buffer_max_rows = 0: must be a whole number from 1 to 1000000000"),
    ('publish_interval_s = 0', "plant.toml: edge.publish_interval_s = 0: must be greater than 0"),
    ('mqtt_version = "4"', "plant.toml: edge.mqtt_version = '4': must be one of 3.1.1, 5"),
    ('password = "x"', "plant.toml: edge.username = None: is needed when a password is given"),
    ('tls_cert_file = "edge.pem"',
     "plant.toml: edge.tls_key_file = None: give both tls_cert_file and tls_key_file for a client certificate, "
     "or neither"),
    ('reconnect_min_s = 5.0\nreconnect_max_s = 1.0',
     "plant.toml: edge.reconnect_max_s = 1.0: must be at least reconnect_min_s (5.0)"),
    ('enabled = "yes"', "plant.toml: edge.enabled = 'yes': must be true or false"),
    ('primary_host_id = "scada/1"',
     "plant.toml: edge.primary_host_id = 'scada/1': must not contain /, + or # (it is one level of the MQTT topic)"),
    ('primary_host_id = "+"',
     "plant.toml: edge.primary_host_id = '+': must not contain /, + or # (it is one level of the MQTT topic)"),
    ('primary_host_id = " "', "plant.toml: edge.primary_host_id = ' ': must be a non-empty string"),
    ('primary_host_id = 7', "plant.toml: edge.primary_host_id = 7: must be a non-empty string"),
])
def test_bad_values_name_the_key(edge: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(config_with(edge), "plant.toml")
    assert str(info.value) == message


def test_an_unknown_key_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(config_with("qos = 1"), "plant.toml")
    assert str(info.value).startswith("plant.toml: edge.qos = 1: is not a known key; known keys: buffer_flush_s, ")


def test_a_machine_id_must_be_a_topic_level_when_publishing() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(config_with("enabled = true", machine="Line1/Filler"), "plant.toml")
    assert str(info.value) == ("plant.toml: machines[Line1/Filler].id = 'Line1/Filler': must not contain /, + or # "
                               "while [edge] is enabled: it is the Sparkplug device id")
    # Not publishing: any id is fine.
    assert parse_config(config_with("enabled = false", machine="Line1/Filler"), "plant.toml").machines
