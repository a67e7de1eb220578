"""Checks for one form field at a time, worded for the technician typing into it.

The device screens run these on every keystroke, so a mistake shows while it is
being typed rather than when the file is saved. Each check takes the text as
typed and returns None when it is fine, or what is wrong and what would be
valid. The config reader (oee_tui.config) stays the final word on a whole
file; these are stricter only where a value that would load is still surely a
typo (a host of "192.168.1." or a port of 0).

No Textual here, so the rules are unit-tested without an app.
"""

from __future__ import annotations

import importlib
import ipaddress
import math
import re
from collections.abc import Callable
from typing import Final
from urllib.parse import urlsplit

from oee_tui import config
from oee_tui.config import COUNTER_WIDTHS, MODBUS_TYPES
from oee_tui.model import COUNTER_SIGNALS, Signal
from oee_tui.mqtt.json_paths import parse_path
from oee_tui.mqtt.json_source import PATH_SEPARATOR, check_topic_filter, parse_tag
from oee_tui.mqtt.metric_patterns import pattern_problem

Check = Callable[[str], str | None]

_HOST_LABEL: Final = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_DOTTED_NUMBERS: Final = re.compile(r"^[0-9.]+$")
_TSAP: Final = re.compile(r"^[0-9A-Fa-f]{2}\.[0-9A-Fa-f]{2}$")
_MODBUS_ADDRESS: Final = re.compile(r"^(hr|ir|co|di):(\d+)$")
_MODBUS_BIT_AREAS: Final = ("co", "di")
# ns=<index>;<identifier type>=<identifier>; the namespace part may be left out (namespace 0).
_NODE_ID: Final = re.compile(r"^(?:ns=(\d+);)?([sigb])=(.+)$", re.DOTALL)
_GUID: Final = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")
_BASE64: Final = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")


# ---------------------------------------------------------------- numbers


def parse_int(text: str) -> int | None:
    text = text.strip()
    if not re.fullmatch(r"[+-]?\d+", text):
        return None
    return int(text)


