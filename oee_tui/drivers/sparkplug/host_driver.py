"""Sparkplug B 3.0 host application over MQTT (paho 2.x): what a source of kind "sparkplug" runs.

The engine runs it in a worker process (drivers/sparkplug/process.py, worker.py), so
that receiving and decoding do not share the engine's GIL; it works the same in any process.

paho runs its network loop in its own thread (``loop_start``). Its callbacks never touch the
host state: they append to an inbox and wake the asyncio side with one
``call_soon_threadsafe`` per burst, not per message, so 20,000 messages a second do not
flood the event loop. run() drains the inbox into :class:`SparkplugHost`, emits the samples,
publishes the rebirth requests the host asks for and hands dead letters on. paho's thread
reads its socket in large chunks (:class:`_BufferedSocket`, :func:`_quiet_network_loop`): a
system call per message would hand the GIL to the asyncio thread and wait to get it back.

Session (Sparkplug 3.0, host application): the STATE offline will is set before CONNECT; after
CONNACK the host subscribes, and only after the SUBACK publishes STATE online (retained, QoS 1,
the will's timestamp), so an edge node that waits for its primary host never births into a
host that is not listening yet. close() publishes STATE offline before a clean DISCONNECT.

paho's own reconnect is off: the acquisition runner owns reconnect and backoff, so a lost
connection ends run() with DriverError. A QoS 1 keep-alive round trip every check interval
proves the broker still answers on a quiet network and gives the source its latency figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

from oee_tui.config import TagMapping
from oee_tui.drivers.base import DriverError, EmitFn
from oee_tui.drivers.mqtt_base import (
    MAX_BATCH,
    MAX_MESSAGES_PER_PASS,
    DeadLetterFn,
    MqttDriverBase,
    cancel_task,
    message_topic,
)
from oee_tui.drivers.sparkplug.sparkplug_source import SparkplugSource
from oee_tui.model import BornMetrics, SampleColumns, TagSample
from oee_tui.mqtt.metric_patterns import MetricRouter
from oee_tui.mqtt.sparkplug_codec import NAMESPACE, state_topic
from oee_tui.mqtt.sparkplug_host import (
    DEFAULT_HOST_ID,
    DEFAULT_REORDER_TIMEOUT_S,
    HostOutput,
    Publication,
    SparkplugHost,
    state_birth,
    state_will,
)
from oee_tui.mqtt.transport import MQTT_VERSIONS, MqttSettings, TransportError, build_client, safe_client_id

log = logging.getLogger(__name__)

HISTORY_KEPT: Final = 10_000  # historical samples kept on the driver without an on_historical callback
RECV_CHUNK: Final = 256 * 1024  # bytes paho's socket takes per recv (_BufferedSocket)
HistoricalFn = Callable[[Sequence[TagSample]], None]
CounterWidthsFn = Callable[[Mapping[str, int]], None]  # mapped tag -> bits of its birth's integer datatype
BirthsFn = Callable[[Sequence[BornMetrics]], None]  # what births declared, every metric with its datatype


@dataclass(frozen=True, slots=True)
class SparkplugSettings:
    """The settings a Sparkplug host runs with: ``from_source`` takes the source's, and these
    defaults where the file leaves one out."""

    host_id: str = DEFAULT_HOST_ID
    namespace: str = NAMESPACE  # the topics' first level; the specification's spBv1.0 unless a plant uses another
    group_ids: tuple[str, ...] = ()  # empty: every group on the broker
    reorder_timeout_s: float = DEFAULT_REORDER_TIMEOUT_S
    mqtt_version: str = "3.1.1"  # or "5"
    client_id: str | None = None  # default: "<host_id>-<source name>"
    keepalive_s: int = 30
    tls: bool = False  # on by itself when any tls_* file is set; alone it trusts the system CAs
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None

    @classmethod
    def from_source(cls, source: SparkplugSource) -> SparkplugSettings:
        defaults = cls()
        values: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            value = getattr(source, name, None)
            values[name] = getattr(defaults, name) if value is None else value
        values["group_ids"] = tuple(values["group_ids"])
        return cls(**values)

    @property
    def uses_tls(self) -> bool:
        return self.tls or any((self.tls_ca_file, self.tls_cert_file, self.tls_key_file))

    def transport(self, source: SparkplugSource, client_id: str) -> MqttSettings:
        """The broker connection: address, login and timeout from the source, the rest from here.
        A host application starts clean (3.0): it learns the state from births, not from a queue."""
        return MqttSettings(host=source.host, port=source.port, client_id=client_id,
                            mqtt_version=self.mqtt_version, username=source.username, password=source.password,
                            keepalive_s=self.keepalive_s, timeout_s=source.timeout_s, tls=self.tls,
                            tls_ca_file=self.tls_ca_file, tls_cert_file=self.tls_cert_file,
                            tls_key_file=self.tls_key_file, persistent_session=False)


class SparkplugDriver(MqttDriverBase):
    """A Sparkplug B host application on one broker; emits every mapped metric it hears.

    Tag names are ``group/edge_node[/device]/metric name``. With no tags mapped, or with the
    source's keep_all_metrics, every metric is emitted under its own name (besides the mapped
    tags); what each birth declared goes to ``on_births`` (or is kept in ``births``). Dead
    letters go to ``on_dead_letter`` (the engine stores them), or are kept in ``dead_letters``
    (the newest mqtt_base.DEAD_LETTERS_KEPT) while nothing takes them;
    historical metrics likewise go to ``on_historical`` or ``historical``. The width in bits of
    every mapped metric of an integer datatype goes to ``on_counter_widths`` with each birth (or
    is kept in ``counter_widths``), ahead of the birth's samples.
    """

    source: SparkplugSource

    def __init__(self, source: SparkplugSource, tags: Sequence[TagMapping], *,
                 settings: SparkplugSettings | None = None, on_dead_letter: DeadLetterFn | None = None,
                 on_historical: HistoricalFn | None = None, on_counter_widths: CounterWidthsFn | None = None,
                 on_births: BirthsFn | None = None) -> None:
        super().__init__(source, tags, on_dead_letter=on_dead_letter)
        self.settings = SparkplugSettings.from_source(source) if settings is None else settings
        if self.settings.mqtt_version not in MQTT_VERSIONS:
            raise ValueError(f"source {source.name}: mqtt_version must be one of {', '.join(MQTT_VERSIONS)}")
        self.on_historical = on_historical
        self.historical: deque[TagSample] = deque(maxlen=HISTORY_KEPT)
        self.on_counter_widths = on_counter_widths
        self.counter_widths: dict[str, int] = {}
        self.on_births = on_births
        self.births: deque[BornMetrics] = deque(maxlen=HISTORY_KEPT)
        self.rebirths_sent = 0
        self.client_id = self.settings.client_id or default_client_id(self.settings.host_id, source.name)
        self.mqtt = self.settings.transport(source, self.client_id)
        self._router = MetricRouter(mapping.tag for mapping in self.tags) if self.tags else None
        self._host: SparkplugHost | None = None
        self._state_ts_ms = 0

    # ------------------------------------------------------------ description

    @property
    def where(self) -> str:
        return f"sparkplug {self.mqtt.url}"

    @property
    def subscriptions(self) -> list[str]:
        groups = self.settings.group_ids
        root = self.settings.namespace
        filters = [f"{root}/{group}/#" for group in groups] if groups else [f"{root}/#"]
        if groups:
            filters.append(state_topic(self.settings.host_id, root))  # 3.0: a host hears its own STATE
        return filters

    # ------------------------------------------------------------ connect

    async def connect(self) -> None:
        await self.close()  # a driver may be connected again after a loss or close()
        self._new_session()
        settings, source = self.settings, self.source
        # One timestamp for will, birth and clean death: 3.0 ties them together.
        self._state_ts_ms = int(time.time() * 1000)
        self._host = SparkplugHost(source.name, host_id=settings.host_id, groups=settings.group_ids,
                                   reorder_timeout_s=settings.reorder_timeout_s, namespace=settings.namespace,
                                   router=self._router, keep_all=source.keep_all_metrics)
        self._host.state_timestamp_ms = self._state_ts_ms

        will = state_will(settings.host_id, self._state_ts_ms, settings.namespace)
        try:
            client = build_client(self.mqtt, will=(will.topic, will.payload, will.qos, will.retain))
        except TransportError as exc:
            raise DriverError(f"{self.where}: {exc}") from None
        self._attach(client)
        await self._open(client)
        _buffer_reads(client)
        client.loop_start()
        _quiet_network_loop(client)
        await self._await_connack()
        await self._subscribe(client, self.subscriptions, 1)
        birth = state_birth(settings.host_id, self._state_ts_ms, settings.namespace)
        await self._publish_and_wait(birth.topic, birth.payload, "STATE online", qos=birth.qos, retain=birth.retain)
        log.info("%s: connected as host %s, subscribed to %s", self.where, settings.host_id,
                 ", ".join(self.subscriptions))

    # ------------------------------------------------------------ paho callbacks (paho's thread)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        arrival = time.time()
        topic_name = message_topic(message)
        if message.retain and topic_name == state_topic(self.settings.host_id, self.settings.namespace):
            return  # the stored STATE of an earlier session; our birth replaces it right after
        inbox = self._inbox
        if len(inbox) >= self._inbox_max:
            # The engine is far behind: lose the oldest message rather than memory. Its gap is
            # seen by the seq check and answered with a rebirth, which restores every value.
            with contextlib.suppress(IndexError):
                inbox.popleft()
                self.dropped += 1
        # paho hands bytes (typed bytes | bytearray); bytes() of a bytes object is that object, not a copy.
        inbox.append((topic_name, bytes(message.payload), arrival))
        self._wake_up()

    # ------------------------------------------------------------ run

    async def run(self, emit: EmitFn) -> None:
        host = self._host
        if self._client is None or host is None:
            raise DriverError(f"{self.where}: run() before connect()")
        next_check = time.monotonic() + self.check_interval_s
        try:
            while not self._closed:
                now = time.monotonic()
                wake_at = next_check
                gap = host.next_deadline()
                if gap is not None:
                    wake_at = min(wake_at, gap)
                if not self._inbox and self._lost is None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), max(0.0, wake_at - now))
                # Cleared before draining: a message appended from now on schedules a new wake.
                self._wake.clear()
                self._wake_pending = False
                await self._handle_inbox(host, emit)
                if self._inbox:
                    await asyncio.sleep(0)  # a flood must not starve the engine's other tasks
                if self._lost is not None and not self._inbox:
                    raise DriverError(f"{self.where}: {self._lost}")
                if time.monotonic() >= next_check:
                    next_check = time.monotonic() + self.check_interval_s
                    if self._ping is None or self._ping.done():
                        self._ping = asyncio.create_task(self._keep_alive(), name=f"sparkplug-alive-{self.name}")
        finally:
            await cancel_task(self._ping)
            self._ping = None

    async def _handle_inbox(self, host: SparkplugHost, emit: EmitFn) -> None:
        out = HostOutput(self.source.name)
        inbox = self._inbox
        handle = host.handle
        oldest: float | None = None
        for _ in range(min(len(inbox), MAX_MESSAGES_PER_PASS)):
            topic_name, payload, arrival = inbox.popleft()
            if oldest is None:
                oldest = arrival
            handle(topic_name, payload, arrival, out)
        out.extend(host.poll())
        if oldest is not None:
            # A subscription has no request to time; what it can tell is how long messages
            # waited in this driver before they were handled.
            self.record_read(max(0.0, time.time() - oldest), True)
        await self._deliver(out, emit)

    async def _deliver(self, out: HostOutput, emit: EmitFn) -> None:
        for letter in out.dead_letters:
            self._dead_letter(letter)
        for command in out.commands:
            self._publish_command(command)
        if out.republish_state:
            self._publish_command(state_birth(self.settings.host_id, self._state_ts_ms, self.settings.namespace))
        if out.counter_widths:
            if self.on_counter_widths is not None:
                self.on_counter_widths(out.counter_widths)
            else:
                self.counter_widths.update(out.counter_widths)
        if out.births:
            if self.on_births is not None:
                self.on_births(out.births)
            else:
                self.births.extend(out.births)
        if out.historical:
            if self.on_historical is not None:
                self.on_historical(out.historical)
            else:
                self.historical.extend(out.historical)
        for batch in out.batches:
            for start in range(0, len(batch), MAX_BATCH):
                await emit(batch if len(batch) <= MAX_BATCH else _part(batch, start, start + MAX_BATCH))

    def _publish_command(self, message: Publication) -> None:
        client = self._client
        if client is None:
            return
        info = client.publish(message.topic, message.payload, qos=message.qos, retain=message.retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            log.warning("%s: cannot publish to %s: %s", self.where, message.topic, mqtt.error_string(info.rc))
            return
        if message.reason:
            self.rebirths_sent += 1
            log.info("%s: sent %s (%s)", self.where, message.topic, message.reason)

    # ------------------------------------------------------------ close

    def _goodbye(self, client: mqtt.Client) -> None:
        """STATE offline (3.0: a clean disconnect does not send the will), then DISCONNECT."""
        if self._lost is None and client.is_connected():
            death = state_will(self.settings.host_id, self._state_ts_ms, self.settings.namespace)
            info = client.publish(death.topic, death.payload, qos=death.qos, retain=death.retain)
            with contextlib.suppress(Exception):
                info.wait_for_publish(timeout=min(2.0, self.source.timeout_s))
        client.disconnect()
        client.loop_stop()  # joins paho's thread


class _BufferedSocket:
    """paho's socket, read in large chunks.

    paho reads every packet with at least three ``recv`` calls (command byte, length bytes,
    body) and one ``select`` per packet. Each of those system calls releases the GIL, and with
    the asyncio thread busy decoding, paho then waits for the GIL again: at thousands of small
    messages a second that convoy, not the work, bounded the host. Here one ``recv`` takes
    what the kernel has (up to RECV_CHUNK bytes) and paho's small reads are served from it.
    ``pending()`` tells paho's loop that buffered bytes wait, as it already does for TLS, so
    it reads them without waiting in ``select``.

    Writes, on a plain TCP socket, can be gathered the same way: between :meth:`cork` and
    :meth:`uncork` (one ``loop_write`` of paho, which sends every queued packet with its own
    ``send``, e.g. the 20 PUBACKs of a QoS 1 window) ``send`` only collects, and ``uncork``
    sends it all at once. What the kernel does not take yet stays in :attr:`unsent`, ahead
    of anything later, and goes out when the socket is writable again (``want_write``).
    TLS sockets are left to write as paho does. Everything else goes to the real socket.
    """

    __slots__ = ("_buffer", "_corked", "_inner_pending", "_position", "_sock", "unsent")

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._buffer = b""
        self._position = 0
        self._inner_pending: Callable[[], int] | None = getattr(sock, "pending", None)  # TLS
        self._corked = False
        self.unsent = bytearray()

    @property
    def gathers_writes(self) -> bool:
        return self._inner_pending is None

    def send(self, data: bytes | bytearray | memoryview) -> int:
        if not self._corked and not self.unsent:
            return int(self._sock.send(data))
        self.unsent += data
        return len(data)  # paho counts it as written: it is, in order, as soon as the kernel takes it

    def cork(self) -> None:
        self._corked = True

    def uncork(self) -> None:
        """Send what was gathered. A would-block keeps the rest; an error is left to the next read."""
        self._corked = False
        unsent = self.unsent
        while unsent:
            try:
                written = self._sock.send(unsent)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                # paho learns of a broken connection from its next recv, as it would anyway.
                log.debug("sparkplug: writing to the broker failed: %s", exc)
                return
            del unsent[:written]

    def close(self) -> None:
        self.uncork()  # a DISCONNECT gathered just before paho closes the socket still leaves
        self._sock.close()

    def recv(self, size: int) -> bytes:
        buffer, position = self._buffer, self._position
        if position >= len(buffer):
            received: bytes = self._sock.recv(RECV_CHUNK)  # BlockingIOError and TLS errors reach paho as before
            buffer = received
            if not buffer:
                return buffer  # end of stream
            position = 0
        end = position + size
        self._buffer = buffer
        self._position = end
        return buffer[position:end]

    def pending(self) -> int:
        buffered = max(0, len(self._buffer) - self._position)
        return buffered + (self._inner_pending() if self._inner_pending is not None else 0)

    def fileno(self) -> int:
        return int(self._sock.fileno())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _LoopWaker:
    """paho's wake-up socket, silent when paho's own thread would wake itself.

    paho writes a byte to a socket pair for every packet it queues, so that a publish from
    another thread interrupts its ``select``. The PUBACK of every QoS 1 message is queued by
    paho's own thread, which is awake already: that byte is a system call (and a GIL release)
    per message for nothing. Its next loop turn writes the queued packet, as it does anyway.
    """

    __slots__ = ("_sock", "_thread_id")

    def __init__(self, sock: Any, thread_id: int) -> None:
        self._sock = sock
        self._thread_id = thread_id

    def send(self, data: bytes) -> int:
        if threading.get_ident() == self._thread_id:
            return len(data)
        return int(self._sock.send(data))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def _buffer_reads(client: mqtt.Client) -> None:
    """Put :class:`_BufferedSocket` under a connected client, before its network thread starts."""
    sock = client._sock  # paho has no public hook for the socket it created in connect()
    if sock is not None and not isinstance(sock, _BufferedSocket):
        client._sock = _BufferedSocket(sock)


def _quiet_network_loop(client: mqtt.Client) -> None:
    """Fewer system calls per message in paho's network thread (started by loop_start).

    paho's loop reads one packet per turn, and every turn starts with a ``select``, even when
    :class:`_BufferedSocket` already holds the next packets: ``loop_read`` here goes on reading
    while buffered bytes wait, so a burst costs one ``recv`` and one ``select``, not one per
    message. Its writes of one turn go out in one ``send`` (:meth:`_BufferedSocket.cork`).
    And its wake-up socket stops waking its own thread (:class:`_LoopWaker`).
    """
    if isinstance(client._sock, _BufferedSocket):
        sock = client._sock  # bound here: the closures below need it as a _BufferedSocket
        read_packet = client.loop_read

        def loop_read(max_packets: int = 1) -> MQTTErrorCode:
            rc = read_packet(max_packets)
            while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and client._sock is sock and sock.pending():
                rc = read_packet(max_packets)
            return rc

        client.loop_read = loop_read  # type: ignore[method-assign]  # _loop calls self.loop_read()
        if sock.gathers_writes:
            write_packets, wants_write = client.loop_write, client.want_write

            def loop_write() -> MQTTErrorCode:
                sock.cork()
                try:
                    return write_packets()
                finally:
                    sock.uncork()

            client.loop_write = loop_write  # type: ignore[method-assign]
            client.want_write = lambda: bool(sock.unsent) or wants_write()  # type: ignore[method-assign]
    waker, thread = client._sockpairW, client._thread
    if waker is not None and thread is not None and thread.ident is not None:
        # paho types its private waker as a socket; _LoopWaker stands in for one.
        client._sockpairW = _LoopWaker(waker, thread.ident)  # type: ignore[assignment]


def _part(batch: list[TagSample] | SampleColumns, start: int, end: int) -> list[TagSample] | SampleColumns:
    if isinstance(batch, SampleColumns):
        return SampleColumns(batch.source, batch.times[start:end], batch.tags[start:end], batch.values[start:end])
    return batch[start:end]


def default_client_id(host_id: str, source: str) -> str:
    """The host's client id when the source sets none: `<host id>-<source name>`."""
    return safe_client_id(f"{host_id}-{source}")

