"""The two ways site acceptance reaches the plant: on its own (no engine runs: it opens the devices and
the store itself) or through the engine that serves the data dir (its requests, its store)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from oee_tui import device_checks
from oee_tui.config import Config, SourceConfig
from oee_tui.drivers.base import TagReading
from oee_tui.service.client import EngineClient

# An engine whose store has waited longer than this for a write is not "writable" for acceptance.
UNSAVED_FOR_TOO_LONG_S: Final = 30.0


class LocalAccess:
    def __init__(self, config: Config, data_dir: Path) -> None:
        self.config = config
        self.data_dir = data_dir

    async def check_sources(self) -> Sequence[device_checks.SourceCheck]:
        return await device_checks.check_all(self.config)

    async def read_tags(self, source: SourceConfig) -> Sequence[TagReading]:
        return await device_checks.test_source(self.config, source)

    async def clock_offset(self, source: SourceConfig) -> float | None:
        reading = await device_checks.read_source_clock(self.config, source)
        return None if reading is None else reading.offset_s

    async def store_problem(self) -> str | None:
        return await asyncio.to_thread(self._store_problem)

    def _store_problem(self) -> str | None:
        from oee_tui.store import Store  # DuckDB: only when the store is checked here

        with Store.open(self.data_dir) as store:  # raises what is wrong: locked, damaged, a refusing disk
            store.check_writable()
        return None


class EngineAccess:
    def __init__(self, client: EngineClient) -> None:
        self.client = client

    async def check_sources(self) -> Sequence[device_checks.SourceCheck]:
        answer = await self.client.call("devices_list")
        return tuple(answer["checks"])

    async def read_tags(self, source: SourceConfig) -> Sequence[TagReading]:
        return tuple(await self.client.call("device_test", name=source.name))

    async def clock_offset(self, source: SourceConfig) -> float | None:
        offset = await self.client.call("device_clock", name=source.name)
        return None if offset is None else float(offset)

    async def store_problem(self) -> str | None:
        """The engine owns the store: it is writable when the engine's last flush reached it."""
        status = await self.client.call("status")
        health = status["store"]
        if health.last_error is not None:
            return f"the engine cannot write its store: {health.last_error}"
        if health.unsaved_since is not None and time.time() - health.unsaved_since > UNSAVED_FOR_TOO_LONG_S:
            return f"the engine's store has not taken a write for {time.time() - health.unsaved_since:.0f} s"
        return None
