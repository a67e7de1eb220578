"""A PlantEngine for a TUI attached to the engine another process runs: the live plant comes pushed,
commands go to the engine and come back done or refused, and losing the engine is said at once, then
mended by attaching again as soon as it is back.

It has no store: the store belongs to the engine. What a screen would read from it, it asks the
engine for (`call`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

from oee_tui.config import Config
from oee_tui.drivers.discovered_metrics import DiscoveredMetrics
from oee_tui.drivers.registry import parse_config
from oee_tui.engine.live.observers import EngineObserver
from oee_tui.engine.oee.planning_rules import Planning
from oee_tui.model import Alert, MachineDetail, PlanningRecords, PlantSnapshot
from oee_tui.model.access import Action, Role, allowed
from oee_tui.model.data_quality import QualityReport
from oee_tui.service.client import EngineClient, EngineLost, NoEngine
from oee_tui.store import Store

log = logging.getLogger(__name__)

REATTACH_EVERY_S: Final = 1.0


def config_from_answer(answer: dict[str, Any], fallback: Config) -> Config:
    """The config an engine's "config" answer holds (without secrets); `fallback` when it holds none."""
    if answer.get("text") is not None:
        return parse_config(answer["text"], Path(answer["path"]), secrets=False)
    if answer.get("built_in") is not None:
        return parse_config(answer["built_in"], secrets=False)
    return fallback


