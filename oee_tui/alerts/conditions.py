"""What each kind of rule finds wrong in the plant as the engine holds it now: its snapshot and the newest
value of every routed tag. One function per kind; each returns a finding per subject whose condition holds.

They run at every tick for every rule, so they read only memory (never the store) and build little.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Protocol

from oee_tui.config import AlertRule
from oee_tui.model import AlertKind, MachineSnapshot, MachineState, Quality, SourceStatus, TagValue

# An unplanned stop: what "down" means to an alert (a changeover, a planned stop or no data are not).
DOWN_STATES: Final = frozenset({MachineState.DOWN, MachineState.MINOR_STOP})
# The stops a reason is asked for: every stop but a planned one.
REASON_STATES: Final = frozenset({MachineState.DOWN, MachineState.MINOR_STOP, MachineState.CHANGEOVER})
SCRAP_STEP_S: Final = 10.0  # the sliding window's resolution: one count reading kept per machine this often


class LatestValue(Protocol):
    """The newest value the engine kept of one tag (engine.live.routing.TagRoute is one)."""

    last_value: TagValue
    last_quality: Quality | None


@dataclass(frozen=True, slots=True)
class Finding:
    subject: str  # a machine id, a source, "source/tag" or a Sparkplug node
    message: str
    since: float | None = None  # when the condition began, when the plant says; None: when first found


@dataclass(slots=True)
class PlantNow:
    """The plant at one tick, indexed once for every rule."""

    now: float
    machines: Mapping[str, MachineSnapshot]
    sources: Mapping[str, SourceStatus]
    latest: Mapping[tuple[str, str], LatestValue]
    target_oee: float  # [targets] oee, a fraction
    scrap: ScrapWindows
    sparkplug_groups: Mapping[str, Mapping[str, tuple[tuple[str, str], ...]]]  # source -> node -> its tags' keys


class ScrapWindows:
    """Each machine's good and reject counts, one reading every SCRAP_STEP_S over the longest window a
    rule asks for: the parts made in the last N minutes without a store query."""

    def __init__(self) -> None:
        self.span_s = 0.0
        self._readings: dict[str, deque[tuple[float, int, int]]] = {}

    def add(self, machine: MachineSnapshot, now: float) -> None:
        readings = self._readings.get(machine.machine)
        if readings is None:
            readings = self._readings[machine.machine] = deque()
        if readings and (machine.good_count < readings[-1][1] or machine.reject_count < readings[-1][2]):
            readings.clear()  # a new shift counts from zero: the old readings say nothing about it
        if not readings or now - readings[-1][0] >= SCRAP_STEP_S:
            readings.append((now, machine.good_count, machine.reject_count))
        while readings and readings[0][0] < now - self.span_s - SCRAP_STEP_S:
            readings.popleft()

    def made(self, machine: MachineSnapshot, window_s: float, now: float) -> tuple[int, int]:
        """(good, rejects) made in the last `window_s`, or since the oldest reading in it."""
        for ts, good, rejects in self._readings.get(machine.machine, ()):
            if ts >= now - window_s:
                return machine.good_count - good, machine.reject_count - rejects
        return 0, 0

    def keep_only(self, machines: Iterable[str]) -> None:
        kept = set(machines)
        for machine in [machine for machine in self._readings if machine not in kept]:
            del self._readings[machine]


def findings(rule: AlertRule, plant: PlantNow) -> list[Finding]:
    return _BY_KIND[rule.kind](rule, plant)


def _machines(rule: AlertRule, plant: PlantNow) -> Iterable[MachineSnapshot]:
    if rule.machine is None:
        return plant.machines.values()
    machine = plant.machines.get(rule.machine)
    return () if machine is None else (machine,)


def _value_range(rule: AlertRule, plant: PlantNow) -> list[Finding]:
    route = plant.latest.get((rule.source or "", rule.tag or ""))
    if route is None or route.last_quality is not Quality.GOOD:
        return []  # a value of bad quality is no reading: the quality rule's business
    value = route.last_value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return []
    if (rule.low is not None and value < rule.low) or (rule.high is not None and value > rule.high):
        limits = f"[{_number(rule.low)}, {_number(rule.high)}]"
        return [Finding(f"{rule.source}/{rule.tag}", f"{rule.tag} = {_number(value)}, outside {limits}")]
    return []


def _quality(rule: AlertRule, plant: PlantNow) -> list[Finding]:
    route = plant.latest.get((rule.source or "", rule.tag or ""))
    status = plant.sources.get(rule.source or "")
    if route is not None and route.last_quality is not None and route.last_quality is not Quality.GOOD:
        return [Finding(f"{rule.source}/{rule.tag}", f"{rule.tag} has {route.last_quality.value} quality")]
    if status is not None and status.stale:
        return [Finding(f"{rule.source}/{rule.tag}", f"{rule.tag} is stale: {rule.source} sends no data")]
    return []


def _scrap_rate(rule: AlertRule, plant: PlantNow) -> list[Finding]:
    found = []
    window_s = rule.window_min * 60.0
    for machine in _machines(rule, plant):
        good, rejects = plant.scrap.made(machine, window_s, plant.now)
        made = good + rejects
        if made >= rule.min_parts and rejects * 100.0 > rule.max_scrap_pct * made:
            found.append(Finding(machine.machine, f"scrap {rejects * 100.0 / made:.1f}% ({rejects:,} of {made:,}) "
                                                  f"over {_number(rule.window_min)} min, above "
                                                  f"{_number(rule.max_scrap_pct)}%"))
    return found


def _oee_below_target(rule: AlertRule, plant: PlantNow) -> list[Finding]:
    found = []
    target = rule.target_pct / 100.0 if rule.target_pct is not None else plant.target_oee
    for machine in _machines(rule, plant):
        oee = machine.oee.oee
        if machine.shift is None or oee is None or machine.oee.planned_production_time_s < rule.after_min * 60.0:
            continue
        if oee < target:
            found.append(Finding(machine.machine, f"OEE {oee * 100:.1f}% below the target {target * 100:.0f}% "
                                                  f"(shift {machine.shift} so far)"))
    return found


def _machine_down(rule: AlertRule, plant: PlantNow) -> list[Finding]:
    return [Finding(machine.machine, f"{machine.name} is {machine.state.value.replace('_', ' ')}", machine.state_since)
            for machine in _machines(rule, plant) if machine.state in DOWN_STATES]


def _stop_without_reason(rule: AlertRule, plant: PlantNow) -> list[Finding]:
    return [Finding(machine.machine, f"{machine.name}'s {machine.state.value.replace('_', ' ')} has no reason",
                    machine.state_since)
            for machine in _machines(rule, plant) if machine.state in REASON_STATES and machine.reason is None]


def _counter_event(rule: AlertRule, plant: PlantNow) -> list[Finding]:
    found = []
    since = plant.now - rule.hold_min * 60.0
    for machine in _machines(rule, plant):
        recent = [event for event in machine.events if event.ts >= since and event.kind in rule.events]
        if recent:
            found.append(Finding(machine.machine, f"{machine.name}: {recent[-1].text}", recent[0].ts))
    return found


def _sparkplug_death(rule: AlertRule, plant: PlantNow) -> list[Finding]:
    """A node (or device) is dead while its source holds the broker but every tag of the node is BAD:
    the host marks them so at an NDEATH or a DDEATH (oee_tui.mqtt.sparkplug_host)."""
    found = []
    for source, nodes in plant.sparkplug_groups.items():
        status = plant.sources.get(source)
        if (rule.source is not None and source != rule.source) or status is None or not status.connected:
            continue
        if rule.node is not None:
            wanted = rule.node if rule.device is None else f"{rule.node}/{rule.device}"
            nodes = {wanted: nodes[wanted]} if wanted in nodes else {}
        dead_nodes: set[str] = set()
        for node, keys in sorted(nodes.items()):  # a node before its devices
            if node.rsplit("/", 1)[0] in dead_nodes:
                continue  # its node is dead: one alert says it
            if keys and all(_bad(plant.latest.get(key)) for key in keys):
                dead_nodes.add(node)
                what = "edge node" if node.count("/") == 1 else "device"
                found.append(Finding(f"{source}:{node}", f"Sparkplug {what} {node} is offline (death)"))
    return found


def _bad(route: LatestValue | None) -> bool:
    return route is not None and route.last_quality is Quality.BAD


def _source_offline(rule: AlertRule, plant: PlantNow) -> list[Finding]:
    statuses = plant.sources.values() if rule.source is None else \
        [status for status in (plant.sources.get(rule.source),) if status is not None]
    return [Finding(status.name, f"{status.name} is offline: {status.last_error or 'no data'}")
            for status in statuses if not status.online]


def sparkplug_groups(keys: Iterable[tuple[str, str]], sparkplug_sources: set[str]) -> dict[str, dict[str, tuple[
        tuple[str, str], ...]]]:
    """source -> node ("group/edge") and device ("group/edge/device") -> the routed tags under it. A node
    holds its devices' tags too: its death makes them all BAD."""
    groups: dict[str, dict[str, list[tuple[str, str]]]] = {}
    for key in keys:
        source, tag = key
        if source not in sparkplug_sources:
            continue
        levels = tag.split("/")
        if len(levels) < 3:
            continue
        nodes = groups.setdefault(source, {})
        nodes.setdefault("/".join(levels[:2]), []).append(key)
        if len(levels) >= 4:
            nodes.setdefault("/".join(levels[:3]), []).append(key)
    return {source: {node: tuple(tags) for node, tags in nodes.items()} for source, nodes in groups.items()}


def _number(value: float | int | None) -> str:
    if value is None:
        return "…"
    return f"{value:g}" if isinstance(value, float) else str(value)


_BY_KIND: Final = {
    AlertKind.VALUE_RANGE: _value_range,
    AlertKind.QUALITY: _quality,
    AlertKind.SCRAP_RATE: _scrap_rate,
    AlertKind.OEE_BELOW_TARGET: _oee_below_target,
    AlertKind.MACHINE_DOWN: _machine_down,
    AlertKind.STOP_WITHOUT_REASON: _stop_without_reason,
    AlertKind.COUNTER_EVENT: _counter_event,
    AlertKind.SPARKPLUG_DEATH: _sparkplug_death,
    AlertKind.SOURCE_OFFLINE: _source_offline,
}
