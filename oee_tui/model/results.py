"""The figures the OEE calculator produces, for one machine or an aggregate."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class SixBigLosses:
    """Seconds lost and event/part counts per loss."""

    breakdown_s: float = 0.0
    breakdown_events: int = 0
    setup_s: float = 0.0
    setup_events: int = 0
    minor_stop_s: float = 0.0
    minor_stop_events: int = 0
    reduced_speed_s: float = 0.0
    defects_s: float = 0.0
    defects_count: int = 0
    startup_rejects_s: float = 0.0
    startup_rejects_count: int = 0


@dataclass(frozen=True, slots=True)
class OeeResult:
    """OEE over one window. Ratios are None when their denominator is zero.

    Times are seconds. ISO 22400-2 names: PBT = planned busy time (= PPT here),
    APT = actual production time (= run time), PQ = produced quantity,
    GQ = good quantity.
    """

    scope: str  # machine id, line id, or "plant"
    window_start: float
    window_end: float
    calendar_time_s: float
    scheduled_time_s: float  # shift time inside the window (POT)
    planned_stop_s: float  # breaks + planned stops inside scheduled time
    no_data_s: float  # scheduled, not planned-stopped, but offline/unknown: excluded from PPT
    planned_production_time_s: float  # PBT
    run_time_s: float  # APT
    unplanned_downtime_s: float
    ideal_output_time_s: float  # sum(ideal cycle time x total count)
    fully_productive_time_s: float  # sum(ideal cycle time x good count)
    total_count: int  # PQ
    good_count: int  # GQ
    reject_count: int
    availability: float | None
    performance: float | None
    quality: float | None  # ideal-time weighted so that A x P x Q == OEE exactly
    quality_count_ratio: float | None  # GQ / PQ
    oee: float | None
    teep: float | None
    losses: SixBigLosses = field(default_factory=SixBigLosses)
    flags: tuple[str, ...] = ()  # e.g. "performance_over_100", "no_data"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["flags"] = list(self.flags)
        return data
