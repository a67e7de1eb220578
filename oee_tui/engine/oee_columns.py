"""The OEE calculator over columns (numpy arrays) instead of StateInterval objects.

A report over a month of a hundred machines holds hundreds of thousands of
intervals; building one Python object per interval costs more than the whole
budget. This path measures the same sets with vectorised prefix sums and ends
in the same `_finish`, so both paths give the same numbers (a property test
holds them together).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from oee_tui.config import MachineConfig, Reason
from oee_tui.engine.model import Loss, MachineState, Span
from oee_tui.engine.oee import (
    BREAKDOWN,
    CLASSES,
    MINOR_STOP,
    NO_DATA,
    PLANNED,
    RUN,
    SETUP,
    OverlappingStopsError,
    ProductCounts,
    _clip,
    _finish,
    _intersect,
    _iso,
    _measure,
    _normalize,
    _subtract,
)
from oee_tui.engine.oee_result import OeeResult

CODE: Final = {name: index for index, name in enumerate(CLASSES)}
_CANDIDATE: Final = len(CLASSES)  # a breakdown until its length says minor stop
_NONE: Final = -1

# Class of a state when no (known) reason is given; reasons never override these three.
_STATE_CLASS: Final = {
    MachineState.RUNNING.value: CODE[RUN],
    MachineState.OFFLINE.value: CODE[NO_DATA],
    MachineState.PLANNED_STOP.value: CODE[PLANNED],
    MachineState.CHANGEOVER.value: CODE[SETUP],
    MachineState.MINOR_STOP.value: CODE[MINOR_STOP],
    MachineState.DOWN.value: _CANDIDATE,
}
_FIXED_STATES: Final = {CODE[RUN], CODE[NO_DATA], CODE[PLANNED]}


@dataclass(frozen=True, slots=True)
class IntervalColumns:
    """Intervals of ONE machine: starts, ends (NaN while open), states and reasons as codes.

    `states` holds indices into `state_names`; `reasons` indices into
    `reason_codes` (-1 for no reason).
    """

    starts: npt.NDArray[np.float64]
    ends: npt.NDArray[np.float64]
    states: npt.NDArray[np.int64]
    state_names: Sequence[str]
    reasons: npt.NDArray[np.int64]
    reason_codes: Sequence[str]


def classify_columns(columns: IntervalColumns, machine: MachineConfig, reasons: Mapping[str, Reason],
                     now: float) -> npt.NDArray[np.int64]:
    """Class codes (indices into CLASSES), by the rules of oee.classify_interval."""
    state_lookup = np.array([_STATE_CLASS[name] for name in columns.state_names] or [0], dtype=np.int64)
    base = state_lookup[columns.states] if len(columns.states) else np.zeros(0, dtype=np.int64)
    reason_lookup = np.array([_reason_class(reasons.get(code)) for code in columns.reason_codes] + [_NONE],
                             dtype=np.int64)
    by_reason = reason_lookup[np.where(columns.reasons >= 0, columns.reasons, len(columns.reason_codes))]
    fixed = np.isin(base, list(_FIXED_STATES))
    classes = np.where(~fixed & (by_reason != _NONE), by_reason, base)
    ends = np.where(np.isnan(columns.ends), now, columns.ends)
    short = (ends - columns.starts) < machine.micro_stop_threshold_s
    candidate = classes == _CANDIDATE
    classes[candidate & short] = CODE[MINOR_STOP]
    classes[candidate & ~short] = CODE[BREAKDOWN]
    return classes


def _reason_class(reason: Reason | None) -> int:
    if reason is None:
        return _NONE
    if reason.planned:
        return CODE[PLANNED]
    if reason.loss is Loss.SETUP:
        return CODE[SETUP]
    if reason.loss is Loss.MINOR_STOP:
        return CODE[MINOR_STOP]
    return _CANDIDATE


def _prefix_measure(spans: list[tuple[float, float]]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64],
                                                                 npt.NDArray[np.float64]]:
    starts = np.array([a for a, _ in spans], dtype=np.float64)
    ends = np.array([b for _, b in spans], dtype=np.float64)
    cumulative = np.concatenate(([0.0], np.cumsum(ends - starts)))
    return starts, ends, cumulative


def _measure_before(t: npt.NDArray[np.float64], starts: npt.NDArray[np.float64], ends: npt.NDArray[np.float64],
                    cumulative: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Measure of the span set before each t: F(t); |[a, b) ∩ set| = F(b) - F(a)."""
    k = np.searchsorted(starts, t, side="right") - 1
    inside = np.clip(t - starts[np.maximum(k, 0)], 0.0, (ends - starts)[np.maximum(k, 0)])
    return np.where(k >= 0, cumulative[np.maximum(k, 0)] + inside, 0.0)


