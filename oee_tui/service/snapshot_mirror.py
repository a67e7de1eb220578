"""The client's copy of the engine's plant, rebuilt from the pushes (`snapshot_push`)."""

from __future__ import annotations

from typing import Any

from oee_tui.model import MachineSnapshot, PlantSnapshot, SourceStatus


class SnapshotMirror:
    def __init__(self) -> None:
        self._machines: dict[str, MachineSnapshot] = {}
        self._order: tuple[str, ...] = ()
        self._sources: dict[str, SourceStatus] = {}
        self._source_order: tuple[str, ...] = ()
        self.latest: PlantSnapshot | None = None

    def apply(self, push: dict[str, Any]) -> PlantSnapshot:
        if push.get("full"):
            self._machines.clear()
            self._sources.clear()
        for machine in push["machines"]:
            self._machines[machine.machine] = machine
        for source in push["sources"]:
            self._sources[source.name] = source
        if push.get("order") is not None:
            self._order = push["order"]
            self._machines = {key: self._machines[key] for key in self._order if key in self._machines}
        if push.get("source_order") is not None:
            self._source_order = push["source_order"]
            self._sources = {key: self._sources[key] for key in self._source_order if key in self._sources}
        self.latest = PlantSnapshot(
            ts=push["ts"], shift=push["shift"],
            machines=tuple(self._machines[key] for key in self._order if key in self._machines),
            plant=push["plant"], lines=push["lines"],
            sources=tuple(self._sources[key] for key in self._source_order if key in self._sources),
            store=push["store"], sync=push.get("sync"),
        )
        return self.latest
