"""What every MQTT source driver shares: paho's thread bridged to the engine's event loop.

paho runs its network loop in a thread of its own and reports through callbacks there. The
callbacks here only append to an inbox or post to the event loop (`call_soon_threadsafe`),
where futures for CONNACK, SUBACK and PUBACK are resolved, and a lost connection fails
everyone still waiting at once. The Sparkplug host (drivers/sparkplug/host_driver.py) and the generic
MQTT source (drivers/mqtt_json/mqtt_json_driver.py) differ in what they subscribe to, how they decode a
message and what they do when the inbox is full; they inherit the rest from here.
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

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from oee_tui.config import TagMapping
from oee_tui.drivers.base import Driver, DriverError, keep_alive_interval_s
from oee_tui.drivers.broker_source import BrokerSource
from oee_tui.model import DeadLetter
from oee_tui.mqtt.transport import REFUSED_EARLY, MqttSettings, connect_options, describe_error

log = logging.getLogger(__name__)

MAX_BATCH: Final = 5_000  # samples per emit
MAX_MESSAGES_PER_PASS: Final = 2_000  # messages handled before the loop yields to other tasks
MIN_INBOX: Final = 1_000
DEAD_LETTERS_KEPT: Final = 1_000  # on the driver, when no on_dead_letter callback takes them
ALIVE_TOPIC: Final = "oee-tui/alive/{client_id}"  # outside any namespace a plant uses: nobody acts on it

DeadLetterFn = Callable[[DeadLetter], None]


class MqttDriverBase(Driver):
    """The paho <-> asyncio bridge of an MQTT source; subclasses set `mqtt` and `where`,
    connect, subscribe and decode."""

    mqtt: MqttSettings
    source: BrokerSource

    def __init__(self, source: BrokerSource, tags: Sequence[TagMapping], *,
                 on_dead_letter: DeadLetterFn | None = None) -> None:
        super().__init__(source, tags)
        self.on_dead_letter = on_dead_letter
        self.dead_letters: deque[DeadLetter] = deque(maxlen=DEAD_LETTERS_KEPT)
        self.dead_letter_count = 0
        self.dropped = 0
        self._client: paho.Client | None = None
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

    @property
    def check_interval_s(self) -> float:
        return keep_alive_interval_s(self.source.publishing_interval_ms)

    # ------------------------------------------------------------ connect

    def _new_session(self) -> None:
        """Fresh state for one connection; on the event loop, after close()."""
        self._closed = False
        self._lost = None
        self._loop = loop = asyncio.get_running_loop()
        self._inbox = deque()
        self._wake = asyncio.Event()
        self._wake_pending = False
        self._acks = {}
        self._connack = loop.create_future()

    def _attach(self, client: paho.Client) -> None:
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        self._client = client

    async def _open(self, client: paho.Client) -> None:
        """Resolve, open the socket, do the TLS handshake and send CONNECT (blocking: in a thread)."""
        try:
            result = await asyncio.to_thread(client.connect, self.mqtt.host, self.mqtt.port, self.mqtt.keepalive_s,
                                             **connect_options(self.mqtt))
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise DriverError(f"{self.where}: cannot connect: {describe_error(exc)}") from None
        if result != MQTTErrorCode.MQTT_ERR_SUCCESS:
            # A TLS 1.3 refusal can already arrive while CONNECT is being written: rc 7, no exception.
            raise DriverError(f"{self.where}: " + (REFUSED_EARLY.format(reason=paho.error_string(result))
                                                   if result == MQTTErrorCode.MQTT_ERR_CONN_LOST
                                                   else f"cannot connect: {paho.error_string(result)}"))

    async def _await_connack(self) -> None:
        connack = await self._wait(self._connack, "the broker's answer to CONNECT")
        if connack.is_failure:
            user = f" (user {self.mqtt.username!r})" if self.mqtt.username is not None else ""
            raise DriverError(f"{self.where}: the broker refused the connection: {connack}{user}")

    async def _subscribe(self, client: paho.Client, topics: Sequence[str], qos: int) -> None:
        result, mid = client.subscribe([(name, qos) for name in topics])
        if result != MQTTErrorCode.MQTT_ERR_SUCCESS or mid is None:
            raise DriverError(f"{self.where}: cannot subscribe: {paho.error_string(result)}")
        codes = await self._wait(self._ack_future(mid), "SUBACK")
        codes = codes if isinstance(codes, list) else [codes]
        refused = [name for name, code in zip(topics, codes, strict=False) if code.is_failure]
        if refused:
            raise DriverError(f"{self.where}: the broker refused the subscription to {', '.join(refused)}; "
                              f"its access control must allow this client to read them")

    async def _publish_and_wait(self, topic_name: str, payload: bytes, what: str, *, qos: int = 1,
                                retain: bool = False) -> float:
        """Publish at QoS >= 1 and wait for the broker's acknowledgement; returns the round trip."""
        client = self._client
        if client is None:
            raise DriverError(f"{self.where}: not connected")
        started = time.perf_counter()
        info = client.publish(topic_name, payload, qos=qos, retain=retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise DriverError(f"{self.where}: cannot publish {what}: {paho.error_string(info.rc)}")
        # Registered before any await: the acknowledgement reaches this loop only through
        # call_soon_threadsafe, so it cannot be resolved before the future exists.
        code = await self._wait(self._ack_future(info.mid), f"the acknowledgement of {what}")
        if isinstance(code, ReasonCode) and code.is_failure:
            raise DriverError(f"{self.where}: the broker refused {what}: {code}")
        return time.perf_counter() - started

    def _ack_future(self, mid: int) -> asyncio.Future[Any]:
        assert self._loop is not None
        future = self._acks[mid] = self._loop.create_future()
        if self._lost is not None:
            future.set_exception(ConnectionError(self._lost))
        return future

    async def _wait(self, future: asyncio.Future[Any] | None, what: str) -> Any:
        """Wait for a CONNACK, SUBACK or PUBACK; a lost connection fails it at once (_connection_lost)."""
        assert future is not None
        try:
            return await asyncio.wait_for(future, self.source.timeout_s)
        except TimeoutError:
            raise DriverError(f"{self.where}: no {what} within {self.source.timeout_s:g} s") from None
        except ConnectionError as exc:
            raise DriverError(f"{self.where}: {exc} while waiting for {what}") from None

    def _connection_lost(self, message: str) -> None:
        """On the loop: everyone waiting for an answer from the broker learns it will not come."""
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
        with contextlib.suppress(RuntimeError):  # the loop closed while paho was still talking
            loop.call_soon_threadsafe(callback, *args)

    def _wake_up(self) -> None:
        if not self._wake_pending:
            self._wake_pending = True
            self._post(self._wake.set)

    def _on_connect(self, _client: paho.Client, _userdata: Any, _flags: Any, reason: ReasonCode,
                    _properties: Any) -> None:
        self._post(resolve, self._connack, reason)

    def _on_disconnect(self, _client: paho.Client, _userdata: Any, _flags: Any, reason: ReasonCode,
                       _properties: Any) -> None:
        if self._closed:
            return
        if self._connack is not None and not self._connack.done():
            self._lost = REFUSED_EARLY.format(reason=reason)
        else:
            self._lost = f"connection lost ({reason})"
        self._wake_pending = True
        self._post(self._connection_lost, self._lost)

    def _on_message(self, _client: paho.Client, _userdata: Any, message: paho.MQTTMessage) -> None:
        raise NotImplementedError

    def _on_publish(self, _client: paho.Client, _userdata: Any, mid: int, reason: ReasonCode,
                    _properties: Any) -> None:
        self._post(self._acked, mid, reason)

    def _on_subscribe(self, _client: paho.Client, _userdata: Any, mid: int, reasons: list[ReasonCode],
                      _properties: Any) -> None:
        self._post(self._acked, mid, reasons)

    def _acked(self, mid: int, value: Any) -> None:
        future = self._acks.pop(mid, None)
        if future is not None:
            resolve(future, value)

    # ------------------------------------------------------------ running

    def _dead_letter(self, letter: DeadLetter) -> None:
        self.dead_letter_count += 1
        log.warning("%s: dead letter from %s: %s", self.where, letter.topic, letter.error)
        if self.on_dead_letter is not None:
            self.on_dead_letter(letter)
        else:
            self.dead_letters.append(letter)

    async def _keep_alive(self) -> None:
        """A QoS 1 round trip to the broker: proof of life on a quiet network, and its latency."""
        try:
            latency = await self._publish_and_wait(ALIVE_TOPIC.format(client_id=self.mqtt.client_id), b"",
                                                   "a keep-alive")
        except DriverError as exc:
            if self._closed:
                return
            self.record_read(self.source.timeout_s, False)
            if self._lost is None:
                self._lost = str(exc).removeprefix(f"{self.where}: ")
            self._wake.set()
            return
        self.record_read(latency, True)

    # ------------------------------------------------------------ close

    async def close(self) -> None:
        self._closed = True
        await cancel_task(self._ping)
        self._ping = None
        client, self._client = self._client, None
        self._wake.set()  # a run() waiting for messages returns
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
            await asyncio.to_thread(self._goodbye, client)
        except Exception as exc:  # close() never raises
            log.debug("%s: closing: %s", self.where, describe_error(exc))

    def _goodbye(self, client: paho.Client) -> None:
        """In a thread: what a clean stop sends before DISCONNECT (nothing by default)."""
        client.disconnect()
        client.loop_stop()  # joins paho's thread


def message_topic(message: paho.MQTTMessage) -> str:
    try:
        return message.topic
    except UnicodeDecodeError:  # MQTT requires UTF-8 topics; keep the bytes of one that is not
        return message._topic.decode("utf-8", "replace")


def resolve(future: asyncio.Future[Any] | None, value: Any) -> None:
    if future is not None and not future.done():
        future.set_result(value)


async def cancel_task(task: asyncio.Task[None] | None) -> None:
    if task is not None and not task.done():
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
