"""Builds what the CLI runs: an engine on a config and a store, with or without the demo plant."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

from oee_tui.config import Config
from oee_tui.engine.live.engine import Engine, ReloadSummary
from oee_tui.model import MachineDetail, PlantSnapshot
from oee_tui.store import Store

DEMO_SUBDIR = "demo"


def demo_data_dir(data_dir: Path) -> Path:
    """The demo keeps its own store so it never mixes with a real plant's data."""
    return data_dir / DEMO_SUBDIR


class DemoEngine:
    """The real engine reading the demo plant's real protocol servers.

    Implements PlantEngine. The servers start in the background: the engine's
    sources reconnect with backoff until they answer, so the first frame never
    waits for asyncua's ~2 s start-up.
    """

    def __init__(self, store: Store | None, seed: int = 7, clock: Callable[[], float] | None = None,
                 timezone: str = "Europe/Berlin") -> None:
        from oee_tui.demo.servers import DemoPlant

        self.plant = DemoPlant(seed=seed, timezone=timezone)
        self.config: Config = self.plant.config
        self.engine = Engine(self.config, store) if clock is None else Engine(self.config, store, clock=clock)
        self._plant_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._plant_task = asyncio.create_task(self.plant.start(), name="demo-plant")
        await self.engine.start()

    async def stop(self) -> None:
        await self.engine.stop()
        if self._plant_task is not None and not self._plant_task.done():
            self._plant_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._plant_task
        await self.plant.stop()

    @property
    def store(self) -> Store | None:
        return self.engine.store

    @property
    def built_in_config_text(self) -> str:
        """The demo's devices live here, not in a file: the device screen shows them read-only."""
        return self.plant.config_text()

    def snapshot(self) -> PlantSnapshot:
        return self.engine.snapshot()

    async def machine_detail(self, machine: str) -> MachineDetail:
        return await self.engine.machine_detail(machine)

    async def set_stop_reason(self, machine: str, stop_start: float, reason: str, user: str) -> None:
        await self.engine.set_stop_reason(machine, stop_start, reason, user)

    async def reload(self, config: Config) -> ReloadSummary:
        self.config = config
        return await self.engine.reload(config)

    async def reload_planning(self) -> None:
        await self.engine.reload_planning()
