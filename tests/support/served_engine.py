"""A real engine serving its data dir on the socket, and a TUI attached to it, for the attached screens' tests.

The engine is the real `Engine` over a real DuckDB store, served by the real `EngineServer`; the TUI is
the real `OeeApp` over a `RemoteEngine`, as `oee` starts it when an engine already serves the data dir.
Access is the service tests' per-user role table (`tests/service/conftest.py`'s `Roles`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from oee_tui.app import OeeApp
from oee_tui.config import Config
from oee_tui.engine.live.engine import Engine
from oee_tui.model.access import Role
from oee_tui.service.remote_engine import RemoteEngine
from oee_tui.service.server import EngineServer
from oee_tui.store import Store
from tests.service.conftest import Roles, me


@dataclass
class ServedPlant:
    engine: Engine
    server: EngineServer
    data_dir: Path
    access: Roles

    @property
    def store(self) -> Store:
        assert self.engine.store is not None
        return self.engine.store


@asynccontextmanager
async def served_plant(data_dir: Path, config: Config, *, role: Role = Role.ADMIN,
                       prepare: Callable[[Store], None] | None = None) -> AsyncIterator[ServedPlant]:
    """An engine on `config` (its sources acquire as in production) owning a store in `data_dir`, which
    `prepare` fills first (history, dead letters), served to this OS user in `role`."""
    store = Store.open(data_dir)
    if prepare is not None:
        prepare(store)
    engine = Engine(config, store, tick_s=0.05)
    access = Roles({me(): role})
    server = EngineServer(engine, access, data_dir=data_dir, config_path=None, push_interval_s=0.05)
    await engine.start()
    await server.start()
    try:
        yield ServedPlant(engine, server, data_dir, access)
    finally:
        await server.close()
        await engine.stop()
        store.close()


@contextmanager
def served_plant_in_thread(data_dir: Path, config: Config, *, role: Role = Role.ADMIN,
                           prepare: Callable[[Store], None] | None = None) -> Iterator[ServedPlant]:
    """`served_plant` on an event loop of its own in another thread, as `oee engine` runs in a process of its
    own: for a test whose app runs its own loop (`snap_compare`)."""
    ready = threading.Event()
    held: dict[str, object] = {}

    async def serve() -> None:
        stop = asyncio.Event()
        async with served_plant(data_dir, config, role=role, prepare=prepare) as plant:
            held.update(plant=plant, loop=asyncio.get_running_loop(), stop=stop)
            ready.set()
            await stop.wait()

    def run() -> None:
        try:
            asyncio.run(serve())
        except BaseException as exc:  # said in the test's thread, not lost in this one
            held["error"] = exc
            ready.set()

    thread = threading.Thread(target=run, name="served-plant", daemon=True)
    thread.start()
    assert ready.wait(30), "the served engine did not start within 30 s"
    error = held.get("error")
    if isinstance(error, BaseException):
        raise AssertionError("the served engine did not start") from error
    try:
        plant = held["plant"]
        assert isinstance(plant, ServedPlant)
        yield plant
    finally:
        loop, stop = held["loop"], held["stop"]
        assert isinstance(loop, asyncio.AbstractEventLoop) and isinstance(stop, asyncio.Event)
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)


def attached_app(data_dir: Path, config: Config, *, clock: Callable[[], float], config_path: Path) -> OeeApp:
    """The TUI `oee` starts on a data dir an engine serves: attached, no live timer (tests drive it)."""
    engine = RemoteEngine(data_dir, config, origin="test", reattach_every_s=0.05)
    return OeeApp(engine, config_path=config_path, data_dir=data_dir, clock=clock, refresh_interval=None)
