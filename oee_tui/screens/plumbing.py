"""What a screen asks of the app it runs in: the app itself, its engine and the plant's config."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from textual.app import App

    from oee_tui.app import OeeApp
    from oee_tui.config import Config
    from oee_tui.engine.api import PlantEngine


class AppPlumbing:
    """A mixin for this app's screens, placed before Screen in the bases."""

    if TYPE_CHECKING:
        @property
        def app(self) -> App[object]: ...

    @property
    def oee_app(self) -> OeeApp:
        return cast("OeeApp", self.app)

    @property
    def engine(self) -> PlantEngine:
        engine = self.oee_app.engine
        if engine is None:  # the app opens the screens that need it only once it has an engine
            raise RuntimeError("no engine")
        return engine

    @property
    def config(self) -> Config:
        return self.engine.config
