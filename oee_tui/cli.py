"""The `oee` command. Thin: parse arguments, build the parts, run them, map errors to exit codes.

Exit codes: 0 ok, 1 unexpected failure, 2 bad config or arguments, 3 the store
is owned by another process, 4 the store is damaged or its disk refuses writes, 5 the
engine (or the TUI) stopped with data its store never got.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oee_tui import __version__, commands
from oee_tui.commands.common import (
    EXIT_FAILURE,
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_STORE,
    EXIT_UNSAVED,
    EXIT_USAGE,
    plant,
)
from oee_tui.commands.common import load_for_run as _load_for_run_path
from oee_tui.config import LOG_FORMATS, Config, ConfigError, default_config_path, default_data_dir
from oee_tui.config.file_warnings import config_warnings
from oee_tui.drivers.registry import config_from_dict, load_config
from oee_tui.log_setup import setup_logging

if TYPE_CHECKING:
    from oee_tui.service.client import EngineClient
    from oee_tui.service.remote_engine import RemoteEngine

__all__ = ["EXIT_FAILURE", "EXIT_LOCKED", "EXIT_OK", "EXIT_STORE", "EXIT_UNSAVED", "EXIT_USAGE", "build_parser",
           "main"]

SAMPLE_CONFIG = """\
# oee-tui plant configuration. Times are local to site.timezone.
# Reference: the README's "Config file" section.

[site]
name = "My Plant"
timezone = "Europe/Berlin"
stale_after_s = 10          # no good data for this long marks a machine offline

[targets]
oee = 0.85

[[lines]]
id = "L1"
name = "Line 1"
area = "Packaging"

[[sources]]
name = "plc1"
kind = "modbus"             # modbus | opcua | s7 | logix
host = "192.0.2.10"
port = 502
unit_id = 1
poll_interval_s = 1.0

# [[sources]]
# name = "opc"
# kind = "opcua"
# endpoint = "opc.tcp://192.0.2.20:4840/"

[[machines]]
id = "L1-FILL"
name = "Filler"
line = "L1"
ideal_cycle_time_s = 0.5    # seconds per part at the ideal rate
micro_stop_threshold_s = 120
[machines.signals]
total_count  = { source = "plc1", tag = "hr:0", type = "uint32", width = 32 }
reject_count = { source = "plc1", tag = "hr:2", type = "uint16", width = 16 }
state_code   = { source = "plc1", tag = "hr:3" }
fault        = { source = "plc1", tag = "co:0" }

[state_map]                 # PLC state code -> running|stopped|down|planned_stop|changeover|offline
"1" = "running"
"2" = "stopped"
"3" = "down"
"4" = "changeover"
"5" = "planned_stop"

[[shifts]]
name = "Early"
start = "06:00"
end = "14:00"
breaks = [{ start = "09:30", end = "09:45" }]

[[shifts]]
name = "Late"
start = "14:00"
end = "22:00"

[[shifts]]
name = "Night"
start = "22:00"
end = "06:00"

[[reasons]]
code = "BREAK"
name = "Break"
planned = true

[[reasons]]
code = "FAIL"
name = "Failure"
loss = "breakdown"          # breakdown|setup|minor_stop|reduced_speed|defects|startup_rejects

[[reasons]]
code = "FAIL.MECH"
name = "Mechanical"
parent = "FAIL"

