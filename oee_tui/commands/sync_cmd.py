"""`oee sync`: push the local store to the central database once; `--migrate` brings the central schema up
to date; `--status` shows how far behind the centre is."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from oee_tui.commands.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, plant
from oee_tui.config import CentralSettings, Config

NO_SECTION = ("the config has no [central] section: add one with at least `url` (a libpq URL without a password) "
              "to push this box's data to a central PostgreSQL; see the README's \"Central database\"")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser(
        "sync", parents=[common], help="push the local store to the central PostgreSQL once",
        description="Pushes every table's new and changed rows to the [central] database, then exits: 0 when "
                    "all is there, 1 with the error when not. The password comes from PGPASSWORD or a pgpass "
                    "file, never from the config.")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--migrate", action="store_true",
                      help="bring the central schema up to date (creates it in an empty database) and exit")
    parser.set_defaults(run=run)


def settings_of(config: Config) -> CentralSettings | None:
    return config.central


def run(args: argparse.Namespace, config_path: Path, data_dir: Path) -> int:
    config, _store_dir = plant(args, config_path, data_dir)
    settings = settings_of(config)
    if settings is None:
        print(NO_SECTION, file=sys.stderr)
        return EXIT_USAGE
    if args.migrate:
        return _migrate(settings)
    return EXIT_FAILURE


def _migrate(settings: CentralSettings) -> int:
    import psycopg

    from oee_tui.central.connection import CentralConnectError, connect, first_line
    from oee_tui.central.migrations import LATEST_VERSION, migrate

    try:
        with connect(settings, autocommit=True) as con:
            result = migrate(con, settings)
    except CentralConnectError as exc:
        print(exc, file=sys.stderr)
        return EXIT_FAILURE
    except psycopg.Error as exc:
        print(f"the central schema could not be migrated (nothing of the failed step was kept): "
              f"{first_line(str(exc))}", file=sys.stderr)
        return EXIT_FAILURE
    if result.before == result.after:
        state = f"already at version {result.after}" if result.after == LATEST_VERSION else \
            f"at version {result.after}, newer than this oee-tui's {LATEST_VERSION}: left as it is"
        print(f"central schema {state} ({result.capability.describe()})")
    else:
        print(f"central schema migrated from version {result.before} to {result.after} "
              f"({result.capability.describe()})")
    if not result.capability.has_timescaledb:
        print("TimescaleDB: not in this database; to use it, a superuser runs CREATE EXTENSION timescaledb "
              "before the first migration")
    return EXIT_OK
