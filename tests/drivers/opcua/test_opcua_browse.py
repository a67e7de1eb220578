"""OPC UA browse() and read_once() against the shared in-process server of conftest.

The module adds a Plant/Line3 folder tree beside conftest's Line2.Filler object, so
browsing covers objects, folders within folders, and variables of several types.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from asyncua import ua

from oee_tui.drivers.base import BrowseEntry, DriverError
from oee_tui.drivers.opcua.opcua_driver import OpcUaDriver
from oee_tui.model import Quality
from tests.drivers.conftest import OPCUA_VARIABLES, OpcUaSim, opcua_source, tag

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def plant(opcua_server: OpcUaSim) -> AsyncIterator[OpcUaSim]:
    """Objects/Plant (folder)/Line3 (folder)/{Rate: Float, Recipes: String[]}."""
    ns = opcua_server.ns
    plant_folder = await opcua_server.server.nodes.objects.add_folder(ua.NodeId("Plant", ns), "Plant")
    line = await plant_folder.add_folder(ua.NodeId("Plant.Line3", ns), "Line3")
    await line.add_variable(ua.NodeId("Plant.Line3.Rate", ns), "Rate", ua.Variant(1.5, ua.VariantType.Float))
    await line.add_variable(ua.NodeId("Plant.Line3.Recipes", ns), "Recipes",
                            ua.Variant(["A", "B"], ua.VariantType.String))
    yield opcua_server


@pytest_asyncio.fixture(loop_scope="module")
async def driver(plant: OpcUaSim) -> AsyncIterator[OpcUaDriver]:
    tags = [tag(plant.node_id(name), "ua") for name in ("Count", "Speed", "Running", "Product")]
    tags += [tag(f"ns={plant.ns};s=Plant.Line3.Recipes", "ua"), tag(f"ns={plant.ns};s=Nope", "ua"),
             tag("not a node id", "ua")]
    connected = OpcUaDriver(opcua_source(plant.endpoint), tags)
    await connected.connect()
    try:
        yield connected
    finally:
        await connected.close()


def by_name(entries: list[BrowseEntry]) -> dict[str, BrowseEntry]:
    return {entry.name: entry for entry in entries}


# ---------------------------------------------------------------- browse


async def test_top_level_is_the_objects_folder(driver: OpcUaDriver, plant: OpcUaSim) -> None:
    top = by_name(await driver.browse())
    assert top["Server"] == BrowseEntry(id="i=2253", name="Server", type=None, has_children=True)
    assert top["Filler"] == BrowseEntry(id=f"ns={plant.ns};s=Line2.Filler", name="Filler", type=None,
                                        has_children=True)
    assert top["Plant"].has_children and top["Plant"].type is None


async def test_variables_carry_their_data_type(driver: OpcUaDriver, plant: OpcUaSim) -> None:
    filler = by_name(await driver.browse(f"ns={plant.ns};s=Line2.Filler"))
    assert set(filler) == set(OPCUA_VARIABLES)
    assert {name: entry.type for name, entry in filler.items()} == {
        name: vtype.name for name, (_, vtype) in OPCUA_VARIABLES.items()}
    for name, entry in filler.items():
        assert entry.id == plant.node_id(name) and not entry.has_children


async def test_drill_into_nested_folders(driver: OpcUaDriver, plant: OpcUaSim) -> None:
    [line3] = await driver.browse(by_name(await driver.browse())["Plant"].id)
    assert (line3.name, line3.type, line3.has_children) == ("Line3", None, True)
    line = by_name(await driver.browse(line3.id))
    assert {name: entry.type for name, entry in line.items()} == {"Rate": "Float", "Recipes": "String"}
    assert await driver.browse(line["Rate"].id) == []


async def test_browse_errors_name_the_node(driver: OpcUaDriver, plant: OpcUaSim) -> None:
    # asyncua's server says BadNodeIdInvalid here; others say BadNodeIdUnknown.
    with pytest.raises(DriverError, match=r"cannot browse ns=\d+;s=Nowhere: .*BadNodeId(Unknown|Invalid)"):
        await driver.browse(f"ns={plant.ns};s=Nowhere")
    with pytest.raises(DriverError, match="'no such thing' is not a node id"):
        await driver.browse("no such thing")
    with pytest.raises(DriverError, match=r"browse\(\) before connect\(\)"):
        await OpcUaDriver(opcua_source(plant.endpoint), []).browse()


# ---------------------------------------------------------------- read_once


async def test_read_once_reads_every_tag(driver: OpcUaDriver, plant: OpcUaSim) -> None:
    await plant.write("Count", 17)
    await plant.write("Speed", 2.25)
    await plant.write("Running", True)
    await plant.write("Product", "SKU-9", ua.StatusCodes.UncertainLastUsableValue)
    requests: list[tuple[float, bool]] = []
    driver.on_read = lambda latency, ok: requests.append((latency, ok))
    readings = {r.tag.rsplit(".", 1)[-1]: r for r in await driver.read_once()}
    assert [r.tag for r in readings.values()] == [m.tag for m in driver.tags]  # config order
    assert {name: (r.value, r.type, r.quality) for name, r in readings.items()
            if name in ("Count", "Speed", "Running", "Product", "Recipes")} == {
        "Count": (17, "Int32", Quality.GOOD),
        "Speed": (2.25, "Double", Quality.GOOD),
        "Running": (True, "Boolean", Quality.GOOD),
        "Product": ("SKU-9", "String", Quality.UNCERTAIN),
        "Recipes": ("['A', 'B']", "String[]", Quality.GOOD),
    }
    assert (readings["Product"].error or "").startswith("UncertainLastUsableValue")
    assert readings["Count"].error is None and readings["Count"].latency_s > 0
    unknown, invalid = readings[f"ns={plant.ns};s=Nope"], readings["not a node id"]
    assert unknown.quality is Quality.BAD and unknown.value is None
    assert (unknown.error or "").startswith("BadNodeIdUnknown")
    assert invalid.quality is Quality.BAD and (invalid.error or "").startswith("BadNodeIdInvalid")
    # One Read request for the six valid nodes, reported once to the source's statistics.
    assert len(requests) == 1 and requests[0][1] and requests[0][0] == readings["Count"].latency_s


async def test_read_once_of_a_bad_value_drops_the_value(driver: OpcUaDriver, plant: OpcUaSim) -> None:
    await plant.write("Count", 99, ua.StatusCodes.BadSensorFailure)
    try:
        [count] = [r for r in await driver.read_once() if r.tag == plant.node_id("Count")]
    finally:
        await plant.write("Count", 0)
    assert count.quality is Quality.BAD and count.value is None
    assert (count.error or "").startswith("BadSensorFailure")


async def test_read_once_before_connect_is_an_error(plant: OpcUaSim) -> None:
    with pytest.raises(DriverError, match=r"read_once\(\) before connect\(\)"):
        await OpcUaDriver(opcua_source(plant.endpoint), [tag(plant.node_id("Count"), "ua")]).read_once()
