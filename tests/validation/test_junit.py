"""JUnit XML counting: counts come from the elements, never from names or output."""

from __future__ import annotations

from pathlib import Path

import pytest

from oee_tui.validation.junit import CaseResult, Counts, JunitError, Outcome, read_junit, write_junit

PYTEST_XML = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="5">
<properties><property name="oee-validate-warning" value="tests/x.py::test_old: DeprecationWarning: old"/></properties>
<testcase classname="tests.x" name="test_counts_warnings" time="0.01"><system-out>3 warnings</system-out></testcase>
<testcase classname="tests.x" name="test_fails_on_warnings" time="0.01"><failure message="assert 1 == 2">trace
</failure></testcase>
<testcase classname="tests.x" name="test_skip_warnings" time="0"><skipped message="no PLC"/></testcase>
<testcase classname="tests.x" name="test_old" time="0.01"/>
<testcase classname="tests.x" name="test_teardown" time="0.01"><failure message="f"/><error message="teardown"/>
</testcase>
</testsuite></testsuites>"""


def test_counts_come_from_elements_not_from_names_or_output(tmp_path: Path) -> None:
    path = tmp_path / "phase.xml"
    path.write_text(PYTEST_XML)
    results = read_junit(path)
    assert results.counts == Counts(passed=2, failed=1, skipped=1, errors=1, warnings=1)
    outcomes = {case.name: case.outcome for case in results.cases}
    assert outcomes["test_counts_warnings"] is Outcome.PASSED
    assert outcomes["test_teardown"] is Outcome.ERROR  # an error outweighs a failure


def test_our_own_results_round_trip(tmp_path: Path) -> None:
    cases = [CaseResult("plc1 reachable", Outcome.PASSED, "answered in 3 ms", "site.sources", 0.003),
             CaseResult("plc2 reachable", Outcome.FAILED, "connection refused", "site.sources"),
             CaseResult("plc2 clock", Outcome.SKIPPED, "plc2 did not answer", "site.clocks")]
    path = tmp_path / "site.xml"
    write_junit(path, "site", cases, ["a warning"])
    results = read_junit(path)
    assert results.counts == Counts(passed=1, failed=1, skipped=1, warnings=1)
    assert [(c.name, c.outcome, c.message) for c in results.cases] == [(c.name, c.outcome, c.message) for c in cases]


def test_missing_or_cut_short_xml_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(JunitError, match="no JUnit XML"):
        read_junit(tmp_path / "none.xml")
    (tmp_path / "cut.xml").write_text("<testsuites><testsuite>")
    with pytest.raises(JunitError, match="not readable"):
        read_junit(tmp_path / "cut.xml")
