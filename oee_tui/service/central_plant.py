"""The plant as the central database sees it, for `oee --central URL`: every edge box and site, read only.

A `PlantEngine` with no acquisition and no store: its config names every machine of the central database
(`central_review.central_config`), its review figures come from `CentralReads`, and it refuses every change
(`may` allows only viewing; `set_stop_reason` raises). Stop reasons are given on the edge boxes, whose
sync brings them here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from oee_tui.config import Config
from oee_tui.drivers.discovered_metrics import DiscoveredMetrics
from oee_tui.engine.live.observers import EngineObserver
from oee_tui.engine.oee.planning_rules import Planning
from oee_tui.model import Alert, MachineDetail, PlantSnapshot
from oee_tui.model.access import Action
from oee_tui.model.data_quality import QualityReport
from oee_tui.service.central_review import CentralReads, central_config, connect
from oee_tui.store import Store

READ_ONLY: str = "The central view is read only: give reasons and change settings on the edge box."


class CentralPlant:
    """Every machine of the central database at `url`; `base` gives the time zone, shifts and targets."""

    def __init__(self, url: str, base: Config, clock: Callable[[], float] = time.time) -> None:
        self.url = url
        self.reads = CentralReads(url)
        with connect(url) as conn:
            self.config = central_config(conn, base)
        self._clock = clock

    @property
    def store(self) -> Store | None:
        return None

    @property
    def observers(self) -> Sequence[EngineObserver]:
        return ()

    @property
    def planning(self) -> Planning:
        return Planning.empty()

    def may(self, action: Action) -> bool:
        return action is Action.VIEW

    async def start(self) -> None:
        """Nothing to start: the edges acquire, the central database holds what they pushed."""

    async def stop(self) -> None:
        """Nothing to flush: nothing is written."""

    def snapshot(self) -> PlantSnapshot:
        return PlantSnapshot(self._clock(), None, ())

    def discovered_metrics(self, source: str) -> DiscoveredMetrics | None:
        return None  # no device is reached from the central view

    async def machine_detail(self, machine: str) -> MachineDetail:
        raise KeyError(f"{machine}: the central view has no live machine detail")

    async def data_quality(self, source: str | None = None, *, tags: bool = True) -> QualityReport:
        raise KeyError("the central view has no live data-quality checks: ask the edge box (`oee quality`)")

    async def acknowledge_alert(self, alert_id: int, comment: str, user: str, origin: str = "local") -> Alert:
        raise PermissionError(READ_ONLY)

    async def shelve_alert(self, alert_id: int, until: float, user: str, origin: str = "local") -> Alert:
        raise PermissionError(READ_ONLY)

    async def set_stop_reason(self, machine: str, stop_start: float, reason: str, user: str,
                              origin: str = "local") -> None:
        raise PermissionError(READ_ONLY)

    async def reload(self, config: Config) -> object:
        raise PermissionError(READ_ONLY)

    async def reload_planning(self) -> None:
        """The central view reads no planning data of its own."""
