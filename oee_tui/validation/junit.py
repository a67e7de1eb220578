"""Results in JUnit XML: the one source of a phase's counts, whoever wrote the file (pytest, or a phase
of our own through `write_junit`).

Counts come from the XML's elements, never from words in a test's name or output: a test called
`test_shows_warnings` is one passed test, not a warning. pytest's JUnit XML has no element for
warnings, so `warning_plugin.py` adds each as a testsuite property named `WARNING_PROPERTY`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Final

WARNING_PROPERTY: Final = "oee-validate-warning"


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class CaseResult:
    """One test case or check: its name, outcome, and what it said (the failure's or skip's message)."""

    name: str
    outcome: Outcome
    message: str = ""
    classname: str = ""
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class Counts:
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    errors: int = 0
    warnings: int = 0

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.skipped + self.errors

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.passed + other.passed, self.failed + other.failed, self.skipped + other.skipped,
                      self.errors + other.errors, self.warnings + other.warnings)


@dataclass(frozen=True, slots=True)
class JunitResults:
    counts: Counts
    cases: tuple[CaseResult, ...]
    warnings: tuple[str, ...] = field(default_factory=tuple)


class JunitError(ValueError):
    """A JUnit XML file that cannot be read: missing, cut short, not JUnit."""


def read_junit(path: Path) -> JunitResults:
    """The cases, counts and warnings of a JUnit XML file (a <testsuites> of <testsuite>s, or one <testsuite>)."""
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        raise JunitError(f"{path}: no JUnit XML was written") from None
    except ET.ParseError as exc:
        raise JunitError(f"{path}: not readable JUnit XML: {exc}") from None
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    if root.tag not in ("testsuite", "testsuites"):
        raise JunitError(f"{path}: the root element is <{root.tag}>, not <testsuites> or <testsuite>")
    cases: list[CaseResult] = []
    warnings: list[str] = []
    for suite in suites:
        for prop in suite.iterfind("properties/property"):
            if prop.get("name") == WARNING_PROPERTY:
                warnings.append(prop.get("value", ""))
        cases.extend(_case(case) for case in suite.iterfind("testcase"))
    return JunitResults(_count(cases, len(warnings)), tuple(cases), tuple(warnings))


def _case(case: ET.Element) -> CaseResult:
    # An error (in setup or teardown) outweighs a failure, a failure a skip.
    for tag, outcome in (("error", Outcome.ERROR), ("failure", Outcome.FAILED), ("skipped", Outcome.SKIPPED)):
        found = case.find(tag)
        if found is not None:
            lines = (found.text or "").strip().splitlines()
            message = found.get("message") or (lines[-1] if lines else "")
            return CaseResult(case.get("name", ""), outcome, message, case.get("classname", ""), _seconds(case))
    said = case.find("system-out")  # what a check of our own found (write_junit); pytest writes none by default
    message = (said.text or "").strip() if said is not None else ""
    return CaseResult(case.get("name", ""), Outcome.PASSED, message, case.get("classname", ""), _seconds(case))


def _seconds(case: ET.Element) -> float:
    try:
        return float(case.get("time", "0"))
    except ValueError:
        return 0.0


def _count(cases: Iterable[CaseResult], warnings: int) -> Counts:
    tally = dict.fromkeys(Outcome, 0)
    for case in cases:
        tally[case.outcome] += 1
    return Counts(tally[Outcome.PASSED], tally[Outcome.FAILED], tally[Outcome.SKIPPED], tally[Outcome.ERROR],
                  warnings)


def write_junit(path: Path, suite_name: str, cases: Iterable[CaseResult], warnings: Iterable[str] = ()) -> None:
    """A phase of our own's results as JUnit XML, written whole (temp file, then rename)."""
    listed = list(cases)
    counts = _count(listed, 0)
    suite = ET.Element("testsuite", name=suite_name, tests=str(counts.total), failures=str(counts.failed),
                       errors=str(counts.errors), skipped=str(counts.skipped),
                       time=f"{sum(case.seconds for case in listed):.3f}")
    properties = ET.SubElement(suite, "properties")
    for warning in warnings:
        ET.SubElement(properties, "property", name=WARNING_PROPERTY, value=warning)
    for case in listed:
        element = ET.SubElement(suite, "testcase", classname=case.classname or suite_name, name=case.name,
                                time=f"{case.seconds:.3f}")
        if case.outcome is Outcome.FAILED:
            ET.SubElement(element, "failure", message=case.message).text = case.message
        elif case.outcome is Outcome.ERROR:
            ET.SubElement(element, "error", message=case.message).text = case.message
        elif case.outcome is Outcome.SKIPPED:
            ET.SubElement(element, "skipped", message=case.message).text = case.message
        elif case.message:
            ET.SubElement(element, "system-out").text = case.message
    root = ET.Element("testsuites")
    root.append(suite)
    tmp = path.with_name(path.name + ".tmp")
    ET.ElementTree(root).write(tmp, encoding="utf-8", xml_declaration=True)
    tmp.replace(path)
