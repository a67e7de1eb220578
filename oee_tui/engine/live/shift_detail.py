"""One machine's current shift as its detail screen shows it: the timeline, the stops, an hourly
OEE trend and the reasons that cost the most time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from oee_tui.config import Reason
from oee_tui.engine.live.machine import MachineTracker
from oee_tui.engine.oee.calculator import machine_oee_from_counts
from oee_tui.engine.oee.shifts import ShiftCalendar
from oee_tui.model import MachineDetail, MachineState, ReasonTotal, Span, StateInterval, TrendPoint

TOP_REASONS = 10


def build_machine_detail(tracker: MachineTracker, now: float, calendar: ShiftCalendar,
                         reasons: Mapping[str, Reason]) -> MachineDetail:
    shift = calendar.current_or_last(now)
    end = min(max(now, shift.start), shift.end)
    intervals = [i for i in tracker.history if (i.end or now) > shift.start and i.start < end]
    if tracker.current.start < end:
        intervals.append(tracker.open_interval(now))
    stops = tuple(sorted(
        (i for i in intervals if i.state.is_stop), key=lambda i: i.start, reverse=True
    ))
    window = Span(shift.start, end)
    scheduled = calendar.scheduled_spans(window.start, window.end)
    breaks = [*calendar.break_spans(window.start, window.end),
              *tracker.plan.planned_stop_spans(window.start, window.end)]
    buckets = tracker.recent_buckets()
    cycles = tracker.plan.order_cycles
    oee = machine_oee_from_counts(tracker.plan.machine, window, scheduled, breaks, intervals, buckets, reasons, now,
                                  cycles)
    trend = []
    hour_start = shift.start
    while hour_start < end:
        hour_end = min(hour_start + 3600.0, end)
        part = Span(hour_start, hour_end)
        result = machine_oee_from_counts(
            tracker.plan.machine, part, calendar.scheduled_spans(part.start, part.end),
            calendar.break_spans(part.start, part.end), intervals, buckets, reasons, now, cycles)
        trend.append(TrendPoint(part.start, part.end, result.oee, result.availability,
                                result.performance, result.quality))
        hour_start = hour_end
    return MachineDetail(
        machine=tracker.id, name=tracker.config.name, shift=shift.label, shift_start=shift.start,
        shift_end=shift.end, now=now, intervals=tuple(intervals), stops=stops, trend=tuple(trend),
        top_reasons=tuple(_top_reasons(stops, window, reasons, now)), oee=oee,
        events=tuple(event for event in tracker.recent_counter_events if event.ts >= shift.start),
    )


def _top_reasons(stops: Sequence[StateInterval], window: Span, reasons: Mapping[str, Reason],
                 now: float) -> list[ReasonTotal]:
    """Stop time and count per reason inside `window`, the longest first; offline time is no stop
    anyone gave a reason for."""
    totals: dict[str | None, list[float]] = {}
    for stop in stops:
        seconds = min(stop.end or now, window.end) - max(stop.start, window.start)
        if seconds <= 0 or stop.state is MachineState.OFFLINE:
            continue
        entry = totals.setdefault(stop.reason, [0, 0.0])
        entry[0] += 1
        entry[1] += seconds
    out = [
        ReasonTotal(code, reasons[code].name if code is not None and code in reasons else "No reason given",
                    int(stops_count), seconds)
        for code, (stops_count, seconds) in totals.items()
    ]
    return sorted(out, key=lambda r: r.seconds, reverse=True)[:TOP_REASONS]