def parse_number(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def check_int_range(text: str, low: int, high: int, what: str = "a whole number") -> str | None:
    value = parse_int(text)
    if value is None:
        return f"must be {what} from {low} to {high}"
    if not low <= value <= high:
        return f"{value} is out of range: must be from {low} to {high}"
    return None


def int_range(low: int, high: int) -> Check:
    return lambda text: check_int_range(text, low, high)


def check_positive_number(text: str) -> str | None:
    value = parse_number(text)
    if value is None:
        return "must be a number, such as 1 or 0.5"
    if value <= 0:
        return "must be greater than 0"
    return None


# ---------------------------------------------------------------- connection settings


def check_required(text: str) -> str | None:
    return "is required" if not text.strip() else None


def check_source_name(text: str, taken: frozenset[str] = frozenset()) -> str | None:
    if not text.strip():
        return "is required: tag maps refer to the source by this name"
    if text != text.strip():
        return "must not start or end with a space"
    if text in taken:
        return f"another source is already called {text!r}"
    return None


def check_host(text: str) -> str | None:
    """A host name (RFC 1123), an IPv4 address or an IPv6 address."""
    host = text.strip()
    if not host:
        return "is required: the device's IP address or host name"
    if any(char.isspace() for char in text):
        return "must not contain spaces"
    if ":" in host:
        try:
            ipaddress.IPv6Address(host.strip("[]"))
        except ValueError:
            return f"{host!r} is not a valid IPv6 address (put the port in the Port field)"
        return None
    if _DOTTED_NUMBERS.match(host):
        # All digits and dots: meant as an IPv4 address, so hold it to that ("192.168.1", "10.0.0.256").
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return f"{host!r} is not a valid IPv4 address (four numbers 0-255, such as 192.168.0.10)"
        return None
    name = host.removesuffix(".")
    if len(name) > 253 or not all(_HOST_LABEL.match(label) for label in name.split(".")):
        return (f"{host!r} is not a valid host name: letters, digits and hyphens, in dot-separated parts "
                "that do not start or end with a hyphen")
    return None


def check_port(text: str) -> str | None:
    return check_int_range(text, 1, 65535, "a TCP port number")


def check_rack(text: str) -> str | None:
    return check_int_range(text, 0, 7, "the S7 rack number")


def check_slot(text: str) -> str | None:
    return check_int_range(text, 0, 31, "the CPU's slot number")


def check_tsap(text: str) -> str | None:
    if not _TSAP.match(text.strip()):
        return "must be a TSAP as Siemens writes it: two hex bytes with a dot, such as 01.00 or 03.01"
    return None


def check_endpoint(text: str) -> str | None:
    """An OPC-UA endpoint URL: opc.tcp://host[:port][/path]."""
    url = text.strip()
    if not url:
        return "is required, such as opc.tcp://192.168.0.20:4840/"
    if not url.startswith("opc.tcp://"):
        return "must start with opc.tcp://, such as opc.tcp://192.168.0.20:4840/"
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a port that is not a number or out of range
    except ValueError:
        return "the port after the host must be a number from 1 to 65535"
    host = parts.hostname
    if not host:
        return "needs a host after opc.tcp://, such as opc.tcp://192.168.0.20:4840/"
    problem = check_host(host)
    if problem is not None:
        return problem
    if port is not None and port == 0:
        return "the port after the host must be a number from 1 to 65535"
    return None


# ---------------------------------------------------------------- MQTT brokers (sparkplug and mqtt sources)

# The config reader's rules and words (blank here: the default), so the form and `oee` say the same.
def check_namespace(text: str) -> str | None:
    namespace = text.strip()
    return config.NAMESPACE_PROBLEM if namespace and not config.is_topic_level(namespace) else None


def check_host_id(text: str) -> str | None:
    host_id = text.strip()
    return config.HOST_ID_PROBLEM if host_id and not config.is_topic_level(host_id) else None


def split_list(text: str) -> list[str]:
    """A comma-separated list as typed: "Plant1, Plant2" -> ["Plant1", "Plant2"]; blank -> []."""
    return [] if not text.strip() else [part.strip() for part in text.split(",")]


def check_group_ids(text: str) -> str | None:
    """Sparkplug group ids, comma-separated; blank means every group."""
    for group in split_list(text):
        if not group:
            return "must be a list of Sparkplug group ids separated by commas, e.g. Plant1, Plant2"
        if not config.is_topic_level(group):
            return config.group_id_problem(group)
    return None


def check_json_path(text: str) -> str | None:
    """A JSON path as oee_tui.mqtt.json_paths reads it, worded as the config reader words it."""
    path = text.strip()
    if not path:
        return None
    try:
        parse_path(path)
    except ValueError as exc:
        return str(exc)
    return None


# ---------------------------------------------------------------- tag maps


def check_modbus_address(text: str) -> str | None:
    match = _MODBUS_ADDRESS.match(text.strip())
    if match is None:
        return ("must be a Modbus address: hr:N (holding register), ir:N (input register), "
                "co:N (coil) or di:N (discrete input)")
    if int(match.group(2)) > 65535:
        return f"address {match.group(2)} is out of range: N must be from 0 to 65535"
    return None


def modbus_default_type(address: str) -> str:
    """The type the config reader assumes when a Modbus tag map gives none."""
    return "bool" if address.strip()[:2] in _MODBUS_BIT_AREAS else "uint16"


def check_modbus_type(type_text: str, address: str = "") -> str | None:
    """A Modbus data type, and whether it fits the address's area (bits are bool, registers are not)."""
    kind = type_text.strip()
    if not kind:
        return None  # the default for the area is used
    if kind not in MODBUS_TYPES:
        return f"must be one of {', '.join(MODBUS_TYPES)}"
    area = address.strip()[:2]
    if area in _MODBUS_BIT_AREAS and kind != "bool":
        return f"must be bool for a {area}: (single bit) address"
    if area in ("hr", "ir") and kind == "bool":
        return "bool needs a co: or di: address; registers are int16, uint16, int32, uint32 or float32"
    return None


def check_node_id(text: str) -> str | None:
    """An OPC-UA node id as a string: ns=N;s=..., ns=N;i=..., ns=N;g=... or ns=N;b=..."""
    node = text.strip()
    match = _NODE_ID.match(node)
    if match is None:
        return "must be an OPC-UA node id: ns=2;s=Line1.Count, ns=2;i=1001, ns=2;g=<GUID> or ns=2;b=<base64>"
    namespace, kind, identifier = match.groups()
    if namespace is not None and int(namespace) > 65535:
        return f"namespace index {namespace} is out of range: 0 to 65535"
    if kind == "i" and (not identifier.isdigit() or int(identifier) > 4_294_967_295):
        return "i= needs a whole number from 0 to 4294967295"
    if kind == "g" and not _GUID.match(identifier):
        return "g= needs a GUID such as 09087e75-8e5e-499b-954f-f2a9603db28a"
    if kind == "b" and not _BASE64.match(identifier):
        return "b= needs base64 text"
    return None


def check_width(text: str, signal: Signal | str | None) -> str | None:
    """A counter's width in bits; blank picks the default for the type. Only counters have one."""
    value = text.strip()
    is_counter = signal is not None and Signal(signal) in COUNTER_SIGNALS
    if not value:
        return None
    if not is_counter:
        return "applies to counters only (total_count, reject_count, good_count); leave it empty"
    width = parse_int(value)
    if width not in COUNTER_WIDTHS:
        return "must be 16, 32 or 64: the bits of the PLC counter, so a wrap is not read as a reset"
    return None


def _optional(module: str, name: str) -> Callable[..., object] | None:
    """A checker from a driver module that may not be installed or written yet."""
    try:
        found = getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None
    return found if callable(found) else None


def check_s7_address(text: str, type_text: str = "") -> str | None:
    """An S7 address such as DB1.DBW10, as the S7 driver parses it."""
    if not text.strip():
        return "is required, such as DB1.DBD0 or M10.0"
    parse = _optional("oee_tui.drivers.s7.address", "parse_s7_address")
    if parse is None:
        return None  # no parser to ask: the config check on save is the only one left
    try:
        parse(text.strip(), type_text.strip() or None)
    except ValueError as exc:
        return str(exc) or "is not an S7 address the driver can read"
    return None


def check_logix_tag(text: str) -> str | None:
    """A Logix tag name such as Program:Main.Count or Line1_Count[3].Value."""
    if not text.strip():
        return "is required, such as Line1_Count or Program:Main.Count"
    check = _optional("oee_tui.drivers.logix.logix_driver", "check_tag_name")
    if check is None:
        return None
    problem = check(text.strip())
    return None if problem is None else str(problem)


def check_sparkplug_tag(text: str) -> str | None:
    """group/edge node/device/metric (or group/edge node/metric), + and # as in MQTT filters."""
    return pattern_problem(text.strip())


def check_mqtt_topic(text: str) -> str | None:
    """The topic filter of an mqtt tag map, the part before the JSON path."""
    topic = text.strip()
    if PATH_SEPARATOR in topic:
        return "the topic ends at ' $': put the JSON path in the JSON path field"
    return check_topic_filter(topic)


def check_mqtt_path(text: str) -> str | None:
    """The JSON path of an mqtt tag map, worded as the config reader words it; blank: the whole payload."""
    path = text.strip()
    problem = check_json_path(path)
    return None if problem is None else f"JSON path {path!r}: {problem}"


def mqtt_tag(topic: str, path: str) -> str:
    """The tag the config file holds: TOPIC, or TOPIC $PATH."""
    return f"{topic.strip()} {path.strip()}" if path.strip() else topic.strip()


def check_mqtt_tag(text: str) -> str | None:
    try:
        parse_tag(text.strip())
    except ValueError as exc:
        return str(exc)
    return None


def check_tag(kind: str, tag: str, type_text: str = "") -> str | None:
    """The tag field of a tag map, by the kind of its source."""
    if kind == "modbus":
        return check_modbus_address(tag)
    if kind == "sparkplug":
        return check_sparkplug_tag(tag)
    if kind == "mqtt":
        return check_mqtt_tag(tag)
    if kind == "opcua":
        return check_node_id(tag)
    if kind == "s7":
        return check_s7_address(tag, type_text)
    if kind == "logix":
        return check_logix_tag(tag)
    return check_required(tag)


def check_tag_type(kind: str, type_text: str, tag: str = "") -> str | None:
    """The type field of a tag map. Modbus needs one of its types; an S7 type must fit its address."""
    if kind == "modbus":
        return check_modbus_type(type_text, tag)
    if kind == "s7" and type_text.strip() and check_s7_address(tag) is None:
        # The address alone is fine, so a complaint now is about the type given with it.
        return check_s7_address(tag, type_text)
    return None
