"""The raw samples kept since the last flush: the router appends them, the fact writer takes them."""

from __future__ import annotations

from typing import NamedTuple


class KeptSamples(NamedTuple):
    """Raw samples as the columns of the store's samples table (Store.write_samples takes them as they are)."""

    ts: list[float]
    source: list[str]
    tag: list[str]
    value_num: list[float | None]
    value_text: list[str | None]
    quality: list[str]


def no_samples() -> KeptSamples:
    return KeptSamples([], [], [], [], [], [])


class PendingSamples:
    """What waits for the next flush. `columns` is swapped for empty ones by take(): whoever appends
    reads it again for each batch, never keeps it across one."""

    __slots__ = ("columns",)

    def __init__(self) -> None:
        self.columns = no_samples()

    def take(self) -> KeptSamples:
        taken, self.columns = self.columns, no_samples()
        return taken

    def put_back(self, lost: KeptSamples) -> None:
        """A flush failed: its samples go back in front of those kept since, to be written next time."""
        columns = self.columns
        columns.ts[:0] = lost.ts
        columns.source[:0] = lost.source
        columns.tag[:0] = lost.tag
        columns.value_num[:0] = lost.value_num
        columns.value_text[:0] = lost.value_text
        columns.quality[:0] = lost.quality
