"""Counter deltas from PLC counters that wrap, reset and jump.

A PLC counter of width w counts modulo 2**w. Every change is judged by what the machine can
have made: at most (elapsed time x `rate`) parts, plus one on its way (`rate` is the machine's
fastest rate times its jump margin). Counting on, the elapsed time runs from the last change of
the value (a PLC may add a stroke's parts at once); a reset, from the last reading that still
showed the old value. A drop is a wrap when the wrapped distance is plausible; otherwise, when
the new raw value is plausible, the counter was reset (power cycle, shift reset) and the new
value is the count since the reset. Any other change, up or down, cannot be parts made: a PLC
restarting with a retained value, a preset, a 64-bit counter gone negative. It is rebaselined,
not counted: the next reading counts from the new value. Resets and jumps go to `on_event`, so
that the machine records them.
"""

from __future__ import annotations

from collections.abc import Callable

from oee_tui.model import EventKind

# (kind, ts, previous raw value, new raw value, parts counted, the most the machine can have made)
CounterEventSink = Callable[[EventKind, float, int, int, int, float], None]
_UNBOUNDED = float("inf")


class CounterTracker:
    __slots__ = ("changed_ts", "half", "last", "last_ts", "modulus", "on_event", "rate", "resets", "wraps")

    def __init__(self, width: int, rate: float = _UNBOUNDED, on_event: CounterEventSink | None = None) -> None:
        self.modulus = 1 << width
        self.half = self.modulus >> 1
        self.rate = rate  # parts a second the machine can make at most, margin included
        self.on_event = on_event
        self.last: int | None = None
        self.last_ts: float | None = None  # the last reading's time
        self.changed_ts: float | None = None  # the time of the last reading that changed the value
        self.wraps = 0
        self.resets = 0

    def update(self, raw: float | int | bool, ts: float | None = None) -> int:
        """Feed one raw reading taken at `ts`; return the number of parts counted since the last one.
        Without a time, any change is plausible (the rules of wraps and resets alone)."""
        # Signed PLC types (INT, DINT) wrap to negative values: fold into the unsigned range.
        value = int(raw) % self.modulus
        last = self.last
        if value == last:  # the common case first: it runs for every reading of every counter
            self.last_ts = ts
            return 0
        read_ts = self.last_ts
        self.last = value
        self.last_ts = ts
        changed_ts = self.changed_ts
        self.changed_ts = ts
        if last is None:
            return 0
        if value > last:
            delta = value - last
            # Counting on: the parts may have been made at any time since the value last changed
            # (a PLC may add a whole stroke's parts at once, or update its counter every few seconds).
            # One part is always plausible: the bound is never below it.
            if delta == 1 or ts is None or changed_ts is None:
                return delta
            elapsed = ts - changed_ts  # _most, written out: this runs for every count that moves
            if elapsed > 0.0 and delta <= elapsed * self.rate + 1.0:
                return delta
            most = self._most(ts, changed_ts)
        else:
            wrapped = value + self.modulus - last
            if wrapped < self.half and wrapped <= self._most(ts, changed_ts):
                self.wraps += 1
                return wrapped
            # A reset happened after the last reading that still showed the old value: what
            # the new value counts was made since then.
            most = self._most(ts, read_ts)
            if value <= most:
                self.resets += 1
                self._event(EventKind.COUNTER_RESET, ts, last, value, value, most)
                return value
        self._event(EventKind.COUNTER_JUMP, ts, last, value, 0, most)
        return 0

    def _most(self, ts: float | None, since: float | None) -> float:
        """The most parts the machine can have made between `since` and `ts`, plus the one on its way."""
        if ts is None or since is None or self.rate == _UNBOUNDED:
            return _UNBOUNDED
        elapsed = ts - since
        # A device clock that went back allows no more than the one part on its way.
        return (elapsed * self.rate if elapsed > 0.0 else 0.0) + 1.0

    def _event(self, kind: EventKind, ts: float | None, last: int, value: int, counted: int, most: float) -> None:
        if self.on_event is not None:
            self.on_event(kind, 0.0 if ts is None else ts, last, value, counted, most)

    @property
    def width(self) -> int:
        return self.modulus.bit_length() - 1

    def set_width(self, width: int) -> None:
        """Count modulo 2**width from now on (a source told the counter's datatype). The last
        reading is kept, folded into the new range, so the next change is counted as usual."""
        self.modulus = 1 << width
        self.half = self.modulus >> 1
        if self.last is not None:
            self.last %= self.modulus

    def rebase(self) -> None:
        """Forget the last reading, e.g. after the machine was reconfigured."""
        self.last = None
