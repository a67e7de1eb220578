"""Issue 13 item 8 in the numbers: event counts count real stops. A fragment of a stop, shorter
than the settle time, beside a planned stop or split off by a blip, is no event of its own; its
time still counts. The object calculator (live) and the columnar one (reports) agree."""

from __future__ import annotations

from oee_tui.config import MachineConfig
from oee_tui.engine.oee.calculator import machine_oee
from oee_tui.engine.oee.columnar import machine_oee_columns
from oee_tui.model import MachineState, OeeResult, Span, StateInterval
from tests.engine.test_oee_columns import to_columns

T0 = 1_790_000_000.0
MACHINE = MachineConfig(id="M1", name="Filler", line="L1", ideal_cycle_time_s=1.0, micro_stop_threshold_s=30)
WINDOW = Span(T0, T0 + 3600)
RUNNING, DOWN, OFFLINE, PLANNED = (MachineState.RUNNING, MachineState.DOWN, MachineState.OFFLINE,
                                   MachineState.PLANNED_STOP)


def both(intervals: list[StateInterval], breaks: list[Span] | None = None) -> list[OeeResult]:
    planned = breaks or []
    return [machine_oee(MACHINE, WINDOW, [WINDOW], planned, intervals, {}, {}, T0 + 3600),
            machine_oee_columns(MACHINE, WINDOW, [WINDOW], planned, to_columns(intervals), {}, {}, T0 + 3600)]


def timeline(*pieces: tuple[float, float, MachineState]) -> list[StateInterval]:
    return [StateInterval("M1", T0 + a, T0 + b, state) for a, b, state in pieces]


def test_milliseconds_of_stop_beside_a_planned_stop_are_no_breakdowns() -> None:
    # The PLC says "down" a few ms before and after the planned stop its state code reports.
    intervals = timeline((0, 600, RUNNING), (600, 600.004, DOWN), (600.004, 1200, PLANNED),
                         (1200, 1200.003, DOWN), (1200.003, 1800, RUNNING), (1800, 1900, DOWN),
                         (1900, 3600, RUNNING))
    for result in both(intervals):
        losses = result.losses
        # Before: 1 breakdown and 2 minor stops, for 1 breakdown.
        assert (losses.breakdown_events, losses.minor_stop_events) == (1, 0)
        assert losses.breakdown_s == 100 and abs(losses.minor_stop_s - 0.007) < 1e-4  # their time still counts


def test_a_blip_of_offline_does_not_make_two_breakdowns() -> None:
    intervals = timeline((0, 100, RUNNING), (100, 140, DOWN), (140, 140.001, OFFLINE), (140.001, 187, DOWN),
                         (187, 3600, RUNNING))
    for result in both(intervals):
        assert result.losses.breakdown_events == 1  # before: 2


def test_a_stop_that_a_break_cuts_to_a_fragment_is_no_event() -> None:
    # A breakdown that began 0.5 s before a break and lasted through it.
    intervals = timeline((0, 599.5, RUNNING), (599.5, 1300, DOWN), (1300, 3600, RUNNING))
    results = both(intervals, [Span(T0 + 600, T0 + 1200)])
    for result in results:
        assert result.losses.breakdown_events == 1  # the 0.5 s before and the 100 s after it: one stop
    intervals = timeline((0, 599.5, RUNNING), (599.5, 1200, DOWN), (1200, 3600, RUNNING))
    for result in both(intervals, [Span(T0 + 600, T0 + 1200)]):
        assert result.losses.breakdown_events == 0  # before: a breakdown of 0.5 s
        assert result.losses.breakdown_s == 0.5


def test_real_stops_apart_are_each_an_event() -> None:
    intervals = timeline((0, 100, RUNNING), (100, 140, DOWN), (140, 145, RUNNING), (145, 190, DOWN),
                         (190, 3600, RUNNING))
    for result in both(intervals):
        assert result.losses.breakdown_events == 2
