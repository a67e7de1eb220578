"""The sources' tasks: per source, its runner (connect, read, reconnect; acquisition.py) and a
consumer that hands each batch the runner queued to the engine."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from functools import partial

from oee_tui.config import Config, SourceConfig, TagMapping
from oee_tui.drivers.registry import kind_of, make_driver
from oee_tui.engine.live.acquisition import Batch, DriverFactory, SourceRunner
from oee_tui.model import BornMetrics, DeadLetter, TagSample


def tags_of(config: Config, source: str) -> list[TagMapping]:
    """The tag maps of every machine that `source` feeds."""
    return [
        mapping
        for machine in config.machines
        for mapping in machine.signals.values()
        if mapping.source == source
    ]


class SourceTasks:
    def __init__(self, ingest: Callable[[Batch], None], on_online_change: Callable[[], None],
                 on_dead_letter: Callable[[DeadLetter], None], on_historical: Callable[[Sequence[TagSample]], None],
                 driver_factory: DriverFactory | None, *,
                 on_counter_widths: Callable[[str, Mapping[str, int]], None] | None = None,
                 on_births: Callable[[str, Sequence[BornMetrics]], None] | None = None) -> None:
        """`ingest` takes each batch; `on_online_change` hears when a source goes offline or comes back;
        every runner hands its undecodable payloads to `on_dead_letter`, its historical samples
        (never routed) to `on_historical`, the counter widths its driver learns (source name,
        tag -> bits) to `on_counter_widths`, and what its devices' births declare to `on_births`.
        Without a `driver_factory` each source gets its kind's driver, with the config's own path
        (OPC-UA's certificates are beside the file)."""
        self.ingest = ingest
        self.on_online_change = on_online_change
        self.on_dead_letter = on_dead_letter
        self.on_historical = on_historical
        self.on_counter_widths = on_counter_widths
        self.on_births = on_births
        self.driver_factory = driver_factory
        self.runners: list[SourceRunner] = []
        self._tasks: dict[str, list[asyncio.Task[None]]] = {}

    def start(self, source: SourceConfig, config: Config) -> None:
        """Start reading `source`, unless no machine maps a tag of it and it keeps only mapped tags."""
        tags = tags_of(config, source.name)
        if not tags and not kind_of(source).keeps_every_sample(source):
            return
        factory = self.driver_factory or partial(make_driver, config_path=config.path)
        runner = SourceRunner(source, tags, factory)
        runner.on_dead_letter = self.on_dead_letter
        runner.on_historical = self.on_historical
        if self.on_counter_widths is not None:
            runner.on_counter_widths = partial(self.on_counter_widths, source.name)
        if self.on_births is not None:
            runner.on_births = partial(self.on_births, source.name)
        self.runners.append(runner)
        self._tasks[source.name] = [
            asyncio.create_task(runner.run(), name=f"source:{source.name}"),
            asyncio.create_task(self._consume(runner), name=f"consume:{source.name}"),
        ]

    async def stop(self, name: str) -> None:
        """Stop one source's acquisition and take in what it had queued."""
        tasks = self._tasks.pop(name, [])
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for runner in [runner for runner in self.runners if runner.source.name == name]:
            while not runner.queue.empty():
                self.ingest(runner.queue.get_nowait())
            self.runners.remove(runner)

    async def stop_all(self) -> None:
        for name in list(self._tasks):
            await self.stop(name)

    async def _consume(self, runner: SourceRunner) -> None:
        online = runner.online
        while True:
            batch = await runner.queue.get()
            self.ingest(batch)
            if runner.online != online:
                online = not online
                self.on_online_change()
