"""Rules the code must keep, checked by the tools made for them rather than by hand.

* The import contracts in pyproject.toml (import-linter): imports run down the data flow from the
  commands and screens to the domain types; the engine's jobs stay in their order; Textual and rich
  never appear below the screens, directly or through another module; the store knows only the
  domain types.
* The type checker (mypy, strict, on the whole package).
* ruff.

Each runs as its own process from the project root, as a developer would run it, so a broken
rule fails the suite with the tool's own report.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*command: str, timeout: float) -> subprocess.CompletedProcess[str]:
    # The tools import the package to analyse it: make it this checkout's, whatever is installed.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))}
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)


def test_import_contracts_are_kept() -> None:
    # What the lint-imports command runs (importlinter.cli has no __main__: `-m` would check nothing).
    lint = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True, no_logo=True))"
    done = _run(sys.executable, "-c", lint, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: " in done.stdout and " broken" in done.stdout, done.stdout  # it did check something


def test_mypy_finds_no_error() -> None:
    # The cache lives in the checkout (.mypy_cache, ignored by git): a second run takes seconds.
    done = _run(sys.executable, "-m", "mypy", timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_is_clean() -> None:
    done = _run(sys.executable, "-m", "ruff", "check", "oee_tui", "tests", "benchmarks", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
