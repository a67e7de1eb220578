"""Subcommands beyond the core ones (ui, engine, report, devices, config), one module each.

Each module in `MODULES` has `add_parser(sub, common)`, which adds its subparser and sets
`run=` to a function `(args, config_path, data_dir) -> exit code`. Keeping them apart keeps
`oee --help` from importing what only one command needs.
"""

from __future__ import annotations

import argparse
from types import ModuleType


def _modules() -> tuple[ModuleType, ...]:
    from oee_tui.commands import (
        access_cmd,
        audit_cmd,
        deadletters_cmd,
        devices_cmd,
        export_cmd,
        import_cmd,
        status_cmd,
        store_cmd,
        sync_cmd,
    )

    return (devices_cmd, import_cmd, export_cmd, deadletters_cmd, store_cmd, status_cmd, audit_cmd, access_cmd,
            sync_cmd)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    for module in _modules():
        module.add_parser(sub, common)
