"""Serving an engine's socket for as long as the process owns the store: `oee engine`, or the TUI that
owns the store when no engine runs."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from oee_tui.engine.api import PlantEngine
from oee_tui.model.access import Caller, Role
from oee_tui.service.server import AccessPolicy, EngineServer

log = logging.getLogger(__name__)


class OwnerOnly:
    """PLACEHOLDER until [access] merges: the engine's own user and root are admins; nobody else."""

    socket_group: str | None = None

    def role_of(self, caller: Caller) -> Role | None:
        return Role.ADMIN if caller.uid in (0, os.getuid()) else None

    def people_of(self, account: str) -> Sequence[object]:
        return ()

    def check_pin(self, account: str, name: str, pin: str) -> Role | None:
        return None


def access_of(engine: PlantEngine) -> AccessPolicy:
    return OwnerOnly()


@contextlib.asynccontextmanager
async def serving(engine: PlantEngine, *, data_dir: Path, config_path: Path | None) -> AsyncIterator[EngineServer]:
    """The engine's socket, open while the block runs; closed (clients told) before the engine stops."""
    server = EngineServer(engine, access_of(engine), data_dir=data_dir, config_path=config_path)
    await server.start()
    try:
        yield server
    finally:
        await server.close()
