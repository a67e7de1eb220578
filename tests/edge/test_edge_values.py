"""How signal values become Sparkplug metric values, whatever type the source delivered."""

from __future__ import annotations

import pytest

from oee_tui.config import EdgeConfig
from oee_tui.edge.node import EdgeNode
from oee_tui.model import Quality
from oee_tui.mqtt.sparkplug_codec import AliasTable, decode_data
from tests.edge.edge_fixtures import plant_config, sample


def node() -> EdgeNode:
    config = plant_config(1883)
    return EdgeNode(EdgeConfig(enabled=True, group_id="plant", edge_node_id="oee"), config.machines)


def published(edge: EdgeNode, *samples: object) -> list[tuple[str, object]]:
    """Observe samples, encode M1's changes as DDATA and decode them with the codec."""
    edge.observe(samples)  # type: ignore[arg-type]
    table = AliasTable()  # what the host learns from the DBIRTH
    for metric in edge.layout.devices["M1"]:
        table.define(metric.name, metric.datatype, metric.alias)
    changes = [change for change in edge.publisher.changes if change[0].device == "M1"]
    edge.publisher.changes = []
    return [(name, value) for name, value, _ts, _hist in decode_data(edge.publisher.encode(changes, historical=False),
                                                                      table).metrics]


@pytest.mark.parametrize(("tag", "value", "expected"), [
    ("hr:0", 12.0, ("total_count", 12)),  # an OPC-UA Double counter
    ("hr:0", True, ("total_count", 1)),
    ("hr:0", -5, ("total_count", -5)),  # Int64 keeps the sign (two's complement on the wire)
    ("hr:0", "12", ("total_count", 12)),
    ("hr:0", "twelve", ("total_count", None)),  # cannot be a count: null, quality bad
    ("hr:3", 7, ("speed", 7.0)),
    ("co:0", 1, ("fault", True)),
    ("co:0", "on", ("fault", None)),
    ("hr:4", 42, ("product", "42")),
])
def test_values_are_converted_to_the_signals_datatype(tag: str, value: object, expected: tuple[str, object]) -> None:
    assert published(node(), sample(tag, value, 1_800_000_000.0)) == [expected]


def test_only_changes_are_kept_and_a_quality_change_is_a_change() -> None:
    edge = node()
    got = published(edge, sample("hr:0", 5, 1.0), sample("hr:0", 5, 2.0), sample("hr:0", 5, 3.0, Quality.STALE),
                    sample("hr:0", 5, 4.0), sample("hr:0", 6, 5.0))
    assert got == [("total_count", 5), ("total_count", None), ("total_count", 5), ("total_count", 6)]
