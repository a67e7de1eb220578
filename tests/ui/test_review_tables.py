"""The review's loads, rows and export without a screen: plain functions over a real DuckDB store.

The store holds the UI tests' shift history (tests/ui/review_history.py): today's Early shift as
the StaticEngine holds it and yesterday's Late shift.
"""

from __future__ import annotations

from pathlib import Path

from oee_tui.engine.analysis.review import Level, PeriodKind, Scope, current_period
from oee_tui.screens.shift_review.export import default_path, table_export
from oee_tui.screens.shift_review.period_loading import Loaded, StoreReads, load_comparison, load_period
from oee_tui.screens.shift_review.rows import (
    Palette,
    bar,
    line_rows,
    machine_rows,
    machines_in_view,
    stop_key,
    stop_rows,
    when,
)
from tests.ui.fakes import NOW, SHIFT_LABEL, StaticEngine
from tests.ui.review_history import StoreEngine

PLANT = Scope()
PALETTE = Palette({"error": "red", "warning": "yellow", "success": "green", "primary": "blue"}, {})


def load(engine: StoreEngine, scope: Scope = PLANT) -> Loaded:
    assert engine.store is not None
    period = current_period(engine.config, PeriodKind.SHIFT, NOW)
    loaded = load_period(StoreReads(engine.store), engine.config, period, scope, NOW, lambda: False)
    assert loaded is not None
    return loaded


def test_a_bar_is_drawn_in_eighths_of_a_cell_and_never_past_full() -> None:
    assert bar(0.5, 4) == "██"
    assert bar(1 / 32, 4) == "▏"  # one eighth of one of four cells
    assert bar(0.3, 2) == "▋"  # 0.3 x 16 eighths rounds to 5: no full cell
    assert bar(2.0, 3) == "███"
    assert bar(0.0) == bar(None) == bar(-0.1) == ""


def test_a_moment_shows_its_day_only_outside_a_shift() -> None:
    config = StaticEngine().config
    shift = current_period(config, PeriodKind.SHIFT, NOW)
    day = current_period(config, PeriodKind.DAY, NOW)
    assert when(NOW, config, shift) == "11:00:00"  # the plant's time (Europe/Berlin)
    assert when(NOW, config, day) == "Thu 26 11:00:00"


def test_the_machines_table_shows_the_line_of_the_scope() -> None:
    config = StaticEngine().config
    line_1 = [m.id for m in config.machines if m.line == "L1"]
    assert machines_in_view(config, Scope()) == []
    assert machines_in_view(config, Scope(Level.LINE, "L1")) == line_1
    assert machines_in_view(config, Scope(Level.MACHINE, line_1[-1])) == line_1


def test_a_period_loads_into_rows_by_line_then_the_plant(store_engine: StoreEngine) -> None:
    loaded = load(store_engine)
    assert loaded.period.label == SHIFT_LABEL and loaded.stops is None
    assert [key for key, _ in line_rows(loaded, PALETTE)] == ["L1", "L2", "\0plant"]
    assert machine_rows(loaded, PALETTE) == []  # the plant has no machines table


def test_a_line_shows_its_machines_then_its_total(store_engine: StoreEngine) -> None:
    loaded = load(store_engine, Scope(Level.LINE, "L1"))
    keys = [key for key, _ in machine_rows(loaded, PALETTE)]
    assert keys == [*machines_in_view(loaded.config, loaded.scope), "\0line"]
    total = machine_rows(loaded, PALETTE)[-1][1]
    assert total[0].plain == "Line L1"


def test_a_machine_shows_its_stops_and_which_still_need_a_reason(store_engine: StoreEngine) -> None:
    loaded = load(store_engine, Scope(Level.MACHINE, "L1-FILL"))
    assert loaded.stops is not None and loaded.stops.rows
    built = stop_rows(loaded, PALETTE)
    assert [key for key, _ in built] == [stop_key(stop) for stop in loaded.stops.rows]
    for stop, (_, cells) in zip(loaded.stops.rows, built, strict=True):
        reason = cells[3].plain
        if stop.needs_reason(loaded.now, loaded.config.site.reason_min_stop_s):
            assert reason == "— needs reason"
        elif stop.reason is None:  # shorter than the site's minimum
            assert reason == "— short: none needed"
        else:
            known = loaded.config.reason(stop.reason)
            assert reason == (known.name if known is not None else stop.reason)
        assert cells[0].plain == when(stop.start, loaded.config, loaded.period)


def test_a_load_that_a_newer_one_replaced_returns_nothing(store_engine: StoreEngine) -> None:
    assert store_engine.store is not None
    period = current_period(store_engine.config, PeriodKind.SHIFT, NOW)
    assert load_period(StoreReads(store_engine.store), store_engine.config, period, Scope(), NOW, lambda: True) is None


def test_every_exported_row_names_its_period(store_engine: StoreEngine, tmp_path: Path) -> None:
    loaded = load(store_engine)
    exported = table_export("lines", loaded, None, loaded.config, Scope())
    assert exported is not None
    assert exported.headers[:2] == ["period", "line"]
    assert [row[:2] for row in exported.rows] == [[SHIFT_LABEL, "L1"], [SHIFT_LABEL, "L2"], [SHIFT_LABEL, "plant"]]
    assert default_path(tmp_path, exported, loaded.period, Scope(Level.LINE, "L1")) == (
        tmp_path / "review-lines-L1-Early_2026-11-26.csv")
    assert table_export("compare", loaded, None, loaded.config, Scope()) is None  # nothing compared yet
    assert table_export("lines", None, None, loaded.config, Scope()) is None  # nothing loaded yet


def test_the_comparison_rows_carry_their_own_period(store_engine: StoreEngine) -> None:
    assert store_engine.store is not None
    period = current_period(store_engine.config, PeriodKind.SHIFT, NOW)
    compared = load_comparison(StoreReads(store_engine.store), store_engine.config, period, Scope(), 1, NOW)
    assert compared.current == SHIFT_LABEL
    assert compared.title == "The Early shift over the 7 days to 2026-11-26"
    exported = table_export("compare", None, compared, store_engine.config, Scope())
    assert exported is not None and exported.headers[:2] == ["period", "scope"]
    assert [row[0] for row in exported.rows] == [row.period.label for row in compared.rows if row.result is not None]
