"""Sparkplug B 3.0 edge node: the engine's machine signals, published to an MQTT broker.

Layout: one edge node (``[edge] group_id`` / ``edge_node_id``) with one *device per machine*
(device id = machine id) and one metric per mapped signal (``total_count``, ``state_code``,
...). Per machine rather than per source because consumers look for machines: a machine's
signals may come from several PLCs, and which PLC feeds a signal is wiring that can change
without the published names changing.

Session (spec 3.0, edge node): a new paho client per connection, clean session, the NDEATH
will (QoS 1, not retained) carrying this connection's ``bdSeq`` (0..255, one more on every
CONNECT). After CONNACK: subscribe to NCMD/DCMD, then NBIRTH (seq 0, bdSeq, ``Node
Control/Rebirth``) and one DBIRTH per machine with names, aliases, datatypes and current
values, all QoS 0 as the spec asks. An NCMD ``Node Control/Rebirth = true`` is answered with
a fresh NBIRTH (same bdSeq) and DBIRTHs.

Data: :meth:`EdgeNode.observe` sees every sample batch the engine ingests (it routes the
sample to its machines' signals itself, and keeps only changes); every
``publish_interval_s`` the changes of each machine go out as one DDATA, by alias, each
metric with its own timestamp, QoS ``data_qos`` (0 by default, as the spec asks).

Store and forward: until the births of a connection are out, changes are *spooled* and
written to the store's ``edge_buffer`` table in batches (through the engine's single store
writer thread). After the births the buffer is replayed in id order as DDATA with
``is_historical`` true and the original timestamps, at QoS 1; live DDATA resumes only when
the buffer is empty. A buffered row is deleted only after the PUBACK of its message, so
anything between "sent" and "acknowledged and deleted" (at most ``buffer_flush_s`` plus the
replay window) is sent again after a crash or a lost connection: at least once. With
``data_qos = 1`` live DDATA not yet acknowledged when the connection drops goes back to the
buffer as well; at QoS 0 whatever was written into a connection that silently died is lost
(that is what QoS 0 means).

Primary host (``[edge] primary_host_id``, spec 3.0 "Edge Node Session Establishment"): after
CONNACK the node also subscribes to ``spBv1.0/STATE/<primary_host_id>`` and publishes nothing
(no births, no data, no replay) until that host's STATE says ``"online": true``; meanwhile
changes go to the buffer as when offline. A STATE ``"online": false`` ends the session on
purpose: NDEATH by hand, DISCONNECT, and a new connection (next bdSeq) that waits for the host
again. A STATE older than the last one seen (a stale retained message) is ignored.

bdSeq across runs: the next CONNECT's bdSeq is kept in the store (``edge_session``, see
oee_tui.edge.sessions) and written before each CONNECT, so a new run of the app never
reuses the previous run's bdSeq, whose late will would otherwise end the new session at a host.

Commands: NCMD ``Node Control/Rebirth`` and ``Node Control/Next Server`` (a new connection:
with one broker, the same broker and the next bdSeq) are answered; other NCMD metrics are
logged and ignored. The machines' metrics are read-only (nothing is ever written to a PLC), so
every DCMD is refused, logged and counted. An undecodable command or STATE is logged and kept
in the store's dead letters (source ``edge``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from oee_tui.config import EdgeConfig, MachineConfig
from oee_tui.edge.buffer import BufferedRow, EdgeBuffer, StoredRow
from oee_tui.edge.sessions import BD_SEQ_MODULUS, EdgeSessions
from oee_tui.model import DeadLetter, Signal, TagSample, TagValue
from oee_tui.mqtt.sparkplug import (
    REBIRTH_METRIC,
    DataType,
    MessageType,
    MetricSpec,
    Payload,
    SparkplugDecodeError,
    decode_payload,
    encode_dbirth,
    encode_nbirth,
    encode_ndeath,
    metric_value,
    parse_state,
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

SIGNAL_TYPES: Final = {
    Signal.TOTAL_COUNT: DataType.Int64, Signal.REJECT_COUNT: DataType.Int64, Signal.GOOD_COUNT: DataType.Int64,
    Signal.STATE_CODE: DataType.Int64, Signal.FAULT: DataType.Boolean, Signal.SPEED: DataType.Double,
    Signal.PRODUCT: DataType.String,
}
# A value that is not good goes out as null with this property (the codes Ignition uses).
QUALITY_PROPERTY: Final = "Quality"
QUALITY_CODES: Final = {"good": 192, "uncertain": 64, "bad": 0, "stale": 500}
REPLAY_CHUNK_ROWS: Final = 5_000  # rows read from the buffer per trip to the writer thread
REPLAY_METRICS_PER_MESSAGE: Final = 200
REPLAY_WINDOW: Final = 200  # replay messages sent and not yet acknowledged
V5_INFLIGHT: Final = 20  # MQTT 5 brokers announce a receive maximum; Mosquitto's default is 20
NEXT_SERVER_METRIC: Final = "Node Control/Next Server"
DEAD_LETTER_SOURCE: Final = "edge"  # the dead_letters.source of undecodable commands and STATE
DEAD_LETTERS_KEPT: Final = 1_000  # waiting for the store; beyond that the oldest go (a flood of garbage)
_MASK64: Final = (1 << 64) - 1
_I63: Final = 1 << 63

# NBIRTH: besides bdSeq (added by encode_nbirth), the node controls we answer.
_NODE_CONTROLS: Final = (MetricSpec(REBIRTH_METRIC, DataType.Boolean, False),
                         MetricSpec(NEXT_SERVER_METRIC, DataType.Boolean, False))

WriterFn = Callable[..., Awaitable[Any]]  # runs a function in the store's writer thread


class EdgeError(Exception):
    """The broker could not be reached or refused us; the message says which and why."""


class SessionEnded(EdgeError):
    """The edge node ended its session on purpose (primary host offline, NCMD Next Server)."""


@dataclass(slots=True)
class _Metric:
    device: str
    name: str
    datatype: DataType
    alias: int
    value: TagValue = None
    quality: str = "none"  # nothing seen yet: DBIRTH says null


@dataclass(slots=True)
class EdgeStats:
    connected: bool = False
    live: bool = False  # births out and buffer replayed: changes go straight out
    connects: int = 0
    messages: int = 0  # DDATA published (live and replayed)
    metrics: int = 0
    births: int = 0  # NBIRTHs published (connects and rebirths)
    rebirths_answered: int = 0
    buffered: int = 0  # rows written to the buffer
    replayed: int = 0  # rows sent from the buffer
    dropped: int = 0  # rows dropped because the buffer was full
    unknown_replayed: int = 0  # buffered rows whose machine or signal no longer exists
    next_servers_answered: int = 0  # NCMD Node Control/Next Server: sessions ended to connect again
    host_offline_ends: int = 0  # sessions ended because the primary host's STATE said offline
    commands_ignored: int = 0  # NCMD metrics other than the node controls we answer
    commands_refused: int = 0  # DCMD messages: writes to read-only machine metrics, or unknown devices
    commands_undecodable: int = 0  # NCMD/DCMD/STATE payloads that could not be decoded
    waiting_for_host: str | None = None  # the primary host id while births wait for its STATE online
    last_error: str | None = None

    @property
    def status(self) -> str:
        """One line for a user: what the edge node is doing now."""
        if self.live:
            return "live"
        if not self.connected:
            return "offline, buffering"
        if self.waiting_for_host is not None:
            return f"waiting for primary host {self.waiting_for_host}"
        return "replaying the buffer"


@dataclass(slots=True)
class _ReplayMessage:
    last_id: int
    info: mqtt.MQTTMessageInfo | None  # None: nothing was left to send for these rows
    acked: bool = False


@dataclass(slots=True)
class _Session:
    client: mqtt.Client
    connack: asyncio.Future[ReasonCode]
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    bd_seq: int = 0
    lost_reason: str | None = None
    suback: asyncio.Future[Any] | None = None
    sock: Any = None
    misc: asyncio.Task[None] | None = None
    window: int = REPLAY_WINDOW  # QoS 1 messages that may await their PUBACK
    host_online: asyncio.Event = field(default_factory=asyncio.Event)  # the primary host's STATE said online
    ended: asyncio.Event = field(default_factory=asyncio.Event)  # ended on purpose: see _end_on_purpose
    end_reason: str | None = None
    step: asyncio.Future[Any] | None = None  # what the session is doing now (waiting, replaying)


class EdgeNode:
    """One Sparkplug edge node: ``start()`` runs its tasks, ``observe`` is the engine's sample hook,
    ``stop()`` says NDEATH and keeps what could not be sent in the buffer."""

    def __init__(self, config: EdgeConfig, machines: Sequence[MachineConfig], *,
                 buffer: EdgeBuffer | None = None, in_writer: WriterFn | None = None,
                 clock: Callable[[], float] = time.time, sessions: EdgeSessions | None = None,
                 write_dead_letters: Callable[[Sequence[DeadLetter]], Any] | None = None) -> None:
        self.config = config
        self.buffer = buffer
        self.sessions = sessions
        self._write_dead_letters_fn = write_dead_letters
        self._dead_letters: list[DeadLetter] = []
        self._in_writer = in_writer
        self.clock = clock
        self.stats = EdgeStats()
        self.settings = edge_settings(config)
        self.client_id = self.settings.client_id
        self.bd_seq = 0  # the next CONNECT's; start() continues from the store's
        self._host_ts: int | None = None  # timestamp of the primary host's last STATE we took
        self._state_topic = state_topic(config.primary_host_id) if config.primary_host_id else None
        self._ncmd_topic = self.topic(MessageType.NCMD)
        self._dcmd_prefix = self.topic(MessageType.DCMD, "x").removesuffix("x")
        self._session: _Session | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._seq = 0
        self._born = False
        self._changes: list[tuple[_Metric, float, TagValue, str]] = []
        self._spool: list[BufferedRow] = []
        # data_qos 1: mid -> (paho's message info, its rows), in publish order
        self._live_unacked: dict[int, tuple[mqtt.MQTTMessageInfo, list[BufferedRow]]] = {}
        self._replay_unacked: dict[int, _ReplayMessage] = {}  # mid -> message, in publish order
        self._acked_through: int | None = None  # buffer rows acknowledged, not yet deleted
        self._ack_event = asyncio.Event()
        self._rebirth_wanted = False
        self._stopping = False
        self._buffer_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self.configure(machines)

    # ------------------------------------------------------------ layout

    def configure(self, machines: Sequence[MachineConfig]) -> None:
        """(Re)build devices, metrics, aliases and sample routes; a connected node births again.

        Signals that stay keep their last value (for the births) and their unsent changes."""
        old = getattr(self, "_by_name", {})
        self._devices: dict[str, list[_Metric]] = {}
        self._by_name: dict[tuple[str, str], _Metric] = {}
        self._by_alias: dict[int, _Metric] = {}  # to name what a DCMD sent by alias only
        self._routes: dict[tuple[str, str], tuple[_Metric, ...]] = {}
        routes: dict[tuple[str, str], list[_Metric]] = {}
        alias = 0
        for machine in machines:
            metrics = self._devices[machine.id] = []
            for signal, mapping in machine.signals.items():
                alias += 1  # unique across the whole edge node, as 3.0 asks
                metric = _Metric(machine.id, str(signal.value), SIGNAL_TYPES[signal], alias)
                previous = old.get((machine.id, metric.name))
                if previous is not None:
                    metric.value, metric.quality = previous.value, previous.quality
                metrics.append(metric)
                self._by_name[(machine.id, metric.name)] = metric
                self._by_alias[alias] = metric
                routes.setdefault((mapping.source, mapping.tag), []).append(metric)
        self._routes = {key: tuple(value) for key, value in routes.items()}
        self._ddata_topics = {device: self.topic(MessageType.DDATA, device) for device in self._devices}
        by_name = self._by_name
        self._changes = [(by_name[(metric.device, metric.name)], ts, value, quality)
                         for metric, ts, value, quality in self._changes if (metric.device, metric.name) in by_name]
        if self._born:
            self._rebirth_wanted = True

    @property
    def devices(self) -> list[str]:
        return list(self._devices)

    def topic(self, message_type: MessageType, device: str | None = None) -> str:
        return topic(self.config.group_id, message_type, self.config.edge_node_id, device)

    # ------------------------------------------------------------ the engine's hook (on the loop)

    def observe(self, batch: Iterable[TagSample]) -> None:
        """Keep the changes of machine signals in a batch of samples. Cheap: it runs per ingest."""
        routes = self._routes
        changes = self._changes
        for sample in batch:
            targets = routes.get((sample.source, sample.tag))
            if targets is None:
                continue
            value = sample.value
            quality = sample.quality.value
            for metric in targets:
                if value != metric.value or quality != metric.quality or type(value) is not type(metric.value):
                    metric.value = value
                    metric.quality = quality
                    changes.append((metric, sample.ts_utc, value, quality))

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Load the buffer's bounds and start the connection, publish and buffer tasks."""
        self._loop = asyncio.get_running_loop()
        if self.sessions is not None:
            self.bd_seq = await self._writer(self.sessions.next_bd_seq)
        if self.buffer is not None:
            counts = await self._writer(self.buffer.load)
            if counts.rows:
                log.info("edge node: %d buffered changes from an earlier run wait for the broker", counts.rows)
        self._tasks = [asyncio.create_task(self._connection_loop(), name="edge:connection"),
                       asyncio.create_task(self._publish_loop(), name="edge:publish"),
                       asyncio.create_task(self._buffer_loop(), name="edge:buffer")]

    async def stop(self) -> None:
        """Send what changed last, say NDEATH, disconnect, and write what is left to the buffer."""
        self._stopping = True
        with contextlib.suppress(EdgeError):
            self.publish_changes()
        session = self._session
        if session is not None and self.stats.live:
            with contextlib.suppress(EdgeError):
                await self._wait_acks(lambda: not self._live_unacked, min(2.0, self.config.timeout_s), session)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if session is not None:
            await self._say_goodbye(session)
        self._end_session()
        await self._write_buffer()
        try:
            await self._write_dead_letters()
        except Exception:  # the buffer is written; these are only for diagnosis
            log.exception("edge node: writing dead letters failed; %d are lost", len(self._dead_letters))

    async def _say_goodbye(self, session: _Session) -> None:
        """NDEATH by hand: 3.0 wants it on a clean shutdown, and a clean DISCONNECT drops the will."""
        client = session.client
        if not client.is_connected() or session.lost.is_set():
            return
        info = client.publish(self.topic(MessageType.NDEATH), encode_ndeath(session.bd_seq), qos=1)
        deadline = time.monotonic() + min(2.0, self.config.timeout_s)
        while not info.is_published() and not session.lost.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    async def _writer(self, fn: Callable[..., T], *args: Any) -> T:
        if self._in_writer is None:
            return fn(*args)
        result: T = await self._in_writer(fn, *args)
        return result

    # ------------------------------------------------------------ connection

    async def _connection_loop(self) -> None:
        delay = self.config.reconnect_min_s
        while not self._stopping:
            connected = False
            try:
                await self._run_session()
            except SessionEnded as exc:
                if self._stopping:
                    return
                log.info("edge node: %s; connecting again in %.1f s", exc, delay)
            except EdgeError as exc:
                if self._stopping:
                    return
                self.stats.last_error = str(exc)
                log.warning("edge node: %s; retrying in %.1f s", exc, delay)
            except Exception as exc:  # a bug must cost one connection, not the edge node
                self.stats.last_error = f"internal error: {type(exc).__name__}: {exc}"
                log.exception("edge node: the session failed; retrying in %.1f s", delay)
            finally:
                connected = self.stats.connected
                if not self._stopping:
                    self._end_session()
            if connected:  # a connection that worked starts the backoff again from the bottom
                delay = self.config.reconnect_min_s
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.config.reconnect_max_s)

    @property
    def where(self) -> str:
        return self.settings.url

    # Read-only views for the Devices screen: plain attribute reads, so a 1 Hz refresh costs the
    # node nothing (no lock, no store query, no work on the publish path).

    @property
    def session_bd_seq(self) -> int | None:
        """The bdSeq of the connection now open (its NBIRTH's and its will's); None between connections."""
        session = self._session
        return None if session is None else session.bd_seq

    @property
    def buffered_rows(self) -> int:
        """Changes waiting to be sent as history: rows in the store's buffer plus those spooled for it."""
        in_table = self.buffer.counts.rows if self.buffer is not None else 0
        return in_table + len(self._spool)

    def _new_client(self, bd_seq: int) -> mqtt.Client:
        """A paho client with credentials, TLS and the NDEATH will; nothing sent yet."""
        # 3.0: the will is NDEATH with this connection's bdSeq, QoS 1, not retained; clean session.
        try:
            client = build_client(self.settings, will=(self.topic(MessageType.NDEATH), encode_ndeath(bd_seq), 1, False))
        except TransportError as exc:
            raise EdgeError(str(exc)) from None
        client.max_inflight_messages_set(V5_INFLIGHT if self.settings.mqtt_version == "5" else REPLAY_WINDOW)
        return client

    async def _run_session(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        bd_seq, self.bd_seq = self.bd_seq, (self.bd_seq + 1) % BD_SEQ_MODULUS
        await self._save_next_bd_seq()  # before CONNECT: from now on the broker may hold a will with bd_seq
        host = self.stats.waiting_for_host = self.config.primary_host_id
        client = self._new_client(bd_seq)
        session = self._session = _Session(client, loop.create_future(), bd_seq=bd_seq)
        client.on_connect = lambda _c, _u, _f, reason, props: self._post(session, self._connected, session, reason,
                                                                         props)
        client.on_disconnect = lambda _c, _u, _f, reason, _p: self._post(session, self._on_lost, session,
                                                                         f"connection lost ({reason})")
        client.on_subscribe = lambda _c, _u, _mid, reasons, _p: self._post(
            session, _resolve, session.suback, reasons)
        client.on_message = lambda _c, _u, message: self._post(session, self._on_message, session, message.topic,
                                                               message.payload)
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
        self._attach(session, loop)
        try:
            reason = await self._wait(session, session.connack, "CONNACK")
        except EdgeError:
            if session.lost.is_set():  # under TLS 1.3 a missing client certificate looks like this
                raise EdgeError(f"{self.where}: " + REFUSED_EARLY.format(reason=session.lost_reason)) from None
            raise
        if reason.is_failure:
            raise EdgeError(f"{self.where}: the broker refused the connection: {reason}")
        self.stats.connected = True
        self.stats.connects += 1
        # 3.0: subscribe to our commands (and the primary host's STATE) before NBIRTH, so a rebirth
        # request cannot be missed.
        session.suback = loop.create_future()
        subscriptions = [(self._ncmd_topic, 1), (self._dcmd_prefix + "+", 1)]
        if self._state_topic is not None:
            subscriptions.append((self._state_topic, 1))
        result, _mid = client.subscribe(subscriptions)
        if result != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise EdgeError(f"{self.where}: cannot subscribe to NCMD/DCMD: {mqtt.error_string(result)}")
        await self._wait(session, session.suback, "SUBACK")
        log.info("edge node %s/%s: connected to %s (bdSeq %d)", self.config.group_id, self.config.edge_node_id,
                 self.where, bd_seq)
        try:
            if host is not None:
                if not session.host_online.is_set():
                    log.info("edge node: waiting for primary host %s to be online", host)
                await self._session_step(session, session.host_online.wait())
                self.stats.waiting_for_host = None
            if session.ended.is_set():  # e.g. a Next Server that came with the SUBACK: no births for it
                raise SessionEnded(f"{self.where}: {session.end_reason}")
            self._publish_births()
            await self._session_step(session, self._replay(session))
            await self._session_step(session, session.lost.wait())
        except SessionEnded:
            await self._say_goodbye(session)  # a clean DISCONNECT drops the will: NDEATH by hand
            raise
        finally:
            self.stats.waiting_for_host = None
        raise EdgeError(f"{self.where}: {session.lost_reason}")

    async def _session_step(self, session: _Session, step: Awaitable[T]) -> T:
        """Run one step of a session until it is done, the connection is lost, or the session is
        ended on purpose (then the step is cancelled at once: nothing more goes out)."""
        task = session.step = asyncio.ensure_future(step)
        lost = asyncio.ensure_future(session.lost.wait())
        ended = asyncio.ensure_future(session.ended.wait())
        try:
            await asyncio.wait({task, lost, ended}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # stop(): the step goes too, and finishes its store write first
            task.cancel()
            await asyncio.wait({task})
            raise
        finally:
            lost.cancel()
            ended.cancel()
            session.step = None
        if session.ended.is_set():
            if not task.done():
                task.cancel()
                await asyncio.wait({task})
            raise SessionEnded(f"{self.where}: {session.end_reason}")
        if task.done():
            return task.result()
        task.cancel()
        await asyncio.wait({task})
        raise EdgeError(f"{self.where}: {session.lost_reason}")

    def _end_on_purpose(self, session: _Session, reason: str) -> None:
        """Stop publishing now (live data goes to the buffer again); the session's task then says
        NDEATH, disconnects, and the connection loop connects again with the next bdSeq."""
        if session.ended.is_set() or self._session is not session:
            return
        session.end_reason = reason
        session.ended.set()
        self.stats.live = False
        self._born = False
        if session.step is not None:
            session.step.cancel()

    async def _save_next_bd_seq(self) -> None:
        if self.sessions is None:
            return
        try:
            await self._writer(self.sessions.save_next_bd_seq, self.bd_seq)
        except Exception as exc:  # publishing matters more; only a restart could reuse this bdSeq
            log.error("edge node: cannot keep the next bdSeq (%d) in the store: %s", self.bd_seq, exc)

    def _attach(self, session: _Session, loop: asyncio.AbstractEventLoop) -> None:
        """Drive paho from this event loop instead of paho's own thread.

        A publish is then a list append and the socket is written when the loop gets round to
        it, many packets per wake-up: with paho's thread every publish also woke that thread
        through a socket pair and both threads fought for the GIL, which halved the DDATA rate.
        """
        client = session.client
        sock = client.socket()
        if sock is None:
            raise EdgeError(f"{self.where}: the connection closed at once")
        session.sock = sock

        def readable() -> None:
            client.loop_read()
            pending = getattr(client.socket(), "pending", None)
            while pending is not None and pending():  # TLS keeps decrypted bytes the selector cannot see
                if client.loop_read() != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    break
            if self._live_unacked or self._replay_unacked:
                self._take_acks()

        def closed(_c: mqtt.Client, _u: Any, closing: Any) -> None:
            with contextlib.suppress(Exception):
                loop.remove_reader(closing)
            with contextlib.suppress(Exception):
                loop.remove_writer(closing)

        client.on_socket_close = closed
        client.on_socket_register_write = lambda _c, _u, writable: loop.add_writer(writable, client.loop_write)
        client.on_socket_unregister_write = lambda _c, _u, writable: loop.remove_writer(writable)
        loop.add_reader(sock, readable)
        if client.want_write():  # CONNECT not fully written by connect() itself
            loop.add_writer(sock, client.loop_write)
        session.misc = asyncio.create_task(self._keep_alive(client), name="edge:keepalive")

    async def _keep_alive(self, client: mqtt.Client) -> None:
        """paho's timers (PINGREQ, and a missing PINGRESP means a dead connection)."""
        while True:
            await asyncio.sleep(1.0)
            client.loop_misc()

    def _end_session(self) -> None:
        """Back to buffering: what was sent and not acknowledged goes to the buffer again."""
        session, self._session = self._session, None
        self.stats.connected = self.stats.live = False
        self._born = False
        if self._live_unacked:
            requeue = [row for _info, rows in self._live_unacked.values() for row in rows]
            self._spool[:0] = requeue
            self._live_unacked = {}
        # Buffered rows of unacknowledged replay messages are still in the table: sent again next time.
        self._replay_unacked = {}
        self._ack_event.set()
        if session is not None:
            client = session.client
            client.on_disconnect = client.on_message = None
            if not session.lost.is_set():
                session.lost.set()
            if session.misc is not None:
                session.misc.cancel()
            # DISCONNECT written at once; paho then closes the socket, and `closed` unregisters it.
            with contextlib.suppress(Exception):
                client.disconnect()
                client.loop_write()
            sock = session.sock
            if sock is not None and sock.fileno() != -1:
                _forget(sock)

    async def _wait(self, session: _Session, future: asyncio.Future[T] | None, what: str) -> T:
        assert future is not None
        lost = asyncio.ensure_future(session.lost.wait())
        try:
            done, _ = await asyncio.wait({future, lost}, timeout=self.config.timeout_s,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
        if future in done:
            return future.result()
        if session.lost.is_set():
            raise EdgeError(f"{self.where}: {session.lost_reason} while waiting for {what}")
        raise EdgeError(f"{self.where}: no {what} within {self.config.timeout_s:g} s")

    # ------------------------------------------------------------ paho callbacks (paho's thread)

    def _post(self, session: _Session, callback: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is None or self._session is not session:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed while paho was still talking
            loop.call_soon_threadsafe(callback, *args)

    # ------------------------------------------------------------ callbacks, on the loop

    def _connected(self, session: _Session, reason: ReasonCode, properties: Any) -> None:
        # MQTT 5: the broker may take fewer unacknowledged QoS 1 messages than our replay window
        # (Mosquitto says 20 by default). paho neither honours that nor lets the limit change
        # once connected, so _new_client starts v5 clients at 20 and this only narrows our window.
        receive_maximum = getattr(properties, "ReceiveMaximum", None)
        if receive_maximum:
            session.window = min(REPLAY_WINDOW, receive_maximum)
            if receive_maximum < V5_INFLIGHT:
                log.warning("edge node: the broker takes only %d unacknowledged messages; paho may send %d",
                            receive_maximum, V5_INFLIGHT)
        _resolve(session.connack, reason)

    def _on_lost(self, session: _Session, reason: str) -> None:
        if session.lost_reason is None:
            session.lost_reason = reason
        session.lost.set()
        self._ack_event.set()

    def _take_acks(self) -> None:
        """After each read from the socket: which QoS 1 messages has the broker acknowledged?

        paho's message info says so; no on_publish callback, because paho builds a Properties
        object for every QoS 0 message it calls that for, a fifth of the cost of a DDATA.
        Checked from the oldest: one waiting message holds back the ones behind it for a read.
        """
        live = self._live_unacked
        while live:
            mid, (info, _rows) = next(iter(live.items()))
            if not info.is_published():
                break
            del live[mid]
        replay = self._replay_unacked
        for message in replay.values():
            if message.info is not None and not message.acked:
                if not message.info.is_published():
                    break
                message.acked = True
        self._advance_watermark()
        self._ack_event.set()

    def _advance_watermark(self) -> None:
        # Rows may leave the buffer only up to the first message still waiting for its PUBACK.
        replay = self._replay_unacked
        while replay:
            mid, message = next(iter(replay.items()))
            if not message.acked:
                break
            del replay[mid]
            self._acked_through = message.last_id

    def _on_message(self, session: _Session, topic_name: str, raw: bytes) -> None:
        """NCMD, DCMD or the primary host's STATE. Nothing a broker delivers may stop the node."""
        try:
            if topic_name == self._state_topic:
                self._on_state(session, topic_name, raw)
            elif topic_name == self._ncmd_topic:
                self._on_ncmd(session, topic_name, raw)
            elif topic_name.startswith(self._dcmd_prefix):
                self._on_dcmd(topic_name, raw)
            else:
                log.info("edge node: ignoring a message on %s (not subscribed to)", topic_name)
        except Exception as exc:  # a bug must cost one message, not the session
            log.exception("edge node: handling a message on %s failed", topic_name)
            self._dead_letter(topic_name, raw, f"internal error: {type(exc).__name__}: {exc}")

    def _undecodable(self, kind: str, topic_name: str, raw: bytes, reason: str) -> None:
        self.stats.commands_undecodable += 1
        log.warning("edge node: undecodable %s on %s ignored: %s", kind, topic_name, reason)
        self._dead_letter(topic_name, raw, reason)

    def _on_state(self, session: _Session, topic_name: str, raw: bytes) -> None:
        host = self.config.primary_host_id
        try:
            online, timestamp = parse_state(raw)
        except SparkplugDecodeError as exc:
            self._undecodable("STATE", topic_name, raw, exc.reason)
            return
        if self._host_ts is not None and timestamp < self._host_ts:
            # A retained STATE older than one already seen: the host has moved on since.
            log.info("edge node: STATE of primary host %s (online %s, timestamp %d) ignored: older than the last "
                     "one seen (%d)", host, str(online).lower(), timestamp, self._host_ts)
            return
        self._host_ts = timestamp
        if online:
            if not session.host_online.is_set():
                log.info("edge node: primary host %s is online (STATE timestamp %d)", host, timestamp)
                session.host_online.set()
            return
        if not session.host_online.is_set():
            log.info("edge node: primary host %s is offline (STATE timestamp %d); still waiting", host, timestamp)
            return
        self.stats.host_offline_ends += 1
        log.info("edge node: primary host %s went offline (STATE timestamp %d): NDEATH, then a new session",
                 host, timestamp)
        self._end_on_purpose(session, f"primary host {host} went offline (STATE online false)")

    def _on_ncmd(self, session: _Session, topic_name: str, raw: bytes) -> None:
        try:
            payload = decode_payload(raw)
        except SparkplugDecodeError as exc:
            self._undecodable("NCMD", topic_name, raw, exc.reason)
            return
        if not payload.metrics:
            log.info("edge node: NCMD without metrics ignored")
        for metric in payload.metrics:
            name = metric.name or f"alias {metric.alias}"
            wanted = metric.name in (REBIRTH_METRIC, NEXT_SERVER_METRIC) and _is_true(metric)
            if wanted and metric.name == REBIRTH_METRIC:
                self.stats.rebirths_answered += 1
                self._rebirth_wanted = True
                self._rebirth_now()
            elif wanted:
                self.stats.next_servers_answered += 1
                log.info("edge node: NCMD %s: NDEATH, then a new session", NEXT_SERVER_METRIC)
                self._end_on_purpose(session, f"NCMD {NEXT_SERVER_METRIC}")
                return  # the session ends: the rest of this command is not for the next one
            else:
                self.stats.commands_ignored += 1
                log.info("edge node: NCMD metric %r ignored (only %s = true and %s = true are answered)",
                         name, REBIRTH_METRIC, NEXT_SERVER_METRIC)

    def _on_dcmd(self, topic_name: str, raw: bytes) -> None:
        device = topic_name[len(self._dcmd_prefix):]
        try:
            payload = decode_payload(raw)
        except SparkplugDecodeError as exc:
            self._undecodable("DCMD", topic_name, raw, exc.reason)
            return
        self.stats.commands_refused += 1
        if device not in self._devices:
            names = [metric.name or f"alias {metric.alias}" for metric in payload.metrics]
            log.info("edge node: DCMD for unknown device %s refused (metrics: %s)", device,
                     ", ".join(names) or "none")
            return
        names = []
        for metric in payload.metrics:
            known = self._by_alias.get(metric.alias) if not metric.name and metric.HasField("alias") else None
            names.append(metric.name or (known.name if known is not None and known.device == device
                                         else f"alias {metric.alias}"))
        log.info("edge node: DCMD for device %s refused (metrics: %s): machine metrics are read-only", device,
                 ", ".join(names) or "none")

    def _rebirth_now(self) -> None:
        if self._rebirth_wanted and self._born and self._session is not None:
            self._rebirth_wanted = False
            self._publish_births()

    # ------------------------------------------------------------ births

    def _next_seq(self) -> int:
        seq, self._seq = self._seq, (self._seq + 1) & 0xFF
        return seq

    def _publish(self, topic_name: str, payload: bytes, qos: int) -> mqtt.MQTTMessageInfo:
        session = self._session
        if session is None:
            raise EdgeError("not connected")
        info = session.client.publish(topic_name, payload, qos=qos)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            self._on_lost(session, f"cannot publish: {mqtt.error_string(info.rc)}")
            raise EdgeError(f"{self.where}: cannot publish: {mqtt.error_string(info.rc)}")
        return info

    def _publish_births(self) -> None:
        """NBIRTH then a DBIRTH per machine, QoS 0 (3.0); seq starts again at 0."""
        session = self._session
        if session is None:
            raise EdgeError("not connected")
        now_ms = int(self.clock() * 1000)
        self._seq = 0
        self._publish(self.topic(MessageType.NBIRTH),
                      encode_nbirth(_NODE_CONTROLS, seq=self._next_seq(), bd_seq=session.bd_seq, timestamp_ms=now_ms),
                      0)
        for device, metrics in self._devices.items():
            specs = [_birth_spec(metric) for metric in metrics]
            self._publish(self.topic(MessageType.DBIRTH, device),
                          encode_dbirth(specs, seq=self._next_seq(), timestamp_ms=now_ms), 0)
        self._born = True
        self._rebirth_wanted = False  # these births already carry the current layout
        self.stats.births += 1

    # ------------------------------------------------------------ live data

    async def _publish_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.publish_interval_s)
            try:
                self._rebirth_now()  # after a reload changed the machines
                self.publish_changes()
            except EdgeError:
                pass  # the connection loop hears of it and reconnects
            except Exception:  # a bug here must not stop publishing for good
                log.exception("edge node: publishing failed")

    def publish_changes(self) -> int:
        """One DDATA per machine with its changes since the last call, or into the buffer when
        not live. Returns the DDATA messages published."""
        changes, self._changes = self._changes, []
        if not changes:
            return 0
        if not self.stats.live:
            self._spool.extend(BufferedRow(ts, metric.device, metric.name, value, quality)
                               for metric, ts, value, quality in changes)
            return 0
        by_device: dict[str, list[tuple[_Metric, float, TagValue, str]]] = {}
        for change in changes:
            rows = by_device.get(change[0].device)
            if rows is None:
                by_device[change[0].device] = [change]
            else:
                rows.append(change)
        qos = self.config.data_qos
        sent = 0
        for index, (device, device_changes) in enumerate(by_device.items()):
            raw = self._encode_ddata(device_changes, historical=False)
            try:
                info = self._publish(self._ddata_topics[device], raw, qos)
            except EdgeError:
                # Not sent: this and every later machine's changes wait in the buffer.
                self._spool.extend(BufferedRow(ts, metric.device, metric.name, value, quality)
                                   for pending in list(by_device.values())[index:]
                                   for metric, ts, value, quality in pending)
                raise
            if qos:
                self._live_unacked[info.mid] = (info, [BufferedRow(ts, metric.device, metric.name, value, quality)
                                                       for metric, ts, value, quality in device_changes])
            sent += 1
            self.stats.metrics += len(device_changes)
        self.stats.messages += sent
        return sent

    def _encode_ddata(self, changes: Iterable[tuple[_Metric, float, TagValue, str]], *, historical: bool) -> bytes:
        """DDATA by alias only (no name, no datatype): the hot path, so protobuf is driven directly."""
        payload = Payload(timestamp=int(self.clock() * 1000), seq=self._next_seq())
        add = payload.metrics.add
        for metric, ts, value, quality in changes:
            ts_ms = round(ts * 1e6) // 1000  # via microseconds, as the store keeps them: replay sends the same ms
            if type(value) is int and 0 <= value < _I63 and metric.datatype is DataType.Int64 and quality == "good":
                add(alias=metric.alias, timestamp=ts_ms, long_value=value)  # counters: the common case
                continue
            wire = _wire_value(metric.datatype, value) if quality == "good" else None
            if wire is None:
                item = add(alias=metric.alias, timestamp=ts_ms, is_null=True)
                item.properties.keys.append(QUALITY_PROPERTY)
                # A good value that does not fit the datatype (text in a counter) is bad here.
                code = QUALITY_CODES["bad"] if quality == "good" else QUALITY_CODES.get(quality, 0)
                item.properties.values.add(type=DataType.Int32, int_value=code)
            elif metric.datatype is DataType.Int64:
                item = add(alias=metric.alias, timestamp=ts_ms, long_value=wire)
            elif metric.datatype is DataType.Double:
                item = add(alias=metric.alias, timestamp=ts_ms, double_value=wire)
            elif metric.datatype is DataType.Boolean:
                item = add(alias=metric.alias, timestamp=ts_ms, boolean_value=wire)
            else:
                item = add(alias=metric.alias, timestamp=ts_ms, string_value=wire)
        if historical:
            for item in payload.metrics:
                item.is_historical = True
        return payload.SerializeToString()

    # ------------------------------------------------------------ store and forward

    async def _buffer_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.buffer_flush_s)
            try:
                await self._write_buffer()
            except Exception as exc:  # the rows stay spooled for the next try
                self.stats.last_error = f"edge buffer: {exc}"
                log.exception("edge node: writing the buffer failed")
            try:
                await self._write_dead_letters()
            except Exception:  # they stay for the next try
                log.exception("edge node: writing dead letters failed")

    def _dead_letter(self, topic_name: str, raw: bytes, error: str) -> None:
        """Keep an undecodable message for the store's dead letters (written with the buffer)."""
        if self._write_dead_letters_fn is None:
            return
        if len(self._dead_letters) >= DEAD_LETTERS_KEPT:
            del self._dead_letters[0]
        self._dead_letters.append(DeadLetter(self.clock(), DEAD_LETTER_SOURCE, topic_name, bytes(raw), error))

    async def _write_dead_letters(self) -> None:
        letters, self._dead_letters = self._dead_letters, []
        if not letters or self._write_dead_letters_fn is None:
            return
        try:
            await self._finish_writing(self._write_dead_letters_fn, letters)
        except Exception:
            self._dead_letters[:0] = letters
            raise

    async def _write_buffer(self) -> None:
        """Spooled rows into the table; acknowledged rows out of it. One writer-thread call."""
        if self.buffer is None:
            if self._spool:
                log.warning("edge node without a store: %d changes made while offline are lost", len(self._spool))
                self.stats.dropped += len(self._spool)
                self._spool = []
            return
        async with self._buffer_lock:
            spool, self._spool = self._spool, []
            acked, self._acked_through = self._acked_through, None
            if not spool and acked is None:
                return
            try:
                await self._finish_writing(self._append_and_delete, spool, acked)
            except Exception:
                self._spool[:0] = spool
                if self._acked_through is None:
                    self._acked_through = acked
                raise

    async def _finish_writing(self, fn: Callable[..., T], *args: Any) -> T:
        """A buffer write that a cancellation (stop) does not cut in half: the writer thread
        finishes it and we wait for that, so the rows are neither lost nor spooled twice."""
        future = asyncio.ensure_future(self._writer(fn, *args))
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await future
            raise

    def _append_and_delete(self, spool: list[BufferedRow], acked: int | None) -> None:
        assert self.buffer is not None
        if acked is not None:
            self.buffer.delete_through(acked)
        self.buffer.append(spool)
        self.stats.buffered += len(spool)
        self.stats.dropped = self.buffer.dropped

    async def _replay(self, session: _Session) -> None:
        """Send the buffer as historical DDATA at QoS 1, oldest first, then go live."""
        if self.buffer is None:
            self.stats.live = True
            return
        after = 0
        while True:
            async with self._buffer_lock:
                spool, self._spool = self._spool, []
                acked, self._acked_through = self._acked_through, None
                try:
                    rows = await self._finish_writing(self._replay_step, spool, acked, after)
                except Exception:
                    self._spool[:0] = spool
                    raise
                if not rows and not self._spool and not self._changes:
                    self.stats.live = True  # nothing can slip in between: no await since the check
                    return
            for device, group in _replay_groups(rows):
                await self._wait_acks(lambda: len(self._replay_unacked) < session.window, self.config.timeout_s,
                                      session)
                self._send_replay(device, group)
            if rows:
                after = rows[-1].id
            self.publish_changes()  # changes since the last step join the buffer, behind the replay

    def _replay_step(self, spool: list[BufferedRow], acked: int | None, after: int) -> list[StoredRow]:
        assert self.buffer is not None
        rows = self.buffer.append_delete_read(spool, acked, after, REPLAY_CHUNK_ROWS)
        self.stats.buffered += len(spool)
        self.stats.dropped = self.buffer.dropped
        return rows

    def _send_replay(self, device: str, group: list[StoredRow]) -> None:
        changes = []
        for row in group:
            metric = self._by_name.get((device, row.metric))
            if metric is None:
                self.stats.unknown_replayed += 1
                continue
            value: TagValue = row.value_text if row.value_text is not None else row.value_num
            changes.append((metric, row.ts, value, row.quality))
        last_id = group[-1].id
        if not changes:  # a machine or signal removed from the config since: nothing to send
            self._replay_unacked[-last_id] = _ReplayMessage(last_id, None, acked=True)
            self._advance_watermark()
            return
        info = self._publish(self._ddata_topics[device], self._encode_ddata(changes, historical=True), 1)
        self._replay_unacked[info.mid] = _ReplayMessage(last_id, info)
        self.stats.replayed += len(group)
        self.stats.messages += 1
        self.stats.metrics += len(changes)

    async def _wait_acks(self, done: Callable[[], bool], timeout: float, session: _Session | None = None) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if session is not None and session.lost.is_set():
                raise EdgeError(f"{self.where}: {session.lost_reason} during the replay")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise EdgeError(f"{self.where}: no PUBACK within {timeout:g} s")
            self._ack_event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ack_event.wait(), remaining)


# ---------------------------------------------------------------- values


def _wire_value(datatype: DataType, value: TagValue) -> Any:
    """A signal value as the metric's wire field wants it; None when it cannot be one."""
    if value is None:
        return None
    try:
        if datatype is DataType.Int64:
            number = value if isinstance(value, int) else round(float(value))
            return number & _MASK64
        if datatype is DataType.Double:
            return float(value)
        if datatype is DataType.Boolean:
            return bool(value) if not isinstance(value, str) else None
        return str(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _is_true(metric: Payload.Metric) -> bool:
    try:
        return metric_value(metric, DataType.Boolean) is True
    except (SparkplugDecodeError, ValueError, TypeError):
        return False


def _birth_spec(metric: _Metric) -> MetricSpec:
    good = metric.quality == "good"
    value: Any = None
    if good:
        wire = _wire_value(metric.datatype, metric.value)
        if wire is not None and metric.datatype is DataType.Int64:
            value = wire - (1 << 64) if wire >= 1 << 63 else wire
        else:
            value = wire
    properties = None if good else {QUALITY_PROPERTY: QUALITY_CODES.get(metric.quality, 0)}
    return MetricSpec(metric.name, metric.datatype, value, alias=metric.alias, properties=properties)


def _replay_groups(rows: Sequence[StoredRow]) -> Iterable[tuple[str, list[StoredRow]]]:
    """Consecutive rows of one machine, at most REPLAY_METRICS_PER_MESSAGE at a time: order kept."""
    group: list[StoredRow] = []
    for row in rows:
        if group and (row.device != group[0].device or len(group) >= REPLAY_METRICS_PER_MESSAGE):
            yield group[0].device, group
            group = []
        group.append(row)
    if group:
        yield group[0].device, group


def _resolve(future: asyncio.Future[Any] | None, value: Any) -> None:
    if future is not None and not future.done():
        future.set_result(value)


def _forget(sock: Any) -> None:
    loop = asyncio.get_running_loop()
    with contextlib.suppress(Exception):
        loop.remove_reader(sock)
    with contextlib.suppress(Exception):
        loop.remove_writer(sock)
    with contextlib.suppress(Exception):
        sock.close()



def edge_settings(config: EdgeConfig) -> MqttSettings:
    """The edge node's broker connection; its client id is `<group id>-<edge node id>` unless set.
    Sparkplug 3.0: an edge node always connects with a clean session."""
    return MqttSettings.from_config(config, default_client_id=f"{config.group_id}-{config.edge_node_id}")


async def attach_edge(engine: Any) -> EdgeNode:
    """Start an edge node on an engine (oee_tui.engine.live.engine.Engine): it sees every sample the
    engine ingests, and buffers through the engine's store writer thread."""
    config = engine.config
    store = engine.store
    buffer = EdgeBuffer(store, config.edge.buffer_max_rows) if store is not None else None
    sessions = EdgeSessions(store, config.edge.group_id, config.edge.edge_node_id) if store is not None else None
    node = EdgeNode(config.edge, config.machines, buffer=buffer, in_writer=engine._in_writer, clock=engine.clock,
                    sessions=sessions, write_dead_letters=store.write_dead_letters if store is not None else None)
    engine.sample_observers.append(node.observe)
    await node.start()
    return node
