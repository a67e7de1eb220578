"""Domain types shared by every layer: drivers, engine, store, screens and commands.

Nothing here does I/O or imports anything of the project's own: the types are the
vocabulary the layers above speak to each other in.
"""

from oee_tui.model.audit import AuditChange, AuditEntry, AuditProblem, AuditVerdict
from oee_tui.model.events import EventKind, MachineEvent
from oee_tui.model.facts import (
    COUNTER_SIGNALS,
    STATE_CODE_TARGETS,
    CountBucket,
    CountEvent,
    CountEventColumns,
    CountEventRow,
    DeadLetter,
    Loss,
    MachineState,
    Signal,
    StateInterval,
)
from oee_tui.model.planning import (
    WEEKDAYS,
    ImportRecord,
    LoggedStop,
    Order,
    PlannedStop,
    PlanningRecords,
    ProductionRun,
    ProductRate,
    ReasonRecord,
    ShiftPattern,
)
from oee_tui.model.results import OeeResult, SixBigLosses
from oee_tui.model.samples import Quality, SampleBatch, SampleColumns, TagSample, TagValue, good_samples
from oee_tui.model.shift_overlaps import ShiftOverlap, WeeklyShift, shift_overlaps
from oee_tui.model.snapshot import (
    MachineDetail,
    MachineSnapshot,
    PlantSnapshot,
    ReasonTotal,
    SourceStatus,
    StoreHealth,
    SyncHealth,
    TrendPoint,
)
from oee_tui.model.spans import ShiftInstance, Span

__all__ = [
    "COUNTER_SIGNALS",
    "STATE_CODE_TARGETS",
    "WEEKDAYS",
    "AuditChange",
    "AuditEntry",
    "AuditProblem",
    "AuditVerdict",
    "CountBucket",
    "CountEvent",
    "CountEventColumns",
    "CountEventRow",
    "DeadLetter",
    "EventKind",
    "ImportRecord",
    "LoggedStop",
    "Loss",
    "MachineDetail",
    "MachineEvent",
    "MachineSnapshot",
    "MachineState",
    "OeeResult",
    "Order",
    "PlannedStop",
    "PlanningRecords",
    "PlantSnapshot",
    "ProductRate",
    "ProductionRun",
    "Quality",
    "ReasonRecord",
    "ReasonTotal",
    "SampleBatch",
    "SampleColumns",
    "ShiftInstance",
    "ShiftOverlap",
    "ShiftPattern",
    "Signal",
    "SixBigLosses",
    "SourceStatus",
    "Span",
    "StateInterval",
    "StoreHealth",
    "SyncHealth",
    "TagSample",
    "TagValue",
    "TrendPoint",
    "WeeklyShift",
    "good_samples",
    "shift_overlaps",
]
