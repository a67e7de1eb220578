"""`oee` run in-process on the config and data dir of the `paths` fixture (conftest.py)."""

from __future__ import annotations

from pathlib import Path

from oee_tui.cli import main


def oee(paths: tuple[Path, Path], *args: str) -> int:
    config, data = paths
    return main(["--config", str(config), "--data-dir", str(data), *args])


def oee_import(paths: tuple[Path, Path], *args: str) -> int:
    return oee(paths, "import", *args)
