"""What every subcommand shares: exit codes, the plant's config and store, plain tables."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from oee_tui.config import FILE_KEY, Config, ConfigError
from oee_tui.drivers.registry import load_config

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_LOCKED = 3
EXIT_STORE = 4  # the store is damaged, or its disk refuses writes (full, read-only)
EXIT_UNSAVED = 5  # the engine stopped with data its store never got


def load_for_run(config_path: Path) -> Config:
    if not config_path.exists():
        raise ConfigError(config_path, FILE_KEY, None,
                          "does not exist; run `oee config init` to write a sample, or try `oee --demo`")
    return load_config(config_path)


def plant(args: argparse.Namespace, config_path: Path, data_dir: Path) -> tuple[Config, Path]:
    """The config and the store directory a command works on: the demo's with --demo, else the user's."""
    if args.demo:
        # Imported only here: a command without --demo never needs the demo's servers.
        from oee_tui.demo.servers import demo_config
        from oee_tui.runtime import demo_data_dir

        return demo_config(), demo_data_dir(data_dir)
    return load_for_run(config_path), data_dir


def store_dir_of(args: argparse.Namespace, data_dir: Path) -> Path:
    """The store directory a command works on, without reading the config (an attached command needs none)."""
    if args.demo:
        from oee_tui.runtime import demo_data_dir

        return demo_data_dir(data_dir)
    return data_dir


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1, refused in words otherwise."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def print_rows(rows: Sequence[Sequence[str]]) -> None:
    """Left-aligned columns, the first row a header; for terminals and `grep` alike."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
