"""Generic MQTT (JSON or plain values) over paho 2.x: source kind "mqtt".

Each mapped tag is ``TOPIC`` or ``TOPIC $PATH`` (oee_tui.mqtt.json_source). The driver
subscribes to every distinct topic filter at the source's QoS (default 1) with a persistent
session under a stable client id, so the broker keeps what was published while we were away
and delivers it after the reconnect. Payloads that do not decode, or do not fit their signal,
become dead letters with the raw bytes; the stream goes on.

Threads: paho's network loop runs in its own thread; its callbacks only append to an inbox
and wake the asyncio side once per burst. When the inbox is full, paho's thread waits (up to
INBOX_WAIT_S) for room rather than dropping a message it has already acknowledged; the broker
holds the rest meanwhile. paho's reconnect is off: the acquisition runner owns reconnect and
backoff, so a lost connection ends run() with DriverError.

A one-off test read (``oee devices test``, the Devices screen) must not take over the
engine's persistent session (same client id: the broker would hand it our queue): a driver
that connects without an ``on_read`` observer, i.e. not under the acquisition runner, is a
probe and connects as ``<client id>-probe`` with a clean session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from oee_tui.config import SourceConfig, TagMapping
from oee_tui.drivers.base import Driver, DriverError, EmitFn, TagReading
from oee_tui.engine.model import DeadLetter, Quality, TagSample
from oee_tui.mqtt.json_paths import kind_of, parse_path
from oee_tui.mqtt.json_source import PayloadDecoder, rules_from
from oee_tui.mqtt.transport import (
    REFUSED_EARLY,
    MqttSettings,
    TransportError,
    build_client,
    connect_options,
    describe_error,
    safe_client_id,
)

log = logging.getLogger(__name__)

MAX_BATCH: Final = 5_000
MAX_MESSAGES_PER_PASS: Final = 2_000
MIN_INBOX: Final = 1_000
INBOX_WAIT_S: Final = 1.0
DEAD_LETTERS_KEPT: Final = 1_000
ALIVE_TOPIC: Final = "oee-tui/alive/{client_id}"

DeadLetterFn = Callable[[DeadLetter], None]


def default_client_id(source: SourceConfig) -> str:
    return safe_client_id(f"oee-tui-{source.name}")


class MqttJsonDriver(Driver):
    """Subscribes to the mapped topics and emits one sample per mapped tag a message feeds."""

    def __init__(self, source: SourceConfig, tags: Sequence[TagMapping], *, probe: bool | None = None,
                 on_dead_letter: DeadLetterFn | None = None) -> None:
        super().__init__(source, tags)
        self.decoder = PayloadDecoder(
            source.name, rules_from(self.tags),
            timestamp_path=None if source.timestamp_path is None else parse_path(source.timestamp_path),
            timestamp_format=source.timestamp_format)
        self.probe = probe  # None: decided at connect(), see the module doc
        self.qos = source.qos
        self.on_dead_letter = on_dead_letter
        self.dead_letters: deque[DeadLetter] = deque(maxlen=DEAD_LETTERS_KEPT)
        self.dead_letter_count = 0
        self.dropped = 0
        self.mqtt = self._settings(probe=False)
        self._client: mqtt.Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inbox: deque[tuple[str, bytes, float]] = deque()
        self._inbox_max = max(MIN_INBOX, source.queue_size)
        self._wake = asyncio.Event()
        self._wake_pending = False
        self._connack: asyncio.Future[ReasonCode] | None = None
        self._acks: dict[int, asyncio.Future[Any]] = {}
        self._lost: str | None = None
        self._closed = False
        self._ping: asyncio.Task[None] | None = None
        self.session_present = False

    def _settings(self, *, probe: bool) -> MqttSettings:
        source = self.source
        settings = MqttSettings.from_config(source, default_client_id=default_client_id(source),
                                            persistent_session=source.persistent_session and not probe,
                                            session_expiry_s=source.session_expiry_s)
        if probe:
            settings = MqttSettings(**{**{name: getattr(settings, name) for name in settings.__dataclass_fields__},
                                       "client_id": safe_client_id(f"{settings.client_id[:58]}-probe")})
        return settings

    @property
    def where(self) -> str:
        return f"mqtt {self.mqtt.url}"

    @property
    def check_interval_s(self) -> float:
        return max(1.0, 2 * self.source.publishing_interval_ms / 1000)

    @property
    def subscriptions(self) -> list[str]:
        return self.decoder.filters

    # ------------------------------------------------------------ connect

    async def connect(self) -> None:
        await self.close()
        probe = self.on_read is None if self.probe is None else self.probe
        self.mqtt = self._settings(probe=probe)
        self._closed = False
        self._lost = None
        self._loop = loop = asyncio.get_running_loop()
        self._inbox = deque()
        self._wake = asyncio.Event()
        self._wake_pending = False
        self._acks = {}
        self._connack = loop.create_future()
        try:
            client = build_client(self.mqtt)
        except TransportError as exc:
            raise DriverError(f"{self.where}: {exc}") from None
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        self._client = client
        try:
            result = await asyncio.to_thread(client.connect, self.mqtt.host, self.mqtt.port, self.mqtt.keepalive_s,
                                             **connect_options(self.mqtt))
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise DriverError(f"{self.where}: cannot connect: {describe_error(exc)}") from None
        if result != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise DriverError(f"{self.where}: " + (REFUSED_EARLY.format(reason=mqtt.error_string(result))
                                                   if result == MQTTErrorCode.MQTT_ERR_CONN_LOST
                                                   else f"cannot connect: {mqtt.error_string(result)}"))
        client.loop_start()
        connack = await self._wait(self._connack, "the broker's answer to CONNECT")
        if connack.is_failure:
            user = f" (user {self.mqtt.username!r})" if self.mqtt.username is not None else ""
            raise DriverError(f"{self.where}: the broker refused the connection: {connack}{user}")
        if self.subscriptions:
            await self._subscribe(client)
        log.info("%s: connected (%s)%s, subscribed to %s", self.where, self.mqtt.describe(),
                 ", session resumed" if self.session_present else "", ", ".join(self.subscriptions) or "nothing")

    async def _subscribe(self, client: mqtt.Client) -> None:
        result, mid = client.subscribe([(name, self.qos) for name in self.subscriptions])
        if result != MQTTErrorCode.MQTT_ERR_SUCCESS or mid is None:
            raise DriverError(f"{self.where}: cannot subscribe: {mqtt.error_string(result)}")
        codes = await self._wait(self._ack_future(mid), "SUBACK")
        codes = codes if isinstance(codes, list) else [codes]
        refused = [name for name, code in zip(self.subscriptions, codes, strict=False) if code.is_failure]
        if refused:
            raise DriverError(f"{self.where}: the broker refused the subscription to {', '.join(refused)}; "
                              f"its access control must allow this client to read them")

    def _ack_future(self, mid: int) -> asyncio.Future[Any]:
        assert self._loop is not None
        future = self._acks[mid] = self._loop.create_future()
        if self._lost is not None:
            future.set_exception(ConnectionError(self._lost))
        return future

    async def _wait(self, future: asyncio.Future[Any], what: str) -> Any:
        try:
            return await asyncio.wait_for(future, self.source.timeout_s)
        except TimeoutError:
            raise DriverError(f"{self.where}: no {what} within {self.source.timeout_s:g} s") from None
        except ConnectionError as exc:
            raise DriverError(f"{self.where}: {exc} while waiting for {what}") from None

    def _connection_lost(self, message: str) -> None:
        if self._closed:
            return  # nobody waits any more; an exception set now would never be retrieved
        waiting = [self._connack, *self._acks.values()]
        self._acks = {}
        for future in waiting:
            if future is not None and not future.done():
                future.set_exception(ConnectionError(message))
        self._wake.set()

    # ------------------------------------------------------------ paho callbacks (paho's thread)

    def _post(self, callback: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(callback, *args)

    def _on_connect(self, _client: mqtt.Client, _userdata: Any, flags: Any, reason: ReasonCode,
                    _properties: Any) -> None:
        self.session_present = bool(getattr(flags, "session_present", False))
        self._post(_resolve, self._connack, reason)

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode,
                       _properties: Any) -> None:
        if self._closed:
            return
        if self._connack is not None and not self._connack.done():
            self._lost = REFUSED_EARLY.format(reason=reason)
        else:
            self._lost = f"connection lost ({reason})"
        self._wake_pending = True
        self._post(self._connection_lost, self._lost)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        arrival = time.time()
        try:
            topic_name = message.topic
        except UnicodeDecodeError:
            topic_name = message._topic.decode("utf-8", "replace")
        inbox = self._inbox
        if len(inbox) >= self._inbox_max:
            # paho acknowledges a QoS 1 message when this callback returns: wait for room rather
            # than lose it; meanwhile the broker keeps the rest. Only a stuck engine drops.
            deadline = time.monotonic() + INBOX_WAIT_S
            while len(inbox) >= self._inbox_max and time.monotonic() < deadline and not self._closed:
                time.sleep(0.005)
            if len(inbox) >= self._inbox_max:
                with contextlib.suppress(IndexError):
                    inbox.popleft()
                    self.dropped += 1
        inbox.append((topic_name, message.payload, arrival))
        if not self._wake_pending:
            self._wake_pending = True
            self._post(self._wake.set)

    def _on_publish(self, _client: mqtt.Client, _userdata: Any, mid: int, reason: ReasonCode,
                    _properties: Any) -> None:
        self._post(self._acked, mid, reason)

    def _on_subscribe(self, _client: mqtt.Client, _userdata: Any, mid: int, reasons: list[ReasonCode],
                      _properties: Any) -> None:
        self._post(self._acked, mid, reasons)

    def _acked(self, mid: int, value: Any) -> None:
        future = self._acks.pop(mid, None)
        if future is not None:
            _resolve(future, value)

    # ------------------------------------------------------------ run

    async def run(self, emit: EmitFn) -> None:
        if self._client is None:
            raise DriverError(f"{self.where}: run() before connect()")
        next_check = time.monotonic() + self.check_interval_s
        try:
            while not self._closed:
                if not self._inbox and self._lost is None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), max(0.0, next_check - time.monotonic()))
                self._wake.clear()
                self._wake_pending = False
                await self._handle_inbox(emit)
                if self._inbox:
                    await asyncio.sleep(0)
                if self._lost is not None and not self._inbox:
                    raise DriverError(f"{self.where}: {self._lost}")
                if time.monotonic() >= next_check:
                    next_check = time.monotonic() + self.check_interval_s
                    if self._ping is None or self._ping.done():
                        self._ping = asyncio.create_task(self._keep_alive(), name=f"mqtt-alive-{self.name}")
        finally:
            await _cancel(self._ping)
            self._ping = None

    async def _handle_inbox(self, emit: EmitFn) -> None:
        inbox = self._inbox
        samples: list[TagSample] = []
        oldest: float | None = None
        for _ in range(min(len(inbox), MAX_MESSAGES_PER_PASS)):
            topic_name, payload, arrival = inbox.popleft()
            oldest = arrival if oldest is None else oldest
            decoded, error = self.decoder.decode(topic_name, payload, arrival)
            samples.extend(decoded)
            if error is not None:
                self._dead_letter(DeadLetter(arrival, self.source.name, topic_name, bytes(payload), error))
        if oldest is not None:
            self.record_read(max(0.0, time.time() - oldest), True)
        for start in range(0, len(samples), MAX_BATCH):
            await emit(samples[start:start + MAX_BATCH])

    def _dead_letter(self, letter: DeadLetter) -> None:
        self.dead_letter_count += 1
        log.warning("%s: dead letter from %s: %s", self.where, letter.topic, letter.error)
        if self.on_dead_letter is not None:
            self.on_dead_letter(letter)
        else:
            self.dead_letters.append(letter)

    async def _keep_alive(self) -> None:
        """A QoS 1 round trip: proof of life on a quiet network, and the source's latency."""
        client = self._client
        if client is None:
            return
        started = time.perf_counter()
        info = client.publish(ALIVE_TOPIC.format(client_id=self.mqtt.client_id), b"", qos=1)
        try:
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                raise DriverError(f"{self.where}: cannot publish a keep-alive: {mqtt.error_string(info.rc)}")
            await self._wait(self._ack_future(info.mid), "the acknowledgement of a keep-alive")
        except DriverError as exc:
            if self._closed:
                return
            self.record_read(self.source.timeout_s, False)
            if self._lost is None:
                self._lost = str(exc).removeprefix(f"{self.where}: ")
            self._wake.set()
            return
        self.record_read(time.perf_counter() - started, True)

    # ------------------------------------------------------------ read once

    async def read_once(self) -> list[TagReading]:
        """The next message on each mapped tag's topic (a retained one comes at once), waiting
        up to the source's timeout_s; a tag whose messages did not decode reads bad with the reason."""
        if self._client is None:
            raise DriverError(f"{self.where}: read_once() before connect()")
        started = time.perf_counter()
        deadline = time.monotonic() + self.source.timeout_s
        readings: dict[str, TagReading] = {}
        problems: dict[str, str] = {}
        topics = {rule.tag: rule.topic_filter for rule in self.decoder.rules}
        wanted = list(topics)
        while len(readings) < len(wanted) and self._lost is None:
            while self._inbox:
                topic_name, payload, arrival = self._inbox.popleft()
                decoded, error = self.decoder.decode(topic_name, payload, arrival)
                latency = time.perf_counter() - started
                for sample in decoded:
                    readings.setdefault(sample.tag, TagReading(sample.tag, sample.value, kind_of(sample.value),
                                                               Quality.GOOD, latency))
                if error is not None:
                    for rule in self.decoder.rules_for(topic_name):
                        problems[rule.tag] = f"{topic_name}: {error}"
            remaining = deadline - time.monotonic()
            if remaining <= 0 or len(readings) == len(wanted):
                break
            self._wake.clear()
            self._wake_pending = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), remaining)
        elapsed = time.perf_counter() - started
        out = []
        for tag in wanted:
            if tag in readings:
                out.append(readings[tag])
                continue
            error = problems.get(tag) or self._lost or (
                f"no message on {topics[tag]} within {self.source.timeout_s:g} s")
            out.append(TagReading(tag, None, "-", Quality.BAD, elapsed, error))
        return out

    # ------------------------------------------------------------ close

    async def close(self) -> None:
        self._closed = True
        await _cancel(self._ping)
        self._ping = None
        client, self._client = self._client, None
        self._wake.set()
        for future in [*self._acks.values(), self._connack]:
            if future is None:
                continue
            if future.done() and not future.cancelled():
                future.exception()  # retrieved: a refusal already raised as DriverError
            future.cancel()
        self._acks = {}
        if client is None:
            return
        try:
            await asyncio.to_thread(_disconnect, client)
        except Exception as exc:  # close() never raises
            log.debug("%s: closing: %s", self.where, describe_error(exc))


def _disconnect(client: mqtt.Client) -> None:
    client.disconnect()
    client.loop_stop()


def _resolve(future: asyncio.Future[Any] | None, value: Any) -> None:
    if future is not None and not future.done():
        future.set_result(value)


async def _cancel(task: asyncio.Task[None] | None) -> None:
    if task is not None and not task.done():
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
