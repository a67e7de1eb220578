"""Source kind "sparkplug": a Sparkplug B host on a broker; its settings, metric-pattern check and declaration."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Final

from oee_tui.config import CommonKeys, SourceConfig, TagMapping, TagProblem, TomlReader, TomlTable, is_topic_level
from oee_tui.drivers.base import Driver, settings_of
from oee_tui.drivers.broker_source import BROKER_KEYS, BrokerSource, keep_alive_of, probe_settings, read_broker_keys
from oee_tui.drivers.driver_kind import FREE_TEXT_SIXTEEN_BIT, DriverKind, always_device_time

if TYPE_CHECKING:
    from oee_tui.mqtt.transport import MqttSettings

# How the reader and, with the same words, the source form (oee_tui.field_checks) refuse them.
HOST_ID_PROBLEM: Final = "must be one topic level without /, + or # (it names the topic spBv1.0/STATE/<host_id>)"
NAMESPACE_PROBLEM: Final = 'must be one topic level without /, + or # (the Sparkplug B default is "spBv1.0")'
# Sparkplug metrics are pushed by edge nodes (a birth, then changes); a host cannot ask for one.
SPARKPLUG_NOT_READABLE: Final = ("sparkplug sources cannot be test-read: edge nodes push their metrics (a birth, "
                                 "then changes) and a host cannot ask for one; `oee devices list` checks the broker")
SPARKPLUG_BROWSED_IN_ENGINE: Final = (
    "a Sparkplug host lists the metrics edge nodes declared in their births, which only the running engine "
    "hears: start `oee engine` (or the TUI), then browse again; or type the metric as group/edge node/device/"
    "metric (+ matches one level, a final # the rest)")


def group_id_problem(group: str) -> str:
    return f"group id {group!r} must be one topic level without /, + or #"


@dataclass(frozen=True, slots=True)
class SparkplugSource(BrokerSource):
    """A Sparkplug B host application on one broker. None: the host's default (oee_tui.mqtt.sparkplug_host)."""

    kind: ClassVar[str] = "sparkplug"
    host_id: str | None = None  # the STATE topic's host id; default "oee-tui"
    namespace: str | None = None  # Sparkplug topics' first level; default "spBv1.0"
    group_ids: tuple[str, ...] = ()  # empty: every group
    reorder_timeout_s: float | None = None  # how long a seq gap may wait for its message
    # Store every metric as samples under its own name, mapped or not: the namespace's history,
    # to map later. The source is started even when no machine maps a tag of it.
    keep_all_metrics: bool = False


def _read(r: TomlReader, t: TomlTable, key: str, common: CommonKeys) -> SparkplugSource:
    group_ids = t.get("group_ids", [])
    if not isinstance(group_ids, list) or not all(isinstance(g, str) and g for g in group_ids):
        raise r.fail(f"{key}.group_ids", group_ids, 'must be a list of Sparkplug group ids, e.g. ["Plant1"]')
    for group in group_ids:
        if not is_topic_level(group):
            raise r.fail(f"{key}.group_ids", group_ids, group_id_problem(group))
    host_id = r.opt_string(t, key, "host_id")
    if host_id is not None and not is_topic_level(host_id):
        raise r.fail(f"{key}.host_id", host_id, HOST_ID_PROBLEM)
    namespace = r.opt_string(t, key, "namespace")
    if namespace is not None and not is_topic_level(namespace):
        raise r.fail(f"{key}.namespace", namespace, NAMESPACE_PROBLEM)
    return SparkplugSource(
        **common,
        **read_broker_keys(r, t, key),
        host_id=host_id,
        namespace=namespace,
        group_ids=tuple(group_ids),
        reorder_timeout_s=None if "reorder_timeout_s" not in t else
        r.number(t, key, "reorder_timeout_s", positive=True),
        keep_all_metrics=r.boolean(t, key, "keep_all_metrics", False),
    )


def tag_type(tag: str, given_type: str | None) -> str | None:
    # Imported on first use, as the other kinds' checkers: `oee report` loads only the kinds its plant uses.
    from oee_tui.mqtt.metric_patterns import pattern_problem

    problem = pattern_problem(tag)
    if problem is not None:
        raise TagProblem(problem)
    return given_type


def check_sparkplug_tag(text: str, _type_text: str = "") -> str | None:
    """group/edge node/device/metric (or group/edge node/metric), + and # as in MQTT filters."""
    from oee_tui.mqtt.metric_patterns import pattern_problem

    return pattern_problem(text.strip())


def _probe(source: SourceConfig) -> MqttSettings:
    from oee_tui.drivers.sparkplug.host_driver import SparkplugSettings, default_client_id

    sparkplug = settings_of(source, SparkplugSource)
    return probe_settings(sparkplug, default_client_id(SparkplugSettings.from_source(sparkplug).host_id,
                                                       sparkplug.name))


def _keeps_all(source: SourceConfig) -> bool:
    return settings_of(source, SparkplugSource).keep_all_metrics


def _driver(source: SourceConfig, tags: Sequence[TagMapping], _config_path: Path | None) -> Driver:
    from oee_tui.drivers.sparkplug.process import SparkplugProcessDriver

    return SparkplugProcessDriver(settings_of(source, SparkplugSource), tags)


SPARKPLUG: Final = DriverKind(
    name="sparkplug",
    default_port=1883,
    settings_type=SparkplugSource,
    keys=BROKER_KEYS | {"host_id", "namespace", "group_ids", "reorder_timeout_s", "keep_all_metrics"},
    read_keys=_read,
    tag_check=tag_type,
    sixteen_bit_types=FREE_TEXT_SIXTEEN_BIT,
    tag_problem=check_sparkplug_tag,
    subscribes=True,
    device_time=always_device_time,
    expected_interval=keep_alive_of,
    not_readable=SPARKPLUG_NOT_READABLE,
    not_browsable=None,
    browsed_in_engine=SPARKPLUG_BROWSED_IN_ENGINE,
    broker_probe=_probe,
    # Connecting as the host would take over the engine's client id and rewrite its STATE.
    checked_by_probe=True,
    learned_width="the birth's datatype (Int8 8 ... UInt64 64 bits)",
    keeps_every_sample=_keeps_all,
    driver=_driver,
)
