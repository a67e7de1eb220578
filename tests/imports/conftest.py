"""Fixtures shared by the import tests that run `oee` as a user would."""

from __future__ import annotations

from pathlib import Path

import pytest

from oee_tui.config import Config
from oee_tui.drivers.registry import config_from_dict


@pytest.fixture
def paths(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, Path]:
    """The config file (the test module's CONFIG) and the data dir of one `oee` run."""
    config = tmp_path / "oee.toml"
    config.write_text(request.module.CONFIG, encoding="utf-8")
    return config, tmp_path / "data"


@pytest.fixture
def config() -> Config:
    """One line, one machine with product A at 1 s a part (a module may define its own)."""
    return config_from_dict({
        "site": {"name": "Test", "timezone": "Europe/Berlin"},
        "lines": [{"id": "L1"}],
        "machines": [{"id": "M1", "line": "L1", "ideal_cycle_time_s": 1.0, "product_cycle_times": {"A": 1.0}}],
    })
