"""What the engine notices about a machine besides its states and counts: a counter that reset, or
jumped further than the machine can have made, and was rebaselined instead of counted."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from oee_tui.model.facts import Signal


class EventKind(StrEnum):
    # A counter went back and its new value is no more than the machine can have made since the
    # last reading: it was reset (power cycle, shift reset) and the new value is counted.
    COUNTER_RESET = "counter_reset"
    # A counter moved, up or down, by more than the machine can have made since the last reading
    # (a PLC restarting with a retained value, a counter preset): nothing is counted for the jump,
    # and the next reading counts from the new value.
    COUNTER_JUMP = "counter_jump"


@dataclass(frozen=True, slots=True)
class MachineEvent:
    """One event of one machine at `ts` (the reading's time, POSIX seconds).

    For the counter events: `signal` is the counter, `previous` and `value` its raw readings before
    and now (folded into its unsigned range), `counted` the parts counted for the change, and
    `most` the most parts the machine can have made between the two readings.
    """

    machine: str
    ts: float
    kind: EventKind
    signal: Signal | None = None
    previous: int | None = None
    value: int | None = None
    counted: int = 0
    most: float | None = None

    @property
    def text(self) -> str:
        """The event in a person's words, for the screens and the log."""
        counter = self.signal.value if self.signal is not None else "counter"
        if self.kind is EventKind.COUNTER_RESET:
            return f"{counter} reset from {self.previous:,} to {self.value:,}; {self.counted:,} counted"
        most = "" if self.most is None else f" (at most {int(self.most):,} possible)"
        return f"{counter} jumped from {self.previous:,} to {self.value:,}{most}; not counted, rebaselined"
