"""The store's one rule for time: POSIX float seconds (UTC) in the API, plain TIMESTAMP
(UTC, microseconds) on disk.

Floats become microseconds with one rounding rule, `round(x * 1e6)` half to even, in numpy
and in Python alike, so a key written from one path (an interval start) matches the same
float from another (a stop reason's `stop_start`). Every module that binds or builds a
time for the store goes through here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final, cast

import numpy as np
import numpy.typing as npt

# pyarrow is imported where it is used: importing it costs a tenth of a second that
# `oee report`, which needs no Arrow writes, would pay.
if TYPE_CHECKING:
    import pyarrow as pa

EPOCH: Final = datetime(1970, 1, 1)
# TIMESTAMP covers years 1..9999 here; refuse anything outside before numpy overflows int64 silently.
MIN_TS: Final = -62135596800.0
MAX_TS: Final = 253402300800.0


def micro(secs: float) -> int:
    """One float second -> integer microseconds, the rounding `micros` uses."""
    return round(secs * 1e6)


def micros(values: Sequence[float] | npt.NDArray[np.float64], what: str) -> npt.NDArray[np.int64]:
    """Float seconds -> int64 microseconds, vectorised; refuses NaN, None and out-of-range values."""
    secs = np.asarray(values, dtype=np.float64)  # None becomes NaN here, caught below
    if secs.ndim != 1:
        raise ValueError(f"{what}: expected a flat sequence of seconds")
    if secs.size and not (np.isfinite(secs).all() and secs.min() >= MIN_TS and secs.max() < MAX_TS):
        raise ValueError(f"{what}: timestamps must be finite seconds between years 1 and 9999")
    return np.rint(secs * 1e6).astype(np.int64)


def unstorable(secs: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_] | None:
    """Which of these seconds `micros` would refuse (NaN, infinite, outside years 1 to 9999); None
    when it takes them all, the usual case, found without building a mask."""
    if not secs.size or (np.isfinite(secs).all() and secs.min() >= MIN_TS and secs.max() < MAX_TS):
        return None
    with np.errstate(invalid="ignore"):
        return ~(np.isfinite(secs) & (secs >= MIN_TS) & (secs < MAX_TS))


def storable(secs: float | None) -> bool:
    """One value's answer of `unstorable`: True when `micros` takes it."""
    return isinstance(secs, int | float) and math.isfinite(secs) and MIN_TS <= secs < MAX_TS


def rounded(values: Sequence[float] | npt.NDArray[np.float64], what: str) -> npt.NDArray[np.float64]:
    """Float seconds as the store gives them back: rounded to its microsecond."""
    seconds: npt.NDArray[np.float64] = micros(values, what) / 1e6
    return seconds


def ts_array(values: Sequence[float], what: str) -> pa.Array:
    import pyarrow as pa
    return pa.array(micros(values, what), type=pa.timestamp("us"))


def nullable_ts_array(values: Sequence[float | None], what: str) -> pa.Array:
    import pyarrow as pa
    mask = np.fromiter((v is None for v in values), dtype=bool, count=len(values))
    # Without a None the values are floats already: no copy of a large column.
    filled = [0.0 if v is None else v for v in values] if mask.any() else cast("Sequence[float]", values)
    return pa.array(micros(filled, what), type=pa.timestamp("us"), mask=mask)


def to_datetime(secs: float) -> datetime:
    """One float -> naive UTC datetime, which DuckDB binds as TIMESTAMP. Same rounding as `micros`."""
    return EPOCH + timedelta(microseconds=micro(secs))
