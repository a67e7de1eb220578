"""One built-in phase in a process of its own (the runner starts it; so does the benchmark):

    python -m oee_tui.validation.phase_main site --junit FILE --config FILE --store-dir DIR
    python -m oee_tui.validation.phase_main calculator --junit FILE

Each result is printed as a line as it is decided, with progress lines for the runner's bar, and all of
them written to FILE as JUnit XML at the end (the counts come from there). Exit 0 when nothing failed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Final

from oee_tui.validation.junit import CaseResult, Outcome, write_junit
from oee_tui.validation.progress_lines import progress_line

if TYPE_CHECKING:
    from oee_tui.config import Config
    from oee_tui.validation.site_acceptance import PlantAccess

SITE: Final = "site"
CALCULATOR: Final = "calculator"
MARKS: Final = {Outcome.PASSED: "PASS", Outcome.FAILED: "FAIL", Outcome.SKIPPED: "SKIP", Outcome.ERROR: "ERROR"}


class Printer:
    """Says each result and how far the phase is, flushed at once (the runner shows them live)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.say(progress_line(0, total))

    @staticmethod
    def say(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def __call__(self, case: CaseResult) -> None:
        self.done += 1
        detail = f": {case.message}" if case.message else ""
        self.say(f"{MARKS[case.outcome]:5} {case.classname} {case.name}{detail}")
        self.say(progress_line(self.done, max(self.total, self.done)))


def run_calculator(junit: Path) -> int:
    from oee_tui.validation.self_test import load_cases, run_self_test

    cases = load_cases()
    printer = Printer(sum(len(group) for group in cases.values()))
    results = run_self_test(cases, printer)
    write_junit(junit, "calculator", results)
    return _exit(results)


def run_site(junit: Path, config_path: Path | None, store_dir: Path) -> int:
    from oee_tui.service.client import engine_serves

    if engine_serves(store_dir):
        from oee_tui.service.client import AttachRefused, NoEngine

        try:
            results, warnings = asyncio.run(_site_attached(store_dir, config_path))
        except (AttachRefused, NoEngine) as exc:  # the engine would not take this user, or went away
            Printer.say(f"site acceptance: {exc}")
            write_junit(junit, "site", [CaseResult("attach to the engine", Outcome.ERROR, str(exc), "site")])
            return 1
    else:
        if config_path is None:
            Printer.say("site acceptance: the demo's devices exist only while `oee --demo` or `oee engine --demo` "
                        "runs; start one, or give a config with --config")
            write_junit(junit, "site", [CaseResult("the plant's config", Outcome.ERROR, "no config to check", "site")])
            return 1
        from oee_tui.drivers.registry import load_config
        from oee_tui.validation.plant_access import LocalAccess

        config = load_config(config_path)
        results, warnings = asyncio.run(_site(config, LocalAccess(config, store_dir)))
    write_junit(junit, "site", results, warnings)
    return _exit(results)


async def _site_attached(store_dir: Path, config_path: Path | None) -> tuple[list[CaseResult], list[str]]:
    from oee_tui.demo.servers import demo_config
    from oee_tui.drivers.registry import load_config
    from oee_tui.service.client import EngineClient
    from oee_tui.service.remote_engine import config_from_answer
    from oee_tui.service.session_origin import local_origin
    from oee_tui.validation.plant_access import EngineAccess

    client = await EngineClient.attach(store_dir, origin=local_origin())
    try:
        Printer.say(f"site acceptance: through the engine serving {store_dir} (pid {client.pid})")
        # The engine's own config (without secrets); for one built in code, the file given, or the demo's.
        answer = await client.call("config")
        in_answer = answer.get("text") is not None or answer.get("built_in") is not None
        fallback = demo_config() if in_answer or config_path is None else load_config(config_path, secrets=False)
        config = config_from_answer(answer, fallback)
        return await _site(config, EngineAccess(client))
    finally:
        await client.close()


async def _site(config: Config, access: PlantAccess) -> tuple[list[CaseResult], list[str]]:
    from oee_tui.validation.site_acceptance import planned_checks, site_acceptance

    printer = Printer(planned_checks(config))
    results = await site_acceptance(config, access, printer)
    return results.cases, results.warnings


def _exit(results: list[CaseResult]) -> int:
    return 1 if any(case.outcome in (Outcome.FAILED, Outcome.ERROR) for case in results) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m oee_tui.validation.phase_main")
    parser.add_argument("phase", choices=(SITE, CALCULATOR))
    parser.add_argument("--junit", type=Path, required=True)
    parser.add_argument("--config", type=Path)
    parser.add_argument("--store-dir", type=Path)
    args = parser.parse_args(argv)
    phases: dict[str, Callable[[], int]] = {
        CALCULATOR: lambda: run_calculator(args.junit),
        SITE: lambda: run_site(args.junit, args.config, args.store_dir or Path.cwd()),
    }
    return phases[args.phase]()


if __name__ == "__main__":
    raise SystemExit(main())
