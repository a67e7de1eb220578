"""`oee store backup|check|restore`: keep a store safe, find out whether it is whole, put a backup back.

While an engine serves the data dir, `backup` runs in it (admins only); `check` of the store itself and
`restore` need the store to themselves, so they say to stop the engine first (exit 3). A running engine
also takes its own backups when the config's `[store] backup_every_h` is set.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from oee_tui.commands.common import EXIT_LOCKED, EXIT_OK, EXIT_STORE, load_for_run, store_dir_of
from oee_tui.config import StoreConfig

if TYPE_CHECKING:
    from oee_tui.service.client import EngineClient


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("store", parents=[common], help="back up, check or restore the local store")
    actions = parser.add_subparsers(dest="store_command", metavar="ACTION", required=True)
    backup = actions.add_parser(
        "backup", parents=[common], help="copy the store to a new backup file",
        description="Writes a consistent copy of the store to the config's [store] backup_dir (default: "
                    "DATA_DIR/backups) and keeps the newest [store] backup_keep (default 7).")
    backup.add_argument("--to", type=Path, metavar="DIR", help="write the backup to DIR instead")
    check = actions.add_parser(
        "check", parents=[common], help="read every table of the store and say what is wrong",
        description="Opens the store read-only, reads every row of every table (DuckDB checks each block's "
                    "checksum) and prints one line per problem. Exit 0: sound; 4: a problem was found.")
    check.add_argument("--file", type=Path, metavar="FILE", help="check this file (a backup) instead of the store")
    restore = actions.add_parser(
        "restore", parents=[common], help="put a backup in place of the store",
        description="Checks FILE, then puts a copy of it in place of DATA_DIR/oee.duckdb; the store it "
                    "replaces is kept beside it as oee.duckdb.replaced-TIME.")
    restore.add_argument("file", type=Path, metavar="FILE", help="the backup to restore")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, config_path: Path, data_dir: Path) -> int:
    from oee_tui.commands.attached import in_engine

    if args.store_command == "backup":
        done = in_engine(store_dir_of(args, data_dir), "oee store backup",
                         lambda client: _backup_attached(client, args))
        if done is not None:
            return done
    elif args.store_command in ("check", "restore") and not (args.store_command == "check" and args.file):
        done = in_engine(store_dir_of(args, data_dir), f"oee store {args.store_command}",
                         lambda client: _refused_while_running(client, args.store_command))
        if done is not None:
            return done
    store_dir, settings = _store_of(args, config_path, data_dir)
    if args.store_command == "check":
        return _check(args.file, store_dir)
    if args.store_command == "restore":
        return _restore(args.file, store_dir)
    return _backup(store_dir, args.to or settings.backup_path(store_dir), settings.backup_keep)


async def _backup_attached(client: EngineClient, args: argparse.Namespace) -> int:
    answer = await client.call("store_backup", to=None if args.to is None else str(args.to.resolve()))
    print(f"backed up {answer['db']} to {answer['path']} ({answer['bytes']:,} bytes), by the engine (pid {client.pid})")
    return EXIT_OK


async def _refused_while_running(client: EngineClient, action: str) -> int:
    if action == "restore":
        print(f"oee store restore: the engine (pid {client.pid}) is running on this store; stop it first "
              "(systemctl stop oee-engine, or quit the TUI that owns it)", file=sys.stderr)
    else:
        print(f"oee store check: the engine (pid {client.pid}) holds this store; check a copy instead: "
              "`oee store backup`, then `oee store check FILE` on the backup it names", file=sys.stderr)
    return EXIT_LOCKED


def _store_of(args: argparse.Namespace, config_path: Path, data_dir: Path) -> tuple[Path, StoreConfig]:
    """The data dir the command works on, and its [store] settings (the defaults without a config)."""
    if args.demo:
        from oee_tui.runtime import demo_data_dir

        return demo_data_dir(data_dir), StoreConfig()
    if config_path.exists():
        return data_dir, load_for_run(config_path).store
    return data_dir, StoreConfig()


def _backup(store_dir: Path, backup_dir: Path, keep: int) -> int:
    from oee_tui.store import Store

    if not (store_dir / Store.DB_FILENAME).exists():
        print(f"oee store backup: no store in {store_dir} yet; nothing to back up", file=sys.stderr)
        return EXIT_STORE
    with Store.open(store_dir) as store:
        path = store.backup(backup_dir, keep)
    print(f"backed up {store_dir / Store.DB_FILENAME} to {path} ({path.stat().st_size:,} bytes)")
    return EXIT_OK


def _check(file: Path | None, store_dir: Path) -> int:
    from oee_tui.store.store_check import check_data_dir, check_file

    result = check_file(file) if file is not None else check_data_dir(store_dir)
    for problem in result.problems:
        print(problem)
    if result.ok:
        rows = sum(result.tables.values())
        print(f"{result.path}: ok: schema version {result.version}, {len(result.tables)} tables, {rows:,} rows read")
        return EXIT_OK
    return EXIT_STORE


def _restore(file: Path, store_dir: Path) -> int:
    from oee_tui.store.backups import restore

    kept = restore(file, store_dir)
    print(f"restored {file} to {store_dir}" + (f"; the store it replaced is {kept}" if kept else ""))
    return EXIT_OK
