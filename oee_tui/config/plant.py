"""Typed plant configuration, read from TOML and validated strictly.

Every error names the file, the key, the bad value and what would be valid, so
a maintenance tech can fix it without reading Python. Nothing here imports
Textual or touches the network.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs

from oee_tui.model import COUNTER_SIGNALS, STATE_CODE_TARGETS, Loss, Signal

APP_NAME: Final = "oee-tui"
CONFIG_FILENAME: Final = "oee.toml"

SOURCE_KINDS: Final = ("modbus", "opcua", "s7", "logix", "sparkplug", "mqtt")
DEFAULT_PORTS: Final = {"modbus": 502, "opcua": 4840, "s7": 102, "logix": 44818, "sparkplug": 1883, "mqtt": 1883}
MQTT_VERSIONS: Final = ("3.1.1", "5")
OPCUA_SECURITY_MODES: Final = ("None", "Sign", "SignAndEncrypt")
OPCUA_SECURITY_POLICIES: Final = ("None", "Basic256Sha256")
_TSAP = re.compile(r"^[0-9A-Fa-f]{2}\.[0-9A-Fa-f]{2}$")
_OPCUA_NODE_ID = re.compile(
    r"^((ns=\d+|nsu=[^;]+);)?(i=\d+|s=.+|g=[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}|b=.+)$", re.DOTALL)
MODBUS_TYPES: Final = ("bool", "int16", "uint16", "int32", "uint32", "float32")
BYTE_ORDERS: Final = ("big", "little")
COUNTER_WIDTHS: Final = (16, 32, 64)
WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_MODBUS_ADDRESS = re.compile(r"^(hr|ir|co|di):(\d{1,5})$")


class ConfigError(Exception):
    """A config problem, worded for the person who edits the file."""

    def __init__(self, file: Path | str, key: str, value: object, expected: str) -> None:
        self.file = str(file)
        self.key = key
        self.value = value
        self.expected = expected
        super().__init__(f"{self.file}: {key} = {value!r}: {expected}")


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / CONFIG_FILENAME


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME))


# ---------------------------------------------------------------- dataclasses


@dataclass(frozen=True, slots=True)
class SiteConfig:
    name: str
    timezone: str
    stale_after_s: float = 10.0


@dataclass(frozen=True, slots=True)
class LineConfig:
    id: str
    name: str
    area: str


@dataclass(frozen=True, slots=True)
class TagMapping:
    """Which tag of which source feeds one machine signal."""

    signal: Signal
    source: str
    tag: str  # modbus: "hr:100"; opcua: a node id such as "ns=2;s=Filler.Count"
    type: str | None = None  # modbus data type; opcua takes the server's type
    width: int | None = None  # counter width in bits; counters only
    deadband: float = 0.0
    byte_order: str | None = None  # modbus override of the source's setting
    word_order: str | None = None


@dataclass(frozen=True, slots=True)
class MachineConfig:
    id: str
    name: str
    line: str
    ideal_cycle_time_s: float
    micro_stop_threshold_s: float = 120.0
    startup_period_s: float = 300.0
    target_per_hour: float | None = None
    product_cycle_times: dict[str, float] = field(default_factory=dict)
    state_map: dict[int, str] = field(default_factory=dict)
    signals: dict[Signal, TagMapping] = field(default_factory=dict)
    default_product: str | None = None

    def cycle_time_for(self, product: str | None) -> float:
        if product is not None and product in self.product_cycle_times:
            return self.product_cycle_times[product]
        return self.ideal_cycle_time_s


@dataclass(frozen=True, slots=True)
class SourceConfig:
    name: str
    kind: str
    host: str = "127.0.0.1"
    port: int = 502
    endpoint: str = ""
    unit_id: int = 1
    poll_interval_s: float = 1.0
    timeout_s: float = 3.0
    byte_order: str = "big"
    word_order: str = "big"
    max_registers_per_read: int = 120
    publishing_interval_ms: int = 500
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0
    queue_size: int = 10_000
    # Siemens S7: rack and slot, or both TSAPs as Siemens writes them ("01.00", "03.01").
    rack: int = 0
    slot: int | None = None  # S7: 1 for S7-1200/1500, 2 for S7-300; Logix: the CPU's slot, 0 if unset
    local_tsap: str | None = None
    remote_tsap: str | None = None
    # OPC-UA security: the mode and policy, a user name and password, or an X.509 user certificate.
    security_mode: str = "None"
    security_policy: str = "None"
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never in logs or reprs
    user_certificate: str | None = None
    user_private_key: str | None = None
    # Sparkplug B host over MQTT (username/password above apply to the broker).
    host_id: str | None = None  # the STATE topic's host id; default "oee-tui"
    namespace: str | None = None  # Sparkplug topics' first level; default "spBv1.0"
    group_ids: tuple[str, ...] = ()  # empty: every group
    reorder_timeout_s: float | None = None  # how long a seq gap may wait for its message
    mqtt_version: str | None = None  # "3.1.1" or "5"
    client_id: str | None = None
    keepalive_s: int | None = None
    tls: bool = False
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    # Generic MQTT (kind "mqtt"): QoS 1 and a persistent session keep what arrives while we are away.
    qos: int = 1
    persistent_session: bool = True
    session_expiry_s: int = 86_400  # MQTT 5: how long the broker keeps the session while we are away
    timestamp_path: str | None = None  # JSON path of the sample time in each payload; None: arrival
    timestamp_format: str = "iso8601"  # iso8601 | epoch_s | epoch_ms


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    name: str
    planned: bool
    loss: Loss | None  # None for planned reasons
    parent: str | None = None


@dataclass(frozen=True, slots=True)
class BreakConfig:
    start: str  # "HH:MM" local
    end: str


@dataclass(frozen=True, slots=True)
class ShiftConfig:
    name: str
    start: str  # "HH:MM" local
    end: str  # "HH:MM" local; at or before start means the next day
    days: tuple[str, ...] = WEEKDAYS  # weekday the shift starts on
    breaks: tuple[BreakConfig, ...] = ()


@dataclass(frozen=True, slots=True)
class Targets:
    oee: float = 0.85
    availability: float = 0.90
    performance: float = 0.95
    quality: float = 0.99


EDGE_QOS: Final = (0, 1)
_SPARKPLUG_ID = re.compile(r"^[^/+#]+$")  # a Sparkplug group, edge node or device id: one topic level
# How the reader (and, with the same words, the source form: oee_tui.field_checks) refuses them.
HOST_ID_PROBLEM: Final = "must be one topic level without /, + or # (it names the topic spBv1.0/STATE/<host_id>)"
NAMESPACE_PROBLEM: Final = 'must be one topic level without /, + or # (the Sparkplug B default is "spBv1.0")'
TLS_PAIR_PROBLEM: Final = "give both tls_cert_file and tls_key_file for a client certificate, or neither"


def is_topic_level(text: str) -> bool:
    """One MQTT topic level: not empty, no /, + or #. Sparkplug ids and namespaces must be one."""
    return _SPARKPLUG_ID.match(text) is not None