class RemoteEngine:
    def __init__(self, data_dir: Path, config: Config, *, origin: str, person: str | None = None,
                 pin: str | None = None, reattach_every_s: float = REATTACH_EVERY_S) -> None:
        self.data_dir = data_dir
        self.config = config
        self.origin = origin
        self.person = person
        self.pin = pin
        self.reattach_every_s = reattach_every_s
        self.client: EngineClient | None = None
        self.lost: str | None = None  # why the engine is gone, while it is
        self.on_change: Callable[[], None] | None = None  # attached, lost or back: the app redraws its banner
        self.on_snapshot: Callable[[PlantSnapshot], None] | None = None  # each push, as it arrives
        self._planning = Planning.empty()
        self._empty = PlantSnapshot(ts=0.0, shift=None, machines=())
        self._reattach: asyncio.Task[None] | None = None
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop the connection lives on
        # The demo's devices as the engine runs them (built in code, not in a file): the Devices screen
        # shows them read-only. None for a plant read from a file.
        self.built_in_config_text: str | None = None

    # ------------------------------------------------------------ PlantEngine

    @property
    def store(self) -> Store | None:
        return None

    @property
    def observers(self) -> Sequence[EngineObserver]:
        return ()

    @property
    def planning(self) -> Planning:
        return self._planning

    @property
    def pid(self) -> int | None:
        return None if self.client is None else self.client.pid

    @property
    def hello(self) -> dict[str, Any]:
        return {} if self.client is None else self.client.hello

    @property
    def role(self) -> Role | None:
        """The role the engine gave this TUI's user at the hello; None before it attached."""
        name = self.hello.get("role")
        return None if not isinstance(name, str) else Role[name.upper()]

    def may(self, action: Action) -> bool:
        """Whether the engine would take `action` from this user: the screens offer only that (the engine
        checks again; this only spares a person keys that would be refused)."""
        return allowed(self.role, action)

    async def start(self) -> None:
        """Attach; raises NoEngine (nothing serves the data dir) or AttachRefused."""
        await self._attach()

    async def stop(self) -> None:
        """Detach. The engine goes on; this TUI only stops watching it."""
        self._stopping = True
        if self._reattach is not None:
            self._reattach.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reattach
        if self.client is not None:
            await self.client.close()

    def snapshot(self) -> PlantSnapshot:
        latest = None if self.client is None else self.client.mirror.latest
        return latest if latest is not None else self._empty

    def discovered_metrics(self, source: str) -> DiscoveredMetrics | None:
        return None  # the engine's own: asked for through device_browse (screens.browse.EngineBrowser)

    async def machine_detail(self, machine: str) -> MachineDetail:
        detail: MachineDetail = await self.call("machine_detail", machine=machine)
        return detail

    async def data_quality(self, source: str | None = None, *, tags: bool = True) -> QualityReport:
        report: QualityReport = await self.call("data_quality", source=source, tags=tags)
        return report

    async def set_stop_reason(self, machine: str, stop_start: float, reason: str, user: str,
                              origin: str = "local") -> None:
        # The engine knows who asks from the socket, and where from since the hello; `user` and `origin`
        # (the TUI's idea of them) are not sent.
        await self.call("set_stop_reason", machine=machine, stop_start=stop_start, reason=reason)

    async def acknowledge_alert(self, alert_id: int, comment: str, user: str, origin: str = "local") -> Alert:
        # As with stop reasons, the engine knows who asks from the socket.
        alert: Alert = await self.call("acknowledge_alert", id=alert_id, comment=comment)
        return alert

    async def shelve_alert(self, alert_id: int, until: float, user: str, origin: str = "local") -> Alert:
        alert: Alert = await self.call("shelve_alert", id=alert_id, until=until)
        return alert

    async def reload(self, config: Config) -> object:
        return await self.call("reload_config")

    async def reload_planning(self) -> None:
        await self._load_planning()

    # ------------------------------------------------------------ the connection

    async def call(self, op: str, /, **args: Any) -> Any:
        """A request to the engine; raises EngineLost at once while it is gone (never queued, never lost)."""
        client = self.client
        if client is None or self.lost is not None:
            raise EngineLost(f"not sent: {self.lost or 'not attached to an engine'}")
        return await client.call(op, **args)

    def call_from_thread(self, op: str, /, **args: Any) -> Any:
        """`call` from a thread worker (a screen's reads): blocks that thread, never the loop, until the engine
        answers; raises as `call` does."""
        loop = self._loop
        if loop is None:
            raise EngineLost("not sent: not attached to an engine")
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # no loop runs in this thread: a worker's thread, as it should be
            running = None
        if running is loop:
            raise RuntimeError("call_from_thread on the engine connection's own loop would wait forever")
        return asyncio.run_coroutine_threadsafe(self.call(op, **args), loop).result()

    async def _attach(self) -> None:
        self._loop = asyncio.get_running_loop()
        client = await EngineClient.attach(self.data_dir, origin=self.origin, person=self.person, pin=self.pin)
        client.on_lost = self._on_lost
        client.on_snapshot = self._pushed
        self.client = client
        await client.subscribe()
        self.lost = None
        with contextlib.suppress(Exception):  # the plant runs without it; a failure is logged there
            await self._load_planning()
        with contextlib.suppress(Exception):  # the engine may have taken a changed config meanwhile
            await self._load_config()
        self._changed()

    async def _load_config(self) -> None:
        """The config the engine runs on now (as it sends it: without secrets); the demo's stays as it is."""
        answer = await self.call("config")
        self.config = config_from_answer(answer, self.config)
        self.built_in_config_text = answer.get("built_in")

    async def _load_planning(self) -> None:
        records: PlanningRecords = await self.call("planning")
        self._planning = Planning.from_records(records)

    def _pushed(self, snapshot: PlantSnapshot) -> None:
        if self.on_snapshot is not None:
            self.on_snapshot(snapshot)

    def _on_lost(self, why: str) -> None:
        self.lost = why
        self._changed()
        if not self._stopping and (self._reattach is None or self._reattach.done()):
            self._reattach = asyncio.create_task(self._attach_again(), name="reattach")

    async def _attach_again(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.reattach_every_s)
            try:
                await self._attach()
            except NoEngine:
                continue
            except Exception as exc:  # refused now (a changed [access]): said, and tried again
                self.lost = f"the engine is back but refused this TUI: {exc}"
                self._changed()
                continue
            log.info("attached again to engine pid %s", self.pid)
            return

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()
