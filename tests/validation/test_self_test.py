"""The calculator self-test: the shipped reference cases pass through the engine's own code, each names its
source, and a case the engine disagrees with fails (so the self-test can fail)."""

from __future__ import annotations

import copy

from oee_tui.validation.junit import Outcome
from oee_tui.validation.self_test import load_cases, run_self_test


def test_every_shipped_reference_case_passes_and_names_its_source() -> None:
    cases = load_cases()
    assert {"oee", "shift", "counter"} <= set(cases)
    results = run_self_test(cases)
    assert [r.outcome for r in results] == [Outcome.PASSED] * sum(len(group) for group in cases.values())
    assert all(case.get("source") for group in cases.values() for case in group)
    names = " ".join(r.name for r in results)
    for subject in ("oee.com", "DST", "across midnight", "break", "wraps", "reset"):
        assert subject in names


def test_oee_com_worked_example_is_shipped_as_published() -> None:
    example = next(case for case in load_cases()["oee"] if case["name"].startswith("oee.com"))
    assert example["expect"] == {"availability": 0.8881, "performance": 0.8611, "quality": 0.9780, "oee": 0.7479}
    assert example["total"] == 19271 and example["reject"] == 423 and example["ideal_cycle_time_s"] == 1.0


def test_a_case_the_engine_disagrees_with_fails_with_the_figures() -> None:
    cases = copy.deepcopy(load_cases())
    example = next(case for case in cases["oee"] if case["name"].startswith("oee.com"))
    example["expect"]["availability"] = 0.8956  # 403/450: what forgetting the meal break would give
    cases["counter"][0]["expect"]["deltas"] = [0, 5, 65541]  # a wrap taken for a jump forward
    results = {r.name: r for r in run_self_test(cases)}
    failed = results[example["name"]]
    assert failed.outcome is Outcome.FAILED
    assert "availability: 0.8881, 0.8956 expected" in failed.message and "oee.com" in failed.message
    assert results[cases["counter"][0]["name"]].outcome is Outcome.FAILED


def test_a_case_that_cannot_run_is_an_error_not_a_pass() -> None:
    broken = {"oee": [{"name": "no shift given", "source": "a test", "expect": {"oee": 1.0}}]}
    (result,) = run_self_test(broken)
    assert result.outcome is Outcome.ERROR and "no 'shift'" in result.message
