"""What the UI may ask of an engine. Screens depend on this, not on Engine itself."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from oee_tui.config import Config
from oee_tui.drivers.discovered_metrics import DiscoveredMetrics
from oee_tui.engine.live.observers import EngineObserver
from oee_tui.engine.oee.planning_rules import Planning
from oee_tui.model import Alert, MachineDetail, PlantSnapshot
from oee_tui.model.data_quality import QualityReport
from oee_tui.store import Store


class PlantEngine(Protocol):
    config: Config

    @property
    def store(self) -> Store | None:
        """The store this engine writes, for screens that query history or write planning data.

        None when the engine runs without one. Its methods are safe from any thread; screens
        call them from thread workers, never on the event loop.
        """
        ...

    @property
    def observers(self) -> Sequence[EngineObserver]:
        """What watches this engine's output: the Sparkplug edge node while [edge] is enabled.
        Screens read their figures (plain attribute reads, never a call that waits)."""
        ...

    @property
    def planning(self) -> Planning:
        """The imported planning data the engine runs on, read at start() and by reload_planning():
        its `calendar(config)` is the plant's one shift calendar, the live screen's and the review's."""
        ...

    async def start(self) -> None:
        """Start acquisition; returns once tasks are running (does not wait for devices)."""
        ...

    async def stop(self) -> None:
        """Stop acquisition and flush everything buffered to the store."""
        ...

    def snapshot(self) -> PlantSnapshot:
        """The newest snapshot; cheap, never blocks.

        Besides the machines it carries `sources`: one SourceStatus per source
        (connected, stale, last error, reads/s, latency p50/p95, error, reconnect
        and dropped-sample counts, queue policy).
        """
        ...

    def discovered_metrics(self, source: str) -> DiscoveredMetrics | None:
        """What `source`'s devices announced in their births (Sparkplug) since the engine started, for
        picking tag maps from; None when nothing was heard (or, attached, ask the engine's device_browse)."""
        ...

    async def machine_detail(self, machine: str) -> MachineDetail:
        """The current shift of one machine: timeline, stops, trend, top reasons."""
        ...

    async def data_quality(self, source: str | None = None, *, tags: bool = True) -> QualityReport:
        """The data-quality checks of every source (or of `source`): this hour so far and the closed hours
        the engine holds (engine/live/data_quality.py), each tag's rows too unless `tags` is False.
        Raises KeyError for a source not in the config."""
        ...

    async def set_stop_reason(self, machine: str, stop_start: float, reason: str, user: str,
                              origin: str = "local") -> None:
        """Record a reason for the stop of `machine` that started at `stop_start`, and its audit entry
        (who: `user`; from where: `origin`, such as "ssh 10.1.2.3" or "tty /dev/pts/4").

        Raises KeyError for an unknown machine/stop and ValueError for an unknown reason.
        """
        ...

    async def acknowledge_alert(self, alert_id: int, comment: str, user: str, origin: str = "local") -> Alert:
        """Acknowledge an alert with a comment; durable, with its audit entry, on return. Raises KeyError for
        an unknown alert and ValueError for an empty comment."""
        ...

    async def shelve_alert(self, alert_id: int, until: float, user: str, origin: str = "local") -> Alert:
        """Shelve an alert until `until` (POSIX seconds): out of the header's count until then. Durable, with
        its audit entry, on return; raises as acknowledge_alert does."""
        ...

    async def reload(self, config: Config) -> object:
        """Take a changed config while running: changed sources reconnect, machines keep their shift."""
        ...

    async def reload_planning(self) -> None:
        """Read the imported planning data again (after an import) and apply it while running:
        shift patterns, reasons, and each machine's schedule, cycle times and thresholds."""
        ...
