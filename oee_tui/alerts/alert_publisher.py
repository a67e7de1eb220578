"""`[alerts] mqtt_topic`: every raise and clear published as JSON on the `[edge]` broker's connection settings,
for a plant's unified namespace: `<mqtt_topic>/<rule id>` (`+` and `#` in the id as `_`); the subject, which
may hold any character a tag name does, is in the JSON.

The engine never waits for the broker: a raise or clear is queued (the newest MAX_QUEUED) and a task of the
publisher's own connects, reconnects every RETRY_S and sends what waits, in order. What stops it (a broker
that refuses or is gone) is logged and kept as `problem` until it is connected again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from oee_tui.config import AlertSettings
from oee_tui.model import Alert, AlertEvent
from oee_tui.mqtt.transport import MqttSettings, build_client, connect_options, describe_error

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt

log = logging.getLogger(__name__)

MAX_QUEUED: Final = 10_000  # raises and clears kept while the broker is away; beyond, the oldest go (logged)
RETRY_S: Final = 5.0
STOP_WAIT_S: Final = 5.0  # at the engine's stop, how long what waits may take to reach the broker


def alert_json(alert: Alert, event: AlertEvent, site: str) -> bytes:
    def iso(secs: float | None) -> str | None:
        return None if secs is None else datetime.fromtimestamp(secs, UTC).isoformat()

    return json.dumps({
        "id": alert.id, "event": event.action.value, "rule": alert.rule, "kind": alert.kind.value,
        "severity": alert.severity.value, "subject": alert.subject, "message": alert.message,
        "raised_at": iso(alert.raised_at), "cleared_at": iso(alert.cleared_at), "time": iso(event.ts), "site": site,
    }, ensure_ascii=False).encode()


class AlertPublisher:
    """A listener of the engine's AlertMonitor; `settings` is read at each raise and clear."""

    def __init__(self, broker: MqttSettings, settings: Callable[[], AlertSettings], site: Callable[[], str]) -> None:
        self.broker = broker
        self.settings = settings
        self.site = site
        self.problem: str | None = None
        self.published = 0
        self._queue: deque[tuple[str, bytes, int]] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: mqtt.Client | None = None
        self._connected = threading.Event()  # set and cleared by paho's network thread
        self._last: mqtt.MQTTMessageInfo | None = None

    def __call__(self, alert: Alert, event: AlertEvent) -> None:
        settings = self.settings()
        if settings.mqtt_topic is None:
            return
        if len(self._queue) >= MAX_QUEUED:
            self._queue.popleft()
            log.warning("alerts over MQTT: %d waiting for the broker; the oldest is dropped", MAX_QUEUED)
        topic = f"{settings.mqtt_topic}/{alert.rule.replace('+', '_').replace('#', '_')}"
        self._queue.append((topic, alert_json(alert, event, self.site()), settings.mqtt_qos))
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="alerts:mqtt")

    async def _run(self) -> None:
        while True:
            if not self._connected.is_set():
                try:
                    await asyncio.to_thread(self._connect)
                except Exception as exc:  # refused, unreachable, TLS: said, and tried again
                    self._say(f"alerts over MQTT: cannot connect to {self.broker.url}: {describe_error(exc)}")
                    await asyncio.sleep(RETRY_S)
                    continue
            self._send()
            self._wake.clear()
            if self._queue:  # the connection dropped while sending: wait for it, then try again
                await asyncio.sleep(RETRY_S)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), RETRY_S)

    def _connect(self) -> None:
        if self._client is not None:
            self._client.loop_stop()
            with contextlib.suppress(Exception):
                self._client.disconnect()
        client = build_client(self.broker)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        self._client = client
        client.connect(self.broker.host, self.broker.port, keepalive=self.broker.keepalive_s,
                       **connect_options(self.broker))
        client.loop_start()
        if not self._connected.wait(self.broker.timeout_s):
            raise ConnectionError(f"no CONNACK within {self.broker.timeout_s:g} s")

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object, reason: object,
                    properties: object = None) -> None:
        if getattr(reason, "is_failure", False):
            self.problem = f"alerts over MQTT: {self.broker.url} refused the connection: {reason}"
            return
        self._connected.set()
        self.problem = None

    def _on_disconnect(self, client: mqtt.Client, userdata: object, flags: object, reason: object,
                       properties: object = None) -> None:
        self._connected.clear()
        self.problem = f"alerts over MQTT: lost {self.broker.url}: {reason}"

    def _send(self) -> None:
        client = self._client
        while self._queue and client is not None and self._connected.is_set():
            topic, payload, qos = self._queue[0]
            info = client.publish(topic, payload, qos=qos)
            if info.rc != 0:
                self._say(f"alerts over MQTT: not published to {self.broker.url} (paho rc {info.rc})")
                return
            self._queue.popleft()
            self._last = info
            self.published += 1

    def _say(self, problem: str) -> None:
        if problem != self.problem:
            log.warning("%s", problem)
        self.problem = problem

    async def finish(self) -> None:
        """At the engine's stop: what waits goes out (for at most STOP_WAIT_S), then the connection closes."""
        if self._task is None:
            return
        deadline = asyncio.get_running_loop().time() + STOP_WAIT_S
        while self._queue and self._connected.is_set() and asyncio.get_running_loop().time() < deadline:
            self._wake.set()
            await asyncio.sleep(0.05)
        last = self._last
        if last is not None and self._connected.is_set():
            with contextlib.suppress(Exception):
                await asyncio.to_thread(last.wait_for_publish, STOP_WAIT_S)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.disconnect()
            await asyncio.to_thread(client.loop_stop)
        if self._queue:
            log.warning("alerts over MQTT: %d raises and clears never reached %s", len(self._queue), self.broker.url)
