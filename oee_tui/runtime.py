"""Builds what the CLI runs: an engine on a config and a store, with what observes its output,
with or without the demo plant."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypedDict, Unpack

from oee_tui.config import Config
from oee_tui.engine.live.acquisition import DriverFactory
from oee_tui.engine.live.engine import Engine, ReloadSummary
from oee_tui.engine.live.observers import EngineObserver
from oee_tui.engine.oee.planning_rules import Planning
from oee_tui.model import MachineDetail, PlantSnapshot
from oee_tui.store import Store

DEMO_SUBDIR = "demo"


class EngineOptions(TypedDict, total=False):
    """Engine's keyword arguments (see Engine.__init__ for what each does)."""

    clock: Callable[[], float]
    driver_factory: DriverFactory
    tick_s: float
    flush_interval_s: float
    acquire: bool
    summary_delay_s: float
    summary_every_s: float


def build_engine(config: Config, store: Store | None, **options: Unpack[EngineOptions]) -> Engine:
    """The engine of a plant with the observers of its output attached: the Sparkplug edge node
    when ``[edge] enabled``, the central sync when ``[central]`` is set (with an interval).
    Every engine the CLI and the demo run is built here."""
    engine = Engine(config, store, **options)
    if config.edge.enabled:
        from oee_tui.edge.node import EdgeNode  # paho is loaded only for plants that publish

        engine.add_observer(EdgeNode(config.edge, config.machines))
    if config.central is not None and config.central.interval_s > 0 and store is not None:
        from oee_tui.central.background import BackgroundSync  # psycopg is loaded only for plants that sync

        syncer = BackgroundSync(config, config.central)
        engine.add_observer(syncer)
        engine.sync_health = syncer.health
    return engine


def demo_data_dir(data_dir: Path) -> Path:
    """The demo keeps its own store so it never mixes with a real plant's data."""
    return data_dir / DEMO_SUBDIR


class DemoEngine:
    """The real engine reading the demo plant's real protocol servers.

    Implements PlantEngine. `start()` starts the servers, then the engine on them.
    """

    def __init__(self, store: Store | None, seed: int = 7, clock: Callable[[], float] | None = None,
                 timezone: str = "Europe/Berlin") -> None:
        from oee_tui.demo.servers import DemoPlant

        self.plant = DemoPlant(seed=seed, timezone=timezone)
        self.config: Config = self.plant.config
        options: EngineOptions = {} if clock is None else {"clock": clock}
        self.engine = build_engine(self.config, store, **options)
        self._plant_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # The servers first (asyncua takes ~2 s): an engine that connected before the OPC-UA server was
        # up began every demo with line L2 OFFLINE and a connection error. The TUI's first frame does not
        # wait for this: the app starts an engine in a worker.
        self._plant_task = asyncio.create_task(self.plant.start(), name="demo-plant")
        await self._plant_task
        await self.engine.start()

    async def stop(self) -> None:
        try:
            await self.engine.stop()
        finally:  # the simulated plant stops even when the engine reports unsaved data
            await self._stop_plant()

    async def _stop_plant(self) -> None:
        if self._plant_task is not None and not self._plant_task.done():
            self._plant_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._plant_task
        await self.plant.stop()

    @property
    def store(self) -> Store | None:
        return self.engine.store

    @property
    def observers(self) -> Sequence[EngineObserver]:
        return self.engine.observers

    @property
    def planning(self) -> Planning:
        return self.engine.planning

    @property
    def built_in_config_text(self) -> str:
        """The demo's devices live here, not in a file: the device screen shows them read-only."""
        return self.plant.config_text()

    def snapshot(self) -> PlantSnapshot:
        return self.engine.snapshot()

    async def machine_detail(self, machine: str) -> MachineDetail:
        return await self.engine.machine_detail(machine)

    async def set_stop_reason(self, machine: str, stop_start: float, reason: str, user: str,
                              origin: str = "local") -> None:
        await self.engine.set_stop_reason(machine, stop_start, reason, user, origin)

    async def reload(self, config: Config) -> ReloadSummary:
        self.config = config
        return await self.engine.reload(config)

    async def reload_planning(self) -> None:
        await self.engine.reload_planning()
