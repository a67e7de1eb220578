"""Checks for one form field at a time, worded for the technician typing into it.

The device screens run these on every keystroke, so a mistake shows while it is
being typed rather than when the file is saved. Each check takes the text as
typed and returns None when it is fine, or what is wrong and what would be
valid. The config reader (oee_tui.config) stays the final word on a whole
file; these are stricter only where a value that would load is still surely a
typo (a host of "192.168.1." or a port of 0). A tag is checked by the
declaration of its source's kind (oee_tui.drivers.registry), beside its driver.

No Textual here, so the rules are unit-tested without an app.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable
from typing import Final
from urllib.parse import urlsplit

from oee_tui.config import COUNTER_WIDTHS, is_topic_level
from oee_tui.drivers.registry import KINDS
from oee_tui.drivers.sparkplug.sparkplug_source import HOST_ID_PROBLEM, NAMESPACE_PROBLEM, group_id_problem
from oee_tui.model import COUNTER_SIGNALS, Signal
from oee_tui.mqtt.json_paths import parse_path
from oee_tui.mqtt.json_source import PATH_SEPARATOR, check_topic_filter

Check = Callable[[str], str | None]

_HOST_LABEL: Final = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_DOTTED_NUMBERS: Final = re.compile(r"^[0-9.]+$")
_TSAP: Final = re.compile(r"^[0-9A-Fa-f]{2}\.[0-9A-Fa-f]{2}$")


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
    return NAMESPACE_PROBLEM if namespace and not is_topic_level(namespace) else None


def check_host_id(text: str) -> str | None:
    host_id = text.strip()
    return HOST_ID_PROBLEM if host_id and not is_topic_level(host_id) else None


def split_list(text: str) -> list[str]:
    """A comma-separated list as typed: "Plant1, Plant2" -> ["Plant1", "Plant2"]; blank -> []."""
    return [] if not text.strip() else [part.strip() for part in text.split(",")]


def check_group_ids(text: str) -> str | None:
    """Sparkplug group ids, comma-separated; blank means every group."""
    for group in split_list(text):
        if not group:
            return "must be a list of Sparkplug group ids separated by commas, e.g. Plant1, Plant2"
        if not is_topic_level(group):
            return group_id_problem(group)
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


def check_tag(kind: str, tag: str, type_text: str = "") -> str | None:
    """The tag field of a tag map, by the kind of its source (its declaration: oee_tui.drivers.registry)."""
    if kind not in KINDS:
        return check_required(tag)
    return KINDS[kind].tag_problem(tag, type_text)


def check_tag_type(kind: str, type_text: str, tag: str = "") -> str | None:
    """The type field of a tag map. Modbus needs one of its types; an S7 type must fit its address."""
    if kind not in KINDS:
        return None
    return KINDS[kind].type_problem(type_text, tag)
