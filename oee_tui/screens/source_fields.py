"""The settings on the source form, in the form's order, and which kinds of source have each.

A field shows for a kind when its key is one the kind's [[sources]] table accepts (the
common keys and the keys its DriverKind declares, oee_tui.drivers.registry), unless the
form leaves that key to the file for that kind (`hidden_for`). A new kind therefore
gets the fields of the keys it declares. What is here besides: how each setting is
written to the file, what a blank means, and the words around the fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from oee_tui import field_checks
from oee_tui.config import COMMON_KEYS, MQTT_VERSIONS
from oee_tui.config.secret_values import ENV_SUFFIX, FILE_SUFFIX
from oee_tui.drivers.opcua.opcua_source import OPCUA_SECURITY_MODES, OPCUA_SECURITY_POLICIES
from oee_tui.drivers.registry import KINDS
from oee_tui.mqtt.json_paths import TIMESTAMP_FORMATS
from oee_tui.widgets.form import Field

# An endpoint URL holds their host and port (OPC-UA's opc.tcp://host:port/path).
ENDPOINT_ADDRESSED: Final = frozenset(name for name, kind in KINDS.items() if "endpoint" in kind.keys)
# An MQTT broker pushes their data: nothing is polled, and the publishing interval only paces the
# connection check, so both are left to the file.
BROKERED: Final = frozenset(name for name, kind in KINDS.items() if kind.broker_probe is not None)

KIND_LABELS: Final = {
    "modbus": "modbus — Modbus TCP",
    "opcua": "opcua — OPC UA",
    "s7": "s7 — Siemens S7 (ISO-on-TCP)",
    "logix": "logix — Allen-Bradley Logix (EtherNet/IP)",
    "sparkplug": "sparkplug — Sparkplug B host (MQTT)",
    "mqtt": "mqtt — MQTT, JSON or plain payloads",
}
# A blank client id, as the drivers make it (oee_tui.drivers.sparkplug.host_driver / mqtt_json), so blank
# is not a mystery.
CLIENT_ID_DEFAULTS: Final = {"sparkplug": "<host id>-<name>", "mqtt": "oee-tui-<name>"}
TLS_PORT: Final = 8883  # the usual MQTT-over-TLS port, offered when TLS is switched on
KIND_FIELD: Final = Field("kind", "Kind", choices=tuple(KINDS),
                          choice_labels=tuple(KIND_LABELS.get(name, name) for name in KINDS))


# The keys by which a source's password is taken from outside the file (README "Secrets"). The form has
# no field for them: it keeps them as written and never puts a typed password beside them.
PASSWORD_REFERENCES: Final = ("password" + ENV_SUFFIX, "password" + FILE_SUFFIX)


def password_reference(source: Mapping[str, Any]) -> str | None:
    """Where a source's password comes from when not from the file: "the environment variable X", ..."""
    variable, file = (source.get(key) for key in PASSWORD_REFERENCES)
    if variable is not None:
        return f"the environment variable {variable} (password_env)"
    if file is not None:
        return f"the file {file} (password_file)"
    return None


# ---------------------------------------------------------------- the value a field's text makes


def as_int(text: str) -> int:
    return int(text)


def as_number(text: str) -> int | float:
    """A whole number stays one in the file (timeout_s = 5, not 5.0)."""
    whole = field_checks.parse_int(text)
    return whole if whole is not None else float(text)


def as_bool(text: str) -> bool:
    return text == "true"


def as_list(text: str) -> list[str]:
    return field_checks.split_list(text)


