"""Issue 17: alert rules on the demo plant, read by the real engine through its real drivers: a value rule
holds while a machine runs and clears when it breaks down, and the breakdown raises a down alert within 2 s
of the engine seeing it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import replace

from oee_tui.alerts.conditions import DOWN_STATES
from oee_tui.config import AlertRule, AlertSettings
from oee_tui.demo.servers import MODBUS_MACHINES, DemoPlant
from oee_tui.engine.live.engine import Engine
from oee_tui.model import AlertKind, Signal
from tests.demo.conftest import SERVER_TIMEOUT_S, zone_without_a_break_now

DEADLINE_S = 40.0  # a guard, not the expectation


async def test_rules_fire_and_clear_on_the_demo_plant() -> None:
    plant = DemoPlant(seed=7, timezone=zone_without_a_break_now())
    with_speed = [plant.config.machine(spec.id) for spec in MODBUS_MACHINES
                  if Signal.SPEED in plant.config.machine(spec.id).signals]
    rules = tuple(AlertRule(f"running-{machine.id}", AlertKind.VALUE_RANGE, source=machine.signals[Signal.SPEED].source,
                            tag=machine.signals[Signal.SPEED].tag, high=0.0) for machine in with_speed)
    rules += (AlertRule("down", AlertKind.MACHINE_DOWN),)  # every machine

    def speed_tag(machine: str) -> str:
        return plant.config.machine(machine).signals[Signal.SPEED].tag

    engine = Engine(replace(plant.config, alerts=AlertSettings(rules)), None, tick_s=0.2)
    await asyncio.wait_for(plant.start(), SERVER_TIMEOUT_S)
    await engine.start()
    try:
        deadline = time.monotonic() + DEADLINE_S
        running: list[str] = []
        while not running:  # a machine whose speed is above 0: its rule's alert holds
            running = [alert.rule.removeprefix("running-") for alert in engine.snapshot().alerts
                       if alert.rule.startswith("running-")]
            assert time.monotonic() < deadline, "no running machine's speed raised its alert"
            await asyncio.sleep(0.05)
        machine = running[0]
        plant.simulation[machine].plan_breakdown(0.0)
        seen_down: float | None = None
        while True:
            snapshot = engine.snapshot()
            row = next(row for row in snapshot.machines if row.machine == machine)
            if seen_down is None and row.state in DOWN_STATES:
                seen_down = time.monotonic()
            mine = {alert.rule for alert in snapshot.alerts if alert.rule in ("down", f"running-{machine}")
                    and alert.subject in (machine, f"demo-modbus/{speed_tag(machine)}")}
            if mine == {"down"}:
                break
            assert time.monotonic() < deadline, f"{machine}'s alerts: {mine}, its state {row.state}"
            await asyncio.sleep(0.05)
        raised = time.monotonic()
        assert seen_down is not None and raised - seen_down < 2.0
        [down] = [alert for alert in snapshot.alerts if alert.rule == "down" and alert.subject == machine]
        assert down.subject == machine and down.message.endswith(("is down", "is minor stop"))
    finally:
        with contextlib.suppress(Exception):
            await engine.stop()
        await plant.stop()
