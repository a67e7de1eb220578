"""Counter deltas from PLC counters that wrap and reset.

A PLC counter of width w counts modulo 2**w. A drop in the raw value is a
wrap when the wrapped distance is plausible (less than half the range);
otherwise the counter was reset (power cycle, shift reset) and the new raw
value is the count since the reset.
"""

from __future__ import annotations


class CounterTracker:
    __slots__ = ("half", "last", "modulus", "resets", "wraps")

    def __init__(self, width: int) -> None:
        self.modulus = 1 << width
        self.half = self.modulus >> 1
        self.last: int | None = None
        self.wraps = 0
        self.resets = 0

    def update(self, raw: float | int | bool) -> int:
        """Feed one raw reading; return the number of parts counted since the last one."""
        # Signed PLC types (INT, DINT) wrap to negative values: fold into the unsigned range.
        value = int(raw) % self.modulus
        last = self.last
        self.last = value
        if last is None or value == last:
            return 0
        if value > last:
            return value - last
        wrapped = value + self.modulus - last
        if wrapped < self.half:
            self.wraps += 1
            return wrapped
        self.resets += 1
        return value

    def rebase(self) -> None:
        """Forget the last reading, e.g. after the machine was reconfigured."""
        self.last = None