def group_id_problem(group: str) -> str:
    return f"group id {group!r} must be one topic level without /, + or #"


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
    password: str | None = field(default=None, repr=False)  # never in logs or reprs
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


@dataclass(frozen=True, slots=True)
class Config:
    site: SiteConfig
    lines: tuple[LineConfig, ...]
    machines: tuple[MachineConfig, ...]
    sources: tuple[SourceConfig, ...]
    reasons: tuple[Reason, ...]
    shifts: tuple[ShiftConfig, ...]
    targets: Targets = Targets()
    path: Path | None = None
    edge: EdgeConfig = EdgeConfig()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.site.timezone)

    def machine(self, machine_id: str) -> MachineConfig:
        for machine in self.machines:
            if machine.id == machine_id:
                return machine
        raise KeyError(machine_id)

    def reason(self, code: str) -> Reason | None:
        for reason in self.reasons:
            if reason.code == code:
                return reason
        return None

    def source(self, name: str) -> SourceConfig:
        for source in self.sources:
            if source.name == name:
                return source
        raise KeyError(name)


DEFAULT_STATE_MAP: Final[dict[int, str]] = {
    0: "offline",
    1: "running",
    2: "stopped",
    3: "down",
    4: "changeover",
    5: "planned_stop",
}

DEFAULT_REASONS: Final[tuple[Reason, ...]] = (
    Reason("BREAK", "Break", planned=True, loss=None),
    Reason("PM", "Planned maintenance", planned=True, loss=None),
    Reason("NO_ORDER", "No orders", planned=True, loss=None),
    Reason("FAIL", "Failure", planned=False, loss=Loss.BREAKDOWN),
    Reason("FAIL.MECH", "Mechanical", planned=False, loss=Loss.BREAKDOWN, parent="FAIL"),
    Reason("FAIL.ELEC", "Electrical", planned=False, loss=Loss.BREAKDOWN, parent="FAIL"),
    Reason("SETUP", "Setup / changeover", planned=False, loss=Loss.SETUP),
    Reason("MINOR", "Minor stop / jam", planned=False, loss=Loss.MINOR_STOP),
    Reason("MATERIAL", "Waiting for material", planned=False, loss=Loss.BREAKDOWN),
)


# ---------------------------------------------------------------- loading


