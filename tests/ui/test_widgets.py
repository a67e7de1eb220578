"""The pure parts of the widgets: timeline slicing, figures, bars, state looks."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from oee_tui.model import MachineState, StateInterval
from oee_tui.widgets.formatting import age, count, hms, local_time, percent, percent_aligned, percent_with_sign
from oee_tui.widgets.state_timeline import dominant_states
from oee_tui.widgets.states import STATE_LOOKS, state_variables
from oee_tui.widgets.trend import bar
from tests.ui.fakes import NOW


def test_every_state_has_a_distinct_single_width_symbol_and_a_colour() -> None:
    from rich.cells import cell_len

    assert set(STATE_LOOKS) == set(MachineState)
    symbols = [look.symbol for look in STATE_LOOKS.values()]
    assert len(set(symbols)) == len(symbols)
    assert all(cell_len(symbol) == 1 for symbol in symbols)
    for dark in (True, False):
        assert set(state_variables(dark)) == {look.variable for look in STATE_LOOKS.values()}


def test_dominant_state_per_slice() -> None:
    run = StateInterval("m", 0, 70, MachineState.RUNNING)
    down = StateInterval("m", 70, 100, MachineState.DOWN)
    open_run = StateInterval("m", 100, None, MachineState.RUNNING)
    # Four slices of 50 s up to now=150: [0,50) run, [50,100) 20 run vs 30 down, [100,150) run, future.
    assert dominant_states([run, down, open_run], 0, 200, 150, 4) == [
        MachineState.RUNNING, MachineState.DOWN, MachineState.RUNNING, None,
    ]


def test_dominant_state_marks_gaps_and_handles_no_width() -> None:
    late = StateInterval("m", 50, None, MachineState.CHANGEOVER)
    assert dominant_states([late], 0, 100, 100, 2) == [None, MachineState.CHANGEOVER]
    assert dominant_states([late], 0, 100, 100, 0) == []


@pytest.mark.parametrize(("ratio", "plain", "marked", "aligned"), [
    (0.853, "85.3", "85.3", "85.3 "),
    (1.034, "103.4", "103.4!", "103.4!"),
    (None, "—", "—", "— "),
])
def test_percent(ratio: float | None, plain: str, marked: str, aligned: str) -> None:
    assert percent(ratio) == plain
    assert percent(ratio, mark_over_100=True) == marked
    assert percent_aligned(ratio) == aligned


def test_percent_with_sign_keeps_the_mark_after_the_sign() -> None:
    assert percent_with_sign(1.034, mark_over_100=True) == "103.4%!"
    assert percent_with_sign(0.5) == "50.0%"


def test_durations_counts_and_times() -> None:
    assert hms(0) == "0:00:00"
    assert hms(26 * 3600 + 61) == "26:01:01"  # a long stop must look long, not wrap
    assert age(2.7) == "2s"
    assert age(45) == "45s"
    assert age(600) == "10m"
    assert age(7200) == "2h"
    assert count(1234567) == "1,234,567"
    assert local_time(NOW, ZoneInfo("Europe/Berlin")) == "11:00:00"


def test_bar_stops_at_full_but_never_goes_negative() -> None:
    assert bar(0.5, 10) == ("█" * 5, "░" * 5)
    assert bar(1.3, 4) == ("████", "")
    assert bar(None, 3) == ("", "░░░")


@pytest.mark.parametrize("dark", [True, False], ids=["dark", "light"])
def test_state_colours_stay_distinct_on_a_16_colour_terminal(dark: bool) -> None:
    from rich.color import Color, ColorSystem

    ansi = {name: Color.parse(value).downgrade(ColorSystem.STANDARD).number
            for name, value in state_variables(dark).items()}
    assert len(set(ansi.values())) == len(ansi), ansi