[[reasons]]
code = "SETUP"
name = "Changeover"
loss = "setup"
"""


def _common_options(suppress: bool) -> argparse.ArgumentParser:
    """Options accepted before and after the subcommand.

    Subparsers get SUPPRESS defaults, so `oee --data-dir X report` keeps X
    instead of the subparser resetting it to None.
    """
    common = argparse.ArgumentParser(add_help=False)

    def option(*names: str, **settings: Any) -> None:
        if suppress:
            settings["default"] = argparse.SUPPRESS
        common.add_argument(*names, **settings)

    option("--config", type=Path, help=f"config file (default: {default_config_path()})")
    option("--data-dir", type=Path, help=f"data directory (default: {default_data_dir()})")
    option("--demo", action="store_true", help="use the simulated demo plant")
    option("--central", metavar="URL", help="open the shift review on the central PostgreSQL database (every edge "
                                            "box and site, read only); URL is a libpq URL, or '' for the PG* variables")
    option("-v", "--verbose", action="store_true", help="log debug messages")
    option("--log-format", choices=LOG_FORMATS, help="log lines as text (the default) or one JSON object a line; "
                                                      "overrides [service] log_format")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common_options(suppress=True)
    parser = argparse.ArgumentParser(prog="oee", parents=[_common_options(suppress=False)],
                                     description="OEE in the terminal. Without a subcommand, opens the TUI.")
    parser.add_argument("--version", action="version", version=f"oee-tui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sub.add_parser("ui", parents=[common], help="open the terminal UI (the default)")
    sub.add_parser("engine", parents=[common], help="run acquisition headless until SIGINT/SIGTERM")

    report = sub.add_parser("report", parents=[common], help="OEE per machine, line and plant")
    report.add_argument("--shift", help="current (default), NAME for today's, or NAME@YYYY-MM-DD")
    report.add_argument("--from", dest="start", help="start, ISO date/time, plant local unless an offset is given")
    report.add_argument("--to", dest="end", help="end, ISO date/time")
    report.add_argument("--format", choices=("table", "json", "csv"), default="table")

    config = sub.add_parser("config", parents=[common], help="check, locate or create the config file")
    config_sub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    config_sub.add_parser("check", parents=[common], help="validate the config file")
    config_sub.add_parser("path", parents=[common], help="print the config file and data dir paths")
    init = config_sub.add_parser("init", parents=[common], help="write a commented sample config")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    commands.register(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except ConfigError as exc:
        print(f"oee: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_OK


def _dispatch(args: argparse.Namespace) -> int:
    config_path: Path = args.config or default_config_path()
    data_dir: Path = args.data_dir or default_data_dir()
    command = args.command or "ui"
    if command == "config":
        return _config_command(args, config_path, data_dir)
    try:
        if command == "ui" and args.central is not None:
            return _run_central(args.central, config_path)
        if command == "ui":
            return _run_ui(args, config_path, data_dir)
        if command == "engine":
            return _run_engine(args, config_path, data_dir)
        if command == "report":
            return _run_report(args, config_path, data_dir)
        if hasattr(args, "run"):
            return int(args.run(args, config_path, data_dir))
    except Exception as exc:
        code = _store_failure(exc, data_dir)
        if code is None:
            raise
        return code
    raise AssertionError(command)


def _store_failure(exc: Exception, data_dir: Path) -> int | None:
    """The exit code of a store failure, said in one line that names the file, what is wrong and what
    to do (never a traceback); None for any other exception.

    The store's package (DuckDB, Arrow: half a second) is imported here, once something failed, not
    before every command: one attached to the engine never opens the store, and starts that much sooner.
    """
    from oee_tui.store import Store, StoreDamagedError, StoreLockedError, StoreVersionError, StoreWriteError
    from oee_tui.store.failures import read_damage

    if isinstance(exc, StoreLockedError):
        print(f"oee: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    if isinstance(exc, StoreVersionError):
        print(f"oee: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if isinstance(exc, StoreDamagedError | StoreWriteError):
        print(f"oee: {exc}", file=sys.stderr)
        return EXIT_STORE
    damage = read_damage(exc)  # a damaged block found only when a command reads it (the file opened fine)
    if damage is None:
        return None
    print(f"oee: {StoreDamagedError(data_dir / Store.DB_FILENAME, damage)}", file=sys.stderr)
    return EXIT_STORE


def _config_command(args: argparse.Namespace, config_path: Path, data_dir: Path) -> int:
    if args.config_command == "path":
        print(f"config: {config_path}{'' if config_path.exists() else '  (does not exist yet)'}")
        print(f"data:   {data_dir}")
        return EXIT_OK
    if args.config_command == "init":
        if config_path.exists() and not args.force:
            print(f"oee: {config_path} exists; use --force to overwrite it", file=sys.stderr)
            return EXIT_USAGE
        config_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = config_path.with_suffix(".toml.tmp")
        tmp.write_text(SAMPLE_CONFIG, encoding="utf-8")
        tmp.replace(config_path)
        print(f"wrote a sample config to {config_path}; edit its sources and machines, then run `oee`")
        return EXIT_OK
    config = load_config(config_path)
    print(f"{config_path}: ok: {len(config.lines)} lines, {len(config.machines)} machines, "
          f"{len(config.sources)} sources, {len(config.shifts)} shifts, {len(config.reasons)} reasons")
    for warning in config_warnings(config):  # the file loads: these say what is unsafe about it
        print(f"oee config check: warning: {warning}", file=sys.stderr)
    return EXIT_OK


def _load_for_run(args: argparse.Namespace, config_path: Path) -> Config:
    return _load_for_run_path(config_path)


def _run_ui(args: argparse.Namespace, config_path: Path, data_dir: Path) -> int:
    import platformdirs

    from oee_tui.app import OeeApp
    from oee_tui.engine.api import PlantEngine
    from oee_tui.runtime import DemoEngine, build_engine, demo_data_dir
    from oee_tui.service.client import AttachRefused, EngineRefused, NoEngine, engine_serves
    from oee_tui.store import Store

    store_dir = demo_data_dir(data_dir) if args.demo else data_dir
    attached = engine_serves(store_dir)
    config = load_config(config_path) if not args.demo and config_path.exists() and not attached else None
    # An attached TUI's user may not write the engine's data dir: its log goes to the user's own.
    log_dir = platformdirs.user_log_path("oee-tui") if attached else store_dir
    setup_logging(args.verbose, log_dir / "oee.log", _log_format(args, config))
    engine: PlantEngine | None = None
    demo_factory = None
    if attached:
        # Another process (`oee engine`, or the first TUI) owns the store: this TUI attaches to it.
        try:
            engine = _remote_engine(args, store_dir)
        except (AttachRefused, NoEngine, EngineRefused) as exc:
            print(f"oee: {exc}", file=sys.stderr)
            return EXIT_LOCKED
    elif args.demo:
        engine = DemoEngine(Store.open(store_dir))
    elif config is not None:
        engine = build_engine(config, Store.open(data_dir))
    else:
        def demo_factory() -> DemoEngine:
            return DemoEngine(Store.open(demo_data_dir(data_dir)))

    # An attached TUI edits the file its engine runs on, wherever this user's default config would be.
    shown_path = engine.config.path if attached and engine is not None and engine.config.path else config_path
    app = OeeApp(engine, config_path=shown_path, data_dir=store_dir, demo_factory=demo_factory, serve=not attached)
    result = app.run()
    if app.stop_error is not None:  # said after the screen is gone, where it stays readable
        print(f"oee: {app.stop_error}", file=sys.stderr)
    return int(result or 0)


def _run_central(url: str, config_path: Path) -> int:
    """The review over the central database; the config file (when there is one) gives the plant's time
    zone, shifts and targets, else days are reviewed in UTC."""
    import psycopg

    from oee_tui.central_app import CentralApp
    from oee_tui.service.central_plant import CentralPlant

    base = load_config(config_path) if config_path.exists() else config_from_dict({"site": {"name": "central"}})
    try:
        plant = CentralPlant(url, base)
    except psycopg.Error as exc:
        print(f"oee: the central database cannot be read: {str(exc).strip().splitlines()[0]}", file=sys.stderr)
        return EXIT_USAGE
    return int(CentralApp(plant, config_path=config_path, data_dir=config_path.parent).run() or 0)


def _remote_engine(args: argparse.Namespace, store_dir: Path) -> RemoteEngine:
    """The TUI's side of an engine another process runs, on the config that engine runs on (as it sends
    it: without secrets), or the demo's. Raises AttachRefused when the engine will not take this user."""
    import asyncio

    from oee_tui.commands.attached import attach_at_terminal
    from oee_tui.service.remote_engine import RemoteEngine, config_from_answer
    from oee_tui.service.session_origin import local_origin

    async def config_of_engine() -> tuple[dict[str, Any], tuple[str, str] | None]:
        client, person = await attach_at_terminal(store_dir)
        try:
            return await client.call("config"), person
        finally:
            await client.close()

    answer, person = asyncio.run(config_of_engine())
    from oee_tui.demo.servers import demo_config

    config = config_from_answer(answer, demo_config())
    return RemoteEngine(store_dir, config, origin=local_origin(), person=None if person is None else person[0],
                        pin=None if person is None else person[1])


