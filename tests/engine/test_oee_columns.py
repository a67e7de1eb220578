"""The columnar calculator (used by reports) gives the same numbers as the object one (used live)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings

from oee_tui.config import MachineConfig
from oee_tui.engine.oee.calculator import OverlappingStopsError, machine_oee
from oee_tui.engine.oee.columnar import IntervalColumns, machine_oee_columns
from oee_tui.model import MachineState, OeeResult, Span, StateInterval
from tests.engine.test_oee_properties import REASONS, T0, Case, cases

STATES = [state.value for state in MachineState]
REASON_CODES = [*REASONS, "UNKNOWN"]


def to_columns(intervals: list[StateInterval]) -> IntervalColumns:
    return IntervalColumns(
        starts=np.array([i.start for i in intervals], dtype=np.float64),
        ends=np.array([math.nan if i.end is None else i.end for i in intervals], dtype=np.float64),
        states=np.array([STATES.index(i.state.value) for i in intervals], dtype=np.int64),
        state_names=STATES,
        reasons=np.array([-1 if i.reason is None else REASON_CODES.index(i.reason) for i in intervals],
                         dtype=np.int64),
        reason_codes=REASON_CODES,
    )


def assert_same(a: OeeResult, b: OeeResult) -> None:
    for name, value in a.to_dict().items():
        other = b.to_dict()[name]
        if isinstance(value, dict):
            for key in value:
                assert other[key] == pytest.approx(value[key], rel=1e-9, abs=1e-6), f"losses.{key}"
        elif isinstance(value, float):
            assert other == pytest.approx(value, rel=1e-9, abs=1e-6), name
        else:
            assert other == value, name


@settings(max_examples=300, deadline=None)
@given(cases())
def test_columns_match_objects(case: Case) -> None:
    args = (case.machine, case.window, case.scheduled, case.breaks)
    try:
        expected = machine_oee(*args, case.intervals, case.totals, REASONS, case.now)
    except OverlappingStopsError:
        with pytest.raises(OverlappingStopsError):
            machine_oee_columns(*args, to_columns(case.intervals), case.totals, REASONS, case.now)
        return
    got = machine_oee_columns(*args, to_columns(case.intervals), case.totals, REASONS, case.now)
    assert_same(expected, got)


def test_overlap_is_rejected_with_times() -> None:
    machine = MachineConfig(id="M7", name="M7", line="L1", ideal_cycle_time_s=1.0)
    intervals = [StateInterval("M7", T0, T0 + 100, MachineState.RUNNING),
                 StateInterval("M7", T0 + 50, T0 + 200, MachineState.DOWN)]
    with pytest.raises(OverlappingStopsError, match="machine M7: state intervals overlap"):
        machine_oee_columns(machine, Span(T0, T0 + 300), [Span(T0, T0 + 300)], [], to_columns(intervals), {},
                            REASONS, T0 + 300)
