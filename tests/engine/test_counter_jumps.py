"""Issue 13 item 5: a counter's change is judged by what the machine can have made since its last
reading; a reset or jump beyond that is rebaselined, never counted, and recorded as an event."""

from __future__ import annotations

from pathlib import Path

from oee_tui.config import Config, LineConfig, MachineConfig, ShiftConfig, SiteConfig, TagMapping
from oee_tui.engine.live.counters import CounterTracker
from oee_tui.engine.live.engine import Engine
from oee_tui.engine.live.machine import MachineTracker
from oee_tui.model import EventKind, MachineEvent, Signal, TagSample
from oee_tui.store import Store

T0 = 1_789_999_980.0


def events_of(tracker: CounterTracker) -> list[tuple[EventKind, int, int, int]]:
    seen: list[tuple[EventKind, int, int, int]] = []
    tracker.on_event = lambda kind, _ts, previous, value, counted, _most: seen.append((kind, previous, value, counted))
    return seen


def test_a_restart_with_a_retained_value_counts_nothing() -> None:
    tracker = CounterTracker(32, rate=2.0)  # at most 2 parts a second
    seen = events_of(tracker)
    assert tracker.update(1530, T0) == 0  # baseline
    assert tracker.update(1532, T0 + 1) == 2
    # The PLC restarts and comes back 3 s later with a retained 1,500: a drop, but 1,500 parts
    # in 3 s is impossible. Today's rule counted it as a reset worth 1,500.
    assert tracker.update(1500, T0 + 4) == 0
    assert seen == [(EventKind.COUNTER_JUMP, 1532, 1500, 0)]
    assert tracker.update(1503, T0 + 6) == 3  # counting goes on from the new value


def test_a_forward_jump_beyond_the_machine_is_not_counted() -> None:
    tracker = CounterTracker(32, rate=2.0)
    seen = events_of(tracker)
    tracker.update(100, T0)
    assert tracker.update(10_100, T0 + 1) == 0  # a preset, not 10,000 parts in a second
    assert tracker.update(10_102, T0 + 2) == 2
    assert seen == [(EventKind.COUNTER_JUMP, 100, 10_100, 0)]


def test_a_plausible_reset_is_counted_and_recorded() -> None:
    tracker = CounterTracker(32, rate=2.0)
    seen = events_of(tracker)
    tracker.update(5000, T0)
    assert tracker.update(12, T0 + 10) == 12  # reset, then 12 parts in 10 s: plausible
    assert seen == [(EventKind.COUNTER_RESET, 5000, 12, 12)]
    assert tracker.resets == 1


def test_wraps_by_the_declared_width_stay_counted() -> None:
    tracker = CounterTracker(16, rate=2.0)
    seen = events_of(tracker)
    tracker.update(65534, T0)
    assert tracker.update(1, T0 + 2) == 3
    assert tracker.wraps == 1 and seen == []


def test_a_64_bit_counter_going_negative_is_a_jump_not_2_to_the_64() -> None:
    tracker = CounterTracker(64, rate=2.0)
    seen = events_of(tracker)
    tracker.update(5, T0)
    assert tracker.update(-1, T0 + 1) == 0
    assert seen == [(EventKind.COUNTER_JUMP, 5, 2**64 - 1, 0)]


def test_a_stroke_of_many_parts_counts_from_the_last_change() -> None:
    # A 10-cavity press makes 10 parts a stroke every 10 s (1 s a part); the PLC's counter moves
    # by 10 at once, between two readings 0.1 s apart: plausible since the last change.
    tracker = CounterTracker(32, rate=2.0)
    seen = events_of(tracker)
    tracker.update(0, T0)
    for tenth in range(1, 101):
        tracker.update(0, T0 + tenth / 10)
    assert tracker.update(10, T0 + 10.1) == 10 and seen == []


def test_a_clock_that_goes_back_allows_one_part() -> None:
    tracker = CounterTracker(32, rate=2.0)
    tracker.update(10, T0)
    assert tracker.update(11, T0 - 5) == 1
    assert tracker.update(20, T0 - 6) == 0


def machine(margin: float = 2.0) -> MachineTracker:
    count = TagMapping(Signal.TOTAL_COUNT, "plc", "DB1.DBD0", "udint", 32)
    config = MachineConfig(id="M1", name="Filler", line="L1", ideal_cycle_time_s=1.0,
                           product_cycle_times={"fast": 0.5}, counter_jump_margin=margin,
                           signals={Signal.TOTAL_COUNT: count})
    return MachineTracker(config, stale_after_s=10, start=T0)


def counted(m: MachineTracker) -> int:
    return sum(total for total, _ in m.pending_counts.values())


