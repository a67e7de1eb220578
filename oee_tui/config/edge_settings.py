"""``[edge]``: publish the machine signals as a Sparkplug B edge node (oee_tui.edge.node)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from oee_tui.config.mqtt_rules import MQTT_VERSIONS, is_topic_level, read_tls_files
from oee_tui.config.secret_values import secret_keys
from oee_tui.config.toml_reader import TomlReader, TomlTable

EDGE_QOS: Final = (0, 1)
_ONE_LEVEL: Final = "must not contain /, + or # (it is one level of the MQTT topic)"


@dataclass(frozen=True, slots=True)
class EdgeConfig:
    """``[edge]``: publish the machine signals as a Sparkplug B edge node (oee_tui.edge.node)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 1883
    group_id: str = "oee-tui"
    edge_node_id: str = "oee-tui"
    client_id: str | None = None  # default: "<group_id>-<edge_node_id>"
    mqtt_version: str = "3.1.1"
    keepalive_s: int = 30
    timeout_s: float = 5.0
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never in logs or reprs; or password_env, password_file
    tls: bool = False
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    publish_interval_s: float = 0.1  # changes are batched into one DDATA per machine per interval
    data_qos: int = 0  # live DDATA; replayed (historical) data is always QoS 1
    buffer_max_rows: int = 1_000_000  # store-and-forward rows kept while offline; the oldest go first
    buffer_flush_s: float = 1.0  # how often buffered rows are written and acknowledged rows deleted
    # Sparkplug primary host application: births wait for its STATE online, its STATE offline ends the session.
    primary_host_id: str | None = None


def read_edge(r: TomlReader, data: TomlTable, machine_ids: tuple[str, ...]) -> EdgeConfig:
    """``[edge]``; every machine becomes a Sparkplug device, so its id must be one topic level."""
    t = r.table(data, "edge", "edge", required=False)
    r.unknown_keys(t, "edge", set(EdgeConfig.__dataclass_fields__) | secret_keys("password"))
    defaults = EdgeConfig()
    group_id = r.string(t, "edge", "group_id", default=defaults.group_id)
    if not is_topic_level(group_id):
        raise r.fail("edge.group_id", group_id, _ONE_LEVEL)
    edge_node_id = r.string(t, "edge", "edge_node_id", default=defaults.edge_node_id)
    if not is_topic_level(edge_node_id):
        raise r.fail("edge.edge_node_id", edge_node_id, _ONE_LEVEL)
    enabled = r.boolean(t, "edge", "enabled", False)
    if enabled:
        for machine_id in machine_ids:
            if not is_topic_level(machine_id):
                raise r.fail(f"machines[{machine_id}].id", machine_id,
                             "must not contain /, + or # while [edge] is enabled: it is the Sparkplug device id")
    username, password = r.login(t, "edge")
    tls_files = read_tls_files(r, t, "edge")
    reconnect_min = r.number(t, "edge", "reconnect_min_s", default=defaults.reconnect_min_s, positive=True)
    reconnect_max = r.number(t, "edge", "reconnect_max_s", default=defaults.reconnect_max_s, positive=True)
    if reconnect_max < reconnect_min:
        raise r.fail("edge.reconnect_max_s", reconnect_max, f"must be at least reconnect_min_s ({reconnect_min})")
    data_qos = t.get("data_qos", defaults.data_qos)
    if data_qos not in EDGE_QOS or isinstance(data_qos, bool):
        raise r.fail("edge.data_qos", data_qos, "must be 0 (the Sparkplug default) or 1")
    primary_host_id = r.opt_string(t, "edge", "primary_host_id")
    if primary_host_id is not None and not is_topic_level(primary_host_id):
        raise r.fail("edge.primary_host_id", primary_host_id, _ONE_LEVEL)
    return EdgeConfig(
        enabled=enabled,
        host=r.string(t, "edge", "host", default=defaults.host),
        port=r.integer(t, "edge", "port", defaults.port, 1, 65535),
        group_id=group_id,
        edge_node_id=edge_node_id,
        client_id=r.opt_string(t, "edge", "client_id"),
        mqtt_version=r.string(t, "edge", "mqtt_version", default=defaults.mqtt_version, choices=MQTT_VERSIONS),
        keepalive_s=r.integer(t, "edge", "keepalive_s", defaults.keepalive_s, 5, 3600),
        timeout_s=r.number(t, "edge", "timeout_s", default=defaults.timeout_s, positive=True),
        reconnect_min_s=reconnect_min,
        reconnect_max_s=reconnect_max,
        username=username,
        password=password,
        tls=r.boolean(t, "edge", "tls", False),
        publish_interval_s=r.number(t, "edge", "publish_interval_s", default=defaults.publish_interval_s,
                                    positive=True),
        data_qos=data_qos,
        buffer_max_rows=r.integer(t, "edge", "buffer_max_rows", defaults.buffer_max_rows, 1, 1_000_000_000),
        buffer_flush_s=r.number(t, "edge", "buffer_flush_s", default=defaults.buffer_flush_s, positive=True),
        primary_host_id=primary_host_id,
        **tls_files,
    )
