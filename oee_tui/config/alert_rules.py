"""``[alerts]`` and its ``[[alerts.rules]]``: which conditions the engine raises alerts for, how severe each
is, and what runs when one is raised or cleared (the README's "Alerts" section).

Every rule is checked against the plant it watches (its machine, source and tag exist), so a rule that can
never fire is refused when the file is read, with the key to fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Final

from oee_tui.config.sources import SourceConfig
from oee_tui.config.toml_reader import TomlReader, TomlTable, entry_key
from oee_tui.model import AlertKind, EventKind, Severity

if TYPE_CHECKING:  # plant.py's Config holds these settings: a runtime import would be a cycle
    from oee_tui.config.plant import MachineConfig

_COMMON: Final = frozenset({"id", "kind", "severity", "for_s", "for_min"})
# The keys each kind takes besides the common ones.
KIND_KEYS: Final[Mapping[AlertKind, frozenset[str]]] = {
    AlertKind.VALUE_RANGE: frozenset({"source", "tag", "min", "max"}),
    AlertKind.QUALITY: frozenset({"source", "tag"}),
    AlertKind.SCRAP_RATE: frozenset({"machine", "max_scrap_pct", "window_min", "min_parts"}),
    AlertKind.OEE_BELOW_TARGET: frozenset({"machine", "target_pct", "after_min"}),
    AlertKind.MACHINE_DOWN: frozenset({"machine"}),
    AlertKind.STOP_WITHOUT_REASON: frozenset({"machine"}),
    AlertKind.COUNTER_EVENT: frozenset({"machine", "events", "hold_min"}),
    AlertKind.SPARKPLUG_DEATH: frozenset({"source", "node", "device"}),
    AlertKind.SOURCE_OFFLINE: frozenset({"source"}),
}
_SETTINGS: Final = frozenset({"rules", "on_alert", "hook_timeout_s", "mqtt_topic", "mqtt_qos"})


@dataclass(frozen=True, slots=True)
class AlertRule:
    """One ``[[alerts.rules]]`` entry. `machine` / `source` None: every machine / source of its kind."""

    id: str
    kind: AlertKind
    severity: Severity = Severity.WARNING
    for_s: float = 0.0  # the condition must hold this long before the alert is raised
    machine: str | None = None
    source: str | None = None
    tag: str | None = None
    low: float | None = None  # value_range: `min`
    high: float | None = None  # value_range: `max`
    max_scrap_pct: float = 5.0
    window_min: float = 15.0
    min_parts: int = 20  # scrap_rate: fewer parts in the window say nothing
    target_pct: float | None = None  # None: the plant's [targets] oee
    after_min: float = 30.0  # oee_below_target: judged once this much of the shift has run
    events: tuple[EventKind, ...] = (EventKind.COUNTER_RESET, EventKind.COUNTER_JUMP)
    hold_min: float = 10.0  # counter_event: active this long after the newest event
    node: str | None = None  # sparkplug_death: "group/edge node"; None: every node of the source
    device: str | None = None


@dataclass(frozen=True, slots=True)
class AlertSettings:
    rules: tuple[AlertRule, ...] = ()
    on_alert: str | None = None  # a shell command run at every raise and clear
    hook_timeout_s: float = 10.0
    mqtt_topic: str | None = None  # publish every raise and clear as JSON here, on the [edge] broker
    mqtt_qos: int = 1


def read_alerts(r: TomlReader, data: TomlTable, machines: tuple[MachineConfig, ...],
                sources: tuple[SourceConfig, ...], signal_tags: set[tuple[str, str]]) -> AlertSettings:
    """`signal_tags`: the (source, tag) pairs that the machines' tag maps read: a value or quality rule
    watches one of them (the engine has the latest value of no other)."""
    t = r.table(data, "alerts", "alerts", required=False)
    r.unknown_keys(t, "alerts", _SETTINGS)
    seen: set[str] = set()
    rules = []
    for index, rule_t in enumerate(r.tables(t, "alerts.rules", "rules")):
        key = entry_key("alerts.rules", index, rule_t, "id")
        rule = _rule(r, rule_t, key, machines, sources, signal_tags)
        r.unique(f"{key}.id", seen, rule.id)
        rules.append(rule)
    on_alert = r.opt_string(t, "alerts", "on_alert")
    if on_alert is not None and not on_alert.strip():
        raise r.fail("alerts.on_alert", on_alert, "must be a command, or left out")
    topic = r.opt_string(t, "alerts", "mqtt_topic")
    if topic is not None and (not topic or "+" in topic or "#" in topic):
        raise r.fail("alerts.mqtt_topic", topic, "must be a topic without + or #, e.g. plant/alerts")
    return AlertSettings(
        rules=tuple(rules), on_alert=on_alert,
        hook_timeout_s=r.number(t, "alerts", "hook_timeout_s", default=10.0, positive=True),
        mqtt_topic=topic, mqtt_qos=r.integer(t, "alerts", "mqtt_qos", 1, 0, 1))


def _rule(r: TomlReader, t: TomlTable, key: str, machines: tuple[MachineConfig, ...],
          sources: tuple[SourceConfig, ...], signal_tags: set[tuple[str, str]]) -> AlertRule:
    rule_id = r.string(t, key, "id")
    kind_text = r.string(t, key, "kind", choices=tuple(kind.value for kind in AlertKind))
    kind = AlertKind(kind_text)
    r.unknown_keys(t, key, _COMMON | KIND_KEYS[kind])
    severity = Severity(r.string(t, key, "severity", default=Severity.WARNING.value,
                                 choices=tuple(severity.value for severity in Severity)))
    if "for_s" in t and "for_min" in t:
        raise r.fail(f"{key}.for_min", t["for_min"], "give for_s or for_min, not both")
    for_s = r.number(t, key, "for_min", minimum=0.0) * 60.0 if "for_min" in t else \
        r.number(t, key, "for_s", default=0.0, minimum=0.0)
    rule = AlertRule(rule_id, kind, severity, for_s)
    machine = r.opt_string(t, key, "machine")
    if machine is not None and machine not in {m.id for m in machines}:
        raise r.fail(f"{key}.machine", machine, "is not a machine of [[machines]]; leave it out for every machine")
    source = r.opt_string(t, key, "source")
    if source is not None and source not in {s.name for s in sources}:
        raise r.fail(f"{key}.source", source, "is not a source of [[sources]]")
    rule = replace(rule, machine=machine, source=source)
    if kind in (AlertKind.VALUE_RANGE, AlertKind.QUALITY):
        tag = r.string(t, key, "tag")
        if source is None:
            raise r.fail(f"{key}.source", None, "is missing; name the source whose tag the rule watches")
        if (source, tag) not in signal_tags:
            raise r.fail(f"{key}.tag", tag, f"is not a tag a machine's tag map reads from {source!r}")
        rule = replace(rule, tag=tag)
    if kind is AlertKind.VALUE_RANGE:
        low = _optional_number(r, t, key, "min")
        high = _optional_number(r, t, key, "max")
        if low is None and high is None:
            raise r.fail(f"{key}.max", None, "give min, max or both")
        if low is not None and high is not None and low > high:
            raise r.fail(f"{key}.max", high, f"must be at least min ({low})")
        return replace(rule, low=low, high=high)
    if kind is AlertKind.SCRAP_RATE:
        pct = r.number(t, key, "max_scrap_pct", default=5.0, minimum=0.0)
        if pct >= 100:
            raise r.fail(f"{key}.max_scrap_pct", pct, "must be a percentage below 100, e.g. 5")
        return replace(rule, max_scrap_pct=pct, window_min=r.number(t, key, "window_min", default=15.0, positive=True),
                       min_parts=r.integer(t, key, "min_parts", 20, 1, 1_000_000))
    if kind is AlertKind.OEE_BELOW_TARGET:
        target = _optional_number(r, t, key, "target_pct")
        if target is not None and not 0 < target <= 100:
            raise r.fail(f"{key}.target_pct", target, "must be a percentage from 0 to 100, e.g. 65")
        return replace(rule, target_pct=target, after_min=r.number(t, key, "after_min", default=30.0, minimum=0.0))
    if kind is AlertKind.COUNTER_EVENT:
        return replace(rule, events=_events(r, t, key),
                       hold_min=r.number(t, key, "hold_min", default=10.0, positive=True))
    if kind is AlertKind.SPARKPLUG_DEATH:
        if source is not None and _kind_of(sources, source) != "sparkplug":
            raise r.fail(f"{key}.source", source, "is not a sparkplug source")
        node = r.opt_string(t, key, "node")
        if node is not None and node.count("/") != 1:
            raise r.fail(f"{key}.node", node, 'must be "group/edge node", e.g. "Plant1/Line3"')
        device = r.opt_string(t, key, "device")
        if device is not None and node is None:
            raise r.fail(f"{key}.node", None, "is needed when a device is given")
        return replace(rule, node=node, device=device)
    return rule


def _optional_number(r: TomlReader, t: TomlTable, key: str, name: str) -> float | None:
    return None if t.get(name) is None else r.number(t, key, name)


def _events(r: TomlReader, t: TomlTable, key: str) -> tuple[EventKind, ...]:
    value = t.get("events", [kind.value for kind in EventKind])
    names = tuple(kind.value for kind in EventKind)
    if not isinstance(value, list) or not value or any(item not in names for item in value):
        raise r.fail(f"{key}.events", value, f"must be a list of one or more of {', '.join(names)}")
    return tuple(EventKind(item) for item in value)


def _kind_of(sources: tuple[SourceConfig, ...], name: str) -> str:
    return next(source.kind for source in sources if source.name == name)
