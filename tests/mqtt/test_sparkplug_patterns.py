"""Sparkplug metrics mapped by exact name or by pattern (`+` one level, final `#` the rest)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from oee_tui.config import ConfigError
from oee_tui.drivers.registry import parse_config
from oee_tui.engine.live.engine import Engine
from oee_tui.model import Signal
from oee_tui.mqtt.metric_patterns import MetricRouter, pattern_problem
from oee_tui.store import Store
from tests.mqtt.broker import EdgeNode, MosquittoBroker
from tests.mqtt.test_sparkplug_engine import CONFIG, metrics, until


def test_exact_names_and_patterns_route_to_every_mapping_they_match() -> None:
    router = MetricRouter(["plant/line1/press1/Count", "plant/+/press1/Count", "plant/line1/+/#", "plant/+/+/State"])
    assert router.targets("plant/line1/press1/Count") == (
        "plant/line1/press1/Count", "plant/+/press1/Count", "plant/line1/+/#")
    assert router.targets("plant/line2/press1/Count") == ("plant/+/press1/Count",)
    assert router.targets("plant/line2/press9/State") == ("plant/+/+/State",)
    # Metric names may hold slashes; + is still exactly one level.
    assert router.targets("plant/line2/press1/Counts/Good") == ()
    assert router.targets("plant/line1/press1/Counts/Good") == ("plant/line1/+/#",)
    assert router.targets("other/line1/press1/Count") == ()


@pytest.mark.parametrize(("tag", "why"), [
    ("plant/Count", "must be group/edge node/device/metric (or group/edge node/metric for a node metric)"),
    ("plant//press1/Count", "has an empty level (two slashes in a row, or one at either end)"),
    ("plant/line+/press1/Count", "level 'line+': + must be a whole level"),
    ("plant/#/press1/Count", "# must be the last level"),
    ("plant/line1/press#/Count", "level 'press#': # must be a whole level"),
])
def test_bad_patterns_are_refused_when_the_config_loads(tag: str, why: str) -> None:
    assert pattern_problem(tag) == why
    text = CONFIG.format(port=1883).replace('tag = "plant/line1/press1/Count"', f'tag = "{tag}"')
    with pytest.raises(ConfigError) as info:
        parse_config(text, "plant.toml")
    assert f"machines[M1].signals.total_count.tag = {tag!r}: {why}" in str(info.value)


async def test_a_wildcard_mapping_follows_the_press_whichever_edge_node_publishes_it(broker: MosquittoBroker,
                                                                                    tmp_path: Path) -> None:
    text = CONFIG.format(port=broker.port).replace('"plant/line1/press1/Count"', '"plant/+/press1/Count"')
    engine = Engine(parse_config(text, "plant.toml"), Store.open(tmp_path), tick_s=0.05, flush_interval_s=0.2)
    await engine.start()
    node = await asyncio.to_thread(EdgeNode, broker.port, "plant", "line7")  # not the edge node named in State's map
    try:
        await until(lambda: engine.runners[0].health.connected)
        await asyncio.to_thread(node.nbirth, [])
        await asyncio.to_thread(node.dbirth, "press1", metrics(100))
        tracker = engine.machines["M1"]
        await until(lambda: tracker.counters[Signal.TOTAL_COUNT].last == 100)
        await asyncio.to_thread(node.ddata, "press1", metrics(104))
        await until(lambda: sum(total for total, _ in tracker.recent_counts.values()) == 4)
    finally:
        await asyncio.to_thread(node.close)
        await engine.stop()


async def test_a_source_under_another_namespace_hears_only_that_namespace(broker: MosquittoBroker,
                                                                         tmp_path: Path) -> None:
    text = CONFIG.format(port=broker.port).replace('host_id = "oee-test"', 'host_id = "oee-test"\nnamespace = "spTest"')
    config = parse_config(text, "plant.toml")
    assert config.sources[0].namespace == "spTest"
    engine = Engine(config, Store.open(tmp_path), tick_s=0.05, flush_interval_s=0.2)
    await engine.start()
    ours = await asyncio.to_thread(EdgeNode, broker.port, "plant", "line1", namespace="spTest")
    other = await asyncio.to_thread(EdgeNode, broker.port, "plant", "line1")  # the usual spBv1.0 root
    try:
        await until(lambda: engine.runners[0].health.connected)
        await asyncio.to_thread(other.nbirth, [])
        await asyncio.to_thread(other.dbirth, "press1", metrics(500))
        await asyncio.to_thread(ours.nbirth, [])
        await asyncio.to_thread(ours.dbirth, "press1", metrics(100))
        tracker = engine.machines["M1"]
        await until(lambda: tracker.counters[Signal.TOTAL_COUNT].last == 100)
        await asyncio.to_thread(other.ddata, "press1", metrics(900))
        await asyncio.to_thread(ours.ddata, "press1", metrics(103))
        await until(lambda: sum(total for total, _ in tracker.recent_counts.values()) == 3)
        assert tracker.counters[Signal.TOTAL_COUNT].last == 103  # spBv1.0's 500 and 900 never arrived
    finally:
        await asyncio.to_thread(ours.close)
        await asyncio.to_thread(other.close)
        await engine.stop()


def test_a_namespace_must_be_one_topic_level() -> None:
    text = CONFIG.format(port=1883).replace('host_id = "oee-test"', 'host_id = "oee-test"\nnamespace = "sp/B"')
    with pytest.raises(ConfigError) as info:
        parse_config(text, "plant.toml")
    assert ("sources[uns].namespace = 'sp/B': must be one topic level without /, + or # "
            '(the Sparkplug B default is "spBv1.0")') in str(info.value)


@pytest.mark.parametrize(("setting", "message"), [
    ('host_id = "scada/1"', "sources[uns].host_id = 'scada/1': must be one topic level without /, + or # "
                            "(it names the topic spBv1.0/STATE/<host_id>)"),
    ('group_ids = ["plant", "Plant+"]',
     "sources[uns].group_ids = ['plant', 'Plant+']: group id 'Plant+' must be one topic level without /, + or #"),
])
def test_host_id_and_group_ids_must_be_one_topic_level(setting: str, message: str) -> None:
    key = setting.split(" =")[0]
    text = CONFIG.format(port=1883).replace(next(line for line in CONFIG.splitlines() if line.startswith(key)),
                                           setting)
    with pytest.raises(ConfigError) as info:
        parse_config(text, "plant.toml")
    assert message in str(info.value)
