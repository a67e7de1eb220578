"""Issue 13 item 5 against a real PLC server: a Modbus PLC restarts and comes back with a retained
counter value. No phantom part is counted, and the jump is stored as the machine's event."""

from __future__ import annotations

import time
from pathlib import Path

from oee_tui.config import Config, LineConfig, MachineConfig, ShiftConfig, SiteConfig, TagMapping
from oee_tui.engine.live.engine import Engine
from oee_tui.model import EventKind, Signal
from oee_tui.store import Store
from tests.drivers.conftest import ModbusSim, modbus_source
from tests.support.waiting import until


def plant(port: int) -> Config:
    source = modbus_source(port, poll_interval_s=0.1, timeout_s=0.5, reconnect_min_s=0.1, reconnect_max_s=0.3)
    # A 32-bit counter over two holding registers, as a PLC keeps a DINT part counter.
    count = TagMapping(Signal.TOTAL_COUNT, "plc", "hr:0", "uint32", width=32)
    machine = MachineConfig(id="M1", name="Filler", line="L1", ideal_cycle_time_s=1.0,
                            signals={Signal.TOTAL_COUNT: count})
    return Config(site=SiteConfig("Test plant", "UTC"), lines=(LineConfig("L1", "Line 1", "A"),),
                  machines=(machine,), sources=(source,), reasons=(),
                  shifts=(ShiftConfig("Day", "00:00", "00:00"),))


def counted(engine: Engine) -> int:
    return sum(total for total, _reject in engine.machines["M1"].recent_counts.values())


async def test_a_plc_restarting_with_a_retained_counter_adds_no_parts(modbus_server: ModbusSim,
                                                                       tmp_path: Path) -> None:
    await modbus_server.set("hr", 0, [0, 1530])  # big-endian words: 1,530
    engine = Engine(plant(modbus_server.port), Store.open(tmp_path), tick_s=0.05)
    await engine.start()
    try:
        tracker = engine.machines["M1"]
        await until(lambda: tracker.counters[Signal.TOTAL_COUNT].last == 1530, timeout=5, what="the baseline")
        await modbus_server.set("hr", 0, [0, 1531])
        await until(lambda: counted(engine) == 1, timeout=5, what="one part")

        port = modbus_server.port
        await modbus_server.stop()
        await until(lambda: tracker.bad != {}, timeout=5, what="the PLC to be gone")
        restarted = time.time()
        await modbus_server.start(port)  # fresh registers, then the retained value comes back
        await modbus_server.set("hr", 0, [0, 1500])
        await until(lambda: tracker.counters[Signal.TOTAL_COUNT].last == 1500, timeout=5, what="the retained value")
        await modbus_server.set("hr", 0, [0, 1501])
        await until(lambda: tracker.counters[Signal.TOTAL_COUNT].last == 1501, timeout=5, what="one more part")
        # Before: 1 + 1,500 (the retained value read as a reset) + 1. Now: the 2 parts made.
        assert counted(engine) == 2
        jumps = [e for e in tracker.recent_counter_events if e.kind is EventKind.COUNTER_JUMP]
        assert jumps and jumps[-1].value == 1500 and jumps[-1].counted == 0
        assert all(e.counted == 0 for e in tracker.recent_counter_events)  # a read of the fresh 0 is a reset of 0
    finally:
        await engine.stop()
    with Store.open(tmp_path) as store:
        stored = store.machine_events("M1", restarted - 60)
        assert [e.value for e in stored if e.kind is EventKind.COUNTER_JUMP][-1:] == [1500]
        assert sum(b.total for b in store.counts(restarted - 3600, time.time() + 60)) == 2
