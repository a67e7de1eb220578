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
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from oee_tui.commands.common import EXIT_USAGE, plant, print_rows, store_dir_of
from oee_tui.imports.columns import KINDS, aliases_doc

if TYPE_CHECKING:
    from oee_tui.service.client import EngineClient

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


def current_user() -> str:
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
    from oee_tui.commands.attached import in_engine
    from oee_tui.imports.file_import import check_and_write
    from oee_tui.service.session_origin import local_origin
    from oee_tui.store import PlanningError, Store

    done = in_engine(store_dir_of(args, data_dir), "oee import", lambda client: _import_attached(client, args))
    if done is not None:
        return done
    config, store_dir = plant(args, config_path, data_dir)
    # The file is checked against what earlier imports stored (reasons, products, orders), so an existing
    # store is opened first: held from the check to the write, what was checked against cannot change.
    # A store that does not exist yet is made only to write a file without problems.
    with ctrl_c.deferred():
        store = Store.open(store_dir) if (store_dir / Store.DB_FILENAME).exists() else None
    try:
        ctrl_c.check()
        code, _ = check_and_write(args.file, args.kind, config, store_dir, store, sheet=args.sheet,
                                  day_first=_day_first(args), dry_run=args.dry_run, imported_by=current_user(),
                                  origin=local_origin(), out=_Printed(), guard=ctrl_c)
        return code
    except PlanningError as exc:
        print(f"oee import: {args.file} cannot be checked: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        if store is not None:
            with ctrl_c.deferred():
                store.close()


async def _import_attached(client: EngineClient, args: argparse.Namespace) -> int:
    """The file's bytes go to the engine, which checks and writes them as this command would, and says
    what it said: the same lines, the same exit code. A file this user can read is all it takes."""
    try:
        content = args.file.read_bytes()
    except OSError as exc:
        print(f"oee import: {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    answer = await client.call("import", kind=args.kind, name=args.file.name, shown_as=str(args.file),
                               content=content, sheet=args.sheet, day_first=_day_first(args), dry_run=args.dry_run)
    for stream, line in answer["lines"]:
        print(line, file=sys.stderr if stream == "err" else sys.stdout)
    return int(answer["exit"])


def _day_first(args: argparse.Namespace) -> bool | None:
    return None if args.date_format is None else DATE_FORMATS[args.date_format]


class _Printed:
    """What the import says, on this terminal."""

    def say(self, text: str) -> None:
        print(text)

    def warn(self, text: str) -> None:
        print(text, file=sys.stderr)

    def rows(self, rows: Sequence[Sequence[str]]) -> None:
        print_rows(rows)
