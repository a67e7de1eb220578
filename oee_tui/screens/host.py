"""What a screen asks of the app it runs in, as a Protocol: the screens never import the app.

`oee_tui.app.OeeApp` provides all of it; mypy checks that where the app is defined.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar, cast

from textual.screen import Screen

from oee_tui.model.access import Action
from oee_tui.service.central_plant import CentralPlant
from oee_tui.service.remote_engine import RemoteEngine

if TYPE_CHECKING:
    from oee_tui.config import Config
    from oee_tui.config.edit import ConfigDocument
    from oee_tui.engine.api import PlantEngine
    from oee_tui.model import PlantSnapshot

ResultT = TypeVar("ResultT")


class ScreenHost(Protocol):
    """The app's side of its screens: the plant's engine, its newest snapshot, paths, and the moves between screens."""

    @property
    def engine(self) -> PlantEngine | None: ...

    @property
    def latest_snapshot(self) -> PlantSnapshot | None: ...

    @property
    def config_path(self) -> Path: ...

    @property
    def data_dir(self) -> Path: ...

    @property
    def detail_refresh_interval(self) -> float | None: ...

    @property
    def demo_factory(self) -> Callable[[], PlantEngine] | None: ...

    @property
    def clock(self) -> Callable[[], float]: ...

    def use_engine(self, engine: PlantEngine) -> None: ...

    def action_live(self) -> None: ...

    async def apply_config(self, document: ConfigDocument) -> Config | None: ...


class PlantScreen(Screen[ResultT]):
    """A screen of this app: reaches the plant through its host, never through the app's class."""

    @property
    def oee_app(self) -> ScreenHost:
        return cast("ScreenHost", self.app)

    @property
    def engine(self) -> PlantEngine:
        engine = self.oee_app.engine
        if engine is None:  # the app opens the screens that need it only once it has an engine
            raise RuntimeError("no engine")
        return engine

    @property
    def config(self) -> Config:
        return self.engine.config

    def may(self, action: Action) -> bool:
        """Whether this screen should offer `action`: on a TUI attached to an engine, only what the user's
        role may do (the engine enforces it); a TUI that owns the store may do everything."""
        return may(self.oee_app.engine, action)


def may(engine: object, action: Action) -> bool:
    """`PlantScreen.may` for a given engine (the app's own bindings ask too)."""
    return engine.may(action) if isinstance(engine, RemoteEngine | CentralPlant) else True
