"""The edge node's MQTT session (Sparkplug B 3.0, edge node side): connect, bdSeq, births,
NDEATH, and reconnecting with backoff.

A new paho client per connection, clean session, the NDEATH will (QoS 1, not retained)
carrying this connection's ``bdSeq`` (0..255, one more on every CONNECT). After CONNACK:
subscribe to NCMD/DCMD (and the primary host's STATE), then NBIRTH (seq 0, bdSeq, ``Node
Control/Rebirth``, ``Node Control/Next Server``) and one DBIRTH per machine with names,
aliases, datatypes and current values, all QoS 0 as the spec asks. A rebirth (NCMD, or a
reload that changed the machines) sends a fresh NBIRTH (same bdSeq) and DBIRTHs.

Primary host (``[edge] primary_host_id``, spec 3.0 "Edge Node Session Establishment"): after
the SUBACK the session publishes nothing (no births, no data, no replay) until that host's
STATE says online (oee_tui.edge.host_messages decides); meanwhile changes go to the buffer as
when offline. A session ended on purpose (the host went offline, NCMD Next Server) says
NDEATH by hand, disconnects, and the next connection (next bdSeq) waits for the host again.

bdSeq across runs: the next CONNECT's bdSeq is kept in the store (oee_tui.edge.bd_seq) and
written before each CONNECT, so a new run of the app never reuses the previous run's bdSeq,
whose late will would otherwise end the new session at a host.

What the other parts do with a session goes through a SessionHandler (the EdgeNode): the
replay once the births are out, the acknowledgements after each read from the socket, what a
host sends, and the end of a connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final, Protocol, TypeVar

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from oee_tui.config import EdgeConfig
from oee_tui.edge.bd_seq import BD_SEQ_MODULUS, SavedBdSeq
from oee_tui.edge.connection import REPLAY_WINDOW, V5_INFLIGHT, Connection, EdgeError
from oee_tui.edge.layout import PlantLayout
from oee_tui.edge.payloads import birth_spec
from oee_tui.edge.status import EdgeStats
from oee_tui.engine.live.observers import EngineContext
from oee_tui.mqtt.sparkplug_codec import (
    REBIRTH_METRIC,
    DataType,
    MessageType,
    MetricSpec,
    encode_dbirth,
    encode_nbirth,
    encode_ndeath,
    state_topic,
    topic,
)
from oee_tui.mqtt.transport import (
    REFUSED_EARLY,
    MqttSettings,
    TransportError,
    build_client,
    connect_options,
    describe_error,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

NEXT_SERVER_METRIC: Final = "Node Control/Next Server"

# NBIRTH: besides bdSeq (added by encode_nbirth), the node controls we answer.
_NODE_CONTROLS: Final = (MetricSpec(REBIRTH_METRIC, DataType.Boolean, False),
                         MetricSpec(NEXT_SERVER_METRIC, DataType.Boolean, False))


class SessionEnded(EdgeError):
    """The edge node ended its session on purpose (primary host offline, NCMD Next Server)."""


def edge_settings(config: EdgeConfig) -> MqttSettings:
    """The edge node's broker connection; its client id is `<group id>-<edge node id>` unless set.
    Sparkplug 3.0: an edge node always connects with a clean session."""
    return MqttSettings.from_config(config, default_client_id=f"{config.group_id}-{config.edge_node_id}")


class SessionHandler(Protocol):
    """What the rest of the edge node does at the session's turning points."""

    async def replay(self, connection: Connection) -> None:
        """The births are out: send the buffer, then go live."""
        ...

    def take_acks(self) -> bool:
        """After each read from the socket: note the QoS 1 messages the broker acknowledged.
        True when any were waiting (the session then wakes whoever waits for acknowledgements)."""
        ...

    def on_message(self, connection: Connection, topic_name: str, raw: bytes) -> None:
        """NCMD, DCMD or the primary host's STATE, on the event loop."""
        ...

    def connection_ended(self) -> None:
        """Back to buffering: what was sent and not acknowledged is to be sent again."""
        ...


