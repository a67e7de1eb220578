"""OPC UA driver: one session, one subscription, data-change notifications.

The server pushes changes at the publishing interval, so an idle line costs
nothing on the wire. asyncua calls the handler without letting it wait, so
the handler only queues samples; run() drains the queue and emits batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from asyncua import Client, Node, ua
from asyncua.common.subscription import DataChangeNotif

from oee_tui.config import SourceConfig, TagMapping
from oee_tui.drivers.base import Driver, DriverError, EmitFn
from oee_tui.engine.model import Quality, TagSample, TagValue

log = logging.getLogger(__name__)

MAX_BATCH: Final = 5_000
# Monitored items per CreateMonitoredItems call; keeps each request well under
# the message size limits of small embedded servers.
SUBSCRIBE_CHUNK: Final = 500


class _Signal:
    """A queue marker that ends run(): the link was lost, or close() was called."""

    __slots__ = ("error",)

    def __init__(self, error: str | None) -> None:
        self.error = error


def quality_of(status: ua.StatusCode | None) -> Quality:
    """OPC UA severity is the top two bits of the code: 00 good, 01 uncertain, 1x bad."""
    code = 0 if status is None else int(status.value)
    severity = (code >> 30) & 0b11
    if severity == 0:
        return Quality.GOOD
    if severity == 1:
        return Quality.UNCERTAIN
    return Quality.BAD


def status_text(status: ua.StatusCode) -> str:
    try:
        name, doc = status.name, status.doc
    except Exception:  # codes a server invents are not in asyncua's table
        return f"StatusCode 0x{int(status.value):08X}"
    return f"{name}: {doc}" if doc else name


def timestamp_of(value: ua.DataValue | None, now: float | None = None) -> float:
    """Source timestamp, else server timestamp, else the time of arrival, as POSIX seconds."""
    if value is not None:
        for stamp in (value.SourceTimestamp, value.ServerTimestamp):
            if isinstance(stamp, datetime):
                # asyncua 1.x hands out naive datetimes that mean UTC; 2.x aware ones.
                if stamp.tzinfo is None:
                    stamp = stamp.replace(tzinfo=UTC)
                return stamp.timestamp()
    return time.time() if now is None else now


def plain_value(value: Any) -> TagValue:
    """A value the engine understands; structured OPC UA types become text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, ua.LocalizedText):
        return value.Text
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return value.hex()
    return str(value)


class _Handler:
    """asyncua subscription handler; runs on the event loop and must not wait."""

    def __init__(self, driver: OpcUaDriver) -> None:
        self.driver = driver

    def datachange_notification(self, node: Node, val: Any, data: DataChangeNotif) -> None:
        self.driver._on_data_change(node, data.monitored_item.Value)

    def status_change_notification(self, status: ua.StatusChangeNotification) -> None:
        code = status.Status
        if quality_of(code) is not Quality.GOOD:
            self.driver._signal_lost(f"subscription status changed to {status_text(code)}")


