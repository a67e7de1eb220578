"""The OPC UA driver against node-opcua under node: another stack than the asyncua it is built on.

node-opcua could not decode a request that carried a namespace URI in a NodeId, so before
the URIs were resolved one `nsu=` tag made every read and subscription of the source fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from oee_tui.drivers.opcua.opcua_driver import OpcUaDriver
from oee_tui.model import Quality
from tests.drivers.conftest import Collector, opcua_source, running, tag
from tests.drivers.opcua.node_opcua_server import NodeOpcUaServer, node_modules_or_skip


@pytest.fixture(scope="module")
def node_modules() -> Path:
    return node_modules_or_skip()


@pytest.fixture
def node_server(node_modules: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeOpcUaServer]:
    server = NodeOpcUaServer(node_modules, tmp_path_factory.mktemp("node-opcua-pki"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def driver_for(server: NodeOpcUaServer, *tags: str) -> OpcUaDriver:
    return OpcUaDriver(opcua_source(server.endpoint, timeout_s=5.0), [tag(t, "ua") for t in tags])


async def test_uri_tags_are_read_and_bad_ones_fail_alone(node_server: NodeOpcUaServer) -> None:
    node_server.set("Count", 17)
    count, running_ = node_server.node_id("Count"), node_server.node_id("Running")
    by_index = f"ns={node_server.namespace_index};s=Line3.Speed"
    unknown_uri = "nsu=urn:not-served;s=Line3.Count"
    unknown_node = node_server.node_id("NoSuchVariable")
    unknown_index = "ns=42;s=Line3.Count"
    driver = driver_for(node_server, count, unknown_uri, running_, unknown_node, by_index, unknown_index)
    collector = Collector()
    async with running(driver, collector):
        first = await collector.wait_for(lambda s: s.tag == count, timeout=10)
        node_server.set("Count", 18)
        node_server.set("Running", True)
        changed = await collector.wait_for(lambda s: s.tag == count and s.value == 18, timeout=10)
        started = await collector.wait_for(lambda s: s.tag == running_ and s.value is True, timeout=10)
        speed = await collector.wait_for(lambda s: s.tag == by_index, timeout=10)
        for bad_tag in (unknown_uri, unknown_node, unknown_index):
            await collector.wait_for(lambda s, t=bad_tag: s.tag == t, timeout=10)
    assert (first.value, first.quality) == (17, Quality.GOOD)
    assert changed.quality is Quality.GOOD and started.quality is Quality.GOOD
    assert speed.quality is Quality.GOOD and speed.value == 0.0
    latest = collector.latest()
    assert "the server has no namespace 'urn:not-served'" in (latest[unknown_uri].error or "")
    assert (latest[unknown_node].error or "").startswith("BadNodeIdUnknown")
    assert (latest[unknown_index].error or "").startswith("BadNodeIdUnknown")
    assert {latest[t].quality for t in (unknown_uri, unknown_node, unknown_index)} == {Quality.BAD}


async def test_read_once_reads_good_tags_beside_bad_ones(node_server: NodeOpcUaServer) -> None:
    node_server.set("Count", 5)
    count, unknown_uri = node_server.node_id("Count"), "nsu=urn:not-served;s=Line3.Count"
    driver = driver_for(node_server, unknown_uri, count)
    await driver.connect()
    try:
        readings = {r.tag: r for r in await driver.read_once()}
    finally:
        await driver.close()
    assert (readings[count].value, readings[count].quality, readings[count].type) == (5, Quality.GOOD, "Int32")
    assert readings[unknown_uri].quality is Quality.BAD


async def test_the_namespace_array_is_read_again_on_every_connect(node_server: NodeOpcUaServer) -> None:
    """A restarted server may number its namespaces anew; the tag still names the same node."""
    count = node_server.node_id("Count")
    driver = driver_for(node_server, count)
    node_server.set("Count", 3)
    await driver.connect()
    try:
        before = (await driver.read_once())[0]
        first_index = node_server.namespace_index
        node_server.stop()
        node_server.start(padding=3)
        node_server.set("Count", 4)
        await driver.connect()
        after = (await driver.read_once())[0]
    finally:
        await driver.close()
    assert node_server.namespace_index == first_index + 2
    assert (before.value, before.quality) == (3, Quality.GOOD)
    assert (after.value, after.quality) == (4, Quality.GOOD)
