"""The one line a phase's subprocess prints to say how far it is: `@@oee-validate progress DONE TOTAL`.

The runner takes these out of the output it shows and logs, and moves the progress bar by them; the
counts of the results never come from output (junit.py).
"""

from __future__ import annotations

from typing import Final

PREFIX: Final = "@@oee-validate progress "


def progress_line(done: int, total: int) -> str:
    return f"{PREFIX}{done} {total}"


def split_progress(line: str) -> tuple[str, tuple[int, int] | None]:
    """The output in `line` and the (done, total) of a progress mark in it, if any. pytest's `-q` dots
    share their line with the mark that follows them (its reporter starts a new line only after a file
    name), so the mark is looked for anywhere in the line, and what precedes it is output."""
    before, mark, after = line.partition(PREFIX)
    if not mark:
        return line, None
    try:
        done, total = (int(part) for part in after.split())
    except ValueError:
        return line, None
    return before, (done, total)
