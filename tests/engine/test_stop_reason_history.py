"""A reason given to a stop the engine no longer holds in memory (an earlier shift, from the review screen)."""

from __future__ import annotations

from pathlib import Path

import pytest

from oee_tui.engine.live.engine import Engine
from oee_tui.model import MachineState, StateInterval
from oee_tui.store import Store
from tests.imports.test_import_oee import at, plant

YESTERDAY = 24 * 3600.0


async def test_an_older_stop_in_the_store_gets_its_reason_and_unknown_ones_are_refused(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    old_stop = at("07:00") - YESTERDAY
    # What an earlier run of the engine left in the store: yesterday's run and breakdown.
    store.upsert_intervals([
        StateInterval("M1", at("06:00") - YESTERDAY, old_stop, MachineState.RUNNING),
        StateInterval("M1", old_stop, at("07:20") - YESTERDAY, MachineState.DOWN),
    ])
    engine = Engine(plant(with_plc=True), store, clock=lambda: at("10:00"), acquire=False)
    try:
        await engine.set_stop_reason("M1", old_stop, "FAIL.MECH", "supervisor")
        with pytest.raises(KeyError, match="has no stop starting at"):
            await engine.set_stop_reason("M1", at("06:00") - YESTERDAY, "FAIL.MECH", "supervisor")  # a run
        with pytest.raises(KeyError, match="has no stop starting at"):
            await engine.set_stop_reason("M1", old_stop + 5, "FAIL.MECH", "supervisor")  # no such start
        with pytest.raises(ValueError, match="unknown reason code 'NOPE'"):
            await engine.set_stop_reason("M1", old_stop, "NOPE", "supervisor")
        await engine.flush()
        [down] = [i for i in store.intervals(old_stop, old_stop + 60, ["M1"]) if i.state is MachineState.DOWN]
        assert (down.reason, down.reason_by) == ("FAIL.MECH", "supervisor")
    finally:
        await engine.stop()


async def test_a_machine_without_plc_signals_gets_no_intervals_from_the_engine(tmp_path: Path) -> None:
    # Its facts come from imported production logs; an engine-written "offline" would overlap them.
    store = Store.open(tmp_path)
    clock = [at("06:00")]
    engine = Engine(plant(with_plc=False), store, clock=lambda: clock[0], acquire=False)
    try:
        engine.tick()
        await engine.flush()
        clock[0] = at("07:00")
        engine.tick()
        await engine.flush()
        assert store.intervals(at("05:00"), at("08:00")) == []
        assert engine.snapshot().machines[0].state is MachineState.OFFLINE  # shown as what it is live
    finally:
        await engine.stop()
    with Store.open(tmp_path) as reopened:
        assert reopened.intervals(at("05:00"), at("08:00")) == []
