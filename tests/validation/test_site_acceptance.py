"""Site acceptance on the real demo plant (Modbus, OPC UA and S7 servers on loopback), with its S7 device
deliberately unreachable: the counts, the report and the exit code of `oee validate`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import tomlkit

from oee_tui.cli import main
from oee_tui.config import TagMapping
from oee_tui.demo.servers import MODBUS_SOURCE, OPCUA_SOURCE, S7_SOURCE, DemoPlant, demo_config_dict
from oee_tui.drivers.base import TagReading
from oee_tui.drivers.registry import load_config
from oee_tui.model import Quality, Signal, TagValue
from oee_tui.validation.junit import Counts
from oee_tui.validation.phases import phases_named
from oee_tui.validation.run_record import LOG_FILE, PhaseStatus
from oee_tui.validation.runner import RunSetup, ValidationRun
from oee_tui.validation.site_acceptance import type_problem
from tests.demo.conftest import SERVER_TIMEOUT_S, zone_without_a_break_now
from tests.support.served_engine import served_plant


@pytest.fixture
async def plant() -> AsyncIterator[DemoPlant]:
    demo = DemoPlant(seed=7, timezone=zone_without_a_break_now())
    await asyncio.wait_for(demo.start(), SERVER_TIMEOUT_S)
    try:
        yield demo
    finally:
        await demo.stop()


def unreachable_port() -> int:
    """A port nothing listens on: bound, then closed."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_config(plant: DemoPlant, path: Path) -> Path:
    data = demo_config_dict(plant.modbus_port, plant.opcua_port, plant.s7_port, plant.timezone)
    for source in data["sources"]:
        if source["name"] == S7_SOURCE:
            source["port"] = unreachable_port()
            source["timeout_s"] = 1.0
    data["validation"] = {"max_clock_offset_s": 5.0}
    path.write_text(tomlkit.dumps(data))
    return path


async def test_site_acceptance_on_the_demo_plant_with_one_device_down(plant: DemoPlant, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    config_path = write_config(plant, tmp_path / "oee.toml")
    config = load_config(config_path)
    tags = {source.name: sum(1 for machine in config.machines for mapping in machine.signals.values()
                             if mapping.source == source.name) for source in config.sources}
    data_dir = tmp_path / "data"

    code = await asyncio.to_thread(main, ["validate", "--config", str(config_path), "--data-dir", str(data_dir),
                                          "--phase", "site", "--phase", "calculator", "--json"])

    assert code == 1  # a device is down: the run failed
    result = json.loads(capsys.readouterr().out)
    site = result["phases"][0]
    # Passed: the two sources that answer, each of their tags, the OPC UA clock, the store.
    # Failed: the S7 source alone. Skipped: the S7 tags and clock (its source is counted once),
    # the Modbus clock (no clock in the protocol), the central database (not configured).
    assert Counts(**site["counts"]) == Counts(passed=2 + tags[MODBUS_SOURCE] + tags[OPCUA_SOURCE] + 1 + 1, failed=1,
                                              skipped=tags[S7_SOURCE] + 1 + 1 + 1)
    assert site["status"] == "failed" and result["status"] == "failed"
    calculator = result["phases"][1]
    assert calculator["status"] == "passed" and Counts(**calculator["counts"]) == Counts(passed=14)
    assert Counts(**result["counts"]) == Counts(**site["counts"]) + Counts(passed=14)
    by_name = {case["name"]: case for case in site["cases"]}
    down = next(case for name, case in by_name.items() if name.startswith(f"{S7_SOURCE} reachable"))
    assert down["outcome"] == "failed" and down["message"]
    assert by_name["central database reachable"]["message"].startswith("not configured")
    assert by_name[f"{OPCUA_SOURCE} clock within 5 s"]["outcome"] == "passed"

    report = Path(result["report"]["markdown"]).read_text()
    assert f"| failed | {down['name']} |" in report
    assert "| passed | store writable |" in report
    assert report.splitlines()[2].startswith(f"**FAILED: {result['counts']['passed']} passed, 1 failed")
    assert "| Calculator self-test | passed | 14 | 0 | 0 | 0 | 0 |" in report
    assert Path(result["report"]["html"]).is_file() and Path(result["report"]["log"]).is_file()


async def test_attached_site_acceptance_reads_through_the_engine(plant: DemoPlant, tmp_path: Path) -> None:
    """With an engine serving the data dir, the phase asks it (devices_list, device_test, device_clock, status):
    it never opens the store the engine owns, and finds what it finds standalone."""
    config_path = write_config(plant, tmp_path / "oee.toml")
    config = load_config(config_path)
    data_dir = tmp_path / "data"
    async with served_plant(data_dir, config):
        run = ValidationRun(RunSetup(store_dir=data_dir, config_path=config_path, tests_dir=None),
                            phases_named(["site"]))
        record = await asyncio.to_thread(run.run)
    site = record.phases[0]
    assert record.attached and site.status is PhaseStatus.FAILED
    assert "through the engine serving" in (run.folder / LOG_FILE).read_text()
    outcomes = {case.name: case.outcome.value for case in site.cases}
    assert outcomes["store writable"] == "passed"  # the engine's store, as its status says
    assert [name for name, outcome in outcomes.items() if outcome == "failed"] == \
        [name for name in outcomes if name.startswith(f"{S7_SOURCE} reachable")]
    assert site.counts.passed > 40


def reading(value: TagValue, type_name: str, quality: Quality = Quality.GOOD) -> TagReading:
    return TagReading("t", value, type_name, quality, 0.001)


def test_a_tag_must_read_as_its_map_expects() -> None:
    counter = TagMapping(Signal.TOTAL_COUNT, "plc", "hr:0", type="uint32")
    assert type_problem(counter, reading(12, "uint32")) is None
    assert "the map says uint32" in (type_problem(counter, reading(12, "uint16")) or "")
    assert "not a whole number" in (type_problem(TagMapping(Signal.TOTAL_COUNT, "plc", "x"), reading(1.5, "Double"))
                                    or "")
    assert "quality bad" in (type_problem(counter, reading(None, "uint32", Quality.BAD)) or "")
    assert "not a number" in (type_problem(TagMapping(Signal.SPEED, "plc", "x"), reading("fast", "String")) or "")
    assert type_problem(TagMapping(Signal.PRODUCT, "plc", "x"), reading("CAN-330", "String")) is None