class _Reader:
    """Walks the parsed TOML, raising ConfigError with a dotted key path."""

    def __init__(self, file: Path | str) -> None:
        self.file = file

    def fail(self, key: str, value: object, expected: str) -> ConfigError:
        return ConfigError(self.file, key, value, expected)

    def table(self, data: dict[str, Any], key: str, name: str, required: bool = True) -> dict[str, Any]:
        value = data.get(name)
        if value is None:
            if required:
                raise self.fail(key, None, "is missing; add a table here")
            return {}
        if not isinstance(value, dict):
            raise self.fail(key, value, "must be a table")
        return value

    def tables(self, data: dict[str, Any], key: str, name: str) -> list[dict[str, Any]]:
        value = data.get(name, [])
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise self.fail(key, value, f"must be an array of tables ([[{name}]])")
        return value

    def string(self, data: dict[str, Any], key: str, name: str, default: str | None = None,
               choices: tuple[str, ...] | None = None) -> str:
        full = f"{key}.{name}" if key else name
        value = data.get(name, default)
        if value is None:
            raise self.fail(full, None, "is missing; it must be a string")
        if not isinstance(value, str) or not value.strip():
            raise self.fail(full, value, "must be a non-empty string")
        if choices is not None and value not in choices:
            raise self.fail(full, value, f"must be one of {', '.join(choices)}")
        return value

    def opt_string(self, data: dict[str, Any], key: str, name: str) -> str | None:
        if data.get(name) is None:
            return None
        return self.string(data, key, name)

    def number(self, data: dict[str, Any], key: str, name: str, default: float | None = None,
               minimum: float | None = None, positive: bool = False) -> float:
        full = f"{key}.{name}" if key else name
        value = data.get(name, default)
        if value is None:
            raise self.fail(full, None, "is missing; it must be a number")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(full, value, "must be a number")
        if positive and value <= 0:
            raise self.fail(full, value, "must be greater than 0")
        if minimum is not None and value < minimum:
            raise self.fail(full, value, f"must be at least {minimum}")
        return float(value)

    def integer(self, data: dict[str, Any], key: str, name: str, default: int,
                lo: int, hi: int) -> int:
        full = f"{key}.{name}"
        value = data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise self.fail(full, value, f"must be a whole number from {lo} to {hi}")
        return value

    def boolean(self, data: dict[str, Any], key: str, name: str, default: bool) -> bool:
        value = data.get(name, default)
        if not isinstance(value, bool):
            raise self.fail(f"{key}.{name}", value, "must be true or false")
        return value

    def unknown_keys(self, data: dict[str, Any], key: str, allowed: set[str]) -> None:
        for name in data:
            if name not in allowed:
                where = f"{key}.{name}" if key else name
                raise self.fail(where, data[name], f"is not a known key; known keys: {', '.join(sorted(allowed))}")