class OpcUaDriver(Driver):
    """Subscribes to every tag of one OPC UA server (security None, anonymous for now)."""

    def __init__(self, source: SourceConfig, tags: Sequence[TagMapping]) -> None:
        super().__init__(source, tags)
        self._client: Client | None = None
        self._queue: asyncio.Queue[TagSample | _Signal] = asyncio.Queue(maxsize=max(16, source.queue_size))
        # Different strings may name the same node ("i=85" and "ns=0;i=85"); each gets its sample.
        self._tags_by_node: dict[ua.NodeId, list[str]] = {}
        self._closed = False
        self._signalled = False
        self.dropped = 0  # samples dropped because the engine fell behind by a whole queue

    @property
    def where(self) -> str:
        return f"opcua {self.source.endpoint or '(no endpoint)'}"

    @property
    def check_interval_s(self) -> float:
        return max(1.0, 2 * self.source.publishing_interval_ms / 1000)

    async def connect(self) -> None:
        # A driver may be connected again after a loss or close(); start clean.
        await self.close()
        self._closed = self._signalled = False
        self._queue = asyncio.Queue(maxsize=max(16, self.source.queue_size))
        self._tags_by_node = {}
        if not self.source.endpoint:
            raise DriverError(f"source {self.name}: no endpoint configured (opc.tcp://host:port/path)")
        client = Client(self.source.endpoint, timeout=self.source.timeout_s,
                        watchdog_intervall=self.check_interval_s)
        # asyncua 2.x reports a loss through this hook at once; 1.x lacks it and
        # the periodic check_connection() in run() catches the loss instead.
        client.connection_lost_callback = self._on_connection_lost
        self._client = client
        try:
            await client.connect()
        except Exception as exc:  # asyncua raises OSError, TimeoutError, UaError and more
            with contextlib.suppress(Exception):
                client.disconnect_socket()
            raise DriverError(f"{self.where}: cannot connect: {_describe(exc)}") from exc

    async def _on_connection_lost(self, exc: Exception) -> None:
        self._signal_lost(f"connection lost: {_describe(exc)}")

    async def run(self, emit: EmitFn) -> None:
        client = self._client
        if client is None:
            raise DriverError(f"{self.where}: run() before connect()")
        initial = await self._subscribe(client)
        if initial:
            await emit(initial)
        watchdog = asyncio.create_task(self._watch(client), name=f"opcua-watch-{self.name}")
        try:
            while True:
                item = await self._queue.get()
                batch: list[TagSample] = []
                while True:
                    if isinstance(item, _Signal):
                        if batch:
                            await emit(batch)
                        if item.error is None:
                            return
                        raise DriverError(f"{self.where}: {item.error}")
                    batch.append(item)
                    if len(batch) >= MAX_BATCH:
                        break
                    try:
                        item = self._queue.get_nowait()
                    except asyncio.QueueEmpty:
                        break
                if self._closed:
                    return
                await emit(batch)
        finally:
            watchdog.cancel()
            with contextlib.suppress(BaseException):
                await watchdog

    async def _subscribe(self, client: Client) -> list[TagSample]:
        """Create the subscription; the BAD samples of tags that can't be monitored."""
        now = time.time()
        bad: list[TagSample] = []
        nodes: list[Node] = []
        for mapping in self.tags:
            try:
                node_id = ua.NodeId.from_string(mapping.tag)
            except Exception as exc:  # asyncua raises UaStringParsingError, ValueError or KeyError
                bad.append(TagSample(now, self.name, mapping.tag, None, Quality.BAD,
                                     f"BadNodeIdInvalid: {mapping.tag!r} is not a node id: {_describe(exc)}"))
                continue
            tags = self._tags_by_node.setdefault(node_id, [])
            if not tags:
                nodes.append(client.get_node(node_id))
            tags.append(mapping.tag)
        if not nodes:
            return bad
        interval = float(self.source.publishing_interval_ms)
        try:
            subscription = await client.create_subscription(interval, _Handler(self))
            for i in range(0, len(nodes), SUBSCRIBE_CHUNK):
                chunk = nodes[i:i + SUBSCRIBE_CHUNK]
                # Sampling at the publishing interval: faster sampling only
                # loads the PLC, since changes are sent once per interval anyway.
                results = await subscription.subscribe_data_change(chunk, sampling_interval=interval)
                for node, result in zip(chunk, results, strict=True):
                    if isinstance(result, ua.StatusCode):
                        error = f"{status_text(result)} ({node.nodeid.to_string()})"
                        bad.extend(TagSample(now, self.name, tag, None, Quality.BAD, error)
                                   for tag in self._tags_by_node[node.nodeid])
        except Exception as exc:
            raise DriverError(f"{self.where}: cannot subscribe: {_describe(exc)}") from exc
        return bad

    async def _watch(self, client: Client) -> None:
        """Catch a lost link the callbacks missed, e.g. a server that stops answering."""
        interval = self.check_interval_s
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.wait_for(client.check_connection(), timeout=max(interval, self.source.timeout_s))
            except Exception as exc:
                self._signal_lost(f"connection lost: {_describe(exc)}")
                return

    def _on_data_change(self, node: Node, value: ua.DataValue | None) -> None:
        tags = self._tags_by_node.get(node.nodeid)
        if not tags or self._signalled:
            return
        status = None if value is None else value.StatusCode
        quality = quality_of(status)
        ts = timestamp_of(value)
        sample_value = None if value is None or value.Value is None else plain_value(value.Value.Value)
        error = None
        if quality is not Quality.GOOD and status is not None:
            error = status_text(status)
            if quality is Quality.BAD:
                sample_value = None  # a Bad value must not be used (OPC UA Part 4, 7.34)
        for tag in tags:
            self._put(TagSample(ts, self.name, tag, sample_value, quality, error))

    def _put(self, item: TagSample | _Signal) -> None:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            # Keep the newest: for counters and states the latest value is what counts.
            with contextlib.suppress(asyncio.QueueEmpty):
                self._queue.get_nowait()
                self.dropped += 1
            self._queue.put_nowait(item)
            if self.dropped in (1, 100, 10_000) or self.dropped % 100_000 == 0:
                log.warning("%s: engine is behind; %d samples dropped", self.where, self.dropped)

    def _signal_lost(self, error: str) -> None:
        if self._signalled or self._closed:
            return
        self._signalled = True
        self._put(_Signal(error))

    async def close(self) -> None:
        client, self._client = self._client, None
        if not self._closed:
            self._closed = self._signalled = True
            self._put(_Signal(None))
        if client is None:
            return
        try:
            # CloseSession also deletes the subscription on the server.
            await asyncio.wait_for(client.disconnect(), timeout=max(1.0, self.source.timeout_s))
        except Exception:  # close() must never raise; the server may already be gone
            log.debug("%s: error while disconnecting", self.where, exc_info=True)
        with contextlib.suppress(Exception):
            client.disconnect_socket()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = str(exc) or type(exc).__name__
    return text if len(text) < 300 else text[:297] + "..."
