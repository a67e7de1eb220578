"""A hand-kept production run's counts spread over the minutes it ran, as the count_minutes table holds them."""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

MINUTE_US: Final = 60_000_000

IntColumn = npt.NDArray[np.int64]


def spread_counts(start_us: IntColumn, end_us: IntColumn, good: IntColumn,
                  reject: IntColumn) -> tuple[IntColumn, IntColumn, IntColumn, IntColumn]:
    """Spread each run's good and reject counts over the minutes it overlaps, as a PLC would count them.

    The log says only that a run made N parts between its start and end, so they are taken to
    come at an even rate: part k is complete at start + k x duration / N, and each minute gets
    the parts completed in it, floor(N x (minute end - start) / duration) minus the same at
    its start. That is within one part of the minute's exact share, the minutes of a run sum
    to exactly N (the sum telescopes), and it needs no sort, one integer formula per minute.
    Good parts and rejects are spread apart, so no minute has more rejects than parts.
    Returns (run index, minute start in microseconds, good, reject) per run minute, runs in
    input order, minutes ascending.
    """
    start_us = np.asarray(start_us, dtype=np.int64)
    end_us = np.asarray(end_us, dtype=np.int64)
    good = np.asarray(good, dtype=np.int64)
    reject = np.asarray(reject, dtype=np.int64)
    if len(start_us) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, empty
    if (end_us <= start_us).any():
        raise ValueError("a run must end after it starts")
    if min(int(good.min()), int(reject.min())) < 0:
        raise ValueError("a run's counts must not be negative")
    first = start_us // MINUTE_US
    count = -((-end_us) // MINUTE_US) - first  # minutes each run touches
    run = np.repeat(np.arange(len(start_us)), count)
    offset = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
    minute = (first[run] + offset) * MINUTE_US
    start, end = start_us[run], end_us[run]
    before = np.maximum(minute, start) - start  # run time before this minute's part of it
    through = np.minimum(minute + MINUTE_US, end) - start  # ... and up to its end
    duration = end - start

    def share(amount: IntColumn) -> IntColumn:
        per_run = amount[run]
        # Exact integers: int64 when count x duration fits (always, for real runs), else Python ints.
        if int(amount.max(initial=0)) * int(duration.max()) < 2**63:
            fitting: IntColumn = per_run * through // duration - per_run * before // duration
            return fitting
        exact = per_run.astype(object)
        big: IntColumn = (exact * through.astype(object) // duration
                          - exact * before.astype(object) // duration).astype(np.int64)
        return big

    return run, minute, share(good), share(reject)
