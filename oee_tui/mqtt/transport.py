"""The MQTT connection set-up every role shares: a host application, the generic JSON source, an edge node.

It reads the transport settings (protocol 3.1.1 or 5, client id, login, TLS with a CA, mutual
TLS, keep-alive, clean or persistent session) from any config object that has the usual
attribute names (:class:`oee_tui.drivers.broker_source.BrokerSource`, :class:`oee_tui.config.EdgeConfig`),
builds a configured paho 2.x client, and describes the endpoint for messages and logs.

Secrets: a password or key never appears in :meth:`MqttSettings.describe`, in a repr, or in
an error raised here. paho's own logger is never enabled (it would print CONNECT packets).
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

MQTT_VERSIONS: Final = {"3.1.1": mqtt.MQTTv311, "5": mqtt.MQTTv5}
DEFAULT_KEEPALIVE_S: Final = 30
# MQTT 5 session expiry for a persistent session: long enough to outlast a broker restart or a
# maintenance window, bounded so a source removed from config does not leave a queue forever.
DEFAULT_SESSION_EXPIRY_S: Final = 24 * 3600
# Under TLS 1.3 a broker that requires a client certificate refuses after the handshake, so
# the client sees the connection close (rc 7) instead of an SSL error: say what it likely means.
REFUSED_EARLY: Final = ("the broker closed the connection before accepting it ({reason}); if it requires a "
                        "client certificate, set tls_cert_file and tls_key_file")


class TransportError(Exception):
    """A transport set-up problem (unknown protocol, unreadable TLS file); never holds a secret."""


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """Where and how to connect. ``password`` is kept out of repr; nothing here prints it."""

    host: str
    port: int
    client_id: str
    mqtt_version: str = "3.1.1"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    keepalive_s: int = DEFAULT_KEEPALIVE_S
    timeout_s: float = 3.0
    tls: bool = False  # on by itself when any tls_* file is set; alone it trusts the system CAs
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    # Persistent: the broker keeps our subscriptions and queues QoS 1 messages while we are away
    # (3.1.1 clean_session=False; 5 clean_start=False with a session expiry interval).
    persistent_session: bool = False
    session_expiry_s: int = DEFAULT_SESSION_EXPIRY_S

    @classmethod
    def from_config(cls, config: Any, *, default_client_id: str, persistent_session: bool = False,
                    session_expiry_s: int = DEFAULT_SESSION_EXPIRY_S) -> MqttSettings:
        """Read the transport keys of a broker source, EdgeConfig or anything with the same names;
        a missing or None attribute takes the default."""

        def get(name: str, default: Any) -> Any:
            value = getattr(config, name, None)
            return default if value is None else value

        version = get("mqtt_version", "3.1.1")
        if version not in MQTT_VERSIONS:
            raise TransportError(f"mqtt_version must be one of {', '.join(MQTT_VERSIONS)}, not {version!r}")
        return cls(host=get("host", "127.0.0.1"), port=int(get("port", 1883)),
                   client_id=get("client_id", None) or safe_client_id(default_client_id),
                   mqtt_version=version, username=get("username", None), password=get("password", None),
                   keepalive_s=int(get("keepalive_s", DEFAULT_KEEPALIVE_S)), timeout_s=float(get("timeout_s", 3.0)),
                   tls=bool(get("tls", False)), tls_ca_file=get("tls_ca_file", None),
                   tls_cert_file=get("tls_cert_file", None), tls_key_file=get("tls_key_file", None),
                   persistent_session=persistent_session, session_expiry_s=session_expiry_s)

    @property
    def uses_tls(self) -> bool:
        return self.tls or any((self.tls_ca_file, self.tls_cert_file, self.tls_key_file))

    @property
    def protocol(self) -> MQTTProtocolVersion:
        return MQTT_VERSIONS[self.mqtt_version]

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.uses_tls else 'mqtt'}://{self.host}:{self.port}"

    def describe(self) -> str:
        """The endpoint for a person: URL, protocol, client id, user, CA and client certificate
        file names. Never the password, never the key file's contents."""
        parts = [f"MQTT {self.mqtt_version}", f"client id {self.client_id}"]
        if self.username is not None:
            parts.append(f"user {self.username!r}")
        if self.uses_tls:
            parts.append(f"CA {self.tls_ca_file}" if self.tls_ca_file else "system CAs")
            if self.tls_cert_file:
                parts.append(f"client certificate {self.tls_cert_file}")
        parts.append("persistent session" if self.persistent_session else "clean session")
        return f"{self.url} ({', '.join(parts)})"


def build_client(settings: MqttSettings, *, will: tuple[str, bytes, int, bool] | None = None) -> mqtt.Client:
    """A paho client with protocol, session, login, TLS and will applied; not connected yet.

    paho's reconnect is off: every role here owns its reconnect and backoff. Raises
    TransportError when a TLS file cannot be loaded (the message names the files, not their contents).
    """
    persistent = settings.persistent_session
    v5 = settings.protocol == mqtt.MQTTv5
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=settings.client_id, protocol=settings.protocol,
                         clean_session=None if v5 else not persistent, reconnect_on_failure=False)
    client.connect_timeout = settings.timeout_s
    if settings.username is not None:
        client.username_pw_set(settings.username, settings.password)
    if settings.uses_tls:
        files = [name for name in (settings.tls_ca_file, settings.tls_cert_file, settings.tls_key_file) if name]
        try:
            client.tls_set(ca_certs=_path(settings.tls_ca_file), certfile=_path(settings.tls_cert_file),
                           keyfile=_path(settings.tls_key_file), cert_reqs=ssl.CERT_REQUIRED,
                           tls_version=ssl.PROTOCOL_TLS_CLIENT)
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise TransportError(f"cannot load the TLS files {', '.join(files) or '(system CAs)'}: "
                                 f"{describe_error(exc)}") from None
    if will is not None:
        topic, payload, qos, retain = will
        client.will_set(topic, payload, qos=qos, retain=retain)
    return client


def connect_options(settings: MqttSettings) -> dict[str, Any]:
    """Keyword arguments for ``client.connect``: MQTT 5 carries the session choice in CONNECT."""
    if settings.protocol != mqtt.MQTTv5:
        return {}
    if not settings.persistent_session:
        return {"clean_start": True}
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho leaves it unannotated
    properties.SessionExpiryInterval = settings.session_expiry_s
    return {"clean_start": False, "properties": properties}


def safe_client_id(text: str) -> str:
    """Brokers differ in what they accept in a client id; letters, digits, - and _ pass everywhere."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)[:64]


def describe_error(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 300 else text[:297] + "..."


def _path(name: str | None) -> str | None:
    return None if not name else str(Path(name).expanduser())
