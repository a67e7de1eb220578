"""The raw samples kept since the last flush: the router appends them, the fact writer takes them."""

from __future__ import annotations

from oee_tui.store.fact_batch import KeptSamples, no_samples

__all__ = ["KeptSamples", "PendingSamples", "no_samples"]


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

    def drop_oldest(self, count: int) -> int:
        """Drop up to `count` of the oldest samples waiting (the memory limit is reached); returns how many."""
        dropped = min(count, len(self.columns.ts))
        for column in self.columns:
            del column[:dropped]
        return dropped
