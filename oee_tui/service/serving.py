"""Serving an engine's socket for as long as the process owns the store: `oee engine`, or the TUI that
owns the store when no engine runs."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from oee_tui.engine.api import PlantEngine
from oee_tui.service.server import EngineServer

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def serving(engine: PlantEngine, *, data_dir: Path, config_path: Path | None) -> AsyncIterator[EngineServer]:
    """The engine's socket, open while the block runs; closed (clients told) before the engine stops."""
    server = EngineServer(engine, None, data_dir=data_dir, config_path=config_path)
    await server.start()
    try:
        yield server
    finally:
        await server.close()