def machine_oee_columns(machine: MachineConfig, window: Span, scheduled: Sequence[Span], breaks: Sequence[Span],
                        columns: IntervalColumns, totals: Mapping[str | None, ProductCounts],
                        reasons: Mapping[str, Reason], now: float) -> OeeResult:
    """Same result as oee.machine_oee, from columns."""
    lo, hi = window.start, window.end
    calendar_s = max(0.0, hi - lo)
    sched = _clip(scheduled, lo, hi)
    scheduled_s = _measure(sched)

    classes = classify_columns(columns, machine, reasons, now)
    ends = np.where(np.isnan(columns.ends), now, columns.ends)
    starts = columns.starts
    nonempty = ends > starts
    starts, ends, classes = starts[nonempty], ends[nonempty], classes[nonempty]
    order = np.argsort(starts, kind="stable")
    starts, ends, classes = starts[order], ends[order], classes[order]
    _check_overlaps(machine, starts, ends)

    a = np.maximum(starts, lo)
    b = np.minimum(ends, hi)
    inside_window = b > a
    a, b, classes = a[inside_window], b[inside_window], classes[inside_window]

    is_planned = classes == CODE[PLANNED]
    planned_pairs = [(span.start, span.end) for span in breaks]
    planned_pairs.extend(zip(a[is_planned].tolist(), b[is_planned].tolist(), strict=True))
    planned = _intersect(_normalize(planned_pairs), sched)
    planned_s = _measure(planned)
    open_time = _subtract(sched, planned)
    open_s = _measure(open_time)

    seconds = {RUN: 0.0, BREAKDOWN: 0.0, SETUP: 0.0, MINOR_STOP: 0.0}
    events = {RUN: 0, BREAKDOWN: 0, SETUP: 0, MINOR_STOP: 0}
    counted = ~is_planned & (classes != CODE[NO_DATA])
    if open_time and counted.any():
        o_starts, o_ends, cumulative = _prefix_measure(open_time)
        inside = (_measure_before(b[counted], o_starts, o_ends, cumulative)
                  - _measure_before(a[counted], o_starts, o_ends, cumulative))
        counted_classes = classes[counted]
        size = len(CLASSES)
        measured = np.bincount(counted_classes, weights=inside, minlength=size)
        touched = np.bincount(counted_classes[inside > 0], minlength=size)
        for name in seconds:
            seconds[name] = float(measured[CODE[name]])
            events[name] = int(touched[CODE[name]])
    return _finish(machine, lo, hi, calendar_s, scheduled_s, planned_s, open_s, seconds, events, totals)


def _check_overlaps(machine: MachineConfig, starts: npt.NDArray[np.float64], ends: npt.NDArray[np.float64]) -> None:
    if len(starts) < 2:
        return
    bad = np.flatnonzero(starts[1:] < np.maximum.accumulate(ends[:-1]))
    if len(bad):
        i = int(bad[0]) + 1
        raise OverlappingStopsError(
            f"machine {machine.id}: state intervals overlap: the interval {_iso(float(starts[i]))} to "
            f"{_iso(float(ends[i]))} starts before an earlier one ends ({_iso(float(ends[i - 1]))})"
        )
