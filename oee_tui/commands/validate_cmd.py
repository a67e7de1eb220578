"""`oee validate`: run the validation suite's phases (site acceptance, the calculator's self-test and, in a
source checkout, the project's own tests by phase), print their output as it comes, and keep a log and a
report in the data dir; `--list` and `--show` reopen past runs.

With an engine serving the data dir, site acceptance reaches the devices and the store through it."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

from oee_tui.commands.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, load_for_run, print_rows, store_dir_of
from oee_tui.validation.phases import PHASE_IDS, Phase, phases_named, source_checkout
from oee_tui.validation.run_record import REPORT_HTML, REPORT_MD, PhaseRecord, RunRecord, RunStatus
from oee_tui.validation.runner import RunEvents, RunSetup, ValidationRun


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    validate = sub.add_parser("validate", parents=[common], help="run the validation suite and keep its report")
    validate.add_argument("--phase", action="append", choices=PHASE_IDS, metavar="PHASE",
                          help=f"run only this phase (repeat for more): {', '.join(PHASE_IDS)}; default: all")
    validate.add_argument("--json", action="store_true",
                          help="print the run's results as JSON on stdout (the live output goes to stderr)")
    validate.add_argument("--list", action="store_true", help="list the past runs kept in the data dir")
    validate.add_argument("--show", metavar="RUN", help="print a past run's report (RUN: its id, a prefix, or latest)")
    validate.set_defaults(run=run)


def run(args: argparse.Namespace, config_path: Path, data_dir: Path) -> int:
    from oee_tui.service.client import engine_serves

    store_dir = store_dir_of(args, data_dir)
    if args.list:
        return _list(store_dir)
    if args.show is not None:
        return _show(store_dir, args.show)
    if args.demo:
        from oee_tui.demo.servers import demo_config

        config_file, site = None, demo_config().site.name
    elif not config_path.exists() and engine_serves(store_dir):
        config_file, site = None, ""  # attached: the site phase takes the engine's own config
    else:
        config_file, site = config_path, load_for_run(config_path).site.name
    setup = RunSetup(store_dir=store_dir, config_path=config_file, tests_dir=source_checkout(), site=site)
    out = sys.stderr if args.json else sys.stdout
    validation = ValidationRun(setup, phases_named(args.phase), _Printer(out))
    try:
        record = _run_cancellable(validation)
    except OSError as exc:  # the data dir is not this user's to write (an engine's, attached)
        print(f"oee validate: cannot keep the run in {validation.folder}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"report: {validation.folder / REPORT_MD} (and {REPORT_HTML}); log: {validation.folder}/validation.log",
          file=out)
    if args.json:
        json.dump(_json(record, validation.folder), sys.stdout, indent=1)
        sys.stdout.write("\n")
    return EXIT_OK if record.status is RunStatus.PASSED else EXIT_FAILURE


def _run_cancellable(validation: ValidationRun) -> RunRecord:
    """Run in a thread, so that Ctrl+C here (the main thread) cancels it cleanly and the report says so."""
    outcome: list[RunRecord] = []
    failure: list[OSError] = []

    def work() -> None:
        try:
            outcome.append(validation.run())
        except OSError as exc:
            failure.append(exc)

    worker = threading.Thread(target=work, name="validation-run")

    def cancel(_signum: int, _frame: Any) -> None:
        print("oee validate: cancelling", file=sys.stderr)
        validation.cancel()

    # Only the main thread may take a signal (a script may call main() from another: it cancels by its own means).
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, cancel) if in_main else None
    try:
        worker.start()
        while worker.is_alive():
            worker.join(0.2)
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous)
    if failure:
        raise failure[0]
    if not outcome:
        raise RuntimeError("the validation run stopped without a record; see its log")
    return outcome[0]


class _Printer(RunEvents):
    def __init__(self, out: Any) -> None:
        self.out = out

    def phase_started(self, phase: Phase) -> None:
        print(f"== {phase.title} ==", file=self.out, flush=True)

    def output(self, phase: Phase, line: str) -> None:
        print(line, file=self.out, flush=True)

    def phase_finished(self, record: PhaseRecord) -> None:
        c = record.counts
        note = f" ({record.note})" if record.note else ""
        print(f"== {record.title}: {record.status.value.upper()}: {c.passed} passed, {c.failed} failed, "
              f"{c.skipped} skipped, {c.errors} errors, {c.warnings} warnings{note}", file=self.out, flush=True)


def _json(record: RunRecord, folder: Path) -> dict[str, Any]:
    data = asdict(record)
    for phase, raw in zip(record.phases, data["phases"], strict=True):
        if phase.id not in ("site", "calculator"):  # the suite's passing tests are in the XML, not here
            raw["cases"] = [case for case in raw["cases"] if case["outcome"] != "passed"]
    data["counts"] = asdict(record.counts)
    data["report"] = {"markdown": str(folder / REPORT_MD), "html": str(folder / REPORT_HTML),
                      "log": str(folder / "validation.log")}
    return data


def _list(store_dir: Path) -> int:
    from oee_tui.validation.history import past_runs
    from oee_tui.validation.report import headline

    runs = past_runs(store_dir)
    if not runs:
        print(f"no validation run in {store_dir} yet; run `oee validate`")
        return EXIT_OK
    rows: list[tuple[str, ...]] = [("run", "phases", "result")]
    for past in runs:
        if past.record is None:
            rows.append((past.id, "?", f"unreadable: {past.problem}"))
        else:
            rows.append((past.id, " ".join(phase.id for phase in past.record.phases), headline(past.record)))
    print_rows(rows)
    return EXIT_OK


def _show(store_dir: Path, run_id: str) -> int:
    from oee_tui.validation.history import find_run, report_text

    try:
        past = find_run(store_dir, run_id)
        sys.stdout.write(report_text(past))
    except LookupError as exc:
        print(f"oee validate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"oee validate: run {run_id}: its report cannot be read: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK
