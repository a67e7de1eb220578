"""`oee --central URL`: the shift review over the central database, every edge box and site, read only.

A small app of its own, not OeeApp: there is no engine to start, no live screen, no store, nothing to
import or configure. It hosts the review screen (`screens/shift_review`) on a `CentralPlant`, whose
figures come from the central database; every change is refused there.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType

from oee_tui.config import Config
from oee_tui.config.edit import ConfigDocument
from oee_tui.engine.api import PlantEngine
from oee_tui.model import PlantSnapshot
from oee_tui.screens.shift_review.review_screen import ReviewScreen
from oee_tui.service.central_plant import READ_ONLY, CentralPlant


class CentralApp(App[int]):
    """The review screen on `plant`; the screens' host (`screens.host.ScreenHost`)."""

    TITLE = "oee central"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="central.quit", tooltip="Close the central view"),
        Binding("ctrl+c", "quit", "Quit", show=False, id="central.quit-ctrl-c"),
    ]

    def __init__(self, plant: CentralPlant, *, config_path: Path, data_dir: Path,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.engine: PlantEngine | None = plant
        self.latest_snapshot: PlantSnapshot | None = None
        self.config_path = config_path
        self.data_dir = data_dir
        self.detail_refresh_interval: float | None = None
        self.demo_factory: Callable[[], PlantEngine] | None = None
        self.clock = clock

    def on_mount(self) -> None:
        self.sub_title = f"central: {len(self.engine.config.machines) if self.engine else 0} machines, read only"
        self.push_screen(ReviewScreen())

    def use_engine(self, engine: PlantEngine) -> None:
        self.engine = engine

    def action_live(self) -> None:
        """There is no live plant here: the review is all the central view shows."""
        self.notify("The central view shows the review only; live status is on each edge box.", timeout=5)

    async def apply_config(self, document: ConfigDocument) -> Config | None:
        self.notify(READ_ONLY, severity="warning")
        return None
