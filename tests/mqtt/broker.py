"""A real Mosquitto broker on free loopback ports, its TLS certificates, and a test edge node.

Importable by any test (``from tests.mqtt.broker import MosquittoBroker``); the fixtures that
use it are in tests/mqtt/conftest.py.

* Plain listener plus, when given certificates, a TLS listener that requires a client
  certificate signed by the test CA (mutual TLS).
* ``max_queued_messages 0`` (no limit): the default 1000 drops QoS 1 messages for a slow
  subscriber, which on two loaded cores would make tests flaky.
* ``user root``: as root Mosquitto otherwise drops to the ``mosquitto`` user before it reads
  the certificates and the log file, and pytest's 0700 tmp dirs make it exit with rc 1.
* ``restart()`` keeps the ports, for tests of a broker that goes away and comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import paho.mqtt.client as mqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from paho.mqtt.enums import CallbackAPIVersion

from oee_tui.model import TagSample
from oee_tui.mqtt.sparkplug_codec import (
    NAMESPACE,
    MessageType,
    MetricSpec,
    encode_dbirth,
    encode_ddata,
    encode_nbirth,
    encode_ndeath,
    topic,
)

START_TIMEOUT_S = 10.0  # about 20 ms on an idle machine; generous for two loaded cores


def free_port() -> int:
    """A loopback port free right now (``listener 0`` would be a unix socket, not a free port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or next(
        (path for path in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(path).exists()), None)


_Broker = TypeVar("_Broker", bound="MosquittoBroker")


@contextlib.contextmanager
def running_broker(kind: type[_Broker], directory: Path, *, tls: TlsFiles | None = None) -> Iterator[_Broker]:
    """A broker of `kind` started in `directory` (made here), stopped at the end: what every broker
    fixture does. A missing mosquitto fails the test with the fix.
    """
    if mosquitto_binary() is None:
        pytest.fail("mosquitto is not installed: apt-get install -y mosquitto (test.sh does it)")
    server = kind(directory, tls=tls)
    server.directory.mkdir()
    server.start()
    try:
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------- certificates


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """PEM files of a test CA, a server certificate for 127.0.0.1/localhost, and a client one."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def make_tls_files(directory: Path) -> TlsFiles:
    """A CA and the server and client certificates it signs. EC P-256: generated in milliseconds."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    valid_from, valid_to = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=2)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (x509.CertificateBuilder().subject_name(_name("oee-tui test CA")).issuer_name(_name("oee-tui test CA"))
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(valid_from).not_valid_after(valid_to)
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                            content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, encipher_only=False,
                                            decipher_only=False), critical=True)
               .sign(ca_key, hashes.SHA256()))

    def issue(common_name: str, usage: x509.ObjectIdentifier,
              names: Sequence[x509.GeneralName]) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(ca_cert.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(valid_from).not_valid_after(valid_to)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(list(names)), critical=False)
        return builder.sign(ca_key, hashes.SHA256()), key

    server_cert, server_key = issue("localhost", ExtendedKeyUsageOID.SERVER_AUTH,
                                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    client_cert, client_key = issue("oee-tui test client", ExtendedKeyUsageOID.CLIENT_AUTH, [])

    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key",
                     directory / "client.pem", directory / "client.key")
    files.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.server_cert.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    files.client_cert.write_bytes(client_cert.public_bytes(serialization.Encoding.PEM))
    _write_key(server_key, files.server_key)
    _write_key(client_key, files.client_key)
    return files


# ---------------------------------------------------------------- the broker


