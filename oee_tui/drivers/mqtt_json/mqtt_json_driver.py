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
import time
from collections.abc import Sequence
from typing import Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from oee_tui.config import TagMapping
from oee_tui.drivers.base import DriverError, EmitFn, TagReading
from oee_tui.drivers.mqtt_base import (
    MAX_BATCH,
    MAX_MESSAGES_PER_PASS,
    DeadLetterFn,
    MqttDriverBase,
    cancel_task,
    message_topic,
    resolve,
)
from oee_tui.drivers.mqtt_json.mqtt_json_source import MqttSource
from oee_tui.model import DeadLetter, Quality, TagSample
from oee_tui.mqtt.json_paths import kind_of, parse_path
from oee_tui.mqtt.json_source import PayloadDecoder, rules_from
from oee_tui.mqtt.transport import MqttSettings, TransportError, build_client, safe_client_id

log = logging.getLogger(__name__)

INBOX_WAIT_S: Final = 1.0


def default_client_id(source: MqttSource) -> str:
    return safe_client_id(f"oee-tui-{source.name}")


class MqttJsonDriver(MqttDriverBase):
    """Subscribes to the mapped topics and emits one sample per mapped tag a message feeds."""

    source: MqttSource

    def __init__(self, source: MqttSource, tags: Sequence[TagMapping], *, probe: bool | None = None,
                 on_dead_letter: DeadLetterFn | None = None) -> None:
        super().__init__(source, tags, on_dead_letter=on_dead_letter)
        self.decoder = PayloadDecoder(
            source.name, rules_from(self.tags),
            timestamp_path=None if source.timestamp_path is None else parse_path(source.timestamp_path),
            timestamp_format=source.timestamp_format)
        self.probe = probe  # None: decided at connect(), see the module doc
        self.qos = source.qos
        self.mqtt = self._settings(probe=False)
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
    def subscriptions(self) -> list[str]:
        return self.decoder.filters

    # ------------------------------------------------------------ connect

    async def connect(self) -> None:
        await self.close()
        probe = self.on_read is None if self.probe is None else self.probe
        self.mqtt = self._settings(probe=probe)
        self._new_session()
        try:
            client = build_client(self.mqtt)
        except TransportError as exc:
            raise DriverError(f"{self.where}: {exc}") from None
        self._attach(client)
        await self._open(client)
        client.loop_start()
        await self._await_connack()
        if self.subscriptions:
            await self._subscribe(client, self.subscriptions, self.qos)
        log.info("%s: connected (%s)%s, subscribed to %s", self.where, self.mqtt.describe(),
                 ", session resumed" if self.session_present else "", ", ".join(self.subscriptions) or "nothing")

    # ------------------------------------------------------------ paho callbacks (paho's thread)

    def _on_connect(self, _client: mqtt.Client, _userdata: Any, flags: Any, reason: ReasonCode,
                    _properties: Any) -> None:
        self.session_present = bool(getattr(flags, "session_present", False))
        self._post(resolve, self._connack, reason)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        arrival = time.time()
        topic_name = message_topic(message)
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
        # paho hands bytes (typed bytes | bytearray); bytes() of a bytes object is that object, not a copy.
        inbox.append((topic_name, bytes(message.payload), arrival))
        self._wake_up()

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
            await cancel_task(self._ping)
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