def shown_text(value: object) -> str:
    """A value from the file as the form shows it: true/false in lower case, a list comma-separated."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


# ---------------------------------------------------------------- the fields


@dataclass(frozen=True, slots=True)
class SourceField(Field):
    """A key of [[sources]] on the form."""

    default: str = ""  # what the config reader uses when the key is left out
    tuning: bool = False  # rarely changed: shown under "Connection tuning"
    pair: str = ""  # the key that must be given with this one, or neither (a client certificate and its key)
    hidden_for: frozenset[str] = frozenset()  # kinds that accept the key but leave it to the file

    @property
    def empty_checked(self) -> bool:
        # A pair's empty half can be the mistake, so its check must also run on empty text.
        return self.required or bool(self.pair)

    def shown_for(self, kind: str) -> bool:
        return self.key in COMMON_KEYS | KINDS[kind].keys and kind not in self.hidden_for

    def placeholder(self, kind: str) -> str:
        """What the empty box shows: the value a blank stands for, then the hint."""
        default = self.default
        if self.key == "port":
            default = str(KINDS[kind].default_port)
        elif self.key == "client_id":
            default = CLIENT_ID_DEFAULTS.get(kind, "")
        parts = [f"default {default}"] if default else []
        if self.hint:
            parts.append(self.hint)
        return "; ".join(parts)


# In the form's order; the tuning fields last, under their heading.
SOURCE_FIELDS: Final[tuple[SourceField, ...]] = (
    SourceField("host", "Host", field_checks.check_host, required=True, hidden_for=ENDPOINT_ADDRESSED,
                hint="IP address or host name, e.g. 192.168.0.10"),
    SourceField("port", "Port", field_checks.check_port, parse=as_int, hidden_for=ENDPOINT_ADDRESSED,
                hint="TCP port"),
    SourceField("endpoint", "Endpoint", field_checks.check_endpoint, required=True,
                hint="opc.tcp://host:4840/path"),
    SourceField("unit_id", "Unit id", field_checks.int_range(0, 255), parse=as_int, default="1",
                hint="Modbus unit (slave) id, 0-255"),
    SourceField("byte_order", "Byte order", choices=("big", "little"), default="big"),
    SourceField("word_order", "Word order", choices=("big", "little"), default="big"),
    SourceField("rack", "Rack", field_checks.check_rack, parse=as_int, default="0", hint="0-7"),
    SourceField("slot", "Slot", field_checks.check_slot, parse=as_int,
                hint="S7-1200/1500: 1, S7-300: 2; Logix: the CPU's slot"),
    SourceField("tag_upload", "Tag upload", parse=as_bool, choices=("true", "false"), default="true",
                choice_labels=("true — read the controller's tag list on connect",
                               "false — no upload: each tag map declares its type (DINT, REAL, BOOL, ...)")),
    SourceField("local_tsap", "Local TSAP", field_checks.check_tsap, hint="instead of rack/slot, e.g. 01.00"),
    SourceField("remote_tsap", "Remote TSAP", field_checks.check_tsap, hint="e.g. 03.01"),
    SourceField("publishing_interval_ms", "Publishing ms", field_checks.int_range(10, 600_000), parse=as_int,
                default="500", hidden_for=BROKERED, hint="10-600000"),
    SourceField("security_mode", "Security mode", choices=OPCUA_SECURITY_MODES, default="None"),
    SourceField("security_policy", "Security policy", choices=OPCUA_SECURITY_POLICIES, default="None"),
    SourceField("host_id", "Host id", field_checks.check_host_id, default="oee-tui",
                hint="publishes spBv1.0/STATE/<host id>"),
    SourceField("group_ids", "Group ids", field_checks.check_group_ids, parse=as_list,
                hint="comma-separated, e.g. Plant1, Plant2; blank: every group"),
    SourceField("keep_all_metrics", "Keep all metrics", parse=as_bool, choices=("false", "true"), default="false",
                choice_labels=("false — store the mapped metrics only",
                               "true — store every metric under its name, mapped or not")),
    SourceField("mqtt_version", "MQTT version", choices=MQTT_VERSIONS, default="3.1.1"),
    SourceField("username", "User name", hint="blank: anonymous"),
    SourceField("password", "Password", password=True),
    SourceField("user_certificate", "User certificate", hint="path to the .der/.pem file"),
    SourceField("user_private_key", "User private key", hint="path to the key file"),
    SourceField("tls", "TLS", parse=as_bool, choices=("false", "true"), default="false",
                choice_labels=("false — plain MQTT, unless a TLS file below is set",
                               "true — TLS; the system CAs unless a CA file is set")),
    SourceField("tls_ca_file", "TLS CA file", hint="path to the CA's .pem; blank: the system CAs"),
    SourceField("tls_cert_file", "TLS client cert", hint="mutual TLS: path to the client .pem, with its key",
                pair="tls_key_file"),
    SourceField("tls_key_file", "TLS client key", hint="path to the client certificate's key",
                pair="tls_cert_file"),
    SourceField("qos", "QoS", parse=as_int, choices=("1", "0"), default="1",
                choice_labels=("1 — every message, also those sent while away", "0 — at most once")),
    SourceField("timestamp_path", "Timestamp path", field_checks.check_json_path,
                hint="JSON path of the sample time, e.g. $.ts; blank: arrival time"),
    SourceField("timestamp_format", "Timestamp format", choices=TIMESTAMP_FORMATS, default="iso8601"),
    SourceField("poll_interval_s", "Poll every (s)", field_checks.check_positive_number, parse=as_number,
                default="1.0", tuning=True, hidden_for=BROKERED),
    SourceField("timeout_s", "Timeout (s)", field_checks.check_positive_number, parse=as_number, default="3.0",
                tuning=True),
    SourceField("reconnect_min_s", "Reconnect min (s)", field_checks.check_positive_number, parse=as_number,
                default="0.5", tuning=True),
    SourceField("reconnect_max_s", "Reconnect max (s)", field_checks.check_positive_number, parse=as_number,
                default="30.0", tuning=True),
    SourceField("max_registers_per_read", "Registers per read", field_checks.int_range(1, 125), parse=as_int,
                default="120", tuning=True, hint="1-125"),
    SourceField("queue_size", "Queue size", field_checks.int_range(10, 10_000_000), parse=as_int,
                default="10000", tuning=True, hint="samples held for the engine"),
    SourceField("namespace", "Namespace", field_checks.check_namespace, default="spBv1.0", tuning=True,
                hint="the topics' first level"),
    SourceField("client_id", "Client id", tuning=True, hint="the broker knows this client by it: keep it stable"),
    SourceField("keepalive_s", "Keep-alive (s)", field_checks.int_range(5, 3600), parse=as_int, default="30",
                tuning=True, hint="5-3600"),
    SourceField("reorder_timeout_s", "Reorder timeout (s)", field_checks.check_positive_number, parse=as_number,
                default="2.0", tuning=True, hint="a seq gap waits this long, then a rebirth is asked for"),
    SourceField("persistent_session", "Persistent session", parse=as_bool, choices=("true", "false"),
                default="true", tuning=True,
                choice_labels=("true — the broker queues QoS 1 messages while away", "false — clean session")),
    SourceField("session_expiry_s", "Session expiry (s)", field_checks.int_range(0, 4_294_967_295), parse=as_int,
                default="86400", tuning=True, hint="MQTT 5: how long the broker keeps the session"),
)
FIELDS_BY_KEY: Final = {field.key: field for field in SOURCE_FIELDS}
