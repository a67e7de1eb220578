"""The pytest plugin a suite phase runs with (`-p oee_tui.validation.suite_plugin`): progress lines for the
runner's bar, and every warning pytest records written into the JUnit XML (which has no element of
its own for them) as a testsuite property, so that warnings are counted from the XML like the rest."""

from __future__ import annotations

from typing import Any

import pytest

from oee_tui.validation.junit import WARNING_PROPERTY
from oee_tui.validation.progress_lines import progress_line
from oee_tui.validation.suite_phases import SUITE_PHASES

_state: dict[str, Any] = {"total": 0, "done": 0, "warnings": []}


def _say(config: pytest.Config, line: str) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line)  # on a line of its own, after any progress dots
        reporter.flush()


def pytest_collection_finish(session: pytest.Session) -> None:
    _state["total"] = len(session.items)
    _say(session.config, progress_line(0, _state["total"]))


@pytest.hookimpl(trylast=True)
def pytest_runtest_logfinish(nodeid: str, location: tuple[str, int | None, str]) -> None:
    _state["done"] += 1
    config = _state.get("config")
    if config is not None:
        _say(config, progress_line(_state["done"], _state["total"]))


def pytest_configure(config: pytest.Config) -> None:
    _state["config"] = config
    # The project registers them in pyproject.toml; a suite without them would warn once per marker.
    for phase in SUITE_PHASES:
        config.addinivalue_line("markers", f"{phase.marker}: validation phase: {phase.title.lower()}")


def pytest_warning_recorded(warning_message: Any, when: str, nodeid: str, location: Any) -> None:
    where = nodeid or when
    _state["warnings"].append(f"{where}: {warning_message.category.__name__}: {warning_message.message}")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    # Before junitxml's own sessionfinish, which writes the file with its global properties.
    from _pytest.junitxml import xml_key

    xml = session.config.stash.get(xml_key, None)
    if xml is not None:
        for warning in _state["warnings"]:
            xml.add_global_property(WARNING_PROPERTY, warning)
