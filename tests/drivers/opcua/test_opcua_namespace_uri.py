"""`nsu=<uri>;...` node ids against the in-process asyncua server: resolved through the
server's namespace array, and one that names no namespace fails only its own tag."""

from __future__ import annotations

import pytest
from asyncua import ua

from oee_tui.drivers.base import DriverError
from oee_tui.drivers.opcua.node_ids import NodeIdError, parse_node_id
from oee_tui.drivers.opcua.opcua_driver import OpcUaDriver
from oee_tui.model import Quality
from tests.drivers.conftest import Collector, OpcUaSim, opcua_source, running, tag

pytestmark = pytest.mark.asyncio(loop_scope="module")

URI = "urn:oee-tui:test"  # conftest's OpcUaSim registers it


def uri_id(name: str, uri: str = URI) -> str:
    return f"nsu={uri};s=Line2.Filler.{name}"


async def test_a_tag_named_by_namespace_uri_is_subscribed(opcua_server: OpcUaSim) -> None:
    await opcua_server.write("Count", 41)
    unknown = uri_id("Count", "urn:not-on-this-server")
    driver = OpcUaDriver(opcua_source(opcua_server.endpoint),
                         [tag(uri_id("Count"), "ua"), tag(unknown, "ua"), tag(opcua_server.node_id("Speed"), "ua")])
    collector = Collector()
    async with running(driver, collector):
        first = await collector.wait_for(lambda s: s.tag == uri_id("Count"))
        await opcua_server.write("Count", 42)
        changed = await collector.wait_for(lambda s: s.tag == uri_id("Count") and s.value == 42)
        await collector.wait_for(lambda s: s.tag == opcua_server.node_id("Speed"))
    assert (first.value, first.quality) == (41, Quality.GOOD)
    assert changed.quality is Quality.GOOD
    bad = [s for s in collector.samples if s.tag == unknown]
    assert len(bad) == 1 and bad[0].quality is Quality.BAD and bad[0].value is None
    assert bad[0].error is not None and "BadNodeIdUnknown: the server has no namespace 'urn:not-on-this-server'" in \
        bad[0].error and URI in bad[0].error  # the namespaces it does have, to pick from


async def test_read_once_and_browse_resolve_the_uri(opcua_server: OpcUaSim) -> None:
    await opcua_server.write("Product", "SKU-9")
    unknown = uri_id("Product", "urn:nope")
    driver = OpcUaDriver(opcua_source(opcua_server.endpoint),
                         [tag(uri_id("Product"), "ua"), tag(unknown, "ua"), tag(opcua_server.node_id("Running"), "ua")])
    await driver.connect()
    try:
        readings = {r.tag: r for r in await driver.read_once()}
        children = {entry.name: entry for entry in await driver.browse(f"nsu={URI};s=Line2.Filler")}
        with pytest.raises(DriverError, match="cannot browse 'nsu=urn:nope;s=x': BadNodeIdUnknown"):
            await driver.browse("nsu=urn:nope;s=x")
    finally:
        await driver.close()
    assert (readings[uri_id("Product")].value, readings[uri_id("Product")].quality) == ("SKU-9", Quality.GOOD)
    assert readings[opcua_server.node_id("Running")].quality is Quality.GOOD
    assert readings[unknown].quality is Quality.BAD and "urn:nope" in (readings[unknown].error or "")
    assert children["Count"].id == opcua_server.node_id("Count")


async def test_parse_node_id_puts_the_index_in_place_of_the_uri() -> None:
    namespaces = ["http://opcfoundation.org/UA/", "urn:server", "urn:plant"]
    resolved = parse_node_id("nsu=urn:plant;i=7", namespaces)
    assert resolved == ua.NodeId(7, 2) and type(resolved) is ua.NodeId  # nothing of the URI goes on the wire
    assert parse_node_id("ns=3;s=a;b", None) == ua.NodeId("a;b", 3)
    with pytest.raises(NodeIdError, match="namespace array could not be read"):
        parse_node_id("nsu=urn:plant;i=7", None)
    with pytest.raises(NodeIdError, match="BadNodeIdInvalid: 'x=1' is not a node id"):
        parse_node_id("x=1", namespaces)
