"""Give memory that Python has freed back to the operating system.

After a big piece of work (an import of some hundred thousand rows) the objects are gone, but glibc's
malloc keeps the pages it got for them, so the process stays as large as at its peak for as long as it
runs: on a line-side box that is the TUI an operator leaves open for weeks. `malloc_trim(0)` hands the
free pages back. Where there is no glibc (musl, macOS) nothing happens.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
from collections.abc import Callable
from functools import cache


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
        return trim
    except (OSError, AttributeError):  # not glibc
        return None


def give_back() -> None:
    """Collect cycles, then return free heap pages to the OS. Some tens of ms after a big import: call it
    from a worker thread, not the event loop."""
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
