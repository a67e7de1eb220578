"""`oee import KIND FILE`: validate a planning file whole, then write it in one transaction.

Exit codes: 0 written (or previewed with --dry-run); 2 the file has problems, every one of
them printed to stderr, and nothing was written; 3 the store is in use (from cli.py); 130
interrupted by Ctrl+C, and nothing was written.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from oee_tui.commands.common import EXIT_OK, EXIT_USAGE, plant, print_rows
from oee_tui.config import Config
from oee_tui.imports.columns import KINDS, aliases_doc

if TYPE_CHECKING:
    from oee_tui.imports.preview import ImportPreview
    from oee_tui.imports.write import WriteSummary
    from oee_tui.store import Store

PREVIEW_ROWS = 10
# --date-format: is the day first? Dashes are read as slashes (12-07-2026 as 12/07/2026).
DATE_FORMATS = {"dd/mm/yyyy": True, "mm/dd/yyyy": False}
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a command Ctrl+C stopped


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser(
        "import", parents=[common], help="import planning data or a production log from CSV/XLSX",
        description="Validate the whole file, then write it in one transaction. A file with any\n"
                    "problem writes nothing; importing the same file again changes nothing.\n"
                    "Exit codes: 0 written or previewed, 2 problems in the file (all printed),\n"
                    "3 the store is in use by the engine or the UI, 130 interrupted (Ctrl+C):\n"
                    "nothing was written.",
        epilog="Columns of each kind and the header names accepted for them (case and spaces do not matter):\n\n"
               + aliases_doc(),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=KINDS, metavar="KIND", help=f"one of: {', '.join(KINDS)}")
    parser.add_argument("file", type=Path, metavar="FILE", help="a .csv or .xlsx file")
    parser.add_argument("--sheet", metavar="NAME", help="the workbook sheet to read (default: the one with the header)")
    parser.add_argument("--dry-run", action="store_true",
                        help="check the file and show what would be written, without writing")
    parser.add_argument("--date-format", choices=tuple(DATE_FORMATS), metavar="ORDER",
                        help="how slashed and dashed dates are written: dd/mm/yyyy or mm/dd/yyyy (default: told by "
                             "the dates that can be read only one way, each way of writing a date on its own; "
                             "a date that nothing decides is a problem)")
    parser.set_defaults(run=run)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers): still say who, as best we can
        return "unknown"


class _CtrlC:
    """SIGINT for the length of one import: at once while the file is read and checked, deferred around the store.

    DuckDB turns a KeyboardInterrupt raised inside a query into a RuntimeError ("Query
    interrupted"), and one raised inside a commit could leave us unsure whether the write
    happened. So while the store works, Ctrl+C is only noted: the write looks at it just
    before its commit and rolls back (`write_result(interrupted=...)`), and other store work
    (reading the planning data, closing) is finished first and then interrupted.
    """

    def __init__(self) -> None:
        self.pressed = False
        self._deferring = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.pressed = True
        if not self._deferring:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False

    def check(self) -> None:
        if self.pressed:
            raise KeyboardInterrupt


def run(args: argparse.Namespace, config_path: Path, data_dir: Path) -> int:
    ctrl_c = _CtrlC()
    # Only the main thread may set a signal handler; called from another (an embedding program), Ctrl+C
    # is that program's, and the import runs as before.
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, ctrl_c) if main_thread else None
    try:
        return _run(args, config_path, data_dir, ctrl_c)
    except KeyboardInterrupt:
        print("oee import: interrupted; nothing was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, previous)


def _run(args: argparse.Namespace, config_path: Path, data_dir: Path, ctrl_c: _CtrlC) -> int:
    from oee_tui.store import PlanningError, Store

    config, store_dir = plant(args, config_path, data_dir)
    # The file is checked against what earlier imports stored (reasons, products, orders), so an existing
    # store is opened first: held from the check to the write, what was checked against cannot change.
    # A store that does not exist yet is made only to write a file without problems.
    with ctrl_c.deferred():
        store = Store.open(store_dir) if (store_dir / Store.DB_FILENAME).exists() else None
    try:
        ctrl_c.check()
        return _check_and_write(args, config, store_dir, store, ctrl_c)
    except PlanningError as exc:
        print(f"oee import: {args.file} cannot be checked: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        if store is not None:
            with ctrl_c.deferred():
                store.close()


def _check_and_write(args: argparse.Namespace, config: Config, store_dir: Path, store: Store | None,
                     ctrl_c: _CtrlC) -> int:
    from oee_tui.imports.preview import preview_file
    from oee_tui.imports.references import stored_planning
    from oee_tui.imports.write import plan_result, preview_rows, summary_for_empty_store
    from oee_tui.store import Store

    with ctrl_c.deferred():
        planning = stored_planning(store, args.kind)
    ctrl_c.check()
    day_first = None if args.date_format is None else DATE_FORMATS[args.date_format]
    preview = preview_file(args.file, config, args.kind, args.sheet, planning=planning, day_first=day_first)
    result = preview.result
    if preview.problems or result is None:
        for problem in preview.problems:
            print(problem, file=sys.stderr)
        count = len(preview.problems)
        print(f"oee import: {count} problem{'s' if count != 1 else ''} in {args.file}; nothing was written",
              file=sys.stderr)
        return EXIT_USAGE
    where = preview.where
    for note in result.notes:  # what the import does with a row that the planner should know; not a problem
        print(f"note: {note}")
    if args.dry_run:
        print_rows(preview_rows(result, PREVIEW_ROWS))
        shown = min(PREVIEW_ROWS, len(result.records))
        print(f"{len(result.records)} {args.kind} rows in {where} (first {shown} shown, times in UTC)")
        if store is not None:
            try:
                with ctrl_c.deferred():
                    summary = plan_result(store, result)
            except ValueError as exc:
                print(f"oee import: {exc}", file=sys.stderr)
                return EXIT_USAGE
            ctrl_c.check()
        else:
            summary = summary_for_empty_store(result)
        print(f"would write: {summary}; dry run, nothing was written")
        if summary.removed_rows:
            from oee_tui.imports.write import removed_rows

            # What a write would delete is what a misread date or a wrong file costs: show it before it happens.
            print("stored rows it would remove (times in UTC):")
            print_rows(removed_rows(summary))
            if summary.removed > len(summary.removed_rows):
                print(f"and {summary.removed - len(summary.removed_rows)} more")
        return EXIT_OK
    try:
        with ctrl_c.deferred():
            if store is not None:
                summary = _write(store, preview, ctrl_c)
            else:
                with Store.open(store_dir) as new_store:
                    summary = _write(new_store, preview, ctrl_c)
    except ValueError as exc:
        print(f"oee import: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if summary.changed:
        print(f"imported {where} ({args.kind}): {summary}")
    else:
        print(f"imported {where} ({args.kind}): nothing changed, all {summary.unchanged} rows are stored as in "
              "the file")
    if ctrl_c.pressed:
        # Ctrl+C came during the commit itself: too late to undo, and the output says so.
        print("oee import: interrupted after the write was committed; the file is imported", file=sys.stderr)
    return EXIT_OK


def _write(store: Store, preview: ImportPreview, ctrl_c: _CtrlC) -> WriteSummary:
    """Write the checked file; a Ctrl+C before the commit rolls it back and raises KeyboardInterrupt."""
    from oee_tui.imports.write import write_result
    from oee_tui.service.session_origin import local_origin

    assert preview.result is not None
    return write_result(store, preview.result, imported_by=_user(), sha256=preview.sha256,
                        interrupted=lambda: ctrl_c.pressed, origin=local_origin())