def test_the_machine_counts_no_phantom_parts_and_keeps_the_event() -> None:
    m = machine()
    for ts, value in ((T0 + 1, 1530), (T0 + 2, 1534), (T0 + 5, 1500), (T0 + 6, 1501)):
        m.on_sample(Signal.TOTAL_COUNT, ts, value, True, None, ts)
    # The fastest product makes 2 parts/s, margin 2: 4 parts in 1 s are plausible; 1,500 are not.
    assert counted(m) == 5
    [event] = m.pending_counter_events
    assert (event.kind, event.signal, event.previous, event.value, event.counted) == (
        EventKind.COUNTER_JUMP, Signal.TOTAL_COUNT, 1534, 1500, 0)
    assert event.most == 3 * 4.0 + 1
    assert m.recent_counter_events == [event]
    assert event.text == "total_count jumped from 1,534 to 1,500 (at most 13 possible); not counted, rebaselined"


def test_a_counter_that_keeps_jumping_is_recorded_once_a_minute() -> None:
    m = machine()
    for second in range(120):  # a device sending nonsense: a jump at every reading
        m.on_sample(Signal.TOTAL_COUNT, T0 + second, 0 if second % 2 else 1_000_000, True, None, T0 + second)
    assert counted(m) == 0
    assert [e.ts - T0 for e in m.pending_counter_events] == [1, 61]


def test_the_margin_setting_widens_the_bound() -> None:
    m = machine(margin=10.0)
    m.on_sample(Signal.TOTAL_COUNT, T0, 0, True, None, T0)
    m.on_sample(Signal.TOTAL_COUNT, T0 + 1, 21, True, None, T0 + 1)  # 1 s x 2/s x 10 + 1
    assert counted(m) == 21 and m.pending_counter_events == []


def test_events_round_trip_through_the_store(tmp_path: Path) -> None:
    events = [MachineEvent("M1", T0 + 5, EventKind.COUNTER_JUMP, Signal.TOTAL_COUNT, 2**64 - 1, 1500, 0, 13.0),
              MachineEvent("M1", T0 + 9, EventKind.COUNTER_RESET, Signal.REJECT_COUNT, 40, 2, 2, 9.0)]
    with Store.open(tmp_path) as store:
        assert store.write_machine_events(events) == 2
        assert store.machine_events("M1", T0) == events
        assert store.machine_events("M1", T0 + 6) == events[1:]
        assert store.machine_events("M2", T0) == []
        assert store.machine_events(None, T0, limit=1) == events[1:]


async def test_a_restarted_engine_shows_the_events_of_the_shift(tmp_path: Path) -> None:
    count = TagMapping(Signal.TOTAL_COUNT, "plc", "hr:0", "uint32", 32)
    config = Config(site=SiteConfig("Test plant", "UTC"), lines=(LineConfig("L1", "Line 1", "A"),),
                    machines=(MachineConfig(id="M1", name="Filler", line="L1", ideal_cycle_time_s=1.0,
                                            signals={Signal.TOTAL_COUNT: count}),),
                    sources=(), reasons=(), shifts=(ShiftConfig("Day", "00:00", "00:00"),))
    clock = [T0]
    engine = Engine(config, Store.open(tmp_path), clock=lambda: clock[0], acquire=False)
    await engine.start()
    engine.ingest([TagSample(T0, "plc", "hr:0", 1530)])
    engine.ingest([TagSample(T0 + 3, "plc", "hr:0", 1500)])
    clock[0] = T0 + 5
    await engine.stop()
    again = Engine(config, Store.open(tmp_path), clock=lambda: clock[0], acquire=False)
    await again.start()
    try:
        [row] = again.tick().machines
        assert [(e.kind, e.previous, e.value) for e in row.events] == [(EventKind.COUNTER_JUMP, 1530, 1500)]
    finally:
        await again.stop()


def test_an_order_with_its_own_faster_cycle_time_raises_the_bound() -> None:
    from oee_tui.engine.oee.planning_rules import MachinePlan, Segment

    count = TagMapping(Signal.TOTAL_COUNT, "plc", "hr:0", "uint32", 32)
    machine = MachineConfig(id="M1", name="Filler", line="L1", ideal_cycle_time_s=1.0,
                            signals={Signal.TOTAL_COUNT: count})
    tracker = MachineTracker(machine, stale_after_s=10, start=T0)
    # The order runs at 0.1 s a part: 8 parts a second is plausible during it, not a jump.
    tracker.set_plan(MachinePlan(machine, segments=(Segment(T0 - 60, T0 + 3600, "O1", "A", 0.1),)), T0)
    for k, value in enumerate((100, 108, 116)):
        tracker.on_sample(Signal.TOTAL_COUNT, T0 + k, value, True, None, T0 + k)
    assert sum(total for total, _reject in tracker.pending_counts.values()) == 16
    assert tracker.pending_counter_events == []
