"""Store and forward: what the broker could not take yet waits in the local store, and goes out
as history once the node is back.

Until the births of a connection are out, changes are *spooled* and written to the store's
``edge_buffer`` table in batches (through the engine's single store writer thread). After the
births the buffer is replayed in id order as DDATA with ``is_historical`` true and the original
timestamps, at QoS 1; live DDATA resumes only when the buffer is empty. A buffered row is
deleted only after the PUBACK of its message, so anything between "sent" and "acknowledged and
deleted" (at most ``buffer_flush_s`` plus the replay window) is sent again after a crash or a
lost connection: at least once.

Undecodable messages from hosts are kept here too, and written to the store's dead letters with
the buffer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final, TypeVar, TypeVarTuple

import paho.mqtt.client as mqtt

from oee_tui.config import EdgeConfig
from oee_tui.edge.buffer import EdgeBuffer, Spool
from oee_tui.edge.connection import Connection
from oee_tui.edge.layout import Change, PlantLayout
from oee_tui.edge.publisher import Publisher
from oee_tui.edge.session import EdgeSession
from oee_tui.edge.status import EdgeStats
from oee_tui.engine.live.observers import EngineContext
from oee_tui.model import DeadLetter, TagValue
from oee_tui.store.edge_spool import BufferedRow, StoredRow

log = logging.getLogger(__name__)
T = TypeVar("T")
Ts = TypeVarTuple("Ts")

REPLAY_CHUNK_ROWS: Final = 5_000  # rows read from the buffer per trip to the writer thread
REPLAY_METRICS_PER_MESSAGE: Final = 200
DEAD_LETTER_SOURCE: Final = "edge"  # the dead_letters.source of undecodable commands and STATE
DEAD_LETTERS_KEPT: Final = 1_000  # waiting for the store; beyond that the oldest go (a flood of garbage)


@dataclass(slots=True)
class ReplayMessage:
    last_id: int  # the buffer row it carried last: rows up to here may go once it is acknowledged
    info: mqtt.MQTTMessageInfo | None  # None: nothing was left to send for these rows
    acked: bool = False


class StoreAndForward:
    """The spool's way into the store's buffer, and the buffer's way out to the broker."""

    def __init__(self, config: EdgeConfig, stats: EdgeStats, layout: PlantLayout, session: EdgeSession,
                 publisher: Publisher, spool: Spool, engine: EngineContext) -> None:
        self.config = config
        self.stats = stats
        self.layout = layout
        self.session = session
        self.publisher = publisher
        self.spool = spool
        self.engine = engine
        self.buffer: EdgeBuffer | None = None  # None without a store: changes made offline are lost
        self.replay_unacked: dict[int, ReplayMessage] = {}  # mid -> message, in publish order
        self.acked_through: int | None = None  # buffer rows acknowledged, not yet deleted
        self.dead_letters: list[DeadLetter] = []
        self._lock = asyncio.Lock()  # one buffer write or replay step at a time

    def attach(self, engine: EngineContext) -> None:
        """Buffer in the engine's store, through its writer thread."""
        self.engine = engine
        if engine.store is not None:
            self.buffer = EdgeBuffer(engine.store, self.config.buffer_max_rows)

    async def load(self) -> None:
        """The buffer's bounds, as an earlier run left them."""
        if self.buffer is not None:
            counts = await self.engine.in_writer(self.buffer.load)
            if counts.rows:
                log.info("edge node: %d buffered changes from an earlier run wait for the broker", counts.rows)

    @property
    def buffered_rows(self) -> int:
        in_table = self.buffer.counts.rows if self.buffer is not None else 0
        return in_table + len(self.spool)

    # ------------------------------------------------------------ into the store

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.config.buffer_flush_s)
            try:
                await self.write_buffer()
            except Exception as exc:  # the rows stay spooled for the next try
                self.stats.last_error = f"edge buffer: {exc}"
                log.exception("edge node: writing the buffer failed")
            try:
                await self.write_dead_letters()
            except Exception:  # they stay for the next try
                log.exception("edge node: writing dead letters failed")

    def keep_dead_letter(self, topic_name: str, raw: bytes, error: str) -> None:
        """Keep an undecodable message for the store's dead letters (written with the buffer)."""
        if self.engine.store is None:
            return
        if len(self.dead_letters) >= DEAD_LETTERS_KEPT:
            del self.dead_letters[0]
        self.dead_letters.append(DeadLetter(self.engine.clock(), DEAD_LETTER_SOURCE, topic_name, bytes(raw), error))

    async def write_dead_letters(self) -> None:
        letters, self.dead_letters = self.dead_letters, []
        store = self.engine.store
        if not letters or store is None:
            return
        try:
            await self._finish_writing(store.write_dead_letters, letters)
        except Exception:
            self.dead_letters[:0] = letters
            raise

    async def write_buffer(self) -> None:
        """Spooled rows into the table; acknowledged rows out of it. One writer-thread call."""
        if self.buffer is None:
            if self.spool:
                log.warning("edge node without a store: %d changes made while offline are lost", len(self.spool))
                self.stats.dropped += len(self.spool)
                self.spool.take()
            return
        async with self._lock:
            spool = self.spool.take()
            acked, self.acked_through = self.acked_through, None
            if not spool and acked is None:
                return
            try:
                await self._finish_writing(self._append_and_delete, spool, acked)
            except Exception:
                self.spool.put_back(spool)
                if self.acked_through is None:
                    self.acked_through = acked
                raise

    async def _finish_writing(self, fn: Callable[[*Ts], T], *args: *Ts) -> T:
        """A buffer write that a cancellation (stop) does not cut in half: the writer thread
        finishes it and we wait for that, so the rows are neither lost nor spooled twice."""
        future = asyncio.ensure_future(self.engine.in_writer(fn, *args))
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

    # ------------------------------------------------------------ out to the broker

    async def replay(self, connection: Connection) -> None:
        """Send the buffer as historical DDATA at QoS 1, oldest first, then go live."""
        if self.buffer is None:
            self.stats.live = True
            return
        after = 0
        while True:
            async with self._lock:
                spool = self.spool.take()
                acked, self.acked_through = self.acked_through, None
                try:
                    rows = await self._finish_writing(self._replay_step, spool, acked, after)
                except Exception:
                    self.spool.put_back(spool)
                    raise
                if not rows and not self.spool and not self.publisher.changes:
                    self.stats.live = True  # nothing can slip in between: no await since the check
                    return
            for device, group in _replay_groups(rows):
                await self.session.wait_acks(lambda: len(self.replay_unacked) < connection.window,
                                             self.config.timeout_s, connection)
                self.send_replay(device, group)
            if rows:
                after = rows[-1].id
            self.publisher.publish_changes()  # changes since the last step join the buffer, behind the replay

    def _replay_step(self, spool: list[BufferedRow], acked: int | None, after: int) -> list[StoredRow]:
        assert self.buffer is not None
        rows = self.buffer.append_delete_read(spool, acked, after, REPLAY_CHUNK_ROWS)
        self.stats.buffered += len(spool)
        self.stats.dropped = self.buffer.dropped
        return rows

    def send_replay(self, device: str, group: list[StoredRow]) -> None:
        changes: list[Change] = []
        for row in group:
            metric = self.layout.by_name.get((device, row.metric))
            if metric is None:
                self.stats.unknown_replayed += 1
                continue
            value: TagValue = row.value_text if row.value_text is not None else row.value_num
            changes.append((metric, row.ts, value, row.quality))
        last_id = group[-1].id
        if not changes:  # a machine or signal removed from the config since: nothing to send
            self.replay_unacked[-last_id] = ReplayMessage(last_id, None, acked=True)
            self._advance_watermark()
            return
        info = self.publisher.send(device, changes, historical=True, qos=1)
        self.replay_unacked[info.mid] = ReplayMessage(last_id, info)
        self.stats.replayed += len(group)
        self.stats.messages += 1
        self.stats.metrics += len(changes)

    # ------------------------------------------------------------ acknowledgements

    def take_acks(self) -> None:
        """Mark the replay messages the broker acknowledged, from the oldest (one still waiting
        holds back the ones behind it until the next read), and move the watermark."""
        for message in self.replay_unacked.values():
            if message.info is not None and not message.acked:
                if not message.info.is_published():
                    break
                message.acked = True
        self._advance_watermark()

    def _advance_watermark(self) -> None:
        # Rows may leave the buffer only up to the first message still waiting for its PUBACK.
        replay = self.replay_unacked
        while replay:
            mid, message = next(iter(replay.items()))
            if not message.acked:
                break
            del replay[mid]
            self.acked_through = message.last_id

    def connection_ended(self, unacknowledged: Sequence[BufferedRow]) -> None:
        """Live data the broker did not acknowledge goes back to the spool. Buffered rows of
        unacknowledged replay messages are still in the table: sent again next time."""
        if unacknowledged:
            self.spool.put_back(unacknowledged)
        self.replay_unacked = {}


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
