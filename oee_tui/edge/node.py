"""Sparkplug B 3.0 edge node: the engine's machine signals, published to an MQTT broker.

One edge node (``[edge] group_id`` / ``edge_node_id``) with one device per machine and one
metric per mapped signal. The node is an observer of the engine's output
(oee_tui.engine.live.observers): it sees every sample batch the engine ingests, starts with the
engine, takes a changed config on reload and stops before the store closes;
oee_tui.runtime.build_engine attaches it when ``[edge] enabled``.

EdgeNode only wires its parts, each in a module of its own:

* layout: devices, metrics, aliases, and which samples feed which metric;
* session: connections, bdSeq, NBIRTH/DBIRTH/NDEATH, rebirths, reconnecting with backoff;
* connection: one paho client driven from the event loop;
* host_messages: NCMD, DCMD and the primary host's STATE;
* publisher: changes kept from the samples, one DDATA per machine per interval;
* store_and_forward: the spool, the store's buffer, the replay as history, acknowledgements;
* payloads: signal values as metric values, births' metrics, DDATA encoding.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar, TypeVarTuple

from oee_tui.config import Config, EdgeConfig, MachineConfig
from oee_tui.edge.buffer import Spool
from oee_tui.edge.connection import Connection, EdgeError
from oee_tui.edge.host_messages import HostMessages
from oee_tui.edge.layout import PlantLayout
from oee_tui.edge.publisher import Publisher
from oee_tui.edge.session import EdgeSession
from oee_tui.edge.status import EdgeStats
from oee_tui.edge.store_and_forward import StoreAndForward
from oee_tui.engine.live.observers import EngineContext
from oee_tui.model import TagSample

log = logging.getLogger(__name__)
T = TypeVar("T")
Ts = TypeVarTuple("Ts")


async def _run_here(fn: Callable[[*Ts], T], *args: *Ts) -> T:
    """A node without an engine has no store, so nothing waits for a writer thread."""
    return fn(*args)


class EdgeNode:
    """One Sparkplug edge node: ``start()`` runs its tasks, ``observe`` takes the engine's samples,
    ``stop()`` says NDEATH and keeps what could not be sent in the buffer."""

    def __init__(self, config: EdgeConfig, machines: Sequence[MachineConfig]) -> None:
        self.config = config
        self.stats = EdgeStats()
        self.layout = PlantLayout(machines)
        # Until start() hands over the engine's: no store, the wall clock.
        engine = EngineContext(store=None, in_writer=_run_here, clock=time.time)
        self.session = EdgeSession(config, self.stats, self.layout, engine, handler=self)
        spool = Spool()
        self.publisher = Publisher(config, self.stats, self.layout, self.session, spool, engine)
        self.store_and_forward = StoreAndForward(config, self.stats, self.layout, self.session, self.publisher,
                                                 spool, engine)
        self.host_messages = HostMessages(config, self.stats, self.layout, self.session,
                                          self.store_and_forward.keep_dead_letter)
        self._tasks: list[asyncio.Task[None]] = []

    # ------------------------------------------------------------ layout

    def configure(self, machines: Sequence[MachineConfig]) -> None:
        """New devices and metrics; a connected node births again. Signals that stay keep their
        last value (for the births) and their unsent changes."""
        self.layout.configure(machines)
        self.publisher.layout_changed()
        self.session.layout_changed()

    @property
    def devices(self) -> list[str]:
        return list(self.layout.devices)

    # ------------------------------------------------------------ the engine's observer

    def observe(self, batch: Iterable[TagSample]) -> None:
        self.publisher.observe(batch)

    def reload(self, config: Config) -> None:
        self.configure(config.machines)

    async def start(self, engine: EngineContext | None = None) -> None:
        """Load the bdSeq and the buffer's bounds, and start the connection, publish and buffer
        tasks. Without an engine the node runs on its own: no store, so nothing is buffered."""
        if engine is not None:
            self.session.attach(engine)
            self.publisher.attach(engine)
            self.store_and_forward.attach(engine)
        await self.session.load_bd_seq()
        await self.store_and_forward.load()
        self._tasks = [asyncio.create_task(self.session.run(), name="edge:connection"),
                       asyncio.create_task(self.publisher.run(), name="edge:publish"),
                       asyncio.create_task(self.store_and_forward.run(), name="edge:buffer")]

    async def stop(self) -> None:
        """Send what changed last, say NDEATH, disconnect, and write what is left to the buffer."""
        session = self.session
        session.stopping.set()
        with contextlib.suppress(EdgeError):
            self.publisher.publish_changes()
        connection = session.connection
        if connection is not None and self.stats.live:
            with contextlib.suppress(EdgeError):
                await session.wait_acks(lambda: not self.publisher.live_unacked, min(2.0, self.config.timeout_s),
                                        connection)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if connection is not None:
            await session.say_goodbye(connection)
        session.end_connection()
        await self.store_and_forward.write_buffer()
        try:
            await self.store_and_forward.write_dead_letters()
        except Exception:  # the buffer is written; these are only for diagnosis
            log.exception("edge node: writing dead letters failed; %d are lost",
                          len(self.store_and_forward.dead_letters))

    # ------------------------------------------------------------ the session's turning points

    async def replay(self, connection: Connection) -> None:
        await self.store_and_forward.replay(connection)

    def take_acks(self) -> bool:
        """paho's message info says which QoS 1 messages the broker acknowledged; no on_publish
        callback, because paho builds a Properties object for every QoS 0 message it calls that
        for, a fifth of the cost of a DDATA."""
        if not (self.publisher.live_unacked or self.store_and_forward.replay_unacked):
            return False
        self.publisher.take_acks()
        self.store_and_forward.take_acks()
        return True

    def on_message(self, connection: Connection, topic_name: str, raw: bytes) -> None:
        self.host_messages.handle(connection, topic_name, raw)

    def connection_ended(self) -> None:
        self.store_and_forward.connection_ended(self.publisher.take_unacknowledged())

    # ------------------------------------------------------------ what the Devices screen reads (EdgeView)

    @property
    def where(self) -> str:
        return self.session.where

    @property
    def session_bd_seq(self) -> int | None:
        """The bdSeq of the connection now open (its NBIRTH's and its will's); None between connections."""
        connection = self.session.connection
        return None if connection is None else connection.bd_seq

    @property
    def buffered_rows(self) -> int:
        """Changes waiting to be sent as history: rows in the store's buffer plus those spooled for it."""
        return self.store_and_forward.buffered_rows
