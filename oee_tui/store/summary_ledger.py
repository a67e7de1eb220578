"""Keeps the store's day summaries true to the data under them while writers and readers overlap.

A day summary (oee_tui.engine.analysis.day_summaries) is computed from intervals, counts and reasons
read at one moment and saved a little later. A write for that machine and day in between
makes it stale. The protocol, all under one lock:

* A writer announces itself before its transaction (an epoch and, per machine, the earliest
  time it writes; None for "everything"), deletes in its own transaction every saved summary
  that ends after those times, and says when it is done.
* A reader takes an epoch before it reads: the newest write it is sure to see.
* Saving drops every summary that a write announced after the reader's epoch could have made
  stale, and inserts the rest while holding the lock, so that no writer decides what to delete
  between the check and the insert.

`ends` (the latest saved day end per machine) lets a writer skip the DELETE when no saved
summary can be affected: the engine writes every second, always after every saved day.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

_T = TypeVar("_T")
Stale = Mapping[str, float] | None  # machine -> earliest time written; None: every machine, all time


@dataclass(slots=True)
class SummaryLedger:
    ends: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _epoch: int = 0
    _log: list[tuple[int, Stale]] = field(default_factory=list)
    _in_flight: set[int] = field(default_factory=set)
    _readers: dict[int, int] = field(default_factory=dict)
    _tokens: Iterator[int] = field(default_factory=itertools.count)

    @contextlib.contextmanager
    def writing(self, stale: Stale) -> Iterator[Stale]:
        """Announce a write; yields what to delete from the saved summaries ({} for nothing)."""
        with self._lock:
            self._epoch += 1
            epoch = self._epoch
            self._log.append((epoch, stale))
            self._in_flight.add(epoch)
            if stale is None:
                delete: Stale = None
            else:
                delete = {machine: ts for machine, ts in stale.items() if self.ends.get(machine, float("-inf")) > ts}
        done = False
        try:
            yield delete
            done = True
        finally:
            with self._lock:
                self._in_flight.discard(epoch)
                # A write that failed rolled its DELETE back: the saved days are still there.
                if done and delete is None:
                    self.ends.clear()
                elif done and delete:
                    for machine, ts in delete.items():
                        self.ends[machine] = min(self.ends.get(machine, ts), ts)
                self._trim()

    def begin_read(self) -> int:
        """A token for a reader about to read what it will summarise; give it back with end_read."""
        with self._lock:
            token = next(self._tokens)
            # A write announced but not committed may or may not be seen: count it as unseen.
            self._readers[token] = min(self._in_flight) - 1 if self._in_flight else self._epoch
            return token

    def end_read(self, token: int) -> None:
        with self._lock:
            self._readers.pop(token, None)
            self._trim()

    def save(self, token: int, rows: Sequence[_T], machine_of: Callable[[_T], str], end_of: Callable[[_T], float],
             insert: Callable[[list[_T]], None]) -> list[_T]:
        """Insert the rows no write since the reader's epoch touched; returns those inserted."""
        with self._lock:
            seen = self._readers.get(token, -1)
            later = [stale for epoch, stale in self._log if epoch > seen]
            kept = [row for row in rows if not any(_touches(stale, machine_of(row), end_of(row)) for stale in later)]
            if kept:
                insert(kept)
                for row in kept:
                    machine = machine_of(row)
                    self.ends[machine] = max(self.ends.get(machine, float("-inf")), end_of(row))
            return kept

    def _trim(self) -> None:
        # An entry matters while it is in flight or some reader began before it.
        oldest = min(self._readers.values(), default=self._epoch)
        self._log = [(epoch, stale) for epoch, stale in self._log if epoch > oldest or epoch in self._in_flight]


def _touches(stale: Stale, machine: str, day_end: float) -> bool:
    if stale is None:
        return True
    ts = stale.get(machine)
    return ts is not None and ts < day_end
