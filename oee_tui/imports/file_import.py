"""`oee import`'s check-then-write of one file, said line by line to whoever runs it: the command at a
terminal when it owns the store, or the engine for a command attached to it (the lines go back to it).

The guard is the command's Ctrl+C: store work runs inside `guard.deferred()` (a KeyboardInterrupt inside
a DuckDB call would leave us unsure whether a commit happened) and `guard.check()` interrupts between
steps. The engine has no Ctrl+C: its guard defers nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Final, Protocol

from oee_tui.config import Config
from oee_tui.imports import references
from oee_tui.imports.preview import ImportPreview, preview_file
from oee_tui.imports.write import (
    WriteSummary,
    plan_result,
    preview_rows,
    removed_rows,
    summary_for_empty_store,
    write_result,
)
from oee_tui.store import Store

PREVIEW_ROWS: Final = 10
EXIT_WRITTEN: Final = 0
EXIT_PROBLEMS: Final = 2


class Output(Protocol):
    def say(self, text: str) -> None:
        """A line for stdout."""

    def warn(self, text: str) -> None:
        """A line for stderr: a problem."""

    def rows(self, rows: Sequence[Sequence[str]]) -> None:
        """A plain table for stdout, the first row its header."""


class Guard(Protocol):
    pressed: bool

    def deferred(self) -> contextlib.AbstractContextManager[None]: ...

    def check(self) -> None: ...


class NoGuard:
    """For a caller without a Ctrl+C (the engine)."""

    pressed = False

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        yield

    def check(self) -> None:
        return None


def check_and_write(file: Path, kind: str, config: Config, store_dir: Path, store: Store | None, *,
                    sheet: str | None, day_first: bool | None, dry_run: bool, imported_by: str, origin: str,
                    out: Output, guard: Guard, shown_as: str | None = None,
                    open_store: Callable[[Path], Store] = Store.open) -> tuple[int, WriteSummary | None]:
    """Check `file` whole against the config and the stored planning data; write it (or, with `dry_run`,
    show what would be written). Returns the exit code (0, or 2 when the file has problems, each said)
    and what was written, with its audit entry (by `imported_by`, from `origin`) in the same transaction.
    `shown_as` names the file in what is said (the engine reads a copy)."""
    with guard.deferred():
        planning = references.stored_planning(store, kind)
    guard.check()
    preview = preview_file(file, config, kind, sheet, planning=planning, day_first=day_first)
    name = shown_as or str(file)
    result = preview.result
    if preview.problems or result is None:
        for problem in preview.problems:
            out.warn(_named(str(problem), file, shown_as))
        count = len(preview.problems)
        out.warn(f"oee import: {count} problem{'s' if count != 1 else ''} in {name}; nothing was written")
        return EXIT_PROBLEMS, None
    where = _named(preview.where, file, shown_as)
    for note in result.notes:  # what the import does with a row that the planner should know; not a problem
        out.say(f"note: {note}")
    if dry_run:
        out.rows(preview_rows(result, PREVIEW_ROWS))
        shown = min(PREVIEW_ROWS, len(result.records))
        out.say(f"{len(result.records)} {kind} rows in {where} (first {shown} shown, times in UTC)")
        if store is not None:
            try:
                with guard.deferred():
                    summary = plan_result(store, result)
            except ValueError as exc:
                out.warn(f"oee import: {exc}")
                return EXIT_PROBLEMS, None
            guard.check()
        else:
            summary = summary_for_empty_store(result)
        out.say(f"would write: {summary}; dry run, nothing was written")
        if summary.removed_rows:
            # What a write would delete is what a misread date or a wrong file costs: show it before it happens.
            out.say("stored rows it would remove (times in UTC):")
            out.rows(removed_rows(summary))
            if summary.removed > len(summary.removed_rows):
                out.say(f"and {summary.removed - len(summary.removed_rows)} more")
        return EXIT_WRITTEN, None
    try:
        with guard.deferred():
            if store is not None:
                summary = _write(store, preview, imported_by, origin, guard, shown_as)
            else:
                with open_store(store_dir) as new_store:
                    summary = _write(new_store, preview, imported_by, origin, guard, shown_as)
    except ValueError as exc:
        out.warn(f"oee import: {exc}")
        return EXIT_PROBLEMS, None
    if summary.changed:
        out.say(f"imported {where} ({kind}): {summary}")
    else:
        out.say(f"imported {where} ({kind}): nothing changed, all {summary.unchanged} rows are stored as in the file")
    if guard.pressed:
        # Ctrl+C came during the commit itself: too late to undo, and the output says so.
        out.warn("oee import: interrupted after the write was committed; the file is imported")
    return EXIT_WRITTEN, summary


def _write(store: Store, preview: ImportPreview, imported_by: str, origin: str, guard: Guard,
           shown_as: str | None) -> WriteSummary:
    """Write the checked file; a Ctrl+C before the commit rolls it back and raises KeyboardInterrupt.

    The import log names the file as `shown_as` when given: the engine reads a copy in a folder of its own."""
    assert preview.result is not None
    result = preview.result if shown_as is None else replace(preview.result, file=shown_as)
    return write_result(store, result, imported_by=imported_by, sha256=preview.sha256,
                        interrupted=lambda: guard.pressed, origin=origin)


def _named(text: str, file: Path, shown_as: str | None) -> str:
    return text if shown_as is None else text.replace(str(file), shown_as)
