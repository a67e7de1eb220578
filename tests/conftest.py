"""The whole suite's one hook: every test gets the marker of its validation phase, by its path
(oee_tui/validation/suite_phases.py), so `oee validate` can run the suite phase by phase."""

from __future__ import annotations

from pathlib import Path

import pytest

from oee_tui.validation.suite_phases import mark_items


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mark_items(items, Path(__file__).parent)
