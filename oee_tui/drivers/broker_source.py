"""The settings both MQTT kinds share (sparkplug, mqtt): the broker, the login, TLS, the protocol version.

Read with the same rules and words as the edge node's broker (oee_tui.config.mqtt_rules).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, TypedDict

from oee_tui.config import MQTT_VERSIONS, SourceConfig, TomlReader, TomlTable
from oee_tui.config.mqtt_rules import read_tls_files
from oee_tui.config.secret_values import secret_keys
from oee_tui.drivers.base import keep_alive_interval_s, settings_of

if TYPE_CHECKING:
    from oee_tui.mqtt.transport import MqttSettings  # paho: loaded when a probe is made, not before

BROKER_KEYS: Final = frozenset({"username", "mqtt_version", "client_id", "keepalive_s", "tls", "tls_ca_file",
                                "tls_cert_file", "tls_key_file", "publishing_interval_ms"}) | secret_keys("password")


@dataclass(frozen=True, slots=True)
class BrokerSource(SourceConfig):
    """An MQTT broker as a source. None means the driver's default (oee_tui.mqtt.transport)."""

    port: int = 1883
    publishing_interval_ms: int = 500  # sets how often the connection is checked
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never in logs or reprs
    mqtt_version: str | None = None  # "3.1.1" or "5"
    client_id: str | None = None
    keepalive_s: int | None = None
    tls: bool = False
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None


class BrokerKeys(TypedDict):
    publishing_interval_ms: int
    username: str | None
    password: str | None
    mqtt_version: str | None
    client_id: str | None
    keepalive_s: int | None
    tls: bool
    tls_ca_file: str | None
    tls_cert_file: str | None
    tls_key_file: str | None


def read_broker_keys(r: TomlReader, t: TomlTable, key: str) -> BrokerKeys:
    username, password = r.login(t, key)
    tls_files = read_tls_files(r, t, key)
    return BrokerKeys(
        publishing_interval_ms=r.integer(t, key, "publishing_interval_ms", 500, 10, 600_000),
        username=username,
        password=password,
        mqtt_version=None if "mqtt_version" not in t else r.string(t, key, "mqtt_version", choices=MQTT_VERSIONS),
        client_id=r.opt_string(t, key, "client_id"),
        keepalive_s=None if "keepalive_s" not in t else r.integer(t, key, "keepalive_s", 30, 5, 3600),
        tls=r.boolean(t, key, "tls", False),
        **tls_files,
    )


def keep_alive_of(source: SourceConfig) -> float:
    return keep_alive_interval_s(settings_of(source, BrokerSource).publishing_interval_ms)


def probe_settings(source: BrokerSource, default_client_id: str) -> MqttSettings:
    """The broker connection of a probe: the source's own client id (or its driver's default) plus
    "-probe", and a clean session, so the engine's session and its queued messages are left alone."""
    from oee_tui.mqtt.transport import MqttSettings, safe_client_id

    settings = MqttSettings.from_config(source, default_client_id=default_client_id)
    return dataclasses.replace(settings, client_id=safe_client_id(f"{settings.client_id[:58]}-probe"),
                               persistent_session=False)
