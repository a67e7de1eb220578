"""A deterministic in-memory PlantEngine FOR UI TESTS ONLY.

Snapshot tests need deterministic data: the same cells, the same timeline and
the same clock on every run. The real engine with a real store is exercised by
the engine's own tests and by the end-to-end tests; here the screens are under
test, so the engine is a fixed table of facts that records what the UI asked.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

from oee_tui.config import DEFAULT_REASONS, Config, LineConfig, MachineConfig, ShiftConfig, SiteConfig
from oee_tui.drivers.discovered_metrics import DiscoveredMetrics
from oee_tui.engine.oee.planning_rules import Planning
from oee_tui.model import (
    Alert,
    AlertEvent,
    AuditChange,
    MachineDetail,
    MachineSnapshot,
    MachineState,
    OeeResult,
    PlantSnapshot,
    ReasonTotal,
    SourceStatus,
    StateInterval,
    TrendPoint,
)
from oee_tui.model.data_quality import QualityReport, SourceQuality, TagQuality
from oee_tui.store import Store

NOW: Final = 1_795_687_200.0  # 2026-11-26 10:00 UTC, 11:00 in the plant (Europe/Berlin)
SHIFT_START: Final = NOW - 5 * 3600  # 06:00 local
SHIFT_END: Final = NOW + 3 * 3600  # 14:00 local
SHIFT_LABEL: Final = "Early@2026-11-26"
OPERATOR: Final = "tester"


def frozen_clock() -> float:
    return NOW


def oee_result(scope: str, availability: float, performance: float, quality: float, good: int,
               reject: int) -> OeeResult:
    """A self-consistent OeeResult (A x P x Q == OEE) for the shift so far."""
    calendar = NOW - SHIFT_START
    planned_stop = 15 * 60.0
    planned_production = calendar - planned_stop
    run = planned_production * availability
    ideal_output = run * performance
    total = good + reject
    oee = availability * performance * quality
    return OeeResult(
        scope=scope, window_start=SHIFT_START, window_end=NOW, calendar_time_s=calendar,
        scheduled_time_s=calendar, planned_stop_s=planned_stop, no_data_s=0.0,
        planned_production_time_s=planned_production, run_time_s=run,
        unplanned_downtime_s=planned_production - run, ideal_output_time_s=ideal_output,
        fully_productive_time_s=ideal_output * quality, total_count=total, good_count=good,
        reject_count=reject, availability=availability, performance=performance, quality=quality,
        quality_count_ratio=good / total if total else None, oee=oee, teep=oee * planned_production / calendar,
        flags=("performance_over_100",) if performance > 1.0 else (),
    )


@dataclass(frozen=True, slots=True)
class MachineFacts:
    id: str
    name: str
    line: str
    state: MachineState
    state_since: float
    data_age: float | None
    stale: bool
    figures: tuple[float, float, float]  # availability, performance, quality
    good: int
    reject: int
    target: int
    reason: str | None = None


# Every MachineState appears once; the Palletizer is stale; the Filler runs faster than its ideal rate.
MACHINES: Final[tuple[MachineFacts, ...]] = (
    MachineFacts("L1-FILL", "Filler", "L1", MachineState.RUNNING, NOW - 1380, 1.0, False,
                 (0.92, 1.034, 0.985), 14_210, 215, 13_800),
    MachineFacts("L1-CAP", "Capper", "L1", MachineState.MINOR_STOP, NOW - 75, 2.0, False,
                 (0.88, 0.91, 0.99), 12_034, 120, 13_800),
    MachineFacts("L1-LAB", "Labeler", "L1", MachineState.DOWN, NOW - 1320, 1.0, False,
                 (0.71, 0.93, 0.97), 9_120, 280, 13_800),
    MachineFacts("L2-CASE", "Case packer", "L2", MachineState.PLANNED_STOP, NOW - 600, 3.0, False,
                 (0.95, 0.89, 1.0), 1_150, 0, 1_200, reason="BREAK"),
    MachineFacts("L2-WRAP", "Wrapper", "L2", MachineState.CHANGEOVER, NOW - 900, 1.0, False,
                 (0.81, 0.87, 0.995), 1_010, 5, 1_200),
    MachineFacts("L2-PAL", "Palletizer", "L2", MachineState.OFFLINE, NOW - 45, 45.0, True,
                 (0.90, 0.95, 1.0), 402, 0, 420),
)

# The shift so far, in minutes from its start: (from, to, state, reason, given by). The tail up to
# the machine's current state is added per machine.
_HISTORY: Final[tuple[tuple[int, int, MachineState, str | None, str | None], ...]] = (
    (0, 70, MachineState.RUNNING, None, None),
    (70, 72, MachineState.MINOR_STOP, "MINOR", "alice"),
    (72, 150, MachineState.RUNNING, None, None),
    (150, 175, MachineState.DOWN, "FAIL.MECH", "alice"),
    (175, 210, MachineState.RUNNING, None, None),
    (210, 225, MachineState.PLANNED_STOP, "BREAK", "alice"),
    (225, 240, MachineState.RUNNING, None, None),
    (240, 260, MachineState.CHANGEOVER, None, None),
    (260, 275, MachineState.RUNNING, None, None),
    (275, 277, MachineState.MINOR_STOP, None, None),
)
_HISTORY_END: Final = SHIFT_START + 277 * 60


def plant_config() -> Config:
    return Config(
        site=SiteConfig(name="Test Plant", timezone="Europe/Berlin", stale_after_s=10.0),
        lines=(LineConfig("L1", "Line 1", "Filling"), LineConfig("L2", "Line 2", "Packing")),
        machines=tuple(MachineConfig(id=m.id, name=m.name, line=m.line, ideal_cycle_time_s=0.5) for m in MACHINES),
        sources=(),
        reasons=DEFAULT_REASONS,
        shifts=(ShiftConfig("Early", "06:00", "14:00"), ShiftConfig("Late", "14:00", "22:00")),
    )


def machine_snapshot(facts: MachineFacts) -> MachineSnapshot:
    availability, performance, quality = facts.figures
    return MachineSnapshot(
        machine=facts.id, name=facts.name, line=facts.line, state=facts.state, state_since=facts.state_since,
        last_data=None if facts.data_age is None else NOW - facts.data_age, stale=facts.stale, product="P-100",
        shift=SHIFT_LABEL, oee=oee_result(facts.id, availability, performance, quality, facts.good, facts.reject),
        good_count=facts.good, reject_count=facts.reject, target_count=facts.target, reason=facts.reason,
    )


def source_status(name: str, kind: str, *, connected: bool = True, stale: bool = False,
                  last_error: str | None = None, errors: int = 0, reconnects: int = 0,
                  dropped: int = 0) -> SourceStatus:
    """The health of one source, with fixed figures."""
    return SourceStatus(
        name=name, kind=kind, connected=connected, stale=stale, last_error=last_error,
        last_data=NOW - 1 if connected else NOW - 300, expected_interval_s=1.0,
        reads_per_s=4.0 if connected else 0.0, latency_p50_s=0.0042 if connected else None,
        latency_p95_s=0.0187 if connected else None, reads=14_400, failed_reads=errors, errors=errors,
        reconnects=reconnects, samples=57_600, dropped=dropped, queued=0, policy="wait",
        next_retry_in_s=None if connected else 12.0,
    )


# One healthy Modbus PLC and one OPC-UA server that went away; any other source has no health.
SOURCES: Final[tuple[SourceStatus, ...]] = (
    source_status("plc1", "modbus"),
    source_status("ua", "opcua", connected=False, stale=True, last_error="connection refused", errors=3,
                  reconnects=3, dropped=12),
)


def quality_report() -> QualityReport:
    """The data-quality checks of SOURCES this hour: the Modbus PLC with a few problems, the OPC-UA server
    with a device clock and no expected period (completeness n/a)."""
    hour = NOW - 1800
    plc = (TagQuality("plc1", "hr:0", hour, 1800, 1800.0, 0, 1, 0, None),
           TagQuality("plc1", "hr:4", hour, 1620, 1800.0, 2, 0, 0, None, 0.0, 150.0, 180.5))
    ua = (TagQuality("ua", "ns=2;s=Line2.Count", hour, 40, None, 0, 0, 1, 0.35),)
    return QualityReport(NOW, (
        SourceQuality("plc1", "modbus", hour, 1800.0, 1.0, False, 3420, 3600.0, 2, 1, 0, None, None, plc, plc[1]),
        SourceQuality("ua", "opcua", hour, 1800.0, None, True, 40, None, 0, 0, 1, 0.35, 0.35, ua),
    ))


def plant_snapshot() -> PlantSnapshot:
    machines = tuple(machine_snapshot(facts) for facts in MACHINES)
    # The lines' totals, from their machines' counts (the wide live screen shows them under each line).
    lines = tuple(oee_result(line, availability, performance, quality,
                             sum(facts.good for facts in MACHINES if facts.line == line),
                             sum(facts.reject for facts in MACHINES if facts.line == line))
                  for line, availability, performance, quality in (("L1", 0.84, 0.96, 0.983), ("L2", 0.89, 0.9, 0.998)))
    return PlantSnapshot(ts=NOW, shift=SHIFT_LABEL, machines=machines,
                         plant=oee_result("plant", 0.86, 0.93, 0.99, 37_926, 620), lines=lines, sources=SOURCES)


def _intervals(facts: MachineFacts) -> list[StateInterval]:
    out = [StateInterval(facts.id, SHIFT_START + start * 60, SHIFT_START + end * 60, state, reason, by,
                         None if by is None else SHIFT_START + end * 60 + 30)
           for start, end, state, reason, by in _HISTORY]
    if facts.state is MachineState.RUNNING:
        out.append(StateInterval(facts.id, _HISTORY_END, None, MachineState.RUNNING))
    else:
        out.append(StateInterval(facts.id, _HISTORY_END, facts.state_since, MachineState.RUNNING))
        out.append(StateInterval(facts.id, facts.state_since, None, facts.state, facts.reason))
    return out


def _trend(facts: MachineFacts) -> tuple[TrendPoint, ...]:
    availability, performance, quality = facts.figures
    wobble = (0.0, -0.12, 0.05, -0.2, 0.03)  # hour to hour, so the bars differ
    points = []
    for hour, delta in enumerate(wobble):
        a = max(0.0, min(1.0, availability + delta))
        points.append(TrendPoint(SHIFT_START + hour * 3600, SHIFT_START + (hour + 1) * 3600,
                                 a * performance * quality, a, performance, quality))
    return tuple(points)


class StaticEngine:
    """Implements PlantEngine over fixed data; records start, stop, every reason given and every reload."""

    def __init__(self) -> None:
        self.config: Config = plant_config()
        self.store: Store | None = None  # a screen that needs history gets a real Store in its test
        self.plant: PlantSnapshot = plant_snapshot()
        self.facts = {facts.id: facts for facts in MACHINES}
        self.intervals: dict[str, list[StateInterval]] = {facts.id: _intervals(facts) for facts in MACHINES}
        self.started = 0
        self.stopped = 0
        self.detail_requests: list[str] = []
        self.reason_calls: list[tuple[str, float, str, str]] = []
        self.reason_origins: list[str] = []  # where each reason in reason_calls was given from (the audit's origin)
        self.reloads: list[Config] = []
        self.planning_reloads = 0  # how often an import asked for the planning data to be read again
        self.planning = Planning.empty()  # as the real engine's with nothing imported: the config's shifts
        self.observers: list[object] = []  # what watches the engine's output (an edge node's stand-in)
        # What births declared, by source (a Sparkplug source's metrics to pick from); a test fills it.
        self.discovered: dict[str, DiscoveredMetrics] = {}

    async def start(self) -> None:
        self.started += 1

    async def stop(self) -> None:
        self.stopped += 1

    async def reload(self, config: Config) -> None:
        # Keeps its own config: the fixed snapshot data is built around the plant_config() machines.
        self.reloads.append(config)

    async def reload_planning(self) -> None:
        self.planning_reloads += 1

    def snapshot(self) -> PlantSnapshot:
        return self.plant

    async def data_quality(self, source: str | None = None, *, tags: bool = True) -> QualityReport:
        report = quality_report()
        return replace(report, current=tuple(quality if tags else replace(quality, tags=())
                                             for quality in report.current
                                             if source is None or quality.source == source))

    def discovered_metrics(self, source: str) -> DiscoveredMetrics | None:
        return self.discovered.get(source)

    async def machine_detail(self, machine: str) -> MachineDetail:
        self.detail_requests.append(machine)
        facts = self.facts[machine]
        intervals = tuple(self.intervals[machine])
        stops = tuple(sorted((i for i in intervals if i.state.is_stop), key=lambda i: i.start, reverse=True))
        availability, performance, quality = facts.figures
        return MachineDetail(
            machine=machine, name=facts.name, shift=SHIFT_LABEL, shift_start=SHIFT_START, shift_end=SHIFT_END,
            now=NOW, intervals=intervals, stops=stops, trend=_trend(facts), top_reasons=self._top_reasons(stops),
            oee=oee_result(machine, availability, performance, quality, facts.good, facts.reject),
        )

    def _top_reasons(self, stops: tuple[StateInterval, ...]) -> tuple[ReasonTotal, ...]:
        totals: dict[str | None, tuple[int, float]] = {}
        for stop in stops:
            stops_count, seconds = totals.get(stop.reason, (0, 0.0))
            totals[stop.reason] = (stops_count + 1, seconds + (stop.end or NOW) - stop.start)
        out = []
        for code, (stops_count, seconds) in totals.items():
            reason = self.config.reason(code) if code is not None else None
            out.append(ReasonTotal(code, reason.name if reason else "No reason given", stops_count, seconds))
        return tuple(sorted(out, key=lambda total: total.seconds, reverse=True))

    async def acknowledge_alert(self, alert_id: int, comment: str, user: str, origin: str = "local") -> Alert:
        """As the real engine does, on the alerts of `plant` and the store (written with its audit entry)."""
        from oee_tui.alerts.person_actions import acknowledgement

        return self._act_on_alert(*acknowledgement(self._alert(alert_id), comment, user, origin, NOW))

    async def shelve_alert(self, alert_id: int, until: float, user: str, origin: str = "local") -> Alert:
        from oee_tui.alerts.person_actions import shelving

        return self._act_on_alert(*shelving(self._alert(alert_id), until, user, origin, NOW))

    def _alert(self, alert_id: int) -> Alert:
        found = next((alert for alert in self.plant.alerts if alert.id == alert_id), None)
        if found is None and self.store is not None:
            found = self.store.alert(alert_id)
        if found is None:
            raise KeyError(f"no alert {alert_id}")
        return found

    def _act_on_alert(self, updated: Alert, event: AlertEvent, audit: AuditChange) -> Alert:
        if self.store is not None:
            self.store.write_alerts([(updated, event)], [audit])
        self.plant = replace(self.plant, alerts=tuple(updated if alert.id == updated.id else alert
                                                      for alert in self.plant.alerts))
        return updated

    async def set_stop_reason(self, machine: str, stop_start: float, reason: str, user: str,
                              origin: str = "local") -> None:
        if machine not in self.intervals:
            raise KeyError(f"unknown machine {machine!r}")
        if self.config.reason(reason) is None:
            raise ValueError(f"unknown reason code {reason!r}")
        for index, interval in enumerate(self.intervals[machine]):
            if interval.start == stop_start and interval.state.is_stop:
                self.reason_calls.append((machine, stop_start, reason, user))
                self.reason_origins.append(origin)
                self.intervals[machine][index] = replace(interval, reason=reason, reason_by=user, reason_at=NOW)
                return
        raise KeyError(f"machine {machine!r} has no stop starting at {stop_start}")
