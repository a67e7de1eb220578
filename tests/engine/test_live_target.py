"""The live screen's Good/Tgt target covers the planned time that was observed: a machine heard for one
minute of its shift has one minute's target, not the whole shift's so far (issue 14, item 14)."""

from __future__ import annotations

from oee_tui.config import Config, LineConfig, MachineConfig, ShiftConfig, SiteConfig, TagMapping
from oee_tui.engine.live.engine import Engine
from oee_tui.model import Signal, TagSample

T0 = 1_796_688_000.0  # 2026-12-08 00:00 UTC: the start of the day shift below


async def test_the_target_counts_only_the_time_the_machine_was_heard() -> None:
    count = TagMapping(Signal.TOTAL_COUNT, "plc", "hr:0", "uint32", 32)
    config = Config(site=SiteConfig("Test plant", "UTC", stale_after_s=10.0),
                    lines=(LineConfig("L1", "Line 1", "A"),),
                    machines=(MachineConfig(id="M1", name="Filler", line="L1", ideal_cycle_time_s=1.0,
                                            target_per_hour=3600.0, signals={Signal.TOTAL_COUNT: count}),),
                    sources=(), reasons=(), shifts=(ShiftConfig("Day", "00:00", "00:00"),))
    clock = [T0 + 3600.0]  # an hour into the shift, the engine starts and hears the PLC for the first time
    engine = Engine(config, None, clock=lambda: clock[0], acquire=False)
    await engine.start()
    try:
        for second in range(61):
            clock[0] = T0 + 3600.0 + second
            engine.ingest([TagSample(clock[0], "plc", "hr:0", 1000 + second)])
            engine.tick()
        [row] = engine.tick().machines
        assert row.good_count == 60
        # One part a second was the target; a minute was observed, not the hour before the first sample.
        assert 55 <= row.target_count <= 61, row.target_count
    finally:
        await engine.stop()
