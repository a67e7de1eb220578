"""Helpers for the edge node tests: a plant config with ``[edge]``, a broker that keeps sessions
across a restart, and a Sparkplug "host" that decodes what it hears with the project's codec."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from oee_tui.config import Config
from oee_tui.drivers.registry import parse_config
from oee_tui.edge.node import EdgeNode
from oee_tui.engine.live.engine import Engine
from oee_tui.model import Quality, TagSample
from oee_tui.mqtt.sparkplug_codec import (
    AliasTable,
    MessageType,
    decode_birth,
    decode_data,
    decode_payload,
    metric_value,
    parse_topic,
)
from oee_tui.runtime import build_engine
from oee_tui.store import Store
from tests.mqtt.broker import MosquittoBroker

TIMEOUT = 15.0  # generous: two loaded cores shared with other test runs

PLANT = """
[site]
name = "Edge plant"
timezone = "UTC"

[[lines]]
id = "L1"

[[sources]]
name = "plc"
kind = "modbus"
host = "127.0.0.1"
port = 1502

[[machines]]
id = "M1"
line = "L1"
ideal_cycle_time_s = 1.0
[machines.signals]
total_count = {{ source = "plc", tag = "hr:0", type = "uint32", width = 32 }}
state_code = {{ source = "plc", tag = "hr:2" }}
speed = {{ source = "plc", tag = "hr:3" }}
fault = {{ source = "plc", tag = "co:0" }}
product = {{ source = "plc", tag = "hr:4" }}

[[machines]]
id = "M2"
line = "L1"
ideal_cycle_time_s = 2.0
[machines.signals]
total_count = {{ source = "plc", tag = "hr:10", type = "uint32", width = 32 }}

