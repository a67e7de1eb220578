"""The engine's running counts: samples routed and stored, flushes and their failures."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class EngineStats:
    """Kept by the router (samples in, unknown tags) and the fact writer (the rest)."""

    samples_in: int = 0
    samples_stored: int = 0
    unknown_tags: int = 0
    flushes: int = 0
    flush_errors: int = 0
    last_flush_error: str | None = None
    rows_set_aside: int = 0  # rows the store could not take, kept as dead letters instead
    samples_lost: int = 0  # dropped at the memory limit while the store could not be written
    dead_letters_lost: int = 0
