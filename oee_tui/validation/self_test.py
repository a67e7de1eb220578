"""The calculator self-test: the engine's own shift calendar, counter tracker and OEE calculator against
the reference cases shipped beside this module (`reference_cases.toml`), each with its source.

A case that cannot be read is an error naming the case and field, never a skipped check."""

from __future__ import annotations

import math
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from importlib import resources
from typing import Any, Final
from zoneinfo import ZoneInfo

from oee_tui.config import MachineConfig
from oee_tui.config.reasons import DEFAULT_REASONS
from oee_tui.config.shift_times import BreakConfig, ShiftConfig
from oee_tui.engine.live.counters import CounterTracker
from oee_tui.engine.oee.calculator import ProductCounts, machine_oee
from oee_tui.engine.oee.shifts import ShiftCalendar
from oee_tui.model import MachineState, ShiftInstance, Span, StateInterval
from oee_tui.validation.junit import CaseResult, Outcome

CASES_FILE: Final = "reference_cases.toml"
OEE_FIGURES: Final = ("availability", "performance", "quality", "oee")
_REASONS: Final = {reason.code: reason for reason in DEFAULT_REASONS}


class CaseError(ValueError):
    """A reference case that cannot be run as written."""


def load_cases() -> dict[str, list[dict[str, Any]]]:
    text = resources.files("oee_tui.validation").joinpath(CASES_FILE).read_text(encoding="utf-8")
    return tomllib.loads(text)


def run_self_test(cases: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
                  on_case: Callable[[CaseResult], None] | None = None) -> list[CaseResult]:
    """Every reference case's outcome, in the file's order; `on_case` hears each as it is decided."""
    chosen = load_cases() if cases is None else cases
    checks: list[tuple[str, Callable[[Mapping[str, Any]], str], Mapping[str, Any]]] = []
    kinds: tuple[tuple[str, Callable[[Mapping[str, Any]], str]], ...] = (
        ("oee", _oee_case), ("shift", _shift_case), ("counter", _counter_case))
    for kind, check in kinds:
        checks += [(kind, check, case) for case in chosen.get(kind, ())]
    results = []
    for kind, check, case in checks:
        result = _run(kind, check, case)
        results.append(result)
        if on_case is not None:
            on_case(result)
    return results


def _run(kind: str, check: Callable[[Mapping[str, Any]], str], case: Mapping[str, Any]) -> CaseResult:
    name = str(case.get("name", "(unnamed case)"))
    started = time.perf_counter()
    try:
        problem = check(case)
        outcome = Outcome.FAILED if problem else Outcome.PASSED
    except (CaseError, KeyError, TypeError, ValueError) as exc:
        problem = f"the case cannot be run: {exc}"
        outcome = Outcome.ERROR
    message = problem if problem else f"source: {case.get('source', '(none given)')}"
    if problem:
        message += f" (source: {case.get('source', '(none given)')})"
    return CaseResult(name, outcome, message, f"calculator.{kind}", time.perf_counter() - started)


def _field(case: Mapping[str, Any], key: str) -> Any:
    try:
        return case[key]
    except KeyError:
        raise CaseError(f"{case.get('name', '(unnamed case)')}: no {key!r}") from None


def _instance(case: Mapping[str, Any]) -> ShiftInstance:
    shift = _field(case, "shift")
    config = ShiftConfig(shift["name"], shift["start"], shift["end"],
                         breaks=tuple(BreakConfig(b["start"], b["end"]) for b in shift.get("breaks", ())))
    calendar = ShiftCalendar([config], _field(case, "timezone"))
    instance = calendar.find(config.name, _field(case, "local_date"))
    if instance is None:
        raise CaseError(f"shift {config.name} does not run on {case['local_date']}")
    return instance


