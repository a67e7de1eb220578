"""count_events over a real DuckDB store: written and read back in time order, and removed with the
count minutes an import replaces."""

from __future__ import annotations

from pathlib import Path

import pytest

from oee_tui.model import CountBucket, CountEvent, CountEventColumns, ProductionRun
from oee_tui.store import Store

T0 = 1_795_535_400.0  # a whole minute


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store.open(tmp_path)
    yield store
    store.close()


def test_events_are_stored_to_the_microsecond_and_read_in_time_order(store: Store) -> None:
    events = [CountEvent("M2", T0 + 61.25, None, 3, 1), CountEvent("M1", T0 + 0.5, "A", 4, 0),
              CountEvent("M1", T0 + 59.999999, "A", 2, 0)]
    assert store.write_count_events(CountEventColumns.of(events)) == 3
    assert store.count_events(T0, T0 + 120) == [events[1], events[2], events[0]]
    # Half-open: an event at the end is not in [start, end).
    assert store.count_events(T0, T0 + 61.25) == [events[1], events[2]]


def test_a_production_log_import_removes_the_events_of_the_minutes_it_replaces(store: Store) -> None:
    store.write_counts([CountBucket("M1", T0, None, 6, 0), CountBucket("M1", T0 + 3600, None, 5, 0)])
    store.write_count_events(CountEventColumns.of([
        CountEvent("M1", T0 + 10.5, None, 6, 0), CountEvent("M1", T0 + 3610.5, None, 5, 0),
        CountEvent("M2", T0 + 20.5, None, 1, 0)]))
    run = ProductionRun("M1", "A", None, T0 - 60, T0 + 120, 180, 0)
    store.write_import("production-log", [run], file="log.csv", sheet=None, imported_by="test")
    # The import's minutes replace M1's from T0 - 60 to T0 + 120; its events there go with them.
    assert store.count_events(T0 - 3600, T0 + 7200) == [CountEvent("M2", T0 + 20.5, None, 1, 0),
                                                         CountEvent("M1", T0 + 3610.5, None, 5, 0)]
