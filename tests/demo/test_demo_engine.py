"""The demo plant read by the real engine through its real drivers: three lines over three protocols."""

from __future__ import annotations

import asyncio
import contextlib
import time

from oee_tui.demo.servers import S7_MACHINES, DemoPlant
from oee_tui.engine.live.engine import Engine
from oee_tui.model import MachineState, Signal
from tests.demo.conftest import zone_without_a_break_now

DINT_SIGN_CHANGE = 2**31
# The L3 totals start this many seconds of running below the sign change. The engine's first
# reading must come before the crossing; it comes within a reconnect backoff (0.5 s) of the start.
HEADROOM_S = 8.0
DEADLINE_S = 40.0  # a guard, not the expectation: ~10 s on an idle machine


async def test_engine_reads_all_three_servers_and_counts_across_the_dint_sign_change() -> None:
    plant = DemoPlant(seed=7, timezone=zone_without_a_break_now())
    # Seconds, not minutes, below the point where the PLC's DINT turns negative, so
    # the engine reads 2147483647 become -2147483648 while the test watches.
    for spec in S7_MACHINES:
        sim = plant.simulation[spec.id]
        sim.total = DINT_SIGN_CHANGE - round(HEADROOM_S / spec.ideal_cycle_time_s)
        sim.good = (sim.total - sim.reject) % sim.modulus
    engine = Engine(plant.config, None)
    # As DemoEngine does: the engine does not wait for the servers, its sources reconnect until they answer.
    plant_task = asyncio.create_task(plant.start())
    await engine.start()
    machine_ids = {machine.id for machine in plant.config.machines}
    l3_ids = {spec.id for spec in S7_MACHINES}
    online: set[str] = set()
    running: set[str] = set()
    counted: set[str] = set()
    first_total: dict[str, int] = {}  # the engine's first reading of each L3 total, folded to unsigned
    crossed: set[str] = set()
    try:
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            snapshot = engine.snapshot()
            for row in snapshot.machines:
                if row.state is not MachineState.OFFLINE:
                    online.add(row.machine)
                if row.state is MachineState.RUNNING:
                    running.add(row.machine)
                if row.good_count + row.reject_count > 0:
                    counted.add(row.machine)
            for machine_id in l3_ids:
                last = engine.machines[machine_id].counters[Signal.TOTAL_COUNT].last
                if last is None:
                    continue
                first = first_total.setdefault(machine_id, last)
                if first < DINT_SIGN_CHANGE <= last:
                    crossed.add(machine_id)
            sources_online = len(snapshot.sources) == 3 and all(source.online for source in snapshot.sources)
            if online == machine_ids and running and running <= counted and crossed and sources_online:
                break
            await asyncio.sleep(0.2)
        snapshot = engine.snapshot()
    finally:
        await engine.stop()
        if not plant_task.done():
            plant_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await plant_task
        await plant.stop()

    assert online == machine_ids, f"never got data for {machine_ids - online}"
    assert running <= counted, f"running but no parts counted: {running - counted}"
    assert running & l3_ids, "no L3 machine ran"
    sources = {source.name: source for source in snapshot.sources}
    assert set(sources) == {"demo-modbus", "demo-opcua", "demo-s7"}
    s7 = sources["demo-s7"]
    assert s7.kind == "s7" and s7.online and s7.last_error is None
    assert s7.reads >= 2 and s7.failed_reads == 0 and s7.latency_p50_s is not None
    # The DINT's sign change is one part more, not a counter reset worth 2**31 parts.
    assert crossed, f"no L3 total crossed 2**31 as the engine read it: {first_total}"
    for row in snapshot.machines:
        if row.machine in l3_ids:
            assert row.good_count + row.reject_count < 200, row
            for signal in (Signal.TOTAL_COUNT, Signal.REJECT_COUNT):
                assert engine.machines[row.machine].counters[signal].resets == 0, (row.machine, signal)


async def test_the_demo_starts_its_servers_before_its_engine_so_no_source_starts_with_an_error() -> None:
    """`oee --demo` used to begin with line L2 OFFLINE and `Errors 2` on its OPC-UA source: the engine
    connected before asyncua served (issue 14, item 10)."""
    from oee_tui.runtime import DemoEngine
    from tests.support.waiting import until

    demo = DemoEngine(None, timezone=zone_without_a_break_now())
    await demo.start()
    try:
        await until(lambda: len(demo.snapshot().sources) == 3 and all(s.online for s in demo.snapshot().sources),
                    timeout=DEADLINE_S, what="every demo source online")
        assert [(s.name, s.errors, s.reconnects, s.last_error) for s in demo.snapshot().sources] == [
            (s.name, 0, 0, None) for s in demo.snapshot().sources]
    finally:
        await demo.stop()