class EdgeSession:
    """The edge node's connections, one after the other: ``run()`` connects, births, hands over to
    the replay and live data, and connects again with backoff when a connection ends."""

    def __init__(self, config: EdgeConfig, stats: EdgeStats, layout: PlantLayout, engine: EngineContext,
                 handler: SessionHandler) -> None:
        self.config = config
        self.stats = stats
        self.layout = layout
        self.engine = engine
        self.handler = handler
        self.settings = edge_settings(config)
        self.saved_bd_seq: SavedBdSeq | None = None  # with a store: the bdSeq across runs
        self.bd_seq = 0  # the next CONNECT's; load_bd_seq() continues from the store's
        self.connection: Connection | None = None  # the one open now
        self.acks = asyncio.Event()  # set when acknowledgements came in, or a connection was lost
        self.stopping = asyncio.Event()  # the node is stopping: no new connection
        self.born = False  # births out on the open connection
        self.rebirth_wanted = False
        self.state_topic = state_topic(config.primary_host_id) if config.primary_host_id else None
        self.ncmd_topic = self.topic(MessageType.NCMD)
        self.dcmd_prefix = self.topic(MessageType.DCMD, "x").removesuffix("x")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._seq = 0

    @property
    def where(self) -> str:
        return self.settings.url

    def topic(self, message_type: MessageType, device: str | None = None) -> str:
        return topic(self.config.group_id, message_type, self.config.edge_node_id, device)

    def attach(self, engine: EngineContext) -> None:
        """Use the engine's clock, and its store for the bdSeq across runs."""
        self.engine = engine
        store = engine.store
        if store is not None:
            self.saved_bd_seq = SavedBdSeq(store, self.config.group_id, self.config.edge_node_id)
        self._loop = asyncio.get_running_loop()

    async def load_bd_seq(self) -> None:
        if self.saved_bd_seq is not None:
            self.bd_seq = await self.engine.in_writer(self.saved_bd_seq.next_bd_seq)

    # ------------------------------------------------------------ connections

    async def run(self) -> None:
        delay = self.config.reconnect_min_s
        while not self.stopping.is_set():
            connected = False
            try:
                await self._run_connection()
            except SessionEnded as exc:
                if self.stopping.is_set():
                    return
                log.info("edge node: %s; connecting again in %.1f s", exc, delay)
            except EdgeError as exc:
                if self.stopping.is_set():
                    return
                self.stats.last_error = str(exc)
                log.warning("edge node: %s; retrying in %.1f s", exc, delay)
            except Exception as exc:  # a bug must cost one connection, not the edge node
                self.stats.last_error = f"internal error: {type(exc).__name__}: {exc}"
                log.exception("edge node: the session failed; retrying in %.1f s", delay)
            finally:
                connected = self.stats.connected
                if not self.stopping.is_set():
                    self.end_connection()
            if connected:  # a connection that worked starts the backoff again from the bottom
                delay = self.config.reconnect_min_s
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.config.reconnect_max_s)

    def _new_client(self, bd_seq: int) -> mqtt.Client:
        """A paho client with credentials, TLS and the NDEATH will; nothing sent yet."""
        # 3.0: the will is NDEATH with this connection's bdSeq, QoS 1, not retained; clean session.
        try:
            client = build_client(self.settings, will=(self.topic(MessageType.NDEATH), encode_ndeath(bd_seq), 1, False))
        except TransportError as exc:
            raise EdgeError(str(exc)) from None
        client.max_inflight_messages_set(V5_INFLIGHT if self.settings.mqtt_version == "5" else REPLAY_WINDOW)
        return client

    async def _run_connection(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        bd_seq, self.bd_seq = self.bd_seq, (self.bd_seq + 1) % BD_SEQ_MODULUS
        await self._save_next_bd_seq()  # before CONNECT: from now on the broker may hold a will with bd_seq
        host = self.stats.waiting_for_host = self.config.primary_host_id
        client = self._new_client(bd_seq)
        connection = self.connection = Connection(client, loop.create_future(), bd_seq=bd_seq)
        self._listen(connection)
        options = connect_options(self.settings)
        try:
            result = await asyncio.to_thread(client.connect, self.config.host, self.config.port,
                                             self.config.keepalive_s, **options)
        except (OSError, ssl.SSLError, ValueError) as exc:
            # No CONNECT went out (no connection, or its TLS handshake failed): the next attempt's
            # CONNECT takes this bdSeq, so that bdSeq goes up by one per CONNECT, not per attempt.
            # The store may hold one more; a number skipped across a restart is harmless.
            self.bd_seq = bd_seq
            raise EdgeError(f"{self.where}: cannot connect: {describe_error(exc)}") from exc
        if result != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise EdgeError(f"{self.where}: " + (REFUSED_EARLY.format(reason=mqtt.error_string(result))
                                                  if result == MQTTErrorCode.MQTT_ERR_CONN_LOST
                                                  else f"cannot connect: {mqtt.error_string(result)}"))
        connection.drive_from(loop, self._after_read, self.where)
        try:
            reason = await self._wait(connection, connection.connack, "CONNACK")
        except EdgeError:
            if connection.lost.is_set():  # under TLS 1.3 a missing client certificate looks like this
                raise EdgeError(f"{self.where}: " + REFUSED_EARLY.format(reason=connection.lost_reason)) from None
            raise
        if reason.is_failure:
            raise EdgeError(f"{self.where}: the broker refused the connection: {reason}")
        self.stats.connected = True
        self.stats.connects += 1
        # 3.0: subscribe to our commands (and the primary host's STATE) before NBIRTH, so a rebirth
        # request cannot be missed.
        suback = connection.suback = loop.create_future()
        subscriptions = [(self.ncmd_topic, 1), (self.dcmd_prefix + "+", 1)]
        if self.state_topic is not None:
            subscriptions.append((self.state_topic, 1))
        result, _mid = client.subscribe(subscriptions)
        if result != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise EdgeError(f"{self.where}: cannot subscribe to NCMD/DCMD: {mqtt.error_string(result)}")
        await self._wait(connection, suback, "SUBACK")
        log.info("edge node %s/%s: connected to %s (bdSeq %d)", self.config.group_id, self.config.edge_node_id,
                 self.where, bd_seq)
        try:
            if host is not None:
                if not connection.host_online.is_set():
                    log.info("edge node: waiting for primary host %s to be online", host)
                await self.step(connection, connection.host_online.wait())
                self.stats.waiting_for_host = None
            if connection.ended.is_set():  # e.g. a Next Server that came with the SUBACK: no births for it
                raise SessionEnded(f"{self.where}: {connection.end_reason}")
            self.publish_births()
            await self.step(connection, self.handler.replay(connection))
            await self.step(connection, connection.lost.wait())
        except SessionEnded:
            await self.say_goodbye(connection)  # a clean DISCONNECT drops the will: NDEATH by hand
            raise
        finally:
            self.stats.waiting_for_host = None
        raise EdgeError(f"{self.where}: {connection.lost_reason}")

    def _listen(self, connection: Connection) -> None:
        """paho's callbacks, on paho's side: each is posted to the event loop."""
        client = connection.client

        def on_connect(_c: mqtt.Client, _u: object, _f: mqtt.ConnectFlags, reason: ReasonCode,
                       properties: Properties | None) -> None:
            self._post(connection, connection.took_connack, reason, properties)

        def on_disconnect(_c: mqtt.Client, _u: object, _f: mqtt.DisconnectFlags, reason: ReasonCode,
                          _p: Properties | None) -> None:
            self._post(connection, self._on_lost, connection, f"connection lost ({reason})")

        def on_subscribe(_c: mqtt.Client, _u: object, _mid: int, reasons: list[ReasonCode],
                         _p: Properties | None) -> None:
            self._post(connection, connection.took_suback, reasons)

        def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
            self._post(connection, self.handler.on_message, connection, message.topic, message.payload)

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.on_subscribe = on_subscribe
        client.on_message = on_message

    async def step(self, connection: Connection, step: Awaitable[T]) -> T:
        """Run one step of a connection until it is done, the connection is lost, or the session is
        ended on purpose (then the step is cancelled at once: nothing more goes out)."""
        task = asyncio.ensure_future(step)
        connection.step = task
        lost = asyncio.ensure_future(connection.lost.wait())
        ended = asyncio.ensure_future(connection.ended.wait())
        try:
            await asyncio.wait({task, lost, ended}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # stop(): the step goes too, and finishes its store write first
            task.cancel()
            await asyncio.wait({task})
            raise
        finally:
            lost.cancel()
            ended.cancel()
            connection.step = None
        if connection.ended.is_set():
            if not task.done():
                task.cancel()
                await asyncio.wait({task})
            raise SessionEnded(f"{self.where}: {connection.end_reason}")
        if task.done():
            return task.result()
        task.cancel()
        await asyncio.wait({task})
        raise EdgeError(f"{self.where}: {connection.lost_reason}")

    def end_on_purpose(self, connection: Connection, reason: str) -> None:
        """Stop publishing now (live data goes to the buffer again); the session's task then says
        NDEATH, disconnects, and the connection loop connects again with the next bdSeq."""
        if connection.ended.is_set() or self.connection is not connection:
            return
        connection.end_reason = reason
        connection.ended.set()
        self.stats.live = False
        self.born = False
        if connection.step is not None:
            connection.step.cancel()

    async def _save_next_bd_seq(self) -> None:
        if self.saved_bd_seq is None:
            return
        try:
            await self.engine.in_writer(self.saved_bd_seq.save_next_bd_seq, self.bd_seq)
        except Exception as exc:  # publishing matters more; only a restart could reuse this bdSeq
            log.error("edge node: cannot keep the next bdSeq (%d) in the store: %s", self.bd_seq, exc)

    def _after_read(self) -> None:
        if self.handler.take_acks():
            self.acks.set()

    def end_connection(self) -> None:
        """Back to buffering: what was sent and not acknowledged goes to the buffer again."""
        connection, self.connection = self.connection, None
        self.stats.connected = self.stats.live = False
        self.born = False
        self.handler.connection_ended()
        self.acks.set()
        if connection is not None:
            connection.close()

    async def say_goodbye(self, connection: Connection) -> None:
        """NDEATH by hand: 3.0 wants it on a clean shutdown, and a clean DISCONNECT drops the will."""
        client = connection.client
        if not client.is_connected() or connection.lost.is_set():
            return
        info = client.publish(self.topic(MessageType.NDEATH), encode_ndeath(connection.bd_seq), qos=1)
        deadline = time.monotonic() + min(2.0, self.config.timeout_s)
        while not info.is_published() and not connection.lost.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    async def _wait(self, connection: Connection, future: asyncio.Future[T], what: str) -> T:
        lost = asyncio.ensure_future(connection.lost.wait())
        waiting: set[asyncio.Future[Any]] = {future, lost}
        try:
            done, _ = await asyncio.wait(waiting, timeout=self.config.timeout_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
        if future in done:
            return future.result()
        if connection.lost.is_set():
            raise EdgeError(f"{self.where}: {connection.lost_reason} while waiting for {what}")
        raise EdgeError(f"{self.where}: no {what} within {self.config.timeout_s:g} s")

    async def wait_acks(self, done: Callable[[], bool], timeout: float, connection: Connection | None = None) -> None:
        """Until ``done()`` says the acknowledgements waited for came in; EdgeError after ``timeout``
        or when ``connection`` is lost meanwhile."""
        deadline = time.monotonic() + timeout
        while not done():
            if connection is not None and connection.lost.is_set():
                raise EdgeError(f"{self.where}: {connection.lost_reason} during the replay")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise EdgeError(f"{self.where}: no PUBACK within {timeout:g} s")
            self.acks.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.acks.wait(), remaining)

    # ------------------------------------------------------------ paho callbacks (paho's thread)

    def _post(self, connection: Connection, callback: Callable[..., None], *args: object) -> None:
        loop = self._loop
        if loop is None or self.connection is not connection:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed while paho was still talking
            loop.call_soon_threadsafe(callback, *args)

    # ------------------------------------------------------------ callbacks, on the loop

    def _on_lost(self, connection: Connection, reason: str) -> None:
        connection.lose(reason)
        self.acks.set()

    # ------------------------------------------------------------ publishing

    def next_seq(self) -> int:
        """The message sequence number (0..255) of the next NBIRTH, DBIRTH or DDATA."""
        seq, self._seq = self._seq, (self._seq + 1) & 0xFF
        return seq

    def publish(self, topic_name: str, payload: bytes, qos: int) -> mqtt.MQTTMessageInfo:
        connection = self.connection
        if connection is None:
            raise EdgeError("not connected")
        info = connection.client.publish(topic_name, payload, qos=qos)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            self._on_lost(connection, f"cannot publish: {mqtt.error_string(info.rc)}")
            raise EdgeError(f"{self.where}: cannot publish: {mqtt.error_string(info.rc)}")
        return info

    def publish_births(self) -> None:
        """NBIRTH then a DBIRTH per machine, QoS 0 (3.0); seq starts again at 0."""
        connection = self.connection
        if connection is None:
            raise EdgeError("not connected")
        now_ms = int(self.engine.clock() * 1000)
        self._seq = 0
        self.publish(self.topic(MessageType.NBIRTH),
                     encode_nbirth(_NODE_CONTROLS, seq=self.next_seq(), bd_seq=connection.bd_seq, timestamp_ms=now_ms),
                     0)
        for device, metrics in self.layout.devices.items():
            specs = [birth_spec(metric) for metric in metrics]
            self.publish(self.topic(MessageType.DBIRTH, device),
                         encode_dbirth(specs, seq=self.next_seq(), timestamp_ms=now_ms), 0)
        self.born = True
        self.rebirth_wanted = False  # these births already carry the current layout
        self.stats.births += 1

    def layout_changed(self) -> None:
        """The machines changed (a reload): a connected node births again at the next publish."""
        if self.born:
            self.rebirth_wanted = True

    def rebirth(self) -> None:
        """A host asked for births again (NCMD Node Control/Rebirth): at once."""
        self.rebirth_wanted = True
        self.rebirth_now()

    def rebirth_now(self) -> None:
        if self.rebirth_wanted and self.born and self.connection is not None:
            self.rebirth_wanted = False
            self.publish_births()

