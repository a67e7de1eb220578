"""Spans of time and the shift occurrences made of them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Span:
    """Half-open time span [start, end) in POSIX seconds."""

    start: float
    end: float

    @property
    def seconds(self) -> float:
        return max(0.0, self.end - self.start)


@dataclass(frozen=True, slots=True)
class ShiftInstance:
    """One occurrence of a shift: its name, the local date it starts on, and its UTC span."""

    name: str
    local_date: str  # ISO date of the shift's start in plant local time
    start: float
    end: float
    breaks: tuple[Span, ...] = field(default_factory=tuple)

    @property
    def label(self) -> str:
        return f"{self.name}@{self.local_date}"
