"""`oee export WHAT --out PATH`: samples, state intervals, stops or OEE results to CSV, Parquet or XLSX.

Samples, intervals and stops stream from the store to the file through DuckDB's COPY
(oee_tui/exports/bulk.py); OEE results go through the report calculator
(oee_tui/exports/oee_rows.py). XLSX is for OEE results only: a sheet holds at most
1,048,576 rows, and a store holds tens of millions of samples.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Final

from oee_tui.commands.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, plant

# Only for type hints: `oee --help` and every other command import this module, and DuckDB
# and the exporters are imported when an export runs.
if TYPE_CHECKING:
    from oee_tui.config import Config
    from oee_tui.exports.bulk import Selection
    from oee_tui.store import Store
    from oee_tui.store.bulk_export import ProgressCallback

KINDS: Final = ("samples", "intervals", "stops", "oee")
XLSX_ROW_LIMIT: Final = 1_048_576
# Below this the export is over before a bar would be worth drawing.
PROGRESS_AFTER_S: Final = 0.5


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser(
        "export", parents=[common], help="samples, state intervals, stops or OEE results to CSV, Parquet or XLSX",
        description="Times are UTC in the file. samples: start <= ts < end; intervals and stops: those "
                    "overlapping [start, end), whole; oee: one row per machine, line and plant per shift "
                    "(or --per window).")
    parser.add_argument("what", choices=KINDS, metavar="WHAT", help="samples, intervals, stops or oee")
    parser.add_argument("--out", type=Path, required=True, metavar="PATH", help="the file to write (replaced whole)")
    parser.add_argument("--format", choices=("csv", "parquet", "xlsx"),
                        help="default: from the file's suffix; xlsx only for oee")
    parser.add_argument("--shift", help="NAME for today's, NAME@YYYY-MM-DD, or current")
    parser.add_argument("--from", dest="start", help="start (inclusive), ISO date/time, plant local unless an offset")
    parser.add_argument("--to", dest="end", help="end (exclusive), ISO date/time")
    parser.add_argument("--line", nargs="+", action="extend", metavar="ID", help="only these lines' machines")
    parser.add_argument("--machine", nargs="+", action="extend", metavar="ID", help="only these machines")
    parser.add_argument("--per", choices=("shift", "window"), default="shift",
                        help="oee: a row set per shift in the range (default), or one for the whole range")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary line")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, config_path: Path, data_dir: Path) -> int:
    import duckdb

    from oee_tui.engine.analysis.report import ReportError, resolve_window
    from oee_tui.engine.oee.planning_rules import Planning
    from oee_tui.exports.bulk import Selection, format_for
    from oee_tui.exports.oee_rows import oee_rows, periods, write_oee
    from oee_tui.exports.tables import ExportError
    from oee_tui.store import PlanningError, Store

    prefix = f"oee export {args.what}"
    config, store_dir = plant(args, config_path, data_dir)
    now = time.time()
    try:
        fmt = format_for(args.out, args.format)
        if fmt == "xlsx" and args.what != "oee":
            raise ExportError(f"XLSX is for OEE results only: a sheet holds at most {XLSX_ROW_LIMIT:,} rows, and "
                              f"{args.what} can be many millions; use --format csv or parquet")
        machines = _selected_machines(config, args.line or [], args.machine or [])
        if not args.out.parent.is_dir():
            raise ExportError(f"{args.out}: folder {args.out.parent} does not exist")
    except (ExportError, ReportError) as exc:
        print(f"{prefix}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not (store_dir / Store.DB_FILENAME).exists():
        print(f"{prefix}: no data yet in {store_dir}; run `oee engine` (or `oee --demo`) first", file=sys.stderr)
        return EXIT_USAGE
    started = time.perf_counter()
    store = Store.open(store_dir)
    try:
        # Imported reasons, shift patterns and cycle times count as the report counts them.
        planning = Planning.load(store)
        effective = planning.effective_config(config)
        if args.what == "oee":
            window, label = resolve_window(effective, now, args.shift, args.start, args.end)
            spans = periods(config, window, label, now, per_shift=args.per == "shift", planning=planning)
            with _progress_bar(args, f"oee → {args.out.name}") as on_progress:
                results = oee_rows(store, config, spans, now, machines, args.line, planning, on_progress)
            rows = write_oee(args.out, fmt, results)
        else:
            selection = Selection(machines, *_bulk_range(args, effective, now))
            rows = _export_bulk(args, store, effective, fmt, selection, now)
    except (ReportError, PlanningError) as exc:
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
    _report_done(args, rows, fmt, time.perf_counter() - started)
    return EXIT_OK


def _selected_machines(config: Config, lines: Sequence[str], machines: Sequence[str]) -> tuple[str, ...] | None:
    """The machines of the given lines plus the given machines, in config order; None when neither is given."""
    from oee_tui.engine.analysis.report import ReportError

    if not lines and not machines:
        return None
    line_ids = [line.id for line in config.lines]
    machine_ids = [machine.id for machine in config.machines]
    for line in lines:
        if line not in line_ids:
            raise ReportError(f"--line {line!r}: no such line; lines are {', '.join(line_ids) or '(none)'}")
    for machine in machines:
        if machine not in machine_ids:
            raise ReportError(f"--machine {machine!r}: no such machine; machines are "
                              f"{', '.join(machine_ids) or '(none)'}")
    return tuple(m.id for m in config.machines if m.line in lines or m.id in machines)


def _bulk_range(args: argparse.Namespace, config: Config, now: float) -> tuple[float | None, float | None]:
    """--shift, or --from and/or --to (either side may stay open), or everything."""
    from oee_tui.engine.analysis.report import ReportError, parse_instant, resolve_window

    if args.shift is not None:
        window, _ = resolve_window(config, now, args.shift, args.start, args.end)
        return window.start, window.end
    start = parse_instant(args.start, config.tz, "--from") if args.start is not None else None
    end = parse_instant(args.end, config.tz, "--to") if args.end is not None else None
    if start is not None and end is not None and end <= start:
        raise ReportError(f"--to {args.end!r} must be after --from {args.start!r}")
    return start, end


def _export_bulk(args: argparse.Namespace, store: Store, config: Config, fmt: str, selection: Selection,
                 now: float) -> int:
    from oee_tui.exports.bulk import export_bulk

    with _progress_bar(args, f"{args.what} → {args.out.name}") as on_progress:
        return export_bulk(store, args.what, config, selection, args.out, fmt, now, on_progress)


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
