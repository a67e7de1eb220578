"""The domain records that cross the engine's socket, packed as msgpack extension types.

A record is packed as its class name and its fields in order, and rebuilt only as one of the classes
listed here: the bytes from a socket never name code to run (which pickle would allow). Arrays come
back as tuples, which is what every record's sequence fields hold. A date crosses as its ISO text.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from enum import Enum
from typing import Any, Final

import msgpack

from oee_tui.device_checks import SourceCheck
from oee_tui.drivers.base import BrowseEntry, TagReading
from oee_tui.model import (
    DeadLetter,
    EventKind,
    Loss,
    MachineDetail,
    MachineEvent,
    MachineSnapshot,
    MachineState,
    OeeResult,
    Order,
    PlannedStop,
    PlanningRecords,
    PlantSnapshot,
    ProductRate,
    Quality,
    ReasonRecord,
    ReasonTotal,
    ShiftPattern,
    SixBigLosses,
    SourceStatus,
    Span,
    StateInterval,
    StoreHealth,
    SyncHealth,
    TrendPoint,
)
from oee_tui.model.audit import AuditEntry, AuditProblem, AuditVerdict

RECORD: Final = 1
ENUM: Final = 2
DATE: Final = 3

_RECORDS: Final[dict[str, type[Any]]] = {cls.__name__: cls for cls in (
    PlantSnapshot, MachineSnapshot, SourceStatus, StoreHealth, SyncHealth, OeeResult, SixBigLosses, MachineEvent,
    MachineDetail, StateInterval, TrendPoint, ReasonTotal, DeadLetter,
    PlanningRecords, ProductRate, Order, PlannedStop, ReasonRecord, ShiftPattern, Span,
    AuditEntry, AuditProblem, AuditVerdict, SourceCheck, TagReading, BrowseEntry,
)}
_ENUMS: Final[dict[str, type[Enum]]] = {cls.__name__: cls for cls in (MachineState, EventKind, Loss, Quality)}


class RecordError(ValueError):
    """Bytes that claim to be a record this side does not know (another version of oee-tui, or not oee-tui)."""


def register(*classes: type[Any]) -> None:
    """Make more dataclasses or enums crossable (the modules that define them call this once)."""
    for cls in classes:
        if issubclass(cls, Enum):
            _ENUMS[cls.__name__] = cls
        elif dataclasses.is_dataclass(cls) or (issubclass(cls, tuple) and hasattr(cls, "_fields")):
            _RECORDS[cls.__name__] = cls
        else:
            raise TypeError(f"{cls.__name__} is neither a dataclass nor an enum")


def default(obj: object) -> msgpack.ExtType | list[Any]:
    """msgpack's `default` under `strict_types` (so that a StrEnum is not packed as a plain str): packs
    the records and enums listed above, and tuples as arrays."""
    cls = type(obj)
    if cls is tuple:
        return list(obj)  # type: ignore[call-overload]
    if cls is date and isinstance(obj, date):  # exactly a date: a datetime is not one of the records' fields
        return msgpack.ExtType(DATE, obj.isoformat().encode())
    if isinstance(obj, Enum) and _ENUMS.get(cls.__name__) is cls:
        return msgpack.ExtType(ENUM, pack((cls.__name__, obj.value)))
    if _RECORDS.get(cls.__name__) is cls:
        if isinstance(obj, tuple):  # a NamedTuple
            values = list(obj)
        else:
            values = [getattr(obj, field.name) for field in dataclasses.fields(obj)]  # type: ignore[arg-type]
        return msgpack.ExtType(RECORD, pack([cls.__name__, *values]))
    raise TypeError(f"cannot send a {cls.__name__} over the engine's socket")


def pack(value: object) -> bytes:
    return msgpack.packb(value, default=default, use_bin_type=True, strict_types=True)  # type: ignore[no-any-return]


def ext_hook(code: int, data: bytes) -> object:
    """msgpack's `ext_hook`: rebuilds the records and enums listed above, refusing any other."""
    if code == DATE:
        try:
            return date.fromisoformat(data.decode())
        except (UnicodeDecodeError, ValueError) as exc:
            raise RecordError(f"not a date: {data!r}") from exc
    if code not in (RECORD, ENUM):
        raise RecordError(f"unknown extension type {code}")
    name, *values = msgpack.unpackb(data, ext_hook=ext_hook, use_list=False, raw=False)
    if code == ENUM:
        enum = _ENUMS.get(name)
        if enum is None:
            raise RecordError(f"unknown enum {name!r}")
        return enum(values[0])
    record = _RECORDS.get(name)
    if record is None:
        raise RecordError(f"unknown record {name!r}")
    return record(*values)
