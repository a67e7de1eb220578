"""The stored text of planning values read back: shift days and breaks, as the import writes them or a person may."""

from __future__ import annotations

import pytest

from oee_tui.store import PlanningError


def test_a_stored_shift_pattern_that_cannot_be_read_is_named() -> None:
    from oee_tui.store.planning_codec import shift_pattern as _shift

    with pytest.raises(PlanningError) as caught:
        _shift(("X", "06:00", "14:00", "mon-funday", None))
    assert str(caught.value) == ("shift_patterns table, shift 'X': days 'mon-funday': 'mon-funday' is not a weekday "
                                 "(mon, tue, wed, thu, fri, sat, sun)")
    assert _shift(("Y", "6:00", "14:00", '["sat", "sun"]', "10:00-10:15; 12:00-12:30")).days == ("sat", "sun")
