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
