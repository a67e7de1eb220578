"""Source kind "mqtt": topics with JSON or plain payloads; its settings, tag check and declaration.

A tag is ``TOPIC`` or ``TOPIC $PATH`` (oee_tui.mqtt.json_source); the JSON paths are parsed
when the file is read, so a typo fails then and not at the first message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Final

from oee_tui.config import CommonKeys, SourceConfig, TagMapping, TagProblem, TomlReader, TomlTable
from oee_tui.drivers.base import Driver, settings_of
from oee_tui.drivers.broker_source import BROKER_KEYS, BrokerSource, keep_alive_of, probe_settings, read_broker_keys
from oee_tui.drivers.driver_kind import FREE_TEXT_SIXTEEN_BIT, DriverKind

if TYPE_CHECKING:
    from oee_tui.mqtt.transport import MqttSettings

MQTT_NOT_BROWSABLE: Final = (
    "an MQTT broker has no list of the topics that will be published. "
    "Type the topic (+ matches one level, a final # the rest) and, for JSON payloads, the JSON path")


@dataclass(frozen=True, slots=True)
class MqttSource(BrokerSource):
    """Topics on one broker. QoS 1 and a persistent session keep what arrives while we are away."""

    kind: ClassVar[str] = "mqtt"
    qos: int = 1
    persistent_session: bool = True
    session_expiry_s: int = 86_400  # MQTT 5: how long the broker keeps the session while we are away
    timestamp_path: str | None = None  # JSON path of the sample time in each payload; None: arrival
    timestamp_format: str = "iso8601"  # iso8601 | epoch_s | epoch_ms


def _read(r: TomlReader, t: TomlTable, key: str, common: CommonKeys) -> MqttSource:
    # Imported on first use, as the other kinds' checkers: `oee report` loads only the kinds its plant uses.
    from oee_tui.mqtt.json_paths import TIMESTAMP_FORMATS, parse_path

    broker = read_broker_keys(r, t, key)
    qos = t.get("qos", 1)
    if qos not in (0, 1) or isinstance(qos, bool):
        raise r.fail(f"{key}.qos", qos, "must be 1 (every message, also those sent while we were away) or 0")
    persistent = r.boolean(t, key, "persistent_session", True)
    if persistent and qos == 0:
        raise r.fail(f"{key}.qos", qos, "must be 1 with persistent_session = true: a broker queues only QoS 1 "
                     "messages for a client that is away; set persistent_session = false for QoS 0")
    timestamp_path = r.opt_string(t, key, "timestamp_path")
    if timestamp_path is not None:
        try:
            parse_path(timestamp_path)
        except ValueError as exc:
            raise r.fail(f"{key}.timestamp_path", timestamp_path, str(exc)) from None
    timestamp_format = r.string(t, key, "timestamp_format", default="iso8601", choices=TIMESTAMP_FORMATS)
    if "timestamp_format" in t and timestamp_path is None:
        raise r.fail(f"{key}.timestamp_format", timestamp_format,
                     "needs timestamp_path (the JSON path of the time in each payload); without it the "
                     "arrival time is used")
    return MqttSource(**common, **broker, qos=qos, persistent_session=persistent,
                      session_expiry_s=r.integer(t, key, "session_expiry_s", 86_400, 0, 4_294_967_295),
                      timestamp_path=timestamp_path, timestamp_format=timestamp_format)


def tag_type(tag: str, given_type: str | None) -> str | None:
    from oee_tui.mqtt.json_source import parse_tag

    try:
        parse_tag(tag)
    except ValueError as exc:
        raise TagProblem(str(exc)) from None
    return given_type


def check_mqtt_tag(text: str, _type_text: str = "") -> str | None:
    """TOPIC or TOPIC $PATH, as typed."""
    from oee_tui.mqtt.json_source import parse_tag

    try:
        parse_tag(text.strip())
    except ValueError as exc:
        return str(exc)
    return None


def _probe(source: SourceConfig) -> MqttSettings:
    from oee_tui.drivers.mqtt_json.mqtt_json_driver import default_client_id

    mqtt = settings_of(source, MqttSource)
    return probe_settings(mqtt, default_client_id(mqtt))


def _driver(source: SourceConfig, tags: Sequence[TagMapping], _config_path: Path | None) -> Driver:
    from oee_tui.drivers.mqtt_json.mqtt_json_driver import MqttJsonDriver

    return MqttJsonDriver(settings_of(source, MqttSource), tags)


MQTT: Final = DriverKind(
    name="mqtt",
    default_port=1883,
    settings_type=MqttSource,
    keys=BROKER_KEYS | {"qos", "persistent_session", "session_expiry_s", "timestamp_path", "timestamp_format"},
    read_keys=_read,
    tag_check=tag_type,
    sixteen_bit_types=FREE_TEXT_SIXTEEN_BIT,
    tag_problem=check_mqtt_tag,
    subscribes=True,
    device_time=lambda source: settings_of(source, MqttSource).timestamp_path is not None,
    expected_interval=keep_alive_of,
    not_browsable=MQTT_NOT_BROWSABLE,
    broker_probe=_probe,
    driver=_driver,
)