def _run_engine(args: argparse.Namespace, config_path: Path, data_dir: Path) -> int:
    import asyncio

    from oee_tui.engine.live.engine import Engine
    from oee_tui.engine.live.store_health import UnsavedDataError
    from oee_tui.runtime import DemoEngine, build_engine, demo_data_dir
    from oee_tui.service.service_watch import watched_service
    from oee_tui.service.serving import serving
    from oee_tui.store import Store

    config = None if args.demo else _load_for_run(args, config_path)
    setup_logging(args.verbose, None, _log_format(args, config))
    log = logging.getLogger("oee.engine")
    if config is None:
        store_dir = demo_data_dir(data_dir)
        engine: Engine | DemoEngine = DemoEngine(Store.open(store_dir))
    else:
        _log_config_warnings(config, log)
        store_dir = data_dir
        engine = build_engine(config, Store.open(store_dir))

    async def run() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await engine.start()
        try:
            async with serving(engine, data_dir=store_dir, config_path=None if args.demo else config_path) as server:
                log.info("engine running on %s; store in %s; serving %s; SIGINT or SIGTERM stops it",
                         engine.config.site.name, store_dir, server.path)
                # systemd's readiness (once the socket listens), status and watchdog, and the metrics
                # endpoint (oee_tui.service.service_watch)
                async with watched_service(engine, engine.config.service):
                    await stop.wait()
                log.info("stopping: flushing the store")
        except BaseException:
            # The socket did not open (or broke): the engine still stops cleanly, and the cause is said.
            with contextlib.suppress(Exception):
                await engine.stop()
            raise
        try:
            await engine.stop()
        except UnsavedDataError as exc:
            log.error("stopped, but not cleanly: %s", exc)
            return EXIT_UNSAVED
        log.info("stopped cleanly")
        return EXIT_OK

    return asyncio.run(run())


