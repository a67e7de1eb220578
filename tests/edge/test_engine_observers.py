"""The seam between the engine and the edge node: the engine's observers, and build_engine, which
attaches the edge node when ``[edge]`` is enabled. Real engine and DuckDB store; the observer
here is a small real class that records what the engine hands it and uses the store as the edge
node does, through the engine's writer thread."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from oee_tui.config import Config
from oee_tui.edge.node import EdgeNode
from oee_tui.engine.live.observers import EngineContext
from oee_tui.model import SampleColumns, TagSample
from oee_tui.runtime import build_engine
from oee_tui.store import Store
from tests.edge.edge_fixtures import plant_config, sample


class Recorder:
    """Records the engine's calls in order; at start and stop it reads the store in the writer thread."""

    def __init__(self) -> None:
        self.calls: list[object] = []
        self.batches: list[list[TagSample]] = []
        self.context: EngineContext | None = None

    def observe(self, batch: Sequence[TagSample]) -> None:
        self.batches.append(list(batch))

    async def start(self, engine: EngineContext) -> None:
        self.context = engine
        self.calls.append(("start", await engine.in_writer(_thread_and_buffer_rows, engine.store)))

    def reload(self, config: Config) -> None:
        self.calls.append(("reload", [machine.id for machine in config.machines]))

    async def stop(self) -> None:
        assert self.context is not None
        self.calls.append(("stop", await self.context.in_writer(_thread_and_buffer_rows, self.context.store)))


def _thread_and_buffer_rows(store: Store | None) -> tuple[str, int]:
    assert store is not None
    return threading.current_thread().name.split("_")[0], store.edge_buffer_extent()[0]


def without_edge(config: Config) -> Config:
    return replace(config, edge=replace(config.edge, enabled=False))


def test_build_engine_attaches_the_edge_node_only_when_edge_is_enabled(tmp_path: Path) -> None:
    config = plant_config(1883)
    with Store.open(tmp_path / "data") as store:
        assert [type(observer) for observer in build_engine(config, store).observers] == [EdgeNode]
        assert build_engine(without_edge(config), store).observers == []


async def test_an_observer_starts_sees_every_batch_reloads_and_stops_before_the_store_closes(tmp_path: Path) -> None:
    config = without_edge(plant_config(1883))
    store = Store.open(tmp_path / "data")
    engine = build_engine(config, store, acquire=False, tick_s=0.05, flush_interval_s=0.2)
    recorder = Recorder()
    engine.add_observer(recorder)
    await engine.start()
    try:
        assert recorder.context is not None and recorder.context.clock is engine.clock
        with pytest.raises(RuntimeError, match="before the engine starts"):
            engine.add_observer(Recorder())
        engine.ingest([sample("hr:0", 1, 1_800_000_000.0), sample("unknown", 2, 1_800_000_000.0)])
        # The Sparkplug host's columns reach observers as samples too.
        engine.ingest(SampleColumns("plc", [1_800_000_001.0], ["hr:0"], [2]))
        await engine.reload(replace(config, machines=config.machines[:1]))
    finally:
        await engine.stop()
    assert [[(s.tag, s.value) for s in batch] for batch in recorder.batches] == [
        [("hr:0", 1), ("unknown", 2)], [("hr:0", 2)]]
    # Store calls run in the engine's one writer thread, and the store is still open at stop().
    assert recorder.calls == [("start", ("oee-store", 0)), ("reload", ["M1"]), ("stop", ("oee-store", 0))]
    assert store.closed
