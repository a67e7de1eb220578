"""What one validation run did, as kept in its folder's `run.json`: read back to list and reopen past runs."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from oee_tui.validation.junit import CaseResult, Counts, Outcome

RUN_FILE: Final = "run.json"
LOG_FILE: Final = "validation.log"
REPORT_MD: Final = "report.md"
REPORT_HTML: Final = "report.html"


class PhaseStatus(StrEnum):
    PASSED = "passed"  # every case passed or was skipped
    FAILED = "failed"  # a case failed or erred
    ERROR = "error"  # the phase gave no results (it crashed, or wrote no JUnit XML)
    CANCELLED = "cancelled"
    NOT_RUN = "not run"  # after a cancel
    UNAVAILABLE = "unavailable"  # a suite phase where the package was installed without its tests
    EMPTY = "no tests"  # the phase selected no test


class RunStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(slots=True)
class PhaseRecord:
    id: str
    title: str
    status: PhaseStatus
    counts: Counts = field(default_factory=Counts)
    seconds: float = 0.0
    note: str = ""  # why it is unavailable, in error, or cancelled
    cases: list[CaseResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(slots=True)
class RunRecord:
    id: str  # the folder's name: the start time, UTC
    started: float
    finished: float | None
    status: RunStatus | None  # None while it runs (or when it died without finishing)
    user: str
    host: str
    version: str
    site: str
    config: str | None
    store_dir: str
    attached: bool
    phases: list[PhaseRecord]
    cancelled_at: float | None = None
    cancelled_in: str | None = None  # the phase that was running

    @property
    def counts(self) -> Counts:
        total = Counts()
        for phase in self.phases:
            total = total + phase.counts
        return total


def save_record(record: RunRecord, folder: Path) -> None:
    """Write run.json whole (a temp file, then rename): a reader never sees half of it."""
    data = asdict(record)
    tmp = folder / (RUN_FILE + ".tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    tmp.replace(folder / RUN_FILE)


def load_record(folder: Path) -> RunRecord:
    """A run's record. Raises OSError or ValueError (naming the file) when it cannot be read."""
    path = folder / RUN_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return _record(data)
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a validation run record ({exc})") from None


def _record(data: dict[str, Any]) -> RunRecord:
    phases = [PhaseRecord(
        id=p["id"], title=p["title"], status=PhaseStatus(p["status"]), counts=Counts(**p["counts"]),
        seconds=p["seconds"], note=p["note"],
        cases=[CaseResult(c["name"], Outcome(c["outcome"]), c["message"], c["classname"], c["seconds"])
               for c in p["cases"]],
        warnings=list(p["warnings"])) for p in data["phases"]]
    return RunRecord(
        id=data["id"], started=data["started"], finished=data["finished"],
        status=None if data["status"] is None else RunStatus(data["status"]), user=data["user"], host=data["host"],
        version=data["version"], site=data["site"], config=data["config"], store_dir=data["store_dir"],
        attached=data["attached"], phases=phases, cancelled_at=data["cancelled_at"],
        cancelled_in=data["cancelled_in"])
