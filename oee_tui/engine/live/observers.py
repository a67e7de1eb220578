"""What watches the engine's output: an observer sees every batch of samples the engine takes
in, starts and stops with the engine, and hears of a changed config.

The engine knows its observers only through this protocol; whoever composes an engine attaches
them (oee_tui.runtime.build_engine attaches the Sparkplug edge node of oee_tui.edge).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar, TypeVarTuple

from oee_tui.config import Config
from oee_tui.model import TagSample
from oee_tui.store import Store

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


class StoreWriter(Protocol):
    """Runs a function in the engine's one store-writer thread and awaits its result: DuckDB has
    one writer, and the event loop never waits for the store."""

    def __call__(self, fn: Callable[[*Ts], T], *args: *Ts) -> Awaitable[T]: ...


@dataclass(frozen=True, slots=True)
class EngineContext:
    """What an observer may use of the engine it observes; handed over by Engine.start()."""

    store: Store | None  # None when the engine runs without one
    in_writer: StoreWriter  # every store call of an observer goes through here
    clock: Callable[[], float]


class EngineObserver(Protocol):
    def observe(self, batch: Sequence[TagSample]) -> None:
        """Every batch the engine ingests, before it routes it, on the event loop. It runs per
        ingest: keep it cheap, and never wait."""
        ...

    async def start(self, engine: EngineContext) -> None:
        """At the end of Engine.start(); returns once the observer's own tasks run."""
        ...

    def reload(self, config: Config) -> None:
        """A changed config while running, once the engine's machines have taken it."""
        ...

    async def stop(self) -> None:
        """At Engine.stop(), after the engine's last flush and before the store closes: what the
        observer still has to write goes through the store-writer thread now."""
        ...
