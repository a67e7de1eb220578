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
from oee_tui.engine.oee.calculator import (
    BREAKDOWN,
    CLASSES,
    MINOR_STOP,
    NO_DATA,
    PLANNED,
    RUN,
    SETUP,
    OrderCycleCounts,
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
from oee_tui.model import Loss, MachineState, OeeResult, Span

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
                     now: float, thresholds: npt.NDArray[np.float64] | None = None) -> npt.NDArray[np.int64]:
    """Class codes (indices into CLASSES), by the rules of oee.classify_interval.

    `thresholds` gives each interval its own micro-stop threshold (that of the product
    scheduled when it started); without it every interval takes the machine's.
    """
    state_lookup = np.array([_STATE_CLASS[name] for name in columns.state_names] or [0], dtype=np.int64)
    base = state_lookup[columns.states] if len(columns.states) else np.zeros(0, dtype=np.int64)
    reason_lookup = np.array([_reason_class(reasons.get(code)) for code in columns.reason_codes] + [_NONE],
                             dtype=np.int64)
    by_reason = reason_lookup[np.where(columns.reasons >= 0, columns.reasons, len(columns.reason_codes))]
    fixed = np.isin(base, list(_FIXED_STATES))
    classes = np.where(~fixed & (by_reason != _NONE), by_reason, base)
    ends = np.where(np.isnan(columns.ends), now, columns.ends)
    limit = machine.micro_stop_threshold_s if thresholds is None else thresholds
    short = (ends - columns.starts) < limit
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


@dataclass(frozen=True, slots=True)
class MeasuredTime:
    """What the calculator measured of one machine in one window, before counts come in.

    Kept so that the same measurement can be split at instants (product or order changes)
    without classifying the intervals again: `split_times`.
    """

    window: Span
    calendar_s: float
    scheduled_s: float
    planned_s: float
    open_s: float
    seconds: Mapping[str, float]
    events: Mapping[str, int]
    sched: list[tuple[float, float]]
    planned: list[tuple[float, float]]
    open_time: list[tuple[float, float]]
    starts: npt.NDArray[np.float64]  # counted (not planned, not no-data) intervals, clipped to the window
    ends: npt.NDArray[np.float64]
    classes: npt.NDArray[np.int64]
    inside: npt.NDArray[np.float64]  # each counted interval's measure inside open time
    is_event: npt.NDArray[np.bool_]  # whether it is an event of its class, not a fragment (stop_events)
    reasons: npt.NDArray[np.int64]  # each counted interval's reason (index into the columns' reason_codes, -1 none)
    origins: npt.NDArray[np.float64]  # each counted interval's own start, before the window clipped it


def measure_columns(machine: MachineConfig, window: Span, scheduled: Sequence[Span], breaks: Sequence[Span],
                    columns: IntervalColumns, reasons: Mapping[str, Reason], now: float,
                    thresholds: npt.NDArray[np.float64] | None = None,
                    classes: npt.NDArray[np.int64] | None = None) -> MeasuredTime:
    """The time half of machine_oee_columns. `breaks` may include planned stops (any planned time).

    `classes` is classify_columns of the same arguments, for a caller that already has it.
    """
    lo, hi = window.start, window.end
    calendar_s = max(0.0, hi - lo)
    sched = _clip(scheduled, lo, hi)
    scheduled_s = _measure(sched)

    if classes is None:
        classes = classify_columns(columns, machine, reasons, now, thresholds)
    ends = np.where(np.isnan(columns.ends), now, columns.ends)
    starts = columns.starts
    reasons_of = columns.reasons
    nonempty = ends > starts
    if not nonempty.all():
        starts, ends, classes, reasons_of = starts[nonempty], ends[nonempty], classes[nonempty], reasons_of[nonempty]
    if len(starts) > 1 and (np.diff(starts) < 0).any():  # the store hands them over sorted: no sort to pay for
        order = np.argsort(starts, kind="stable")
        starts, ends, classes, reasons_of = starts[order], ends[order], classes[order], reasons_of[order]
    _check_overlaps(machine, starts, ends)

    a = np.maximum(starts, lo)
    b = np.minimum(ends, hi)
    inside_window = b > a
    a, b, classes, reasons_of = a[inside_window], b[inside_window], classes[inside_window], reasons_of[inside_window]
    origins = starts[inside_window]

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
    a, b, classes, reasons_of, origins = a[counted], b[counted], classes[counted], reasons_of[counted], origins[counted]
    inside = np.zeros(len(a), dtype=np.float64)
    if open_time and len(a):
        o_starts, o_ends, cumulative = _prefix_measure(open_time)
        inside = (_measure_before(b, o_starts, o_ends, cumulative)
                  - _measure_before(a, o_starts, o_ends, cumulative))
    is_event = stop_events(a, b, classes, inside, machine.settle_time_s)
    if len(a):
        size = len(CLASSES)
        measured = np.bincount(classes, weights=inside, minlength=size)
        touched = np.bincount(classes[is_event], minlength=size)
        for name in seconds:
            seconds[name] = float(measured[CODE[name]])
            events[name] = int(touched[CODE[name]])
    return MeasuredTime(window, calendar_s, scheduled_s, planned_s, open_s, seconds, events, sched, planned,
                        open_time, a, b, classes, inside, is_event, reasons_of, origins)


