"""Rules the code must keep: the engine and drivers never import Textual; ruff is clean."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UI_FREE = ("oee_tui/engine", "oee_tui/drivers", "oee_tui/demo", "oee_tui/imports", "oee_tui/mqtt")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
            if node.module.startswith("oee_tui.") and node.module.split(".")[1] in ("app", "screens", "widgets"):
                names.add("oee_tui-ui")
    return names


@pytest.mark.parametrize("package", UI_FREE)
def test_engine_side_never_imports_textual(package: str) -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / package).rglob("*.py"))
        if {"textual", "rich", "oee_tui-ui"} & _imports(path)
    ]
    assert offenders == [], f"UI imports in {package}: {offenders}"


def test_ruff_is_clean() -> None:
    if shutil.which("ruff") is None and subprocess.run([sys.executable, "-m", "ruff", "--version"],
                                                       capture_output=True).returncode != 0:
        pytest.fail("ruff is not installed; it is in the [test] extra")
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "oee_tui", "tests", "benchmarks"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
