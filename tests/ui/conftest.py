"""Fixtures for the UI tests: a StaticEngine (alone or over a real store), a frozen clock, and an app with no live
refresh."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from oee_tui.app import OeeApp
from oee_tui.engine.api import PlantEngine
from oee_tui.store import Store
from tests.ui.fakes import OPERATOR, StaticEngine, frozen_clock
from tests.ui.review_history import StoreEngine, fill

# Fixed, made-up paths: the first-run screen prints them, and snapshots must not depend on $HOME.
CONFIG_PATH = Path("/srv/oee/oee.toml")
DATA_DIR = Path("/srv/oee/data")

AppFactory = Callable[..., OeeApp]


@pytest.fixture(autouse=True)
def _operator(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reason's user comes from getpass; pin it so recorded calls are the same everywhere."""
    monkeypatch.setattr("oee_tui.screens.machine_detail.getpass.getuser", lambda: OPERATOR)


@pytest.fixture
def engine() -> StaticEngine:
    return StaticEngine()


@pytest.fixture
def store_engine(tmp_path: Path) -> Iterator[StoreEngine]:
    """A StoreEngine over a real store in tmp_path that holds the shift history (review_history.py)."""
    engine = StoreEngine()
    store = Store.open(tmp_path / "data")
    fill(store, engine)
    engine.store = store
    yield engine
    store.close()


@pytest.fixture
def make_app() -> AppFactory:
    def make(engine: PlantEngine | None, *, demo_factory: Callable[[], PlantEngine] | None = None) -> OeeApp:
        # refresh_interval=None: no timers; tests deliver every snapshot by hand with show_snapshot.
        return OeeApp(engine, config_path=CONFIG_PATH, data_dir=DATA_DIR, demo_factory=demo_factory,
                      clock=frozen_clock, refresh_interval=None)

    return make
