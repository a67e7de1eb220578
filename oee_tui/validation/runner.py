"""Running validation phases: each in a subprocess whose output is streamed line by line (to the screen
or the terminal, and to the run's log), counted from the JUnit XML it leaves, and kept with a report.

A run lives in `<data dir>/validation/<start time>/`: the log, one XML file per phase, `run.json`, and
the report as Markdown and HTML. `cancel()` (from any thread) stops the running phase's whole process
group; the phases after it are not run, and the report says so.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Final

from oee_tui import __version__
from oee_tui.service.client import engine_serves
from oee_tui.validation.junit import JunitError, Outcome, read_junit
from oee_tui.validation.phases import CALCULATOR_ID, SITE_ID, Phase
from oee_tui.validation.progress_lines import split_progress
from oee_tui.validation.report import write_reports
from oee_tui.validation.run_record import LOG_FILE, PhaseRecord, PhaseStatus, RunRecord, RunStatus, save_record

RUNS_FOLDER: Final = "validation"
STOP_GRACE_S: Final = 5.0  # after SIGTERM, how long a cancelled phase may take to stop before SIGKILL
NO_TESTS_COLLECTED: Final = 5  # pytest's exit code when a marker selects nothing


def runs_dir(store_dir: Path) -> Path:
    return store_dir / RUNS_FOLDER


@dataclass(frozen=True, slots=True)
class RunSetup:
    """What the run is run on: the plant's config (None for the demo, reached through its engine), the
    store's folder (where the runs are kept too), and the tests folder for the suite's phases. Whether an
    engine serves the store's folder the run finds out for itself (the site phase asks it, then)."""

    store_dir: Path
    config_path: Path | None
    tests_dir: Path | None
    site: str = ""
    python: str = sys.executable


class RunEvents:
    """What a run says as it goes; the screen and the command override what they show. Called from the
    thread that runs the phases."""

    def phase_started(self, phase: Phase) -> None: ...

    def output(self, phase: Phase, line: str) -> None: ...

    def progress(self, phase: Phase, done: int, total: int) -> None: ...

    def phase_finished(self, record: PhaseRecord) -> None: ...


