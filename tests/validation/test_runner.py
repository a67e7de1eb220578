"""The runner on a generated test directory: a subprocess per phase, counts from JUnit XML (a test
named `..._warnings` is no warning), the log and reports, cancel, and past runs."""

from __future__ import annotations

import threading
from pathlib import Path

from oee_tui.validation.history import find_run, past_runs, report_text
from oee_tui.validation.junit import Counts, Outcome, read_junit
from oee_tui.validation.phases import Phase, phases_named
from oee_tui.validation.run_record import LOG_FILE, REPORT_HTML, REPORT_MD, PhaseRecord, PhaseStatus, RunStatus
from oee_tui.validation.runner import RunEvents, RunSetup, ValidationRun
from tests.validation.generated_suite import write_suite


class Recorder(RunEvents):
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []
        self.progress_seen: list[tuple[str, int, int]] = []
        self.finished: list[PhaseRecord] = []

    def output(self, phase: Phase, line: str) -> None:
        self.lines.append((phase.id, line))

    def progress(self, phase: Phase, done: int, total: int) -> None:
        self.progress_seen.append((phase.id, done, total))

    def phase_finished(self, record: PhaseRecord) -> None:
        self.finished.append(record)


def test_suite_phases_are_counted_from_junit_xml(tmp_path: Path) -> None:
    tests = write_suite(tmp_path / "checkout")
    events = Recorder()
    run = ValidationRun(RunSetup(store_dir=tmp_path / "data", config_path=None, tests_dir=tests, site="Test Works"),
                        phases_named(["edge", "processing", "security", "performance"]), events)
    record = run.run()

    edge, processing, security, performance = record.phases
    # test_passes, test_reports_warnings, test_warns pass; test_fails fails; test_skipped; test_errors errs.
    assert edge.counts == Counts(passed=3, failed=1, skipped=1, errors=1, warnings=1)
    assert edge.status is PhaseStatus.FAILED
    assert [w for w in edge.warnings if "an old API" in w], edge.warnings
    outcomes = {case.name: case.outcome for case in edge.cases}
    assert outcomes["test_reports_warnings"] is Outcome.PASSED
    assert outcomes["test_errors"] is Outcome.ERROR
    assert processing.counts == Counts(passed=1) and processing.status is PhaseStatus.PASSED
    assert security.counts == Counts(passed=1) and security.status is PhaseStatus.PASSED
    assert performance.status is PhaseStatus.EMPTY  # nothing in the generated suite is performance
    assert record.status is RunStatus.FAILED
    assert record.counts == Counts(passed=5, failed=1, skipped=1, errors=1, warnings=1)

    # Live output reached the events, progress came as numbers, and the bar reached its end.
    assert any("test_fails" in line or "one and one" in line for phase, line in events.lines if phase == "edge")
    assert ("edge", 6, 6) in events.progress_seen
    assert not any(line.startswith("@@") for _, line in events.lines)
    assert [phase.id for phase in events.finished] == ["edge", "processing", "security", "performance"]

    # The log, the XML per phase and the reports are in a timestamped folder of the data dir.
    folder = run.folder
    assert folder.parent == tmp_path / "data" / "validation"
    log = (folder / LOG_FILE).read_text()
    assert "[edge]" in log and "one and one are not three" in log
    assert read_junit(folder / "edge.xml").counts == edge.counts
    markdown = (folder / REPORT_MD).read_text()
    assert "FAILED: 5 passed, 1 failed, 1 skipped, 1 errors, 1 warnings" in markdown
    assert "test_fails" in markdown and "test_passes" not in markdown  # the suite lists only what did not pass
    assert "an old API" in markdown
    page = (folder / REPORT_HTML).read_text()
    assert "<table>" in page and "test_errors" in page


def test_a_cancelled_run_says_so_and_runs_nothing_after(tmp_path: Path) -> None:
    tests = write_suite(tmp_path / "checkout", blocking=True)

    class CancelOnceRunning(Recorder):
        run: ValidationRun

        def progress(self, phase: Phase, done: int, total: int) -> None:
            super().progress(phase, done, total)
            if phase.id == "processing":  # collected: its blocking test is about to run
                threading.Thread(target=self.run.cancel).start()

    events = CancelOnceRunning()
    run = ValidationRun(RunSetup(store_dir=tmp_path / "data", config_path=None, tests_dir=tests),
                        phases_named(["calculator", "processing", "security"]), events)
    events.run = run
    record = run.run()

    calculator, processing, security = record.phases
    assert calculator.status is PhaseStatus.PASSED
    assert processing.status is PhaseStatus.CANCELLED and processing.counts == Counts()
    assert security.status is PhaseStatus.NOT_RUN
    assert record.status is RunStatus.CANCELLED and record.cancelled_in == "processing"
    markdown = (run.folder / REPORT_MD).read_text()
    assert markdown.startswith("# Validation report")
    assert "CANCELLED" in markdown and "This run was cancelled" in markdown and "during processing" in markdown
    assert "cancelled by" in (run.folder / LOG_FILE).read_text()


def test_installed_without_tests_the_suite_phases_say_so(tmp_path: Path) -> None:
    record = ValidationRun(RunSetup(store_dir=tmp_path, config_path=None, tests_dir=None),
                           phases_named(["calculator", "edge"])).run()
    calculator, edge = record.phases
    assert calculator.counts.passed >= 10 and calculator.status is PhaseStatus.PASSED
    assert edge.status is PhaseStatus.UNAVAILABLE and "installed without its tests" in edge.note
    assert record.status is RunStatus.PASSED


def test_past_runs_are_listed_newest_first_and_reopened(tmp_path: Path) -> None:
    first = ValidationRun(RunSetup(store_dir=tmp_path, config_path=None, tests_dir=None), phases_named(["calculator"]))
    first.run()
    second = ValidationRun(RunSetup(store_dir=tmp_path, config_path=None, tests_dir=None), phases_named(["calculator"]))
    second.run()
    (tmp_path / "validation" / "00000000-killed").mkdir()  # a run that died before writing its record

    runs = past_runs(tmp_path)
    assert [run.id for run in runs[:2]] == [second.record.id, first.record.id]
    assert runs[-1].record is None and runs[-1].problem
    assert find_run(tmp_path, "latest").id == second.record.id
    assert "Calculator self-test" in report_text(find_run(tmp_path, first.record.id))
