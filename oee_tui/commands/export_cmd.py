"""`oee export WHAT --out PATH`: samples, state intervals, stops, OEE results or alerts to CSV, Parquet or XLSX.

Samples, intervals and stops stream from the store to the file through DuckDB's COPY
(oee_tui/exports/bulk.py); OEE results go through the report calculator
(oee_tui/exports/oee_rows.py). XLSX holds what fits in one sheet (1,048,575 rows under the header);
more is refused with the count before anything is written.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from oee_tui.commands.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, plant, store_dir_of

# Only for type hints: `oee --help` and every other command import this module, and DuckDB
# and the exporters are imported when an export runs.
if TYPE_CHECKING:
    from oee_tui.exports.export_request import ExportRequest
    from oee_tui.service.client import EngineClient
    from oee_tui.store.bulk_export import ProgressCallback

KINDS: Final = ("samples", "intervals", "stops", "oee", "alerts")  # exports.export_request's, without importing DuckDB
# Below this the export is over before a bar would be worth drawing.
PROGRESS_AFTER_S: Final = 0.5


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser(
        "export", parents=[common],
        help="samples, state intervals, stops, OEE results or alerts to CSV, Parquet or XLSX",
        description="Times are UTC in the file. samples: start <= ts < end; intervals and stops: those "
                    "overlapping [start, end), whole; oee: one row per machine, line and plant per shift "
                    "(or --per window); alerts: those raised in [start, end), one row each as it is now.")
    parser.add_argument("what", choices=KINDS, metavar="WHAT", help="samples, intervals, stops, oee or alerts")
    parser.add_argument("--out", type=Path, required=True, metavar="PATH", help="the file to write (replaced whole)")
    parser.add_argument("--format", choices=("csv", "parquet", "xlsx"),
                        help="default: from the file's suffix; xlsx when the rows fit in one sheet")
    parser.add_argument("--shift", help="NAME for today's, NAME@YYYY-MM-DD, or current")
    parser.add_argument("--from", dest="start", help="start (inclusive), ISO date/time, plant local unless an offset")
    parser.add_argument("--to", dest="end", help="end (exclusive), ISO date/time")
    parser.add_argument("--line", nargs="+", action="extend", metavar="ID", help="only these lines' machines")
    parser.add_argument("--machine", nargs="+", action="extend", metavar="ID",
                        help="only these machines (alerts: those about them)")
    parser.add_argument("--per", choices=("shift", "window"), default="shift",
                        help="oee: a row set per shift in the range (default), or one for the whole range")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary line")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, config_path: Path, data_dir: Path) -> int:
    from oee_tui.commands.attached import in_engine
    from oee_tui.exports.bulk import format_for
    from oee_tui.exports.export_request import ExportRequest
    from oee_tui.exports.tables import ExportError

    prefix = f"oee export {args.what}"
    try:
        request = ExportRequest(args.what, format_for(args.out, args.format), args.shift, args.start, args.end,
                                tuple(args.line or ()), tuple(args.machine or ()), args.per)
        request.check()
        if not args.out.parent.is_dir():
            raise ExportError(f"{args.out}: folder {args.out.parent} does not exist")
    except ExportError as exc:
        print(f"{prefix}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    started = time.perf_counter()
    done = in_engine(store_dir_of(args, data_dir), prefix,
                     lambda client: _export_attached(client, args, request, started))
    if done is not None:
        return done
    return _export_standalone(args, config_path, data_dir, request, started)


async def _export_attached(client: EngineClient, args: argparse.Namespace, request: ExportRequest,
                           started: float) -> int:
    """The engine writes the export and sends it in parts; this process writes the user's file with them,
    beside its destination and renamed into place once whole."""
    import os

    from oee_tui.exports.tables import temp_beside

    tmp = temp_beside(args.out)
    try:
        with open(tmp, "wb") as file, _progress_bar(args, f"{args.what} → {args.out.name}") as on_progress:
            received = 0

            def part(message: dict[str, Any]) -> None:
                nonlocal received
                file.write(message["bytes"])
                received += len(message["bytes"])
                if on_progress is not None and message["size"]:
                    on_progress(100.0 * received / message["size"])

            result = await client.call("export", on_part=part, what=request.what, format=request.fmt,
                                       shift=request.shift, start=request.start, end=request.end,
                                       lines=request.lines, machines=request.machines, per=request.per)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, args.out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _report_done(args, int(result["rows"]), request.fmt, time.perf_counter() - started)
    return EXIT_OK


def _export_standalone(args: argparse.Namespace, config_path: Path, data_dir: Path, request: ExportRequest,
                       started: float) -> int:
    import duckdb

    from oee_tui.engine.analysis.report import ReportError
    from oee_tui.exports.export_request import run_export
    from oee_tui.exports.tables import ExportError
    from oee_tui.store import PlanningError, Store

    prefix = f"oee export {args.what}"
    config, store_dir = plant(args, config_path, data_dir)
    if not (store_dir / Store.DB_FILENAME).exists():
        print(f"{prefix}: no data yet in {store_dir}; run `oee engine` (or `oee --demo`) first", file=sys.stderr)
        return EXIT_USAGE
    store = Store.open(store_dir)
    try:
        with _progress_bar(args, f"{args.what} → {args.out.name}") as on_progress:
            rows = run_export(store, config, request, args.out, time.time(), on_progress)
    except (ExportError, ReportError, PlanningError) as exc:
        print(f"{prefix}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{prefix}: interrupted; {args.out} was not written", file=sys.stderr)
        return EXIT_FAILURE
    except (duckdb.Error, OSError) as exc:
        print(f"{prefix}: {args.out} was not written: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        store.close()
    _report_done(args, rows, request.fmt, time.perf_counter() - started)
    return EXIT_OK


def _report_done(args: argparse.Namespace, rows: int, fmt: str, seconds: float) -> None:
    if rows == 0:
        # On stderr, so it is seen even with --quiet: an empty file is often a wrong filter.
        print(f"oee export {args.what}: nothing matched the filters; {args.out} has the header only",
              file=sys.stderr)
    if not args.quiet:
        print(f"wrote {rows:,} {'row' if rows == 1 else 'rows'} of {args.what} to {args.out} ({fmt}, {seconds:.1f} s)")


@contextmanager
def _progress_bar(args: argparse.Namespace, label: str) -> Iterator[ProgressCallback | None]:
    """A rich progress bar on stderr, only on a terminal, only without --quiet, and only once the
    export has run long enough to need one (it is drawn on the first update after PROGRESS_AFTER_S)."""
    if args.quiet or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                        console=Console(stderr=True), transient=True)
    task = progress.add_task(label, total=100.0)
    started = time.monotonic()

    def update(percent: float) -> None:
        if not progress.live.is_started and time.monotonic() - started >= PROGRESS_AFTER_S:
            progress.start()
        progress.update(task, completed=percent)

    try:
        yield update
    finally:
        progress.stop()
