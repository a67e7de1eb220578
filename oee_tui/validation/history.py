"""Past validation runs in a data dir: listed newest first, and reopened by their id."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from oee_tui.validation.run_record import REPORT_MD, RunRecord, load_record
from oee_tui.validation.runner import runs_dir


@dataclass(frozen=True, slots=True)
class PastRun:
    id: str
    folder: Path
    record: RunRecord | None  # None: its record cannot be read (the run was killed before it wrote one)
    problem: str | None = None


def past_runs(store_dir: Path) -> list[PastRun]:
    folder = runs_dir(store_dir)
    if not folder.is_dir():
        return []
    runs = []
    for run_folder in sorted((path for path in folder.iterdir() if path.is_dir()), reverse=True):
        try:
            runs.append(PastRun(run_folder.name, run_folder, load_record(run_folder)))
        except (OSError, ValueError) as exc:
            runs.append(PastRun(run_folder.name, run_folder, None, str(exc)))
    return runs


def find_run(store_dir: Path, run_id: str) -> PastRun:
    """The run `run_id` ("latest" for the newest, or a prefix of one id). Raises LookupError naming the runs."""
    runs = past_runs(store_dir)
    if not runs:
        raise LookupError(f"no validation run in {runs_dir(store_dir)} yet")
    if run_id == "latest":
        return runs[0]
    matches = [run for run in runs if run.id.startswith(run_id)]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(run.id for run in runs[:5])
    what = "more than one run" if matches else "no run"
    raise LookupError(f"{what} matches {run_id!r}; the newest: {known}")


def report_text(run: PastRun) -> str:
    return (run.folder / REPORT_MD).read_text(encoding="utf-8")