[edge]
enabled = true
host = "127.0.0.1"
port = {port}
group_id = "plant"
edge_node_id = "oee"
publish_interval_s = 0.02
buffer_flush_s = 0.1
reconnect_min_s = 0.1
reconnect_max_s = {reconnect_max}
timeout_s = 5.0
data_qos = {data_qos}
buffer_max_rows = {buffer_max_rows}
mqtt_version = "{mqtt_version}"
"""


def plant_config(port: int, *, data_qos: int = 0, reconnect_max: float = 0.3,
                 buffer_max_rows: int = 1_000_000, mqtt_version: str = "3.1.1",
                 primary_host_id: str | None = None) -> Config:
    config = parse_config(PLANT.format(port=port, data_qos=data_qos, reconnect_max=reconnect_max,
                                       buffer_max_rows=buffer_max_rows, mqtt_version=mqtt_version), "plant.toml")
    if primary_host_id is not None:
        config = replace(config, edge=replace(config.edge, primary_host_id=primary_host_id))
    return config


@contextlib.asynccontextmanager
async def edge_engine(port: int, data_dir: Path, **options: Any) -> AsyncIterator[Engine]:
    """An engine fed through ingest() (what every source kind does) with [edge] enabled;
    `options` go to plant_config."""
    engine = build_engine(plant_config(port, **options), Store.open(data_dir), acquire=False, tick_s=0.05,
                          flush_interval_s=0.2)
    await engine.start()
    try:
        yield engine
    finally:
        await engine.stop()


def edge_of(engine: Engine) -> EdgeNode:
    """The edge node build_engine attached to the engine, among the observers of its output."""
    nodes = [observer for observer in engine.observers if isinstance(observer, EdgeNode)]
    assert len(nodes) == 1, engine.observers
    return nodes[0]


def bd_seqs(listener: SparkplugListener, kind: MessageType) -> list[int]:
    """The bdSeq of each NBIRTH or NDEATH the listener heard, in order."""
    return [metric_value(decode_payload(raw).metrics[0]) for _topic, raw in listener.messages(kind)]


def ms(ts: float) -> int:
    """The Sparkplug timestamp the edge node sends for a sample time (through microseconds)."""
    return round(ts * 1e6) // 1000


def sample(tag: str, value: Any, ts: float, quality: Quality = Quality.GOOD) -> TagSample:
    return TagSample(ts, "plc", tag, value, quality)


class PersistentBroker(MosquittoBroker):
    """Mosquitto that saves sessions and queued QoS 1 messages on shutdown and loads them on start,
    so a host with a persistent session loses nothing across restart(). It also queues QoS 0 messages for
    a persistent session that is away (`queue_qos0_messages`): the edge node may be back and live before the
    test's listener is, and its live DDATA (QoS 0) would otherwise be missed by the listener, not lost by the
    edge node (seen under load)."""

    def _write_config(self) -> None:
        super()._write_config()
        text = self.config_path.read_text().replace(
            "persistence false", f"persistence true\npersistence_location {self.directory}/\nautosave_interval 0"
                                 "\nqueue_qos0_messages true")
        self.config_path.write_text(text)


@dataclass(frozen=True, slots=True)
class Heard:
    """One metric value a Sparkplug host decoded. ``kind`` is the message type (DBIRTH, DDATA)."""

    kind: str
    device: str
    metric: str
    value: Any
    timestamp_ms: int
    historical: bool
    seq: int | None


class SparkplugListener:
    """A host-side subscriber: paho with a persistent session (clean_session false) and QoS 1, that
    reconnects by itself and decodes births and data with the project's codec (aliases resolved
    from the DBIRTH). Raw messages are kept too, for the NBIRTH/NDEATH tests."""

    def __init__(self, port: int, client_id: str = "listener", namespace_filter: str = "spBv1.0/#") -> None:
        self.raw: list[tuple[str, bytes]] = []
        self.heard: list[Heard] = []
        self.duplicates_flagged = 0  # messages the broker sent again with the DUP flag
        self.connects = 0
        self.doubled: list[Heard] = []  # DDATA metrics heard before: same device, metric, timestamp and value
        self._seen: set[tuple[str, str, int, Any]] = set()
        self._tables: dict[tuple[str, str | None], AliasTable] = {}
        self._changed = threading.Condition()
        self._connected = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        self.client.reconnect_delay_set(0.05, 0.2)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.filter = namespace_filter
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        if not self._connected.wait(TIMEOUT):
            raise TimeoutError("listener: no CONNACK")
        self._subscribed = threading.Event()
        self.client.on_subscribe = lambda *_args: self._subscribed.set()
        self.client.subscribe(self.filter, qos=1)
        if not self._subscribed.wait(TIMEOUT):
            raise TimeoutError("listener: no SUBACK")

    def _on_connect(self, *_args: Any) -> None:
        self.connects += 1
        self._connected.set()

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._changed:
            self.raw.append((message.topic, message.payload))
            if message.dup:
                self.duplicates_flagged += 1
            self._decode(message.topic, message.payload)
            self._changed.notify_all()

    def _decode(self, topic_name: str, payload: bytes) -> None:
        parsed = parse_topic(topic_name)
        kind = parsed.message_type
        key = (parsed.edge_node_id or "", parsed.device_id)
        if kind in (MessageType.NBIRTH, MessageType.DBIRTH):
            table = self._tables[key] = AliasTable()
            decoded = decode_birth(payload, table)
        elif kind in (MessageType.NDATA, MessageType.DDATA):
            decoded = decode_data(payload, self._tables[key])
        else:
            return
        for name, value, timestamp_ms, historical in decoded.metrics:
            heard = Heard(kind.value, parsed.device_id or "", name, value, timestamp_ms, historical, decoded.seq)
            if kind is MessageType.DDATA:
                # At least once means a sample may come twice (sent, and sent again because its
                # acknowledgement was lost); its timestamp makes it the same sample: keep one.
                key = (heard.device, name, timestamp_ms, repr(value))
                if key in self._seen:
                    self.doubled.append(heard)
                    continue
                self._seen.add(key)
            self.heard.append(heard)

    def wait_for(self, predicate: Callable[[SparkplugListener], bool], timeout: float = TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"listener: condition not met in {timeout} s; heard {self.heard[-20:]!r}")
                self._changed.wait(min(remaining, 0.1))

    def messages(self, kind: MessageType) -> list[tuple[str, bytes]]:
        with self._changed:
            return [(t, p) for t, p in self.raw if parse_topic(t).message_type is kind]

    def data(self, device: str, metric: str) -> list[Heard]:
        with self._changed:
            return [h for h in self.heard if h.kind == "DDATA" and h.device == device and h.metric == metric]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def payload_of(raw: bytes) -> Any:
    return decode_payload(raw)


def edge_rows(data_dir: Path) -> list[tuple[Any, ...]]:
    """The buffer table of a closed store."""
    from oee_tui.store import Store

    store = Store.open(data_dir)
    try:
        cur = store.cursor()
        return cur.execute("SELECT id, device, metric, value_num, value_text, quality FROM edge_buffer "
                           "ORDER BY id").fetchall()
    finally:
        store.close()
