"""Planning records: what a planner imports and the store keeps, read by the engine's rules.

One type per concept, whoever makes it: the importer builds them from a file's rows (with
`source_row`, the row as the planner sees it), the store writes them and reads them back
(`source_row` None), and the engine's planning rules turn them into context for OEE.
Times are UTC POSIX seconds; shift times and breaks are plant-local "HH:MM".

Orders, products and planned stops are NamedTuples, not dataclasses: a year of schedule is
hundreds of thousands of orders, and the store builds each from its row without Python per field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, NamedTuple

from oee_tui.model.facts import Loss

WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ProductRate(NamedTuple):
    """A product's ideal cycle time (and micro-stop threshold) on one machine, or on every machine."""

    product: str
    machine: str | None  # None: every machine without a row of its own
    ideal_cycle_time_s: float | None
    micro_stop_threshold_s: float | None
    source_row: int | None = None


class Order(NamedTuple):
    """A production order on one machine, or (machine None) on every machine of `line`.

    An open order (planned with no end yet) has `end_utc` math.inf: it runs until the next order
    on its machine or line starts, as the planning rules cut an earlier order where a later one
    begins. `quantity` None: no quantity target. `ideal_cycle_time_s` None: the product's (the
    planning rules' precedence); given, it is the ideal cycle time of every part made while the
    order runs (another tool or pack size can run one product at another rate). Last, so that
    records built by position before it existed keep their meaning."""

    order_id: str
    product: str | None
    machine: str | None
    line: str | None
    start_utc: float
    end_utc: float
    quantity: int | None
    source_row: int | None = None
    ideal_cycle_time_s: float | None = None


class PlannedStop(NamedTuple):
    """Planned maintenance or a no-order period, for one machine or (machine None) a whole line."""

    machine: str | None
    line: str | None
    start_utc: float
    end_utc: float
    reason: str | None
    note: str | None
    source_row: int | None = None


@dataclass(frozen=True, slots=True)
class ShiftPattern:
    name: str
    start: str  # "HH:MM" plant local time
    end: str  # at or before start: the next day
    days: tuple[str, ...]  # the weekdays it starts on, in week order
    breaks: tuple[tuple[str, str], ...]  # (start, end) "HH:MM" pairs
    source_row: int | None = None


@dataclass(frozen=True, slots=True)
class ReasonRecord:
    """A stop reason of the imported tree."""

    code: str
    name: str
    parent: str | None
    planned: bool | None  # None: as its parent (a row of the store may leave it empty)
    loss: Loss | None  # None for a planned reason, or one that takes its parent's
    source_row: int | None = None


@dataclass(frozen=True, slots=True)
class ProductionRun:
    """A hand-kept run of a machine without a PLC: what it made between two times."""

    machine: str
    product: str | None
    order_id: str | None
    start_utc: float
    end_utc: float
    total_count: int
    reject_count: int
    source_row: int | None = None


@dataclass(frozen=True, slots=True)
class LoggedStop:
    """A hand-kept stop of a machine without a PLC, with its reason if one was written down."""

    machine: str
    start_utc: float
    end_utc: float
    reason: str | None
    source_row: int | None = None


ImportRecord = ProductRate | Order | ShiftPattern | PlannedStop | ReasonRecord | ProductionRun | LoggedStop


@dataclass(frozen=True, slots=True)
class PlanningRecords:
    """Everything the planning tables hold (orders and planned stops perhaps only those of a window)."""

    products: tuple[ProductRate, ...] = ()
    orders: tuple[Order, ...] = ()
    planned_stops: tuple[PlannedStop, ...] = ()
    reasons: tuple[ReasonRecord, ...] = ()
    shifts: tuple[ShiftPattern, ...] = ()
