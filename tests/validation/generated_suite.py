"""A tiny test directory written for a test: the validation suite's pytest phases run on it, since running
the project's own suite inside itself would recurse. Its conftest assigns markers with the same hook as
tests/conftest.py, by path."""

from __future__ import annotations

import textwrap
from pathlib import Path

CONFTEST = '''
from pathlib import Path

from oee_tui.validation.suite_phases import mark_items


def pytest_collection_modifyitems(config, items):
    mark_items(items, Path(__file__).parent)
'''

# drivers/ is the edge phase, engine/ processing, test_access.py security.
EDGE_TESTS = '''
import warnings

import pytest


def test_passes():
    assert 1 + 1 == 2


def test_reports_warnings():
    """Its name says warnings; it passes and warns nothing: one passed test, no warning."""
    assert "warnings" in test_reports_warnings.__name__


def test_fails():
    assert 1 + 1 == 3, "one and one are not three"


@pytest.mark.skip(reason="needs a real PLC")
def test_skipped():
    pass


def test_warns():
    warnings.warn("an old API", DeprecationWarning)


@pytest.fixture
def broken():
    raise RuntimeError("the fixture broke")


def test_errors(broken):
    pass
'''

PROCESSING_TESTS = '''
def test_processing_passes():
    assert True
'''

SECURITY_TESTS = '''
def test_security_passes():
    assert True
'''

BLOCKING_TESTS = '''
import threading


def test_blocks_until_cancelled():
    threading.Event().wait(600)  # the run under test is cancelled while this waits
'''


def write_suite(root: Path, *, blocking: bool = False) -> Path:
    """Write the tiny suite under `root`; returns its tests folder."""
    tests = root / "tests"
    (tests / "drivers").mkdir(parents=True)
    (tests / "engine").mkdir()
    (tests / "conftest.py").write_text(textwrap.dedent(CONFTEST))
    (tests / "drivers" / "test_edge.py").write_text(textwrap.dedent(EDGE_TESTS))
    (tests / "engine" / "test_processing.py").write_text(textwrap.dedent(PROCESSING_TESTS))
    (tests / "test_access.py").write_text(textwrap.dedent(SECURITY_TESTS))
    if blocking:
        (tests / "engine" / "test_blocking.py").write_text(textwrap.dedent(BLOCKING_TESTS))
    return tests
