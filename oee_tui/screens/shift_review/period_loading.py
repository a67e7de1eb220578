"""What the review loads in its thread workers: one period and scope's figures, or a comparison of periods.

The figures are read where the store is: in this process when the TUI owns it (`StoreReads`), in the
engine when the TUI is attached to one (`EngineReads`, the `review_period` and `review_compare`
requests); both run `service.review_ops`'s functions, so the review shows the same either way. Plain
functions and classes (no widgets), so a worker only calls one and posts its answer back to the screen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from oee_tui.config import Config
from oee_tui.engine.analysis.report import Report
from oee_tui.engine.analysis.review import ParetoBar, Period, Scope, StopList, TargetRow
from oee_tui.engine.api import PlantEngine
from oee_tui.service.central_plant import CentralPlant
from oee_tui.service.remote_engine import RemoteEngine
from oee_tui.service.review_ops import Compared, PeriodReads, read_comparison, read_period, review_request
from oee_tui.store import Store


@dataclass(frozen=True, slots=True)
class Loaded:
    """One consistent answer for one (period, scope) request."""

    period: Period
    scope: Scope
    now: float
    config: Config  # with the imported reasons merged in, its shifts the plant's calendar (planned_config)
    report: Report
    pareto: tuple[ParetoBar, ...]
    targets: tuple[TargetRow, ...]
    unassigned: StopList
    stops: StopList | None


class ReviewReads(Protocol):
    """Where the review's figures are read. Both calls block: call them from a thread."""

    def period(self, config: Config, period: Period, scope: Scope, now: float,
               cancelled: Callable[[], bool]) -> PeriodReads | None: ...

    def comparison(self, config: Config, period: Period, scope: Scope, mode: int, now: float) -> Compared: ...


class StoreReads:
    """The store this process owns."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def period(self, config: Config, period: Period, scope: Scope, now: float,
               cancelled: Callable[[], bool]) -> PeriodReads | None:
        return read_period(self.store, config, period, scope, now, cancelled)

    def comparison(self, config: Config, period: Period, scope: Scope, mode: int, now: float) -> Compared:
        return read_comparison(self.store, config, period, scope, mode, now)


class EngineReads:
    """The engine this TUI is attached to, which reads its store with its own config."""

    def __init__(self, engine: RemoteEngine) -> None:
        self.engine = engine

    def period(self, config: Config, period: Period, scope: Scope, now: float,
               cancelled: Callable[[], bool]) -> PeriodReads | None:
        reads: PeriodReads = self.engine.call_from_thread("review_period", **review_request(period, scope, now))
        return None if cancelled() else reads

    def comparison(self, config: Config, period: Period, scope: Scope, mode: int, now: float) -> Compared:
        compared: Compared = self.engine.call_from_thread("review_compare", **review_request(period, scope, now),
                                                          mode=mode)
        return compared


def review_reads(engine: PlantEngine) -> ReviewReads | None:
    """Where this TUI reads the review from; None when the plant runs without a store."""
    if isinstance(engine, RemoteEngine):
        return EngineReads(engine)
    if isinstance(engine, CentralPlant):
        return engine.reads
    return None if engine.store is None else StoreReads(engine.store)


def load_period(reads: ReviewReads, config: Config, period: Period, scope: Scope, now: float,
                cancelled: Callable[[], bool]) -> Loaded | None:
    """Everything the review shows for `period` and `scope`; None if `cancelled()` says a newer request took over.

    File and database work, or a request to the engine: call it from a thread."""
    read = reads.period(config, period, scope, now, cancelled)
    if read is None:
        return None
    return Loaded(period, scope, now, read.planned_config(config), read.report, read.pareto, read.targets,
                  read.unassigned, read.stops)


def load_comparison(reads: ReviewReads, config: Config, period: Period, scope: Scope, mode: int,
                    now: float) -> Compared:
    """Mode 0: the shifts of the period's day. Mode n: the n-th shift from the one in view, over the last 7 days.

    Database work, or a request to the engine: call it from a thread."""
    return reads.comparison(config, period, scope, mode, now)