def _oee_case(case: Mapping[str, Any]) -> str:
    instance = _instance(case)
    machine = MachineConfig(id="REF", name="Reference", line="REF",
                            ideal_cycle_time_s=float(_field(case, "ideal_cycle_time_s")),
                            micro_stop_threshold_s=float(case.get("micro_stop_threshold_s", 120.0)))
    intervals = _intervals(instance, _field(case, "stops"))
    counted = ProductCounts(int(_field(case, "total")), int(_field(case, "reject")))
    totals: dict[str | None, ProductCounts] = {None: counted}
    window = Span(instance.start, instance.end)
    result = machine_oee(machine, window, [window], list(instance.breaks), intervals, totals, _REASONS,
                         now=instance.end)
    digits = int(case.get("digits", 4))
    problems = []
    for figure, expected in _field(case, "expect").items():
        actual = getattr(result, figure)
        if actual is None:
            problems.append(f"{figure}: none computed, {expected} expected")
        elif figure in OEE_FIGURES:
            if round(actual, digits) != round(float(expected), digits):
                problems.append(f"{figure}: {actual:.{digits}f}, {float(expected):.{digits}f} expected")
        elif not math.isclose(actual, float(expected), abs_tol=1e-6):
            problems.append(f"{figure}: {actual:g}, {expected} expected")
    return "; ".join(problems)


def _intervals(instance: ShiftInstance, stops: Sequence[Mapping[str, Any]]) -> list[StateInterval]:
    """Running from the shift's start to its end, but for the stops."""
    out: list[StateInterval] = []
    cursor = instance.start
    for stop in sorted(stops, key=lambda s: float(s["start_min"])):
        start = instance.start + float(stop["start_min"]) * 60.0
        end = instance.start + float(stop["end_min"]) * 60.0
        if start < cursor or end <= start:
            raise CaseError(f"the stop at {stop['start_min']} min overlaps another or ends before it starts")
        if start > cursor:
            out.append(StateInterval("REF", cursor, start, MachineState.RUNNING))
        out.append(StateInterval("REF", start, end, MachineState(stop["state"]), stop.get("reason")))
        cursor = end
    if cursor < instance.end:
        out.append(StateInterval("REF", cursor, instance.end, MachineState.RUNNING))
    return out


def _local(ts: float, timezone: str) -> str:
    return datetime.fromtimestamp(ts, ZoneInfo(timezone)).strftime("%Y-%m-%dT%H:%M")


def _shift_case(case: Mapping[str, Any]) -> str:
    instance = _instance(case)
    timezone = case["timezone"]
    expected = _field(case, "expect")
    actual = {
        "minutes": (instance.end - instance.start) / 60.0,
        "break_minutes": sum(b.end - b.start for b in instance.breaks) / 60.0,
        "start": _local(instance.start, timezone),
        "end": _local(instance.end, timezone),
        "break_start": _local(instance.breaks[0].start, timezone) if instance.breaks else None,
    }
    problems = []
    for key, want in expected.items():
        if key not in actual:
            raise CaseError(f"unknown expectation {key!r}; known: {', '.join(actual)}")
        got = actual[key]
        same = math.isclose(got, float(want)) if isinstance(got, float) else got == want
        if not same:
            problems.append(f"{key}: {got}, {want} expected")
    return "; ".join(problems)


def _counter_case(case: Mapping[str, Any]) -> str:
    tracker = CounterTracker(int(_field(case, "width")), rate=float(case.get("rate", math.inf)))
    deltas = [tracker.update(raw, ts=float(second)) for second, raw in enumerate(_field(case, "readings"))]
    expected = _field(case, "expect")
    actual = {"deltas": deltas, "wraps": tracker.wraps, "resets": tracker.resets}
    problems = []
    for key, want in expected.items():
        if key not in actual:
            raise CaseError(f"unknown expectation {key!r}; known: {', '.join(actual)}")
        if actual[key] != want:
            problems.append(f"{key}: {actual[key]}, {want} expected")
    return "; ".join(problems)
