"""The live plant pushed to every attached TUI: what changed since the last push, packed once for all.

The engine builds a snapshot once per tick; a push goes out as soon as one is new (checked every
`interval_s`), carrying only the machines and sources that changed, plus the plant's and lines' OEE
and the store's health. A client that falls behind (its socket's buffer is full) is skipped and gets
a whole snapshot once it has caught up: a slow SSH link never holds up the engine or the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection
from typing import TYPE_CHECKING, Any, Final

from oee_tui.engine.api import PlantEngine
from oee_tui.model import PlantSnapshot
from oee_tui.service.wire import pack

if TYPE_CHECKING:
    from oee_tui.service.server import Session

log = logging.getLogger(__name__)

BEHIND_BYTES: Final = 4 * 1024 * 1024  # unsent bytes beyond which a client is skipped until it catches up


def snapshot_message(snapshot: PlantSnapshot, previous: PlantSnapshot | None) -> dict[str, Any]:
    """A push with what changed since `previous` (everything when it is None)."""
    old_machines = {} if previous is None else {m.machine: m for m in previous.machines}
    old_sources = {} if previous is None else {s.name: s for s in previous.sources}
    machines = tuple(m for m in snapshot.machines if old_machines.get(m.machine) != m)
    sources = tuple(s for s in snapshot.sources if old_sources.get(s.name) != s)
    order = tuple(m.machine for m in snapshot.machines)
    source_order = tuple(s.name for s in snapshot.sources)
    return {
        "push": "snapshot", "full": previous is None, "ts": snapshot.ts, "shift": snapshot.shift,
        "plant": snapshot.plant, "lines": snapshot.lines, "store": snapshot.store, "sync": snapshot.sync,
        "machines": machines, "sources": sources,
        # The order (and so who left) only when it changed.
        "order": order if previous is None or order != tuple(old_machines) else None,
        "source_order": source_order if previous is None or source_order != tuple(old_sources) else None,
    }


class SnapshotPush:
    def __init__(self, engine: PlantEngine, sessions: Collection[Session], interval_s: float) -> None:
        self.engine = engine
        self.sessions = sessions
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self._sent: PlantSnapshot | None = None  # what the clients in step have
        self._in_step: set[int] = set()  # ids of the sessions that have `_sent`

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="snapshot-push")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.push_now()
            except Exception:
                log.exception("pushing the snapshot failed")

    async def push_now(self) -> None:
        listeners = [s for s in self.sessions if s.subscribed]
        if not listeners:
            self._sent = None
            self._in_step.clear()
            return
        snapshot = self.engine.snapshot()
        newest = snapshot is not self._sent
        behind = [s for s in listeners if id(s) not in self._in_step]
        if not newest and not behind:
            return
        delta = pack(snapshot_message(snapshot, self._sent)) if newest and self._sent is not None else None
        full: bytes | None = None
        in_step: set[int] = set()
        for session in listeners:
            transport = session.stream.writer.transport
            if transport.is_closing():
                continue
            if transport.get_write_buffer_size() > BEHIND_BYTES:
                continue  # not in step any more: a whole snapshot once it drains
            if id(session) in self._in_step and delta is not None:
                data = delta
            elif id(session) in self._in_step and not newest:
                in_step.add(id(session))
                continue
            else:
                full = full if full is not None else pack(snapshot_message(snapshot, None))
                data = full
            session.stream.writer.write(data)  # no drain: the buffer check above is the back-pressure
            in_step.add(id(session))
        self._sent = snapshot
        self._in_step = in_step
