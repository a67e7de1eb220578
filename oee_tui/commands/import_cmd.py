"""`oee import KIND FILE`: validate a planning file whole, then write it in one transaction.

Exit codes: 0 written (or previewed with --dry-run); 2 the file has problems, every one of
them printed to stderr, and nothing was written; 3 the store is in use (from cli.py).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from oee_tui.commands.common import EXIT_OK, EXIT_USAGE, plant, print_rows
from oee_tui.imports.columns import KINDS, aliases_doc

PREVIEW_ROWS = 10


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser(
        "import", parents=[common], help="import planning data or a production log from CSV/XLSX",
        description="Validate the whole file, then write it in one transaction. A file with any\n"
                    "problem writes nothing; importing the same file again changes nothing.\n"
                    "Exit codes: 0 written or previewed, 2 problems in the file (all printed),\n"
                    "3 the store is in use by the engine or the UI.",
        epilog="Columns of each kind and the header names accepted for them (case and spaces do not matter):\n\n"
               + aliases_doc(),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=KINDS, metavar="KIND", help=f"one of: {', '.join(KINDS)}")
    parser.add_argument("file", type=Path, metavar="FILE", help="a .csv or .xlsx file")
    parser.add_argument("--sheet", metavar="NAME", help="the workbook sheet to read (default: the one with the header)")
    parser.add_argument("--dry-run", action="store_true",
                        help="check the file and show what would be written, without writing")
    parser.set_defaults(run=run)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers): still say who, as best we can
        return "unknown"


def run(args: argparse.Namespace, config_path: Path, data_dir: Path) -> int:
    from oee_tui.imports.preview import preview_file
    from oee_tui.imports.write import plan_result, preview_rows, summary_for_empty_store, write_result
    from oee_tui.store import Store

    config, store_dir = plant(args, config_path, data_dir)
    preview = preview_file(args.file, config, args.kind, args.sheet)
    result = preview.result
    if preview.problems or result is None:
        for problem in preview.problems:
            print(problem, file=sys.stderr)
        count = len(preview.problems)
        print(f"oee import: {count} problem{'s' if count != 1 else ''} in {args.file}; nothing was written",
              file=sys.stderr)
        return EXIT_USAGE
    where = preview.where
    if args.dry_run:
        print_rows(preview_rows(result, PREVIEW_ROWS))
        shown = min(PREVIEW_ROWS, len(result.records))
        print(f"{len(result.records)} {args.kind} rows in {where} (first {shown} shown, times in UTC)")
        if (store_dir / Store.DB_FILENAME).exists():
            with Store.open(store_dir) as store:
                try:
                    summary = plan_result(store, result)
                except ValueError as exc:
                    print(f"oee import: {exc}", file=sys.stderr)
                    return EXIT_USAGE
        else:
            summary = summary_for_empty_store(result)
        print(f"would write: {summary}; dry run, nothing was written")
        return EXIT_OK
    with Store.open(store_dir) as store:
        try:
            summary = write_result(store, result, imported_by=_user(), sha256=preview.sha256)
        except ValueError as exc:
            print(f"oee import: {exc}", file=sys.stderr)
            return EXIT_USAGE
    if summary.changed:
        print(f"imported {where} ({args.kind}): {summary}")
    else:
        print(f"imported {where} ({args.kind}): nothing changed, all {summary.unchanged} rows are stored as in "
              "the file")
    return EXIT_OK
