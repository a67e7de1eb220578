"""The one line a phase's subprocess prints to say how far it is: `@@oee-validate progress DONE TOTAL`.

The runner takes these out of the output it shows and logs, and moves the progress bar by them; the
counts of the results never come from output (junit.py).
"""

from __future__ import annotations

from typing import Final

PREFIX: Final = "@@oee-validate progress "


def progress_line(done: int, total: int) -> str:
    return f"{PREFIX}{done} {total}"


def parse_progress(line: str) -> tuple[int, int] | None:
    """(done, total) of a progress line, None for any other line."""
    if not line.startswith(PREFIX):
        return None
    try:
        done, total = (int(part) for part in line[len(PREFIX):].split())
    except ValueError:
        return None
    return done, total
