"""Issue 13 item 5 on screen: a counter that reset or jumped this shift is marked on the live
screen, and the machine's detail says what happened."""

from __future__ import annotations

from dataclasses import replace

from textual.widgets import Static

from oee_tui.model import EventKind, MachineDetail, MachineEvent, Signal
from oee_tui.screens.machine_detail import MachineDetailScreen
from tests.support.pilot import settle
from tests.ui.conftest import AppFactory
from tests.ui.fakes import NOW, StaticEngine
from tests.ui.test_pilot import cell, show_live

JUMP = MachineEvent("L1-FILL", NOW - 600, EventKind.COUNTER_JUMP, Signal.TOTAL_COUNT, 1534, 1500, 0, 13.0)


async def test_a_counter_jump_is_marked_on_the_machine_and_told_in_its_detail(make_app: AppFactory,
                                                                               engine: StaticEngine) -> None:
    engine.plant = replace(engine.plant, machines=tuple(
        replace(m, events=(JUMP,)) if m.machine == "L1-FILL" else m for m in engine.plant.machines))
    plain_detail = engine.machine_detail

    async def detail(machine: str) -> MachineDetail:
        shown = await plain_detail(machine)
        return replace(shown, events=(JUMP,)) if machine == "L1-FILL" else shown

    engine.machine_detail = detail  # type: ignore[method-assign]
    app = make_app(engine)
    async with app.run_test(size=(120, 30)) as pilot:
        table = await show_live(pilot, app, engine)
        assert cell(table, "L1-FILL", "machine").endswith("⚠")
        assert not cell(table, "L1-CAP", "machine").endswith("⚠")
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, MachineDetailScreen)
        figures = str(app.screen.query_one("#detail-figures", Static).render())
        assert "⚠ 1 counter event this shift; last at" in figures
        assert "total_count jumped from 1,534 to 1,500 (at most 13 possible); not counted, rebaselined" in figures