def _log_config_warnings(config: Config, log: logging.Logger) -> None:
    for warning in config_warnings(config):
        log.warning("%s", warning)


def _log_format(args: argparse.Namespace, config: Config | None) -> str:
    """`--log-format`, else the config's `[service] log_format`, else text."""
    chosen: str | None = getattr(args, "log_format", None)
    return chosen or (config.service.log_format if config is not None else "text")


def _run_report(args: argparse.Namespace, config_path: Path, data_dir: Path) -> int:
    from oee_tui.commands.attached import in_engine
    from oee_tui.commands.common import store_dir_of

    async def attached(client: EngineClient) -> int:
        text = await client.call("report", shift=args.shift, start=args.start, end=args.end, format=args.format)
        sys.stdout.write(text)
        return EXIT_OK

    done = in_engine(store_dir_of(args, data_dir), "oee report", attached)
    if done is not None:
        return done
    # Only a report run here needs the store and the report's code (DuckDB, Arrow): imported after.
    from oee_tui.engine.analysis.report import ReportError
    from oee_tui.exports.report_output import report_output
    from oee_tui.store import PlanningError, Store

    config, store_dir = plant(args, config_path, data_dir)
    if not (store_dir / Store.DB_FILENAME).exists():
        print(f"oee report: no data yet in {store_dir}; run `oee engine` (or `oee --demo`) first", file=sys.stderr)
        return EXIT_USAGE
    with Store.open(store_dir) as store:
        try:
            output = report_output(store, config, time.time(), shift=args.shift, start=args.start, end=args.end,
                                   fmt=args.format)
        except (ReportError, PlanningError) as exc:  # PlanningError: stored planning data edited by hand
            print(f"oee report: {exc}", file=sys.stderr)
            return EXIT_USAGE
    sys.stdout.write(output)
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
