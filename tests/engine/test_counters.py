"""Counter deltas across wraps and resets, for each declared width."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from oee_tui.engine.live.counters import CounterTracker


def feed(tracker: CounterTracker, values: list[int]) -> list[int]:
    return [tracker.update(v) for v in values]


def test_first_reading_is_a_baseline_not_a_count() -> None:
    assert feed(CounterTracker(16), [500, 503, 510]) == [0, 3, 7]


def test_16_bit_wrap_counts_across_the_top() -> None:
    tracker = CounterTracker(16)
    # 65530 -> 65535 is 5 parts, -> 0 is 1 more, -> 4 is 4 more.
    assert feed(tracker, [65530, 65535, 0, 4]) == [0, 5, 1, 4]
    assert tracker.wraps == 1 and tracker.resets == 0


def test_32_bit_wrap() -> None:
    tracker = CounterTracker(32)
    assert feed(tracker, [2**32 - 3, 7]) == [0, 10]


def test_signed_int16_wrapping_to_negative() -> None:
    tracker = CounterTracker(16)
    # An INT counter goes 32766, 32767, -32768 (= 32768 unsigned), -32767.
    assert feed(tracker, [32766, 32767, -32768, -32767]) == [0, 1, 1, 1]


def test_drop_that_is_not_a_wrap_is_a_reset() -> None:
    tracker = CounterTracker(16)
    # 1000 -> 12: wrapping would mean 64548 parts in one read; it was reset and made 12.
    assert feed(tracker, [990, 1000, 12, 20]) == [0, 10, 12, 8]
    assert tracker.resets == 1 and tracker.wraps == 0


def test_reset_to_zero_counts_nothing() -> None:
    assert feed(CounterTracker(32), [5000, 0, 3]) == [0, 0, 3]


@given(st.sampled_from([16, 32, 64]), st.integers(min_value=0), st.lists(st.integers(0, 5000), max_size=50))
def test_sum_of_deltas_equals_parts_made_through_wraps(width: int, start: int, increments: list[int]) -> None:
    # Steps are far below half the range, so every drop is a wrap and no part may be lost.
    modulus = 1 << width
    tracker = CounterTracker(width)
    raw = start % modulus
    tracker.update(raw)
    counted = 0
    for step in increments:
        raw = (raw + step) % modulus
        counted += tracker.update(raw)
    assert counted == sum(increments)


def test_a_width_learned_later_counts_the_next_wrap_at_that_width() -> None:
    tracker = CounterTracker(32)
    assert feed(tracker, [65534, 65535]) == [0, 1]
    tracker.set_width(16)
    assert tracker.width == 16
    assert feed(tracker, [0, 2]) == [1, 2]
    assert (tracker.wraps, tracker.resets) == (1, 0)