def stop_events(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64], classes: npt.NDArray[np.int64],
                inside: npt.NDArray[np.float64], settle: float) -> npt.NDArray[np.bool_]:
    """Which counted intervals (sorted, disjoint) are events of their class, by the rule of
    calculator.machine_oee: at least `settle` seconds of open time, and not going on the previous
    interval of the class after a gap shorter than `settle`."""
    costs = inside > 0
    out = costs & (inside >= settle)
    for code in np.unique(classes[costs]).tolist():
        rows = np.flatnonzero(costs & (classes == code))
        if len(rows) > 1:
            out[rows[1:]] &= (a[rows[1:]] - b[rows[:-1]]) >= settle
    return out


def finish_measured(machine: MachineConfig, measured: MeasuredTime, totals: Mapping[str | None, ProductCounts],
                    order_counts: OrderCycleCounts | None = None) -> OeeResult:
    """The result from the measured time and the counts; `order_counts`: see calculator.OrderCycleCounts."""
    return _finish(machine, measured.window.start, measured.window.end, measured.calendar_s, measured.scheduled_s,
                   measured.planned_s, measured.open_s, measured.seconds, measured.events, totals,
                   order_counts or {})


def machine_oee_columns(machine: MachineConfig, window: Span, scheduled: Sequence[Span], breaks: Sequence[Span],
                        columns: IntervalColumns, totals: Mapping[str | None, ProductCounts],
                        reasons: Mapping[str, Reason], now: float,
                        thresholds: npt.NDArray[np.float64] | None = None) -> OeeResult:
    """Same result as oee.machine_oee, from columns."""
    measured = measure_columns(machine, window, scheduled, breaks, columns, reasons, now, thresholds)
    return finish_measured(machine, measured, totals)


@dataclass(frozen=True, slots=True)
class SplitTimes:
    """Times of consecutive pieces of a window, one array element per piece; they sum to the whole."""

    scheduled_s: npt.NDArray[np.float64]
    planned_s: npt.NDArray[np.float64]
    no_data_s: npt.NDArray[np.float64]
    planned_production_time_s: npt.NDArray[np.float64]
    run_time_s: npt.NDArray[np.float64]
    unplanned_downtime_s: npt.NDArray[np.float64]


def split_times(measured: MeasuredTime, bounds: npt.NDArray[np.float64]) -> SplitTimes:
    """The measured times cut at `bounds` (sorted; piece i is [bounds[i], bounds[i + 1])).

    Each figure is a difference of a cumulative measure F(t), so the pieces add up to the
    whole exactly as far as floating point goes, and no interval is classified twice.
    """
    t = np.asarray(bounds, dtype=np.float64)

    def prefix(spans: list[tuple[float, float]]) -> npt.NDArray[np.float64]:
        if not spans:
            return np.zeros(len(t), dtype=np.float64)
        starts, ends, cumulative = _prefix_measure(spans)
        return _measure_before(t, starts, ends, cumulative)

    sched = np.diff(prefix(measured.sched))
    planned = np.diff(prefix(measured.planned))
    open_f = prefix(measured.open_time)
    open_s = np.diff(open_f)
    # Counted intervals are disjoint and sorted, so their ends are sorted too: the ones that
    # end by t add up whole, and at most one (index j) is cut by t.
    a, b, classes, inside = measured.starts, measured.ends, measured.classes, measured.inside
    j = np.searchsorted(b, t, side="right")
    cut = (j < len(a)) & (a[np.minimum(j, max(len(a) - 1, 0))] < t) if len(a) else np.zeros(len(t), dtype=bool)
    covered = np.zeros(len(t) - 1 if len(t) else 0, dtype=np.float64)
    unplanned = np.zeros_like(covered)
    if len(a):
        jj = np.minimum(j, len(a) - 1)
        if measured.open_time:
            o_starts, o_ends, cumulative = _prefix_measure(measured.open_time)
            at_a = _measure_before(a[jj], o_starts, o_ends, cumulative)
        else:
            at_a = np.zeros(len(t), dtype=np.float64)
        partial = np.where(cut, open_f - at_a, 0.0)
        for codes, target in (((CODE[RUN], CODE[BREAKDOWN], CODE[SETUP], CODE[MINOR_STOP]), covered),
                              ((CODE[BREAKDOWN], CODE[SETUP]), unplanned)):
            mask = np.isin(classes, codes)
            cumulative_c = np.concatenate(([0.0], np.cumsum(np.where(mask, inside, 0.0))))
            f = cumulative_c[j] + np.where(mask[jj], partial, 0.0)
            target += np.diff(f)
    no_data = np.maximum(0.0, open_s - covered)
    ppt = sched - planned - no_data
    return SplitTimes(sched, planned, no_data, ppt, ppt - unplanned, unplanned)


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
