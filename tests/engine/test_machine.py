"""Machine tracker: signals to states and counts, with a clock we control."""

from __future__ import annotations

from oee_tui.config import MachineConfig, TagMapping
from oee_tui.engine.live.machine import MachineTracker
from oee_tui.model import MachineState, Signal

T0 = 1_789_999_980.0  # a fixed instant on a minute boundary
STATE_MAP = {0: "offline", 1: "running", 2: "stopped", 3: "down", 4: "changeover", 5: "planned_stop"}


def machine(with_state: bool = True, derive: str = "total+reject") -> MachineTracker:
    signals = {Signal.TOTAL_COUNT: TagMapping(Signal.TOTAL_COUNT, "plc", "hr:0", "uint16", 16)}
    if derive == "total+reject":
        signals[Signal.REJECT_COUNT] = TagMapping(Signal.REJECT_COUNT, "plc", "hr:1", "uint16", 16)
    else:
        signals[Signal.GOOD_COUNT] = TagMapping(Signal.GOOD_COUNT, "plc", "hr:1", "uint16", 16)
    if with_state:
        signals[Signal.STATE_CODE] = TagMapping(Signal.STATE_CODE, "plc", "hr:2", "uint16")
    config = MachineConfig(id="M1", name="Filler", line="L1", ideal_cycle_time_s=1.0, micro_stop_threshold_s=60,
                           state_map=STATE_MAP, signals=signals)
    return MachineTracker(config, stale_after_s=10, start=T0)


def send(m: MachineTracker, ts: float, **values: float) -> None:
    for name, value in values.items():
        m.on_sample(Signal(name), ts, value, True, None, ts)
    m.evaluate(ts)


def test_state_code_drives_intervals_and_short_stops_are_minor() -> None:
    m = machine()
    send(m, T0 + 1, state_code=1, total_count=100, reject_count=0)
    send(m, T0 + 5, state_code=2)  # stops
    assert m.live_state(T0 + 30) is MachineState.MINOR_STOP
    send(m, T0 + 35, state_code=1)  # 30 s stop: shorter than 60 s, a minor stop
    send(m, T0 + 40, state_code=3)  # fault
    send(m, T0 + 50, state_code=3)
    assert m.live_state(T0 + 40 + 61) is MachineState.DOWN  # the same stop, now past the threshold
    send(m, T0 + 140, state_code=1)
    states = [(i.start - T0, i.end - T0, i.state) for i in m.closed]  # type: ignore[operator]
    assert states == [
        (0, 1, MachineState.OFFLINE),
        (1, 5, MachineState.RUNNING),
        (5, 35, MachineState.MINOR_STOP),
        (35, 40, MachineState.RUNNING),
        (40, 140, MachineState.DOWN),
    ]


def test_counts_with_wrap_go_to_minute_buckets_per_product() -> None:
    m = machine()
    send(m, T0 + 1, state_code=1, total_count=65530, reject_count=10)
    send(m, T0 + 30, total_count=65535, reject_count=11)
    m.on_sample(Signal.PRODUCT, T0 + 61, "B", True, None, T0 + 61)
    send(m, T0 + 70, total_count=4, reject_count=11)  # wrapped: 5 parts
    _, buckets = m.take_pending(T0 + 70)
    got = sorted((b.minute - T0, b.product, b.total, b.reject) for b in buckets)
    assert got == [(0, None, 5, 1), (60, "B", 5, 0)]


def test_good_and_total_derive_rejects() -> None:
    m = machine(derive="total+good")
    send(m, T0 + 1, state_code=1, total_count=100, good_count=90)
    send(m, T0 + 10, total_count=110, good_count=98)
    _, buckets = m.take_pending(T0 + 10)
    assert [(b.total, b.reject, b.good) for b in buckets] == [(10, 2, 8)]


def test_without_state_tag_count_activity_decides() -> None:
    m = machine(with_state=False)
    send(m, T0 + 1, total_count=1, reject_count=0)
    send(m, T0 + 2, total_count=2)
    assert m.live_state(T0 + 2) is MachineState.RUNNING
    # No part for longer than the activity timeout (10 s): stopped since the last part.
    send(m, T0 + 20, reject_count=0)
    assert m.current.start == T0 + 2
    assert m.live_state(T0 + 20) is MachineState.MINOR_STOP


def test_bad_quality_or_silence_makes_the_machine_offline() -> None:
    m = machine()
    send(m, T0 + 1, state_code=1, total_count=1, reject_count=0)
    m.on_sample(Signal.STATE_CODE, T0 + 2, None, False, "connection lost", T0 + 2)
    m.evaluate(T0 + 2)
    assert m.live_state(T0 + 2) is MachineState.OFFLINE
    assert m.last_error == "connection lost"
    send(m, T0 + 3, state_code=1)
    assert m.live_state(T0 + 3) is MachineState.RUNNING
    m.evaluate(T0 + 30)  # nothing for 27 s > stale_after_s
    assert m.live_state(T0 + 30) is MachineState.OFFLINE
    assert m.current.start == T0 + 3  # offline since the last good data, not since we noticed


def test_bad_counter_sample_is_not_counted() -> None:
    m = machine()
    send(m, T0 + 1, state_code=1, total_count=10, reject_count=0)
    m.on_sample(Signal.TOTAL_COUNT, T0 + 2, 999, False, "BadSensorFailure", T0 + 2)
    send(m, T0 + 3, total_count=12)
    _, buckets = m.take_pending(T0 + 3)
    assert sum(b.total for b in buckets) == 2
