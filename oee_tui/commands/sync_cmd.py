"""`oee sync`: push the local store to the central database once; `--migrate` brings the central schema up
to date; `--status` shows how far behind the centre is.

While an engine serves the data dir, the push and the status go through it (only the engine may open the
store, and the central password is in its environment); otherwise the command opens the store itself.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oee_tui.commands.common import EXIT_FAILURE, EXIT_LOCKED, EXIT_OK, EXIT_USAGE, plant, print_rows, store_dir_of
from oee_tui.config import CentralSettings

if TYPE_CHECKING:
    from oee_tui.service.client import EngineClient
    from oee_tui.store import Store

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
    what.add_argument("--status", action="store_true",
                      help="rows and seconds the centre is behind, per table, and the last error")
    parser.add_argument("--format", choices=("table", "json"), default="table", help="for --status")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, config_path: Path, data_dir: Path) -> int:
    from oee_tui.commands.attached import in_engine

    config, store_dir = plant(args, config_path, data_dir)
    settings = config.central
    if settings is None:
        print(NO_SECTION, file=sys.stderr)
        return EXIT_USAGE
    if args.migrate:
        return _migrate(settings)
    if args.status:
        done = in_engine(store_dir_of(args, data_dir), "oee sync --status",
                         lambda client: _status_attached(client, args))
        if done is not None:
            return done
        return _standalone(store_dir, lambda store: _status_here(store, settings, args))
    done = in_engine(store_dir_of(args, data_dir), "oee sync", _push_attached)
    if done is not None:
        return done

    def push(store: Store) -> int:
        from oee_tui.central.sync import SyncError, sync_once

        try:
            report = sync_once(store, config, settings)
        except SyncError as exc:
            print(f"sync failed: {exc}", file=sys.stderr)
            return EXIT_FAILURE
        _said_pushed(report.rows, report.seconds)
        return EXIT_OK

    return _standalone(store_dir, push)


def _standalone(store_dir: Path, work: Any) -> int:
    from oee_tui.store import Store, StoreDamagedError, StoreLockedError, StoreWriteError

    try:
        store = Store.open(store_dir)
    except StoreLockedError as exc:
        print(exc, file=sys.stderr)
        return EXIT_LOCKED
    except (StoreDamagedError, StoreWriteError) as exc:
        print(exc, file=sys.stderr)
        return EXIT_FAILURE
    with store:
        code: int = work(store)
        return code


def _said_pushed(rows: dict[str, int], seconds: float) -> None:
    total = sum(rows.values())
    if total == 0:
        print(f"central database up to date: nothing new to push ({seconds:.1f} s)")
        return
    parts = ", ".join(f"{table} {count:,}" for table, count in rows.items() if count)
    print(f"pushed {total:,} rows in {seconds:.1f} s: {parts}")


async def _push_attached(client: EngineClient) -> int:
    # A failed round comes back as the engine's refusal: in_engine prints it and exits 1.
    result: dict[str, Any] = await client.call("sync_now")
    _said_pushed(result["rows"], result["seconds"])
    return EXIT_OK


async def _status_attached(client: EngineClient, args: argparse.Namespace) -> int:
    status: dict[str, Any] = await client.call("sync_status")
    return _print_status(status, args)


def _status_here(store: Store, settings: CentralSettings, args: argparse.Namespace) -> int:
    from oee_tui.central.connection import where
    from oee_tui.central.sync_status import table_lags

    status = {"target": where(settings), "edge_id": settings.edge_id, "site": settings.site,
              "tables": [asdict(lag) for lag in table_lags(store, time.time())],
              "outcome": asdict(store.sync_outcome())}
    return _print_status(status, args)


def _print_status(status: dict[str, Any], args: argparse.Namespace) -> int:
    outcome = status["outcome"]
    failing = outcome["error"] is not None
    if args.format == "json":
        print(json.dumps(status, indent=2))
        return EXIT_FAILURE if failing else EXIT_OK
    print(f"central: {status['target']} as edge {status['edge_id']} (site {status['site']})")
    if outcome["ok_at"] is not None:
        print(f"last successful sync: {_when(outcome['ok_at'])}")
    if failing:
        print(f"LAST SYNC FAILED at {_when(outcome['error_at'])}: {outcome['error']}")
    elif outcome["ok_at"] is None:
        print("never synced: `oee sync` pushes now (or `oee engine` with [central] interval_s)")
    rows = [("table", "rows waiting", "lag", "pushed", "last pushed")]
    for lag in status["tables"]:
        seconds = "never" if lag["lag_s"] is None else f"{lag['lag_s']:.0f} s"
        rows.append((lag["table"], f"{lag['pending_rows']:,}", seconds, f"{lag['pushed']:,}",
                     "-" if lag["synced_at"] is None else _when(lag["synced_at"])))
    print_rows(rows)
    return EXIT_FAILURE if failing else EXIT_OK


def _when(posix: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(posix))


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
