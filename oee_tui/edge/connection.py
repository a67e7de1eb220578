"""One connection of the edge node to the broker: a paho client driven from the asyncio event
loop, and what the session knows of that connection (its bdSeq, whether it was lost or ended).

Driven from the loop instead of paho's own thread: a publish is then a list append and the
socket is written when the loop gets round to it, many packets per wake-up. With paho's thread
every publish also woke that thread through a socket pair and both threads fought for the GIL,
which halved the DDATA rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

log = logging.getLogger(__name__)
T = TypeVar("T")

REPLAY_WINDOW: Final = 200  # QoS 1 messages sent and not yet acknowledged (the replay's window)
V5_INFLIGHT: Final = 20  # MQTT 5 brokers announce a receive maximum; Mosquitto's default is 20


class EdgeError(Exception):
    """The broker could not be reached or refused us; the message says which and why."""


@dataclass(slots=True)
class Connection:
    """One connection to the broker, from CONNECT to its loss or its end on purpose."""

    client: mqtt.Client
    connack: asyncio.Future[ReasonCode]
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    bd_seq: int = 0
    lost_reason: str | None = None
    suback: asyncio.Future[list[ReasonCode]] | None = None
    sock: mqtt.SocketLike | None = None
    misc: asyncio.Task[None] | None = None
    window: int = REPLAY_WINDOW  # QoS 1 messages that may await their PUBACK
    host_online: asyncio.Event = field(default_factory=asyncio.Event)  # the primary host's STATE said online
    ended: asyncio.Event = field(default_factory=asyncio.Event)  # ended on purpose (EdgeSession.end_on_purpose)
    end_reason: str | None = None
    step: asyncio.Future[Any] | None = None  # what the session is doing now (waiting, replaying)

    def drive_from(self, loop: asyncio.AbstractEventLoop, after_read: Callable[[], None], where: str) -> None:
        """Read, write and keep the connection alive from ``loop``; ``after_read`` runs after
        each read from the socket."""
        client = self.client
        sock = client.socket()
        if sock is None:
            raise EdgeError(f"{where}: the connection closed at once")
        self.sock = sock

        def readable() -> None:
            client.loop_read()
            pending = getattr(client.socket(), "pending", None)
            while pending is not None and pending():  # TLS keeps decrypted bytes the selector cannot see
                if client.loop_read() != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    break
            after_read()

        def closed(_c: mqtt.Client, _u: object, closing: mqtt.SocketLike) -> None:
            with contextlib.suppress(Exception):
                loop.remove_reader(closing)
            with contextlib.suppress(Exception):
                loop.remove_writer(closing)

        def register_write(_c: mqtt.Client, _u: object, writable: mqtt.SocketLike) -> None:
            loop.add_writer(writable, client.loop_write)

        def unregister_write(_c: mqtt.Client, _u: object, writable: mqtt.SocketLike) -> None:
            loop.remove_writer(writable)

        client.on_socket_close = closed
        client.on_socket_register_write = register_write
        client.on_socket_unregister_write = unregister_write
        loop.add_reader(sock, readable)
        if client.want_write():  # CONNECT not fully written by connect() itself
            loop.add_writer(sock, client.loop_write)
        self.misc = asyncio.create_task(_keep_alive(client), name="edge:keepalive")

    def took_connack(self, reason: ReasonCode, properties: Properties | None) -> None:
        # MQTT 5: the broker may take fewer unacknowledged QoS 1 messages than our replay window
        # (Mosquitto says 20 by default). paho neither honours that nor lets the limit change
        # once connected, so new clients start v5 at V5_INFLIGHT and this only narrows our window.
        receive_maximum = getattr(properties, "ReceiveMaximum", None)
        if receive_maximum:
            self.window = min(REPLAY_WINDOW, receive_maximum)
            if receive_maximum < V5_INFLIGHT:
                log.warning("edge node: the broker takes only %d unacknowledged messages; paho may send %d",
                            receive_maximum, V5_INFLIGHT)
        _resolve(self.connack, reason)

    def took_suback(self, reasons: list[ReasonCode]) -> None:
        _resolve(self.suback, reasons)

    def lose(self, reason: str) -> None:
        """The connection is gone; the first reason given is the one reported."""
        if self.lost_reason is None:
            self.lost_reason = reason
        self.lost.set()

    def close(self) -> None:
        """DISCONNECT, written at once; paho then closes the socket, and `closed` unregisters it."""
        client = self.client
        client.on_disconnect = client.on_message = None
        if not self.lost.is_set():
            self.lost.set()
        if self.misc is not None:
            self.misc.cancel()
        with contextlib.suppress(Exception):
            client.disconnect()
            client.loop_write()
        sock = self.sock
        if sock is not None and sock.fileno() != -1:
            _forget(sock)


async def _keep_alive(client: mqtt.Client) -> None:
    """paho's timers (PINGREQ, and a missing PINGRESP means a dead connection)."""
    while True:
        await asyncio.sleep(1.0)
        client.loop_misc()


def _resolve(future: asyncio.Future[T] | None, value: T) -> None:
    if future is not None and not future.done():
        future.set_result(value)


def _forget(sock: mqtt.SocketLike) -> None:
    loop = asyncio.get_running_loop()
    with contextlib.suppress(Exception):
        loop.remove_reader(sock)
    with contextlib.suppress(Exception):
        loop.remove_writer(sock)
    with contextlib.suppress(Exception):
        sock.close()
