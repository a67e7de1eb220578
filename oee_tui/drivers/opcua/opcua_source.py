"""Source kind "opcua": its settings (endpoint, security, login), its node-id checks, and its declaration."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Final

from oee_tui.config import CommonKeys, SourceConfig, TagMapping, TagProblem, TomlReader, TomlTable
from oee_tui.config.secret_values import secret_keys
from oee_tui.drivers.base import Driver, keep_alive_interval_s, settings_of
from oee_tui.drivers.driver_kind import FREE_TEXT_SIXTEEN_BIT, DriverKind, always_device_time

OPCUA_SECURITY_MODES: Final = ("None", "Sign", "SignAndEncrypt")
OPCUA_SECURITY_POLICIES: Final = ("None", "Basic256Sha256")
_NODE_ID: Final = re.compile(
    r"^((ns=\d+|nsu=[^;]+);)?(i=\d+|s=.+|g=[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}|b=.+)$", re.DOTALL)
# As typed in the form: ns=<index>;<identifier type>=<identifier>; the namespace part may be left out.
_TYPED_NODE_ID: Final = re.compile(r"^(?:ns=(\d+);)?([sigb])=(.+)$", re.DOTALL)
_GUID: Final = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")
_BASE64: Final = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")


@dataclass(frozen=True, slots=True)
class OpcUaSource(SourceConfig):
    """One OPC UA server, reached at its endpoint with a security mode and a login."""

    kind: ClassVar[str] = "opcua"
    port: int = 4840
    endpoint: str = ""
    publishing_interval_ms: int = 500
    security_mode: str = "None"
    security_policy: str = "None"
    # A user name and password, or an X.509 user certificate with its key.
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never in logs or reprs
    user_certificate: str | None = None
    user_private_key: str | None = None


def _read(r: TomlReader, t: TomlTable, key: str, common: CommonKeys) -> OpcUaSource:
    endpoint = r.string(t, key, "endpoint")
    if not endpoint.startswith("opc.tcp://"):
        raise r.fail(f"{key}.endpoint", endpoint, "must start with opc.tcp://")
    security_mode = r.string(t, key, "security_mode", default="None", choices=OPCUA_SECURITY_MODES)
    security_policy = r.string(t, key, "security_policy",
                               default="None" if security_mode == "None" else "Basic256Sha256",
                               choices=OPCUA_SECURITY_POLICIES)
    if (security_mode == "None") != (security_policy == "None"):
        raise r.fail(f"{key}.security_policy", security_policy,
                     "must be None exactly when security_mode is None (Sign and SignAndEncrypt need "
                     "Basic256Sha256)")
    username, password = r.login(t, key)
    user_certificate = r.opt_string(t, key, "user_certificate")
    user_private_key = r.private_key_file(t, key, "user_private_key")
    if (user_certificate is None) != (user_private_key is None):
        raise r.fail(f"{key}.user_private_key" if user_private_key is None else f"{key}.user_certificate", None,
                     "give both user_certificate and user_private_key for certificate login, or neither")
    if user_certificate is not None and username is not None:
        raise r.fail(f"{key}.username", username, "cannot be combined with user_certificate; pick one login")
    return OpcUaSource(
        **common,
        endpoint=endpoint,
        publishing_interval_ms=r.integer(t, key, "publishing_interval_ms", 500, 10, 600_000),
        security_mode=security_mode,
        security_policy=security_policy,
        username=username,
        password=password,
        user_certificate=user_certificate,
        user_private_key=user_private_key,
    )


def tag_type(tag: str, given_type: str | None) -> str | None:
    if not _NODE_ID.match(tag):
        raise TagProblem("must be an OPC-UA node id such as ns=2;s=Filler.Count, ns=3;i=1001, i=2258 or "
                         "nsu=urn:plant;s=Count")
    return given_type


def check_node_id(text: str, _type_text: str = "") -> str | None:
    """An OPC-UA node id as typed: ns=N;s=..., ns=N;i=..., ns=N;g=... or ns=N;b=..."""
    node = text.strip()
    match = _TYPED_NODE_ID.match(node)
    if match is None:
        return "must be an OPC-UA node id: ns=2;s=Line1.Count, ns=2;i=1001, ns=2;g=<GUID> or ns=2;b=<base64>"
    namespace, identifier_type, identifier = match.groups()
    if namespace is not None and int(namespace) > 65535:
        return f"namespace index {namespace} is out of range: 0 to 65535"
    if identifier_type == "i" and (not identifier.isdigit() or int(identifier) > 4_294_967_295):
        return "i= needs a whole number from 0 to 4294967295"
    if identifier_type == "g" and not _GUID.match(identifier):
        return "g= needs a GUID such as 09087e75-8e5e-499b-954f-f2a9603db28a"
    if identifier_type == "b" and not _BASE64.match(identifier):
        return "b= needs base64 text"
    return None


def _driver(source: SourceConfig, tags: Sequence[TagMapping], config_path: Path | None) -> Driver:
    from oee_tui.drivers.opcua.opcua_driver import OpcUaDriver
    from oee_tui.drivers.opcua.security import pki_dir_for

    return OpcUaDriver(settings_of(source, OpcUaSource), tags,
                       pki_dir=None if config_path is None else pki_dir_for(config_path))


OPCUA: Final = DriverKind(
    name="opcua",
    default_port=4840,
    settings_type=OpcUaSource,
    keys=frozenset({"endpoint", "publishing_interval_ms", "security_mode", "security_policy", "username",
                    "user_certificate", "user_private_key"}) | secret_keys("password"),
    read_keys=_read,
    tag_check=tag_type,
    sixteen_bit_types=FREE_TEXT_SIXTEEN_BIT,
    tag_problem=check_node_id,
    subscribes=True,
    device_time=always_device_time,
    expected_interval=lambda source: keep_alive_interval_s(settings_of(source, OpcUaSource).publishing_interval_ms),
    address=lambda source: settings_of(source, OpcUaSource).endpoint,
    not_browsable=None,
    driver=_driver,
)