class MosquittoBroker:
    """One ``mosquitto -c`` process. ``port`` is plain MQTT; ``tls_port`` mutual TLS (if ``tls``)."""

    def __init__(self, directory: Path, *, tls: TlsFiles | None = None) -> None:
        binary = mosquitto_binary()
        if binary is None:
            raise RuntimeError("mosquitto is not installed (apt-get install -y mosquitto)")
        self.binary = binary
        self.directory = directory
        self.tls = tls
        self.port = 0
        self.tls_port: int | None = None
        self.config_path = directory / "mosquitto.conf"
        self.log_path = directory / "mosquitto.log"
        self.process: subprocess.Popen[bytes] | None = None

    def _write_config(self) -> None:
        lines = [
            "per_listener_settings false",
            "allow_anonymous true",
            "persistence false",
            "max_queued_messages 0",
            "set_tcp_nodelay true",
            "user root",
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            f"listener {self.port} 127.0.0.1",
        ]
        if self.tls is not None and self.tls_port is not None:
            lines += [
                f"listener {self.tls_port} 127.0.0.1",
                f"cafile {self.tls.ca}",
                f"certfile {self.tls.server_cert}",
                f"keyfile {self.tls.server_key}",
                "require_certificate true",
            ]
        self.config_path.write_text("\n".join(lines) + "\n")

    def start(self) -> MosquittoBroker:
        """Start on new free ports; another process may grab a port in between, so retry."""
        for _attempt in range(5):
            self.port = free_port()
            self.tls_port = free_port() if self.tls is not None else None
            if self._launch():
                return self
        raise RuntimeError(f"mosquitto did not start; log:\n{self.log()}")

    def restart(self) -> None:
        """Stop, then start again on the same ports (clients see the broker go and come back)."""
        self.stop()
        if not self._launch():
            raise RuntimeError(f"mosquitto did not restart on port {self.port}; log:\n{self.log()}")

    def _launch(self) -> bool:
        self._write_config()
        self.process = subprocess.Popen([self.binary, "-c", str(self.config_path)], stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        ports = [self.port] + ([self.tls_port] if self.tls_port is not None else [])
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:  # e.g. a port taken since we picked it
                self.process = None
                return False
            if all(_accepts(port) for port in ports):
                return True
            time.sleep(0.01)
        self.stop()
        return False

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if process.stderr is not None:
            process.stderr.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else "(no log)"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


# ---------------------------------------------------------------- MQTT clients for tests


class MessageLog:
    """Messages a test client received, with a blocking wait for the one a test expects."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []  # (topic, payload, retained)
        self._changed = threading.Condition()

    def add(self, topic_name: str, payload: bytes, retain: bool) -> None:
        with self._changed:
            self.messages.append((topic_name, payload, retain))
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[str, bytes, bool], bool], timeout: float = 10.0) -> tuple[str, bytes, bool]:
        deadline = time.monotonic() + timeout
        seen = 0
        with self._changed:
            while True:
                for message in self.messages[seen:]:
                    if predicate(*message):
                        return message
                seen = len(self.messages)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no matching message in {timeout} s; got {self.messages!r}")
                self._changed.wait(remaining)


def mqtt_client(port: int, client_id: str, *, subscribe: Sequence[str] = (), will: tuple[str, bytes] | None = None,
                timeout: float = 10.0) -> tuple[mqtt.Client, MessageLog]:
    """A paho client in its own network thread, connected and subscribed (SUBACK received)."""
    received = MessageLog()
    connected, subscribed = threading.Event(), threading.Event()
    # No reconnect: a test that cuts the connection wants it to stay cut (and loop_stop not to wait).
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, reconnect_on_failure=False)
    client.on_message = lambda _c, _u, msg: received.add(msg.topic, msg.payload, bool(msg.retain))
    client.on_connect = lambda *_args: connected.set()
    client.on_subscribe = lambda *_args: subscribed.set()
    if will is not None:
        client.will_set(will[0], will[1], qos=1, retain=False)
    client.connect("127.0.0.1", port, keepalive=30)
    client.loop_start()
    if not connected.wait(timeout):
        client.loop_stop()
        raise TimeoutError(f"{client_id}: no CONNACK from port {port}")
    if subscribe:
        subscribed.clear()
        client.subscribe([(name, 1) for name in subscribe])
        if not subscribed.wait(timeout):
            raise TimeoutError(f"{client_id}: no SUBACK")
    return client, received


def stop_client(client: mqtt.Client) -> None:
    client.disconnect()
    client.loop_stop()


class EdgeNode:
    """A Sparkplug edge node made of paho and the codec's encoders; it hears its own NCMDs."""

    def __init__(self, port: int, group_id: str, edge_node_id: str, *, bd_seq: int = 0,
                 namespace: str = NAMESPACE) -> None:
        self.group_id, self.edge_node_id, self.bd_seq = group_id, edge_node_id, bd_seq
        self.namespace = namespace
        self.seq = 0
        self.client, self.commands = mqtt_client(
            port, f"edge-{group_id}-{edge_node_id}" + ("" if namespace == NAMESPACE else f"-{namespace}"),
            subscribe=[topic(group_id, MessageType.NCMD, edge_node_id, namespace=namespace)],
            will=(topic(group_id, MessageType.NDEATH, edge_node_id, namespace=namespace), encode_ndeath(bd_seq)))

    def _next_seq(self) -> int:
        seq, self.seq = self.seq, (self.seq + 1) % 256
        return seq

    def publish(self, kind: MessageType, raw: bytes, device_id: str | None = None) -> None:
        info = self.client.publish(topic(self.group_id, kind, self.edge_node_id, device_id, self.namespace), raw,
                                   qos=0)
        info.wait_for_publish(10)

    def nbirth(self, metrics: Sequence[MetricSpec]) -> None:
        self.seq = 0
        self.publish(MessageType.NBIRTH, encode_nbirth(metrics, seq=self._next_seq(), bd_seq=self.bd_seq,
                                                       timestamp_ms=_now_ms()))

    def dbirth(self, device_id: str, metrics: Sequence[MetricSpec]) -> None:
        self.publish(MessageType.DBIRTH, encode_dbirth(metrics, seq=self._next_seq(), timestamp_ms=_now_ms()),
                     device_id)

    def ddata(self, device_id: str, metrics: Sequence[MetricSpec], *, skip: int = 0) -> None:
        """DDATA with the next seq; ``skip`` leaves that many seq numbers out (a lost message)."""
        for _ in range(skip):
            self._next_seq()
        self.publish(MessageType.DDATA, encode_ddata(metrics, seq=self._next_seq(), timestamp_ms=_now_ms()),
                     device_id)

    def close(self) -> None:
        stop_client(self.client)


def _now_ms() -> int:
    return int(time.time() * 1000)


# ---------------------------------------------------------------- the driver's side


class SampleCollector:
    """An EmitFn that keeps every sample and lets a test wait for the one it expects."""

    def __init__(self) -> None:
        self.samples: list[TagSample] = []
        self._changed = asyncio.Event()

    async def __call__(self, batch: Sequence[TagSample]) -> None:
        self.samples.extend(batch)
        self._changed.set()

    def latest(self) -> dict[str, TagSample]:
        return {sample.tag: sample for sample in self.samples}

    async def wait_for(self, predicate: Callable[[TagSample], bool], timeout: float = 10.0) -> TagSample:
        """The first sample, old or new, that matches; TimeoutError after `timeout` seconds."""
        async def scan() -> TagSample:
            seen = 0
            while True:
                for sample in self.samples[seen:]:
                    if predicate(sample):
                        return sample
                seen = len(self.samples)
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(scan(), timeout)