def load_config(path: Path | str) -> Config:
    """Read and validate a config file. Raises ConfigError, never anything else for bad content."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(path, "(file)", None, "file not found; run `oee config init` to write a sample") from exc
    except OSError as exc:
        raise ConfigError(path, "(file)", None, f"cannot be read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(path, "(file)", None, "must be UTF-8 text") from exc
    return parse_config(text, path)


def parse_config(text: str, path: Path | str = "<config>") -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "(syntax)", None, f"is not valid TOML: {exc}") from exc
    config = config_from_dict(data, path)
    return config


def config_from_dict(data: dict[str, Any], path: Path | str = "<config>") -> Config:
    r = _Reader(path)
    r.unknown_keys(data, "", {"site", "lines", "machines", "sources", "reasons", "shifts", "targets",
                              "state_map", "edge"})

    site_t = r.table(data, "site", "site")
    r.unknown_keys(site_t, "site", {"name", "timezone", "stale_after_s"})
    timezone = r.string(site_t, "site", "timezone", default="UTC")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise r.fail("site.timezone", timezone, "must be an IANA time zone such as Europe/Berlin") from exc
    site = SiteConfig(
        name=r.string(site_t, "site", "name"),
        timezone=timezone,
        stale_after_s=r.number(site_t, "site", "stale_after_s", default=10.0, positive=True),
    )

    sources = _sources(r, data)
    source_by_name = {source.name: source for source in sources}
    lines = _lines(r, data)
    line_ids = {line.id for line in lines}
    plant_state_map = _state_map(r, data.get("state_map"), "state_map", DEFAULT_STATE_MAP)
    machines = _machines(r, data, line_ids, source_by_name, plant_state_map)
    reasons = _reasons(r, data)
    shifts = _shifts(r, data)

    targets_t = r.table(data, "targets", "targets", required=False)
    r.unknown_keys(targets_t, "targets", {"oee", "availability", "performance", "quality"})
    targets = Targets(**{
        name: _fraction(r, targets_t, "targets", name, getattr(Targets(), name))
        for name in ("oee", "availability", "performance", "quality")
    })
    return Config(site=site, lines=lines, machines=machines, sources=sources, reasons=reasons,
                  shifts=shifts, targets=targets, path=Path(path) if not str(path).startswith("<") else None,
                  edge=_edge(r, data, machines))


def _edge(r: _Reader, data: dict[str, Any], machines: tuple[MachineConfig, ...]) -> EdgeConfig:
    """``[edge]``; every machine becomes a Sparkplug device, so its id must be one topic level."""
    t = r.table(data, "edge", "edge", required=False)
    r.unknown_keys(t, "edge", {name for name in EdgeConfig.__dataclass_fields__})
    defaults = EdgeConfig()
    ids: dict[str, str] = {}
    for name in ("group_id", "edge_node_id"):
        value = r.string(t, "edge", name, default=getattr(defaults, name))
        if not _SPARKPLUG_ID.match(value):
            raise r.fail(f"edge.{name}", value, "must not contain /, + or # (it is one level of the MQTT topic)")
        ids[name] = value
    enabled = r.boolean(t, "edge", "enabled", False)
    if enabled:
        for machine in machines:
            if not _SPARKPLUG_ID.match(machine.id):
                raise r.fail(f"machines[{machine.id}].id", machine.id,
                             "must not contain /, + or # while [edge] is enabled: it is the Sparkplug device id")
    username = r.opt_string(t, "edge", "username")
    password = r.opt_string(t, "edge", "password")
    if password is not None and username is None:
        raise r.fail("edge.username", None, "is needed when a password is given")
    tls_files = {name: r.opt_string(t, "edge", name) for name in ("tls_ca_file", "tls_cert_file", "tls_key_file")}
    if (tls_files["tls_cert_file"] is None) != (tls_files["tls_key_file"] is None):
        raise r.fail("edge.tls_key_file" if tls_files["tls_key_file"] is None else "edge.tls_cert_file",
                     None, "give both tls_cert_file and tls_key_file for a client certificate, or neither")
    reconnect_min = r.number(t, "edge", "reconnect_min_s", default=defaults.reconnect_min_s, positive=True)
    reconnect_max = r.number(t, "edge", "reconnect_max_s", default=defaults.reconnect_max_s, positive=True)
    if reconnect_max < reconnect_min:
        raise r.fail("edge.reconnect_max_s", reconnect_max, f"must be at least reconnect_min_s ({reconnect_min})")
    data_qos = t.get("data_qos", defaults.data_qos)
    if data_qos not in EDGE_QOS or isinstance(data_qos, bool):
        raise r.fail("edge.data_qos", data_qos, "must be 0 (the Sparkplug default) or 1")
    primary_host_id = r.opt_string(t, "edge", "primary_host_id")
    if primary_host_id is not None and not _SPARKPLUG_ID.match(primary_host_id):
        raise r.fail("edge.primary_host_id", primary_host_id,
                     "must not contain /, + or # (it is one level of the MQTT topic)")
    return EdgeConfig(
        enabled=enabled,
        host=r.string(t, "edge", "host", default=defaults.host),
        port=r.integer(t, "edge", "port", defaults.port, 1, 65535),
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
        **ids,
        **tls_files,
    )


def _fraction(r: _Reader, data: dict[str, Any], key: str, name: str, default: float) -> float:
    value = r.number(data, key, name, default=default)
    if not 0 < value <= 1:
        raise r.fail(f"{key}.{name}", value, "must be a fraction between 0 and 1, e.g. 0.85")
    return value


def _entry_key(section: str, index: int, table: dict[str, Any], id_field: str) -> str:
    """Name an array entry by its id when it has a usable one: `machines[L1-FILL]`, else by position."""
    value = table.get(id_field)
    return f"{section}[{value}]" if isinstance(value, str) and value.strip() else f"{section}[{index}]"


def _unique(r: _Reader, key: str, seen: set[str], value: str) -> None:
    if value in seen:
        raise r.fail(key, value, "is used twice; ids must be unique")
    seen.add(value)


def _sources(r: _Reader, data: dict[str, Any]) -> tuple[SourceConfig, ...]:
    common = {"name", "kind", "host", "port", "poll_interval_s", "timeout_s",
              "reconnect_min_s", "reconnect_max_s", "queue_size"}
    allowed_by_kind = {
        "modbus": common | {"unit_id", "byte_order", "word_order", "max_registers_per_read"},
        "opcua": common | {"endpoint", "publishing_interval_ms", "security_mode", "security_policy", "username",
                           "password", "user_certificate", "user_private_key"},
        "s7": common | {"rack", "slot", "local_tsap", "remote_tsap"},
        "logix": common | {"slot"},
        "sparkplug": common | {"username", "password", "host_id", "namespace", "group_ids", "reorder_timeout_s",
                               "mqtt_version",
                               "client_id", "keepalive_s", "tls", "tls_ca_file", "tls_cert_file", "tls_key_file",
                               "publishing_interval_ms"},
        "mqtt": common | {"username", "password", "mqtt_version", "client_id", "keepalive_s", "tls", "tls_ca_file",
                          "tls_cert_file", "tls_key_file", "publishing_interval_ms", *_MQTT_KEYS},
    }
    out: list[SourceConfig] = []
    seen: set[str] = set()
    for i, t in enumerate(r.tables(data, "sources", "sources")):
        key = _entry_key("sources", i, t, "name")
        name = r.string(t, key, "name")
        _unique(r, f"{key}.name", seen, name)
        key = f"sources[{name}]"
        kind = r.string(t, key, "kind", choices=SOURCE_KINDS)
        r.unknown_keys(t, key, allowed_by_kind[kind])
        endpoint = ""
        if kind == "opcua":
            endpoint = r.string(t, key, "endpoint")
            if not endpoint.startswith("opc.tcp://"):
                raise r.fail(f"{key}.endpoint", endpoint, "must start with opc.tcp://")
        reconnect_min = r.number(t, key, "reconnect_min_s", default=0.5, positive=True)
        reconnect_max = r.number(t, key, "reconnect_max_s", default=30.0, positive=True)
        if reconnect_max < reconnect_min:
            raise r.fail(f"{key}.reconnect_max_s", reconnect_max, f"must be at least reconnect_min_s ({reconnect_min})")
        tsaps = {}
        for field_name in ("local_tsap", "remote_tsap"):
            tsap = r.opt_string(t, key, field_name)
            if tsap is not None and not _TSAP.match(tsap):
                raise r.fail(f"{key}.{field_name}", tsap, "must be a TSAP as Siemens writes it, such as 01.00 or 03.01")
            tsaps[field_name] = tsap
        if (tsaps["local_tsap"] is None) != (tsaps["remote_tsap"] is None):
            raise r.fail(f"{key}.remote_tsap" if tsaps["remote_tsap"] is None else f"{key}.local_tsap", None,
                         "give both local_tsap and remote_tsap, or neither (then rack and slot are used)")
        security_mode = r.string(t, key, "security_mode", default="None", choices=OPCUA_SECURITY_MODES)
        security_policy = r.string(t, key, "security_policy",
                                   default="None" if security_mode == "None" else "Basic256Sha256",
                                   choices=OPCUA_SECURITY_POLICIES)
        if (security_mode == "None") != (security_policy == "None"):
            raise r.fail(f"{key}.security_policy", security_policy,
                         "must be None exactly when security_mode is None (Sign and SignAndEncrypt need "
                         "Basic256Sha256)")
        username = r.opt_string(t, key, "username")
        password = r.opt_string(t, key, "password")
        if password is not None and username is None:
            raise r.fail(f"{key}.username", None, "is needed when a password is given")
        user_certificate = r.opt_string(t, key, "user_certificate")
        user_private_key = r.opt_string(t, key, "user_private_key")
        if (user_certificate is None) != (user_private_key is None):
            raise r.fail(f"{key}.user_private_key" if user_private_key is None else f"{key}.user_certificate", None,
                         "give both user_certificate and user_private_key for certificate login, or neither")
        if user_certificate is not None and username is not None:
            raise r.fail(f"{key}.username", username, "cannot be combined with user_certificate; pick one login")
        slot = t.get("slot")
        group_ids = t.get("group_ids", [])
        if not isinstance(group_ids, list) or not all(isinstance(g, str) and g for g in group_ids):
            raise r.fail(f"{key}.group_ids", group_ids, 'must be a list of Sparkplug group ids, e.g. ["Plant1"]')
        for group in group_ids:
            if not is_topic_level(group):
                raise r.fail(f"{key}.group_ids", group_ids, group_id_problem(group))
        host_id = r.opt_string(t, key, "host_id")
        if host_id is not None and not is_topic_level(host_id):
            raise r.fail(f"{key}.host_id", host_id, HOST_ID_PROBLEM)
        namespace = r.opt_string(t, key, "namespace")
        if namespace is not None and not is_topic_level(namespace):
            raise r.fail(f"{key}.namespace", namespace, NAMESPACE_PROBLEM)
        tls_files = {name: r.opt_string(t, key, name) for name in ("tls_ca_file", "tls_cert_file", "tls_key_file")}
        if (tls_files["tls_cert_file"] is None) != (tls_files["tls_key_file"] is None):
            raise r.fail(f"{key}.tls_key_file" if tls_files["tls_key_file"] is None else f"{key}.tls_cert_file",
                         None, TLS_PAIR_PROBLEM)
        out.append(SourceConfig(
            name=name,
            kind=kind,
            host=r.string(t, key, "host", default="127.0.0.1"),
            port=r.integer(t, key, "port", DEFAULT_PORTS[kind], 1, 65535),
            endpoint=endpoint,
            unit_id=r.integer(t, key, "unit_id", 1, 0, 255),
            poll_interval_s=r.number(t, key, "poll_interval_s", default=1.0, positive=True),
            timeout_s=r.number(t, key, "timeout_s", default=3.0, positive=True),
            byte_order=r.string(t, key, "byte_order", default="big", choices=BYTE_ORDERS),
            word_order=r.string(t, key, "word_order", default="big", choices=BYTE_ORDERS),
            max_registers_per_read=r.integer(t, key, "max_registers_per_read", 120, 1, 125),
            publishing_interval_ms=r.integer(t, key, "publishing_interval_ms", 500, 10, 600_000),
            reconnect_min_s=reconnect_min,
            reconnect_max_s=reconnect_max,
            queue_size=r.integer(t, key, "queue_size", 10_000, 10, 10_000_000),
            rack=r.integer(t, key, "rack", 0, 0, 7),
            slot=None if slot is None else r.integer(t, key, "slot", 0, 0, 31),
            local_tsap=tsaps["local_tsap"],
            remote_tsap=tsaps["remote_tsap"],
            security_mode=security_mode,
            security_policy=security_policy,
            username=username,
            password=password,
            user_certificate=user_certificate,
            user_private_key=user_private_key,
            host_id=host_id,
            namespace=namespace,
            group_ids=tuple(group_ids),
            reorder_timeout_s=None if "reorder_timeout_s" not in t else
            r.number(t, key, "reorder_timeout_s", positive=True),
            mqtt_version=None if "mqtt_version" not in t else
            r.string(t, key, "mqtt_version", choices=MQTT_VERSIONS),
            client_id=r.opt_string(t, key, "client_id"),
            keepalive_s=None if "keepalive_s" not in t else r.integer(t, key, "keepalive_s", 30, 5, 3600),
            tls=r.boolean(t, key, "tls", False),
            **tls_files,
            **(_mqtt_options(r, t, key) if kind == "mqtt" else {}),
        ))
    return tuple(out)


_MQTT_KEYS: Final = ("qos", "persistent_session", "session_expiry_s", "timestamp_path", "timestamp_format")


def _mqtt_options(r: _Reader, t: dict[str, Any], key: str) -> dict[str, Any]:
    """The keys only a generic MQTT source has; the JSON path is parsed now so a typo fails at load."""
    from oee_tui.mqtt.json_paths import TIMESTAMP_FORMATS, parse_path

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
    return {"qos": qos, "persistent_session": persistent,
            "session_expiry_s": r.integer(t, key, "session_expiry_s", 86_400, 0, 4_294_967_295),
            "timestamp_path": timestamp_path, "timestamp_format": timestamp_format}


def _lines(r: _Reader, data: dict[str, Any]) -> tuple[LineConfig, ...]:
    out: list[LineConfig] = []
    seen: set[str] = set()
    for i, t in enumerate(r.tables(data, "lines", "lines")):
        key = _entry_key("lines", i, t, "id")
        r.unknown_keys(t, key, {"id", "name", "area"})
        line_id = r.string(t, key, "id")
        _unique(r, f"{key}.id", seen, line_id)
        out.append(LineConfig(id=line_id, name=r.string(t, key, "name", default=line_id),
                              area=r.string(t, key, "area", default="Production")))
    return tuple(out)


def _state_map(r: _Reader, raw: object, key: str, base: dict[int, str]) -> dict[int, str]:
    if raw is None:
        return dict(base)
    if not isinstance(raw, dict):
        raise r.fail(key, raw, 'must be a table of code = state, e.g. { "1" = "running" }')
    out = dict(base)
    for code, state in raw.items():
        try:
            number = int(code)
        except ValueError as exc:
            raise r.fail(f"{key}.{code}", state, "the key must be a whole-number state code") from exc
        if state not in STATE_CODE_TARGETS:
            raise r.fail(f"{key}.{code}", state, f"must be one of {', '.join(STATE_CODE_TARGETS)}")
        out[number] = state
    return out


def _machines(r: _Reader, data: dict[str, Any], line_ids: set[str],
              sources: dict[str, SourceConfig], plant_state_map: dict[int, str]) -> tuple[MachineConfig, ...]:
    allowed = {"id", "name", "line", "ideal_cycle_time_s", "micro_stop_threshold_s", "startup_period_s",
               "target_per_hour", "product_cycle_times", "state_map", "signals", "default_product"}
    out: list[MachineConfig] = []
    seen: set[str] = set()
    for i, t in enumerate(r.tables(data, "machines", "machines")):
        key = _entry_key("machines", i, t, "id")
        r.unknown_keys(t, key, allowed)
        machine_id = r.string(t, key, "id")
        _unique(r, f"{key}.id", seen, machine_id)
        key = f"machines[{machine_id}]"
        line = r.string(t, key, "line")
        if line not in line_ids:
            known = ", ".join(sorted(line_ids)) or "(none defined)"
            raise r.fail(f"{key}.line", line, f"must be the id of a [[lines]] entry: {known}")
        cycle_times_raw = t.get("product_cycle_times", {})
        if not isinstance(cycle_times_raw, dict):
            raise r.fail(f"{key}.product_cycle_times", cycle_times_raw, "must be a table of product = seconds")
        cycle_times = {p: r.number(cycle_times_raw, f"{key}.product_cycle_times", p, positive=True)
                       for p in cycle_times_raw}
        target = t.get("target_per_hour")
        out.append(MachineConfig(
            id=machine_id,
            name=r.string(t, key, "name", default=machine_id),
            line=line,
            ideal_cycle_time_s=r.number(t, key, "ideal_cycle_time_s", positive=True),
            micro_stop_threshold_s=r.number(t, key, "micro_stop_threshold_s", default=120.0, minimum=0),
            startup_period_s=r.number(t, key, "startup_period_s", default=300.0, minimum=0),
            target_per_hour=None if target is None else r.number(t, key, "target_per_hour", positive=True),
            product_cycle_times=cycle_times,
            state_map=_state_map(r, t.get("state_map"), f"{key}.state_map", plant_state_map),
            signals=_signals(r, t.get("signals", {}), f"{key}.signals", sources),
            default_product=r.opt_string(t, key, "default_product"),
        ))
    return tuple(out)


def _signals(r: _Reader, raw: object, key: str, sources: dict[str, SourceConfig]) -> dict[Signal, TagMapping]:
    if not isinstance(raw, dict):
        raise r.fail(key, raw, "must be a table of signal = { source = ..., tag = ... }")
    valid_signals = [s.value for s in Signal]
    out: dict[Signal, TagMapping] = {}
    for name, t in raw.items():
        skey = f"{key}.{name}"
        if name not in valid_signals:
            raise r.fail(skey, t, f"is not a signal; signals are {', '.join(valid_signals)}")
        if not isinstance(t, dict):
            raise r.fail(skey, t, "must be an inline table such as { source = \"plc1\", tag = \"hr:100\" }")
        r.unknown_keys(t, skey, {"source", "tag", "type", "width", "deadband", "byte_order", "word_order"})
        signal = Signal(name)
        source_name = r.string(t, skey, "source")
        if source_name not in sources:
            raise r.fail(f"{skey}.source", source_name,
                         f"must name a [[sources]] entry: {', '.join(sorted(sources)) or '(none defined)'}")
        source = sources[source_name]
        tag = r.string(t, skey, "tag")
        tag_type = r.opt_string(t, skey, "type")
        if source.kind == "modbus":
            match = _MODBUS_ADDRESS.match(tag)
            if not match or int(match.group(2)) > 65535:
                raise r.fail(f"{skey}.tag", tag,
                             "must be a Modbus address hr:N, ir:N, co:N or di:N with N from 0 to 65535")
            area = match.group(1)
            if tag_type is None:
                tag_type = "bool" if area in ("co", "di") else "uint16"
            if tag_type not in MODBUS_TYPES:
                raise r.fail(f"{skey}.type", tag_type, f"must be one of {', '.join(MODBUS_TYPES)}")
            if area in ("co", "di") and tag_type != "bool":
                raise r.fail(f"{skey}.type", tag_type, f"must be bool for a {area} (bit) address")
            if area in ("hr", "ir") and tag_type == "bool":
                raise r.fail(f"{skey}.type", tag_type,
                             "bool needs a co: or di: address; registers are int16, uint16, int32, uint32 or float32")
        elif source.kind == "s7":
            # Imported here: the parser is the driver's own, and config must not import drivers at load.
            from oee_tui.drivers.s7.address import parse_s7_address

            try:
                tag_type = parse_s7_address(tag, tag_type).type.lower()
            except ValueError as exc:
                raise r.fail(f"{skey}.tag", tag, str(exc)) from None
        elif source.kind == "logix":
            from oee_tui.drivers.logix.logix_driver import check_tag_name

            problem = check_tag_name(tag)
            if problem is not None:
                raise r.fail(f"{skey}.tag", tag, problem)
        elif source.kind == "sparkplug":
            from oee_tui.mqtt.metric_patterns import pattern_problem

            problem = pattern_problem(tag)
            if problem is not None:
                raise r.fail(f"{skey}.tag", tag, problem)
        elif source.kind == "mqtt":
            from oee_tui.mqtt.json_source import parse_tag

            try:
                parse_tag(tag)
            except ValueError as exc:
                raise r.fail(f"{skey}.tag", tag, str(exc)) from None
        elif source.kind == "opcua" and not _OPCUA_NODE_ID.match(tag):
            raise r.fail(f"{skey}.tag", tag, "must be an OPC-UA node id such as ns=2;s=Filler.Count, ns=3;i=1001, "
                         "i=2258 or nsu=urn:plant;s=Count")
        width = None
        if signal in COUNTER_SIGNALS:
            default_width = 32 if tag_type in ("int32", "uint32", "dint", "dword") else \
                16 if tag_type in ("int16", "uint16", "int", "word") else 32
            width = r.integer(t, skey, "width", default_width, 1, 64)
            if width not in COUNTER_WIDTHS:
                raise r.fail(f"{skey}.width", width, "must be 16, 32 or 64 (bits of the PLC counter)")
        elif "width" in t:
            raise r.fail(f"{skey}.width", t["width"],
                         "applies to counters only (total_count, reject_count, good_count)")
        out[signal] = TagMapping(
            signal=signal, source=source_name, tag=tag, type=tag_type, width=width,
            deadband=r.number(t, skey, "deadband", default=0.0, minimum=0),
            byte_order=None if t.get("byte_order") is None else r.string(t, skey, "byte_order", choices=BYTE_ORDERS),
            word_order=None if t.get("word_order") is None else r.string(t, skey, "word_order", choices=BYTE_ORDERS),
        )
    if Signal.GOOD_COUNT in out and Signal.REJECT_COUNT in out and Signal.TOTAL_COUNT in out:
        raise r.fail(key, sorted(out),
                     "map at most two of total_count, good_count and reject_count; the third is derived")
    return out


def _reasons(r: _Reader, data: dict[str, Any]) -> tuple[Reason, ...]:
    raw = r.tables(data, "reasons", "reasons")
    if not raw:
        return DEFAULT_REASONS
    by_code: dict[str, Reason] = {}
    losses = [loss.value for loss in Loss]
    for i, t in enumerate(raw):
        key = _entry_key("reasons", i, t, "code")
        r.unknown_keys(t, key, {"code", "name", "planned", "loss", "parent"})
        code = r.string(t, key, "code")
        if code in by_code:
            raise r.fail(f"{key}.code", code, "is used twice; reason codes must be unique")
        key = f"reasons[{code}]"
        parent = r.opt_string(t, key, "parent")
        if parent is not None and parent not in by_code:
            raise r.fail(f"{key}.parent", parent, "must be the code of a reason listed earlier in the file")
        inherited = by_code[parent] if parent else None
        planned = r.boolean(t, key, "planned", inherited.planned if inherited else False)
        loss_raw = t.get("loss", inherited.loss.value if inherited and inherited.loss else None)
        if planned:
            if t.get("loss") is not None:
                raise r.fail(f"{key}.loss", t["loss"],
                             "must be left out for a planned reason (planned time is not a loss)")
            loss = None
        else:
            if loss_raw is None:
                raise r.fail(f"{key}.loss", None, f"is missing; an unplanned reason needs one of {', '.join(losses)}")
            if loss_raw not in losses:
                raise r.fail(f"{key}.loss", loss_raw, f"must be one of {', '.join(losses)}")
            loss = Loss(loss_raw)
        by_code[code] = Reason(code=code, name=r.string(t, key, "name", default=code), planned=planned,
                               loss=loss, parent=parent)
    return tuple(by_code.values())


def _hhmm(r: _Reader, data: dict[str, Any], key: str, name: str) -> str:
    value = r.string(data, key, name)
    if not _HHMM.match(value):
        raise r.fail(f"{key}.{name}", value, "must be a local time HH:MM, e.g. 06:00")
    return value


def _shifts(r: _Reader, data: dict[str, Any]) -> tuple[ShiftConfig, ...]:
    out: list[ShiftConfig] = []
    seen: set[str] = set()
    for i, t in enumerate(r.tables(data, "shifts", "shifts")):
        key = _entry_key("shifts", i, t, "name")
        r.unknown_keys(t, key, {"name", "start", "end", "days", "breaks"})
        name = r.string(t, key, "name")
        _unique(r, f"{key}.name", seen, name)
        key = f"shifts[{name}]"
        days_raw = t.get("days", list(WEEKDAYS))
        if not isinstance(days_raw, list) or not days_raw or any(d not in WEEKDAYS for d in days_raw):
            raise r.fail(f"{key}.days", days_raw, f"must be a list of weekdays from {', '.join(WEEKDAYS)}")
        breaks: list[BreakConfig] = []
        breaks_raw = t.get("breaks", [])
        if not isinstance(breaks_raw, list):
            raise r.fail(f"{key}.breaks", breaks_raw, 'must be a list of { start = "HH:MM", end = "HH:MM" }')
        for j, b in enumerate(breaks_raw):
            bkey = f"{key}.breaks[{j}]"
            if not isinstance(b, dict):
                raise r.fail(bkey, b, 'must be { start = "HH:MM", end = "HH:MM" }')
            r.unknown_keys(b, bkey, {"start", "end"})
            breaks.append(BreakConfig(start=_hhmm(r, b, bkey, "start"), end=_hhmm(r, b, bkey, "end")))
        out.append(ShiftConfig(name=name, start=_hhmm(r, t, key, "start"), end=_hhmm(r, t, key, "end"),
                               days=tuple(days_raw), breaks=tuple(breaks)))
    return tuple(out)
