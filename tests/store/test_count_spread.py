"""How a hand-kept run's counts are spread over its minutes: exact sums, the minute each part is finished in."""

from __future__ import annotations

import numpy as np

from oee_tui.store.count_spread import spread_counts


def test_spread_counts_sums_exactly_and_follows_the_overlap() -> None:
    rng = np.random.default_rng(5)
    starts = rng.integers(0, 10**9, 500) * 1000 + rng.integers(0, 1000, 500)
    ends = starts + rng.integers(1, 4 * 3600 * 10**6, 500)
    good = rng.integers(0, 100_000, 500)
    reject = rng.integers(0, 1000, 500)
    run, minute, got_good, got_reject = spread_counts(starts, ends, good, reject)
    assert (np.bincount(run, weights=got_good, minlength=500) == good).all()
    assert (np.bincount(run, weights=got_reject, minlength=500) == reject).all()
    assert (minute % 60_000_000 == 0).all()
    overlap = np.minimum(minute + 60_000_000, ends[run]) - np.maximum(minute, starts[run])
    exact = good[run] * overlap / (ends - starts)[run]
    assert (np.abs(got_good - exact) < 1).all()  # never more than one part from its exact share


def test_spread_counts_puts_each_part_in_the_minute_it_is_finished() -> None:
    # 3 parts at an even rate over 00:00:20-00:01:50 (90 s): finished at 00:50, 01:20 and 01:50.
    run, minute, good, reject = spread_counts(np.array([20_000_000]), np.array([110_000_000]), np.array([3]),
                                              np.array([1]))
    assert (run.tolist(), minute.tolist(), good.tolist(), reject.tolist()) == ([0, 0], [0, 60_000_000], [1, 2],
                                                                               [0, 1])


def test_spread_counts_of_huge_counts_stays_exact() -> None:
    week_us = 7 * 86_400 * 10**6
    run, _, good, _ = spread_counts(np.array([0]), np.array([week_us]), np.array([10**12]), np.array([0]))
    assert int(good.sum()) == 10**12 and len(run) == 7 * 1440
    assert set(good.tolist()) <= {10**12 // (7 * 1440), 10**12 // (7 * 1440) + 1}