class ValidationRun:
    def __init__(self, setup: RunSetup, phases: tuple[Phase, ...], events: RunEvents | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.setup = setup
        self.phases = phases
        self.events = events or RunEvents()
        self.clock = clock
        started = clock()
        run_id = datetime.fromtimestamp(started, UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        self.folder = runs_dir(setup.store_dir) / run_id
        self.record = RunRecord(
            id=run_id, started=started, finished=None, status=None, user=getpass.getuser(), host=socket.gethostname(),
            version=__version__, site=setup.site, config=None if setup.config_path is None else str(setup.config_path),
            store_dir=str(setup.store_dir), attached=engine_serves(setup.store_dir),
            phases=[PhaseRecord(phase.id, phase.title, PhaseStatus.NOT_RUN) for phase in phases])
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None
        self._running: Phase | None = None

    # ------------------------------------------------------------ control

    def cancel(self) -> None:
        """Stop the run: the running phase's processes now, and no phase after it. Safe from any thread."""
        with self._lock:
            if self._cancel.is_set():
                return
            self._cancel.set()
            self.record.cancelled_at = self.clock()
            self.record.cancelled_in = None if self._running is None else self._running.id
            process = self._process
        if process is not None:
            _stop_group(process)

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    # ------------------------------------------------------------ running

    def run(self) -> RunRecord:
        """Run the phases in order (blocking); the record, with its reports written, when all are done."""
        self.folder.mkdir(parents=True, exist_ok=False)
        save_record(self.record, self.folder)
        with open(self.folder / LOG_FILE, "a", encoding="utf-8") as log:
            self._log(log, None, f"validation run {self.record.id} by {self.record.user} on {self.record.host}, "
                      f"oee-tui {self.record.version}; store {self.setup.store_dir}")
            for index, phase in enumerate(self.phases):
                if self._cancel.is_set():
                    break
                record = self._run_phase(phase, log)
                self.record.phases[index] = record
                save_record(self.record, self.folder)
                self.events.phase_finished(record)
            if self._cancel.is_set():
                self._log(log, None, f"cancelled by {self.record.user}")
        self.record.finished = self.clock()
        self.record.status = self._status()
        save_record(self.record, self.folder)
        write_reports(self.record, self.folder)
        return self.record

    def _status(self) -> RunStatus:
        if self._cancel.is_set():
            return RunStatus.CANCELLED
        failing = (PhaseStatus.FAILED, PhaseStatus.ERROR)
        return RunStatus.FAILED if any(phase.status in failing for phase in self.record.phases) else RunStatus.PASSED

    def _run_phase(self, phase: Phase, log: IO[str]) -> PhaseRecord:
        record = PhaseRecord(phase.id, phase.title, PhaseStatus.NOT_RUN)
        command = self._command(phase)
        if command is None:
            record.status = PhaseStatus.UNAVAILABLE
            record.note = ("this oee-tui was installed without its tests; the suite's phases run from a source "
                           "checkout")
            self._log(log, phase, record.note)
            return record
        junit = self.folder / f"{phase.id}.xml"
        command += [f"--junitxml={junit}"] if phase.is_suite else ["--junit", str(junit)]
        self.events.phase_started(phase)
        self._log(log, phase, "started: " + " ".join(command))
        started = time.perf_counter()
        environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with self._lock:
            if self._cancel.is_set():
                return record
            self._running = phase
            process = subprocess.Popen(command, cwd=self._cwd(phase), env=environment, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, bufsize=1,
                                       errors="replace", start_new_session=True)
            self._process = process
        assert process.stdout is not None
        after_mark = False
        for raw in process.stdout:
            line, progress = split_progress(raw.rstrip("\n"))
            if progress is not None:
                self.events.progress(phase, *progress)
                after_mark = not line
                if not line:
                    continue
            elif after_mark and not line:
                # pytest's reporter starts its next line afresh after the mark's own: a blank line, not output
                after_mark = False
                continue
            after_mark = False
            self._log(log, phase, line)
            self.events.output(phase, line)
        returncode = process.wait()
        with self._lock:
            self._process = None
            self._running = None
        record.seconds = time.perf_counter() - started
        self._results(record, junit, returncode, phase)
        self._log(log, phase, f"{record.status.value}: {record.counts.passed} passed, {record.counts.failed} failed, "
                  f"{record.counts.skipped} skipped, {record.counts.errors} errors, {record.counts.warnings} "
                  f"warnings in {record.seconds:.1f} s" + (f" ({record.note})" if record.note else ""))
        return record

    def _results(self, record: PhaseRecord, junit: Path, returncode: int, phase: Phase) -> None:
        if self._cancel.is_set():
            record.status = PhaseStatus.CANCELLED
            record.note = "cancelled while it ran; its results are incomplete and not counted"
            return
        if phase.is_suite and returncode == NO_TESTS_COLLECTED:
            record.status = PhaseStatus.EMPTY
            record.note = "no test carries this phase's marker"
            return
        try:
            results = read_junit(junit)
        except JunitError as exc:
            record.status = PhaseStatus.ERROR
            record.note = f"{exc} (the phase exited with {returncode}; see the log)"
            return
        record.counts = results.counts
        record.cases = list(results.cases)
        record.warnings = list(results.warnings)
        failing = any(case.outcome in (Outcome.FAILED, Outcome.ERROR) for case in results.cases)
        if failing:
            record.status = PhaseStatus.FAILED
        elif returncode not in (0, NO_TESTS_COLLECTED):
            # No case failed, yet the process did: an internal error pytest reports only by its exit code.
            record.status = PhaseStatus.ERROR
            record.note = f"exited with {returncode} without a failing case; see the log"
        else:
            record.status = PhaseStatus.PASSED

    def _command(self, phase: Phase) -> list[str] | None:
        python = self.setup.python
        if phase.id == CALCULATOR_ID:
            return [python, "-m", "oee_tui.validation.phase_main", CALCULATOR_ID]
        if phase.id == SITE_ID:
            command = [python, "-m", "oee_tui.validation.phase_main", SITE_ID, "--store-dir", str(self.setup.store_dir)]
            if self.setup.config_path is not None:
                command += ["--config", str(self.setup.config_path)]
            return command
        tests = self.setup.tests_dir
        if tests is None:
            return None
        assert phase.marker is not None
        return [python, "-m", "pytest", str(tests), "-m", phase.marker, "-p", "oee_tui.validation.suite_plugin",
                "-v", "-p", "no:cacheprovider", "-o", "junit_family=xunit2", "-o", "console_output_style=classic"]

    def _cwd(self, phase: Phase) -> Path | None:
        tests = self.setup.tests_dir
        return tests.parent if phase.is_suite and tests is not None else None

    def _log(self, log: IO[str], phase: Phase | None, line: str) -> None:
        now = datetime.fromtimestamp(self.clock(), UTC)
        stamp = f"{now:%Y-%m-%dT%H:%M:%S}.{now.microsecond // 1000:03d}Z"
        log.write(f"{stamp} [{phase.id if phase else 'run'}] {line}\n")
        log.flush()


def _stop_group(process: subprocess.Popen[str]) -> None:
    """SIGTERM to the phase's whole process group (pytest and the servers its tests started), SIGKILL
    after STOP_GRACE_S if it is still there."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return

    def kill_later() -> None:
        try:
            process.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

    threading.Thread(target=kill_later, name="validation-cancel", daemon=True).start()
