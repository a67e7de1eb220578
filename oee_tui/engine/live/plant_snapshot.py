"""The plant as the live screens show it: every machine's state and current-shift OEE, each
line's and the plant's, and each source's status, computed from the machine trackers."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence

from oee_tui.config import Config, MachineConfig, Reason
from oee_tui.engine.live.machine import MachineTracker
from oee_tui.engine.oee.calculator import lines_and_plant, machine_oee_from_counts
from oee_tui.engine.oee.shifts import ShiftCalendar
from oee_tui.model import MachineSnapshot, OeeResult, PlantSnapshot, SourceStatus, Span

log = logging.getLogger(__name__)


def build_plant_snapshot(now: float, config: Config, calendar: ShiftCalendar, reasons: Mapping[str, Reason],
                         machines: Iterable[MachineTracker], sources: tuple[SourceStatus, ...]) -> PlantSnapshot:
    """The snapshot of the current (or last) shift up to `now`; `machines` in the config's order."""
    shift = calendar.current_or_last(now)
    window = Span(shift.start, min(max(now, shift.start), shift.end))
    scheduled = calendar.scheduled_spans(window.start, window.end)
    breaks = calendar.break_spans(window.start, window.end)
    rows: list[MachineSnapshot] = []
    results: list[OeeResult] = []
    machine_lines: list[str] = []
    for machine in machines:
        result = _machine_oee(machine, window, scheduled, breaks, reasons, now)
        results.append(result)
        machine_lines.append(machine.config.line)
        rows.append(MachineSnapshot(
            machine=machine.id,
            name=machine.config.name,
            line=machine.config.line,
            state=machine.live_state(now),
            state_since=machine.current.start,
            last_data=machine.last_good,
            stale=machine.kind == "offline",
            product=machine.product,
            shift=shift.label if shift.start <= now < shift.end else None,
            oee=result,
            good_count=result.good_count,
            reject_count=result.reject_count,
            target_count=_target_count(machine.config, result, config.targets.oee),
            reason=machine.current.reason,
            events=tuple(event for event in machine.recent_counter_events if event.ts >= shift.start),
        ))
    lines, plant = lines_and_plant([line.id for line in config.lines], machine_lines, results)
    return PlantSnapshot(ts=now, shift=shift.label, machines=tuple(rows), plant=plant, lines=lines,
                         sources=sources)


def _machine_oee(machine: MachineTracker, window: Span, scheduled: Sequence[Span], breaks: Sequence[Span],
                 reasons: Mapping[str, Reason], now: float) -> OeeResult:
    intervals = [i for i in machine.history if (i.end or now) > window.start and i.start < window.end]
    intervals.append(machine.open_interval(now))
    try:
        stops = machine.plan.planned_stop_spans(window.start, window.end)
        return machine_oee_from_counts(machine.plan.machine, window, scheduled, [*breaks, *stops], intervals,
                                       machine.recent_buckets(), reasons, now, machine.plan.order_cycles)
    except ValueError as exc:  # overlapping intervals: show, don't crash the view
        log.error("machine %s: %s", machine.id, exc)
        return machine_oee_from_counts(machine.config, window, scheduled, breaks, [], [], reasons, now)


def _target_count(machine: MachineConfig, result: OeeResult, target_oee: float) -> int:
    """The parts `machine` should have made so far at its target rate (or its ideal rate at the plant's
    target OEE), over the planned time observed: the shift's planned production time, which leaves out
    breaks, planned stops and time without data (a target for time before the first sample, or while
    the PLC was unreachable, asks for parts nobody could have seen made)."""
    per_hour = machine.target_per_hour or 3600.0 / machine.ideal_cycle_time_s * target_oee
    return int(per_hour * result.planned_production_time_s / 3600.0)
