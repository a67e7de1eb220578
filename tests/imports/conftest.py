"""Fixtures shared by the import tests that run `oee` as a user would."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def paths(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, Path]:
    """The config file (the test module's CONFIG) and the data dir of one `oee` run."""
    config = tmp_path / "oee.toml"
    config.write_text(request.module.CONFIG, encoding="utf-8")
    return config, tmp_path / "data"
