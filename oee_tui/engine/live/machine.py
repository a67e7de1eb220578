"""Per-machine state: turns normalized signals into state intervals and count deltas.

Hot path: `on_sample` runs for every sample the plant sends, so it does the
least work it can and leaves state derivation to `evaluate`, called once per
batch and once per tick.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import replace
from functools import partial
from operator import attrgetter

from oee_tui.config import MachineConfig
from oee_tui.engine.live.counters import CounterTracker
from oee_tui.engine.oee.planning_rules import MachinePlan
from oee_tui.engine.oee.shifts import ShiftCalendar
from oee_tui.model import (
    CountBucket,
    CountEventRow,
    EventKind,
    MachineEvent,
    MachineState,
    Signal,
    Span,
    StateInterval,
    TagValue,
)

log = logging.getLogger(__name__)
_START = attrgetter("start")

# What the engine knows about a machine before deciding how long a stop lasts.
RUN = "running"
UNPLANNED = "unplanned"  # "stopped" or "down" from the PLC, or no count activity
PLANNED = "planned_stop"
CHANGEOVER = "changeover"
OFFLINE = "offline"

# A count delta's parts were made between the read that saw it and the one before; after a gap
# longer than the cap (no read of that counter: an outage, or a subscription quiet while nothing
# moved), they are put half the cap before the read rather than in the middle of the gap. The
# engine sets the cap to two poll intervals of the machine's counters' sources; this is two of
# the default 1 s poll, for a tracker made without one.
COUNT_GAP_CAP_S = 2.0

_CODE_TO_KIND = {
    "running": RUN,
    "stopped": UNPLANNED,
    "down": UNPLANNED,
    "planned_stop": PLANNED,
    "changeover": CHANGEOVER,
    "offline": OFFLINE,
}
_KIND_TO_STATE = {
    RUN: MachineState.RUNNING,
    PLANNED: MachineState.PLANNED_STOP,
    CHANGEOVER: MachineState.CHANGEOVER,
    OFFLINE: MachineState.OFFLINE,
}
# How far around `now` the tracker reads the calendar and the downtime plan at once.
_PLAN_HORIZON_S = 86400.0
# The recent counter events a machine keeps to show (the store has them all).
_RECENT_EVENTS = 20
# A counter that keeps jumping (a device sending nonsense) is recorded once in this long, with the
# number of jumps since in the log: an event per reading would flood the log and the store.
_EVENT_QUIET_S = 60.0


def product_name(value: TagValue) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


class MachineTracker:
    """Live state of one machine; keeps the intervals and counts not yet flushed."""

    def __init__(self, config: MachineConfig, stale_after_s: float, start: float,
                 calendar: ShiftCalendar | None = None) -> None:
        self.id = config.id
        self.counters: dict[Signal, CounterTracker] = {}
        self.pending_counter_events: list[MachineEvent] = []  # not yet flushed
        self.recent_counter_events: list[MachineEvent] = []  # the last few, for the screens
        self._event_quiet: dict[Signal, tuple[float, int]] = {}  # per counter: last recorded ts, events since
        self._configure(config, stale_after_s, previous=None)
        self.state_code: int | None = None
        self.fault = False
        self.speed: float | None = None
        self.tag_product: str | None = None  # what the product tag last said, if one is mapped
        self.plan = MachinePlan(config)  # the schedule; Engine.reload_planning sets it
        self.product: str | None = config.default_product  # the product now, for the live view
        self.bad: dict[Signal, str] = {}
        self.last_good: float | None = None
        self.last_count: float | None = None
        self.last_error: str | None = None
        self.kind = OFFLINE
        self.current = StateInterval(self.id, start, None, MachineState.OFFLINE)
        self.closed: list[StateInterval] = []  # closed since the last flush
        self.history: list[StateInterval] = []  # recent closed intervals, for live OEE and detail
        self.pending_counts: dict[tuple[float, str | None], list[int]] = {}  # not yet flushed
        self.recent_counts: dict[tuple[float, str | None], list[int]] = {}  # for live OEE
        # Each delta as (time, product, total, reject), not yet flushed: a tuple is the cheapest record.
        self.pending_events: list[CountEventRow] = []
        self.count_gap_cap_s = COUNT_GAP_CAP_S
        # The shift calendar (breaks, time outside the schedule) and the plan's planned stops make
        # a stop planned: read once for the span of constant planned-ness around `now` (start,
        # end, planned); (0, 0, False) until asked.
        self.calendar = calendar
        self._plan_span: tuple[float, float, bool] = (0.0, 0.0, False)
        # The interval closed last and its kind, while it is the newest in `history`: a fragment
        # after it, shorter than the settle time, is absorbed into it.
        self._last_closed: tuple[StateInterval, str] | None = None

    def _configure(self, config: MachineConfig, stale_after_s: float, previous: MachineConfig | None) -> None:
        self.config = config
        self.stale_after_s = stale_after_s
        self.signals = frozenset(config.signals)
        self.has_state_tag = Signal.STATE_CODE in self.signals
        # A counter whose tag did not change keeps its last value, so no part is lost or
        # counted twice; one on a new tag starts from its first value, a baseline and never a delta.
        self.counters = {
            signal: self.counters[signal]
            if previous is not None and signal in self.counters and previous.signals.get(signal) == mapping
            else CounterTracker(mapping.width or 32, on_event=partial(self._counter_event, signal))
            for signal, mapping in config.signals.items()
            if mapping.width is not None
        }
        self._set_rate(config)
        self.settle_s = config.settle_time_s
        self.derive = (
            "total+reject" if Signal.TOTAL_COUNT in self.signals and Signal.REJECT_COUNT in self.signals
            else "total+good" if Signal.TOTAL_COUNT in self.signals and Signal.GOOD_COUNT in self.signals
            else "good+reject" if Signal.GOOD_COUNT in self.signals and Signal.REJECT_COUNT in self.signals
            else "total" if Signal.TOTAL_COUNT in self.signals
            else "good" if Signal.GOOD_COUNT in self.signals
            else "none"
        )
        # Without a state tag, a machine that made no part for this long is stopped.
        self.activity_timeout_s = max(10.0, 5 * config.ideal_cycle_time_s)

    def _set_rate(self, config: MachineConfig, order_cycles: Iterable[float] = ()) -> None:
        """The most parts a second the machine can make, with the margin: a counter's change beyond
        that since its last reading is not counted (counters.py). An order with a cycle time of its
        own may run faster than any product's."""
        fastest = min((config.fastest_cycle_time(), *order_cycles))
        rate = config.counter_jump_margin / fastest if fastest > 0 else float("inf")
        for counter in self.counters.values():
            counter.rate = rate

    def reconfigure(self, config: MachineConfig, stale_after_s: float) -> None:
        """Take a changed config while running, keeping the shift so far: intervals, counts, state."""
        self._configure(config, stale_after_s, previous=self.config)
        self.bad = {signal: error for signal, error in self.bad.items() if signal in self.signals}
        if Signal.PRODUCT not in self.signals:
            self.tag_product = None
        # The schedule stays; the new config's defaults apply until the engine resolves the plan again.
        self.plan = replace(self.plan, machine=config)
        self.product = self.product_at(self.current.start)

    def learn_counter_widths(self, source: str, widths: Mapping[str, int]) -> None:
        """Widths in bits that `source` learned for its tags (a Sparkplug birth's datatypes), for
        the counters whose tag map gives no width: a UInt16 counter then wraps at 65535."""
        for signal, mapping in self.config.signals.items():
            tracker = self.counters.get(signal)
            if tracker is None or mapping.width_given or mapping.source != source:
                continue
            width = widths.get(mapping.tag)
            if width is not None and width != tracker.width:
                tracker.set_width(width)
                log.info("%s %s: a %d-bit counter (the datatype of %s in a birth on source %s)", self.config.id,
                         signal.value, width, mapping.tag, source)

    def set_plan(self, plan: MachinePlan, now: float, calendar: ShiftCalendar | None = None) -> None:
        """Take this machine's resolved planning (schedule, cycle times, thresholds, planned stops)
        and, when given, the plant's shift calendar."""
        self.plan = plan
        # Imported cycle times, and orders' own, may make the machine faster.
        self._set_rate(plan.machine, (cycle for _start, _end, cycle in plan.order_cycles))
        if calendar is not None:
            self.calendar = calendar
        self._plan_span = (0.0, 0.0, False)
        self.product = self.product_at(now)

    def product_at(self, ts: float) -> str | None:
        """A product tag wins; without one (or while it says nothing) the schedule, then the default."""
        return self.plan.product_at(ts, self.tag_product)

    # ------------------------------------------------------------ samples

    def on_sample(self, signal: Signal, ts: float, value: TagValue, good: bool, error: str | None,
                  received: float) -> None:
        """`ts` is the device's time (buckets counts); `received` is ours (judges staleness)."""
        if not good:
            self.bad[signal] = error or "bad quality"
            return
        if self.bad:
            self.bad.pop(signal, None)
        self.last_good = received
        counter = self.counters.get(signal)
        if counter is not None:
            if value is None or isinstance(value, str):
                self.bad[signal] = f"counter value {value!r} is not a number"
                return
            previous = counter.last_ts  # the counter's read before this one: its parts were made since
            delta = counter.update(value, ts)
            if delta:
                self._count(signal, ts, delta, received, previous)
        elif signal is Signal.STATE_CODE:
            self.state_code = None if value is None or isinstance(value, str) else int(value)
        elif signal is Signal.FAULT:
            self.fault = bool(value)
        elif signal is Signal.PRODUCT:
            self.tag_product = product_name(value)
            self.product = self.product_at(ts)
        elif signal is Signal.SPEED:
            self.speed = None if value is None or isinstance(value, str) else float(value)

    def _count(self, signal: Signal, ts: float, delta: int, received: float, previous: float | None) -> None:
        """Count `delta` parts seen by the read at `ts`; `previous` is that counter's read before."""
        derive = self.derive
        if signal is Signal.TOTAL_COUNT:
            total, reject = delta, 0
            if derive == "total+good":
                reject = delta  # provisional: good parts subtract below
        elif signal is Signal.REJECT_COUNT:
            total, reject = (0, delta) if derive == "total+reject" else (delta, delta)
        else:  # GOOD_COUNT
            if derive == "total+good":
                total, reject = 0, -delta
            else:  # good+reject or good alone: good parts add to the total
                total, reject = delta, 0
        if total > 0 or signal is not Signal.REJECT_COUNT:
            self.last_count = received
        # The parts were made since the previous read: they are timed in the middle (capped after a
        # gap), and the minute bucket takes that same time, so that minutes and events agree.
        cap = self.count_gap_cap_s
        at = (ts + previous) * 0.5 if previous is not None and 0.0 <= ts - previous <= cap else ts - cap * 0.5
        product = self.tag_product if self.tag_product is not None else self.plan.product_at(at)
        self.pending_events.append((at, product, total, reject))
        key = (at - at % 60.0, product)
        # Two buckets written out, not a loop over both: this runs for every count that moves.
        pending = self.pending_counts.get(key)
        if pending is None:
            self.pending_counts[key] = [total, reject]
        else:
            pending[0] += total
            pending[1] += reject
        recent = self.recent_counts.get(key)
        if recent is None:
            self.recent_counts[key] = [total, reject]
        else:
            recent[0] += total
            recent[1] += reject

    def _counter_event(self, signal: Signal, kind: EventKind, ts: float, previous: int, value: int,
                       counted: int, most: float) -> None:
        recorded, since = self._event_quiet.get(signal, (float("-inf"), 0))
        if 0.0 <= ts - recorded < _EVENT_QUIET_S:
            self._event_quiet[signal] = (recorded, since + 1)
            return
        self._event_quiet[signal] = (ts, 0)
        event = MachineEvent(self.id, ts, kind, signal, previous, value, counted, most)
        more = f" ({since:,} more resets or jumps of it in the minute before, not recorded)" if since else ""
        log.warning("machine %s: %s%s", self.id, event.text, more)
        self.pending_counter_events.append(event)
        self.recent_counter_events.append(event)
        if len(self.recent_counter_events) > _RECENT_EVENTS:
            del self.recent_counter_events[0]

    # ------------------------------------------------------------ state

    def still_current(self, now: float) -> None:
        """The source vouches that nothing changed: values heard before are still good at `now`."""
        if self.last_good is not None and not self.bad:
            self.last_good = now

    def evaluate(self, now: float) -> None:
        """Derive the machine's state from what it has been told; close/open intervals."""
        kind, since = self._derive_kind(now)
        if self.tag_product is None and self.plan.segments:
            self.product = self.plan.product_at(now)
        if kind != self.kind:
            if self.kind == OFFLINE:
                # Time without data is offline, whatever the first value after it says: what
                # came back is known from this batch on, not from a count or a state before the gap.
                since = now
            self._transition(kind, max(since, self.current.start))

    def _derive_kind(self, now: float) -> tuple[str, float]:
        if self.last_good is None:
            return OFFLINE, now
        if self.bad:
            self.last_error = next(iter(self.bad.values()))
            return OFFLINE, now
        if now - self.last_good > self.stale_after_s:
            self.last_error = f"no data for {now - self.last_good:.0f} s"
            return OFFLINE, self.last_good
        if self.has_state_tag:
            target = self.config.state_map.get(self.state_code) if self.state_code is not None else None
            if target is None:
                self.last_error = f"unknown state code {self.state_code!r}"
                return OFFLINE, now
            kind = _CODE_TO_KIND[target]
            if self.fault and kind == RUN:
                kind = UNPLANNED
            if kind == UNPLANNED:
                return self._planned_or_stopped(now, now)
            return kind, now
        if self.fault:
            return self._planned_or_stopped(now, now)
        if self.last_count is not None and now - self.last_count <= self.activity_timeout_s:
            return RUN, self.last_count
        return self._planned_or_stopped(now, self.last_count if self.last_count is not None else now)

    def _planned_or_stopped(self, now: float, since: float) -> tuple[str, float]:
        """A machine that stands still: planned inside a break, a planned stop or outside the
        schedule, whatever the PLC says; otherwise stopped, from no earlier than the end of the
        planned time before now."""
        start, end, planned = self._plan_span
        if not start <= now < end:
            start, end, planned = self._plan_span = self._span_at(now)
        return (PLANNED if planned else UNPLANNED), max(since, start)

    def _span_at(self, now: float) -> tuple[float, float, bool]:
        """The span around `now` that is wholly planned or wholly not, within the horizon."""
        calendar = self.calendar
        lo, hi = now - _PLAN_HORIZON_S, now + _PLAN_HORIZON_S
        spans: list[Span] = self.plan.planned_stop_spans(lo, hi)
        if calendar is not None:
            spans += calendar.planned_spans(lo, hi)
        gap_start = lo
        planned_start = planned_end = lo
        for span in sorted(spans, key=_START):  # merged on the way: spans that touch make one planned span
            if span.start <= planned_end:
                planned_end = max(planned_end, span.end)
                continue
            if now < planned_end:
                return planned_start, planned_end, True
            gap_start = planned_end
            if now < span.start:
                return gap_start, span.start, False
            planned_start, planned_end = span.start, span.end
        if now < planned_end:
            return planned_start, planned_end, True
        return max(gap_start, planned_end), hi, False

    def _transition(self, kind: str, at: float) -> None:
        fragment = self.current
        last = self._last_closed
        # Running time is never a fragment: the parts it made are the proof that it ran.
        if (last is not None and self.kind != RUN and at - fragment.start < self.settle_s and self.history
                and self.history[-1] is last[0] and last[0].end == fragment.start):
            self._absorb(fragment, *last)
            if kind == self.kind:
                return  # the state before the fragment goes on
        closed = self._closed_state(self.current, at)
        self.closed.append(closed)
        self.history.append(closed)
        self._last_closed = (closed, self.kind)
        self.kind = kind
        state = _KIND_TO_STATE.get(kind, MachineState.MINOR_STOP)
        self.current = StateInterval(self.id, at, None, state)

    def _absorb(self, fragment: StateInterval, previous: StateInterval, previous_kind: str) -> None:
        """Give a fragment's time to the interval before it, which is open again.

        The fragment is handed to the store as empty (its end = its start): it may have been
        written as the open interval already, and an empty interval covers no time anywhere.
        """
        self.history.pop()
        if self.closed and self.closed[-1] is previous:
            self.closed.pop()
        self.closed.append(replace(fragment, end=fragment.start))
        self._last_closed = None
        self.kind = previous_kind
        self.current = replace(previous, end=None, state=_KIND_TO_STATE.get(previous_kind, MachineState.MINOR_STOP))

    def _closed_state(self, interval: StateInterval, end: float) -> StateInterval:
        state = interval.state
        if self.kind == UNPLANNED:
            # The class of a stop is decided by its full length, once.
            short = end - interval.start < self._threshold(interval.start)
            state = MachineState.MINOR_STOP if short else MachineState.DOWN
        return replace(interval, end=end, state=state)

    def _threshold(self, at: float) -> float:
        """The micro-stop threshold of the product running when a stop began."""
        if not self.plan.thresholds:
            return self.config.micro_stop_threshold_s
        return self.plan.micro_stop_threshold(self.product_at(at))

    def live_state(self, now: float) -> MachineState:
        if self.kind == UNPLANNED:
            short = now - self.current.start < self._threshold(self.current.start)
            return MachineState.MINOR_STOP if short else MachineState.DOWN
        return self.current.state

    def open_interval(self, now: float) -> StateInterval:
        """The current interval as it stands now, classified as if it ended now."""
        return replace(self.current, state=self.live_state(now))

    # ------------------------------------------------------------ reasons

    def set_reason(self, stop_start: float, reason: str, user: str, at: float) -> bool:
        if abs(self.current.start - stop_start) < 1e-6:
            self.current = replace(self.current, reason=reason, reason_by=user, reason_at=at)
            return True
        for index in range(len(self.history) - 1, -1, -1):
            interval = self.history[index]
            if abs(interval.start - stop_start) < 1e-6:
                self.history[index] = replace(interval, reason=reason, reason_by=user, reason_at=at)
                return True
        return False

    # ------------------------------------------------------------ flushing

    def take_pending(self, now: float) -> tuple[list[StateInterval], list[CountBucket]]:
        """Hand over what must be written, including the open interval with a provisional end.

        The open interval is written with end = now so that, after a crash, the
        store knows the state up to the last flush and no further.
        """
        intervals = self.closed
        self.closed = []
        provisional = replace(self.current, end=now, state=self.live_state(now))
        intervals.append(provisional)
        buckets = [
            CountBucket(self.id, minute, product, total, reject)
            for (minute, product), (total, reject) in self.pending_counts.items()
        ]
        self.pending_counts = {}
        return intervals, buckets

    def take_count_events(self) -> list[CountEventRow]:
        """Hand over the count events not yet written (their minutes go with take_pending)."""
        events, self.pending_events = self.pending_events, []
        return events

    def close(self, now: float) -> None:
        """Close the open interval at `now` (clean shutdown)."""
        if self.current.end is None:
            self._transition(OFFLINE, max(now, self.current.start))

    def trim(self, keep_from: float) -> None:
        """Drop history older than `keep_from`; the store has it."""
        self.history = [i for i in self.history if (i.end or keep_from) >= keep_from]
        self.recent_counts = {k: v for k, v in self.recent_counts.items() if k[0] + 60.0 > keep_from}

    def recent_buckets(self) -> list[CountBucket]:
        return [
            CountBucket(self.id, minute, product, total, reject)
            for (minute, product), (total, reject) in self.recent_counts.items()
        ]
