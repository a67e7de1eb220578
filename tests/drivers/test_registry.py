"""The registry of source kinds: what each declares, what the config reader gets from it, what it loads."""

from __future__ import annotations

import asyncio
import copy
import subprocess
import sys
import time
from pathlib import Path

import pytest

from oee_tui.config import COMMON_KEYS, ConfigError, SourceConfig, TagMapping, parse_config
from oee_tui.config.edit import ConfigDocument
from oee_tui.drivers.base import DriverError
from oee_tui.drivers.modbus.modbus_source import ModbusSource
from oee_tui.drivers.opcua.opcua_driver import OpcUaDriver
from oee_tui.drivers.opcua.opcua_source import OpcUaSource
from oee_tui.drivers.polled import PolledDriver
from oee_tui.drivers.registry import DEFAULT_PORTS, KINDS, SOURCE_KINDS, kind_named, kind_of, make_driver
from oee_tui.model import SampleBatch, Signal, TagSample

PLANT = """
[site]
name = "Plant"
timezone = "UTC"

[[lines]]
id = "L1"

[[sources]]
name = "plc"
kind = "{kind}"
{extra}

[[machines]]
id = "M1"
line = "L1"
ideal_cycle_time_s = 1.0
signals.total_count = {{ source = "plc", tag = "{tag}" }}
"""
TAGS = {"modbus": "hr:0", "opcua": "ns=2;s=Count", "s7": "DB1.DBW0", "logix": "Count",
        "sparkplug": "Plant/Edge/Press/Count", "mqtt": "plant/count"}
EXTRA = {"opcua": 'endpoint = "opc.tcp://127.0.0.1:4840/"'}
PROTOCOL_LIBRARIES = ("pymodbus", "asyncua", "snap7", "pycomm3", "paho", "pyarrow", "textual")


def plant(kind: str) -> str:
    return PLANT.format(kind=kind, extra=EXTRA.get(kind, ""), tag=TAGS[kind])


def test_every_kind_is_declared_once_in_the_order_errors_list_them() -> None:
    assert SOURCE_KINDS == ("modbus", "opcua", "s7", "logix", "sparkplug", "mqtt")
    assert dict(DEFAULT_PORTS) == {"modbus": 502, "opcua": 4840, "s7": 102, "logix": 44818, "sparkplug": 1883,
                                   "mqtt": 1883}
    for name, kind in KINDS.items():
        assert kind.name == name == kind.settings_type.kind
        assert not kind.keys & COMMON_KEYS, f"{name} declares a common key as its own"
        assert kind.settings_type(name="x").port == kind.default_port
    assert {name for name, kind in KINDS.items() if kind.subscribes} == {"opcua", "sparkplug", "mqtt"}
    assert {name for name, kind in KINDS.items() if kind.browsable} == {"opcua", "logix", "sparkplug"}
    # Sparkplug's from the births the engine heard, never by connecting a second host.
    assert {name for name, kind in KINDS.items() if kind.browsed_in_engine is not None} == {"sparkplug"}
    assert {name for name, kind in KINDS.items() if kind.keeps_every_sample(kind.settings_type(name="x"))} == set()
    assert {name for name, kind in KINDS.items() if not kind.readable} == {"sparkplug"}


@pytest.mark.parametrize("kind", SOURCE_KINDS)
def test_each_kind_reads_its_own_settings_type(kind: str) -> None:
    config = parse_config(plant(kind), KINDS)
    source = config.sources[0]
    assert type(source) is KINDS[kind].settings_type
    assert kind_of(source) is KINDS[kind]
    assert config.machines[0].signals[Signal.TOTAL_COUNT].width in (16, 32)


def test_the_reader_knows_only_the_kinds_it_is_handed() -> None:
    only_modbus = {"modbus": KINDS["modbus"]}
    assert type(parse_config(plant("modbus"), only_modbus).sources[0]) is ModbusSource
    with pytest.raises(ConfigError, match=r"sources\[plc\]\.kind = 'opcua': must be one of modbus$"):
        parse_config(plant("opcua"), only_modbus)


def test_a_kind_keeps_the_keys_of_another_kind_out() -> None:
    with pytest.raises(ConfigError, match=r"sources\[plc\]\.unit_id = 3: is not a known key; known keys: "):
        parse_config(plant("opcua").replace('endpoint = "', 'unit_id = 3\nendpoint = "'), KINDS)


def test_the_counter_width_follows_the_type_by_kind() -> None:
    assert KINDS["modbus"].counter_width("uint16") == 16 and KINDS["modbus"].counter_width("int32") == 32
    assert KINDS["s7"].counter_width("int") == 16 and KINDS["s7"].counter_width("dint") == 32
    assert KINDS["opcua"].counter_width(None) == 32 and KINDS["logix"].counter_width("word") == 16


def test_an_unknown_kind_is_named_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown kind 'profibus'; known kinds: modbus, opcua, s7, logix"):
        kind_named("profibus")


def test_a_driver_gets_only_its_own_kind_of_settings() -> None:
    with pytest.raises(TypeError, match="ModbusSource given where OpcUaSource is needed"):
        KINDS["opcua"].make_driver(ModbusSource(name="plc"), [], config_path=None)


def test_opcua_keeps_its_certificates_beside_the_config_file(tmp_path: Path) -> None:
    source = OpcUaSource(name="ua", endpoint="opc.tcp://127.0.0.1:4840/")
    driver = make_driver(source, [], config_path=tmp_path / "oee.toml")
    assert isinstance(driver, OpcUaDriver)
    assert driver.pki_dir == tmp_path / "pki"


def test_a_document_copy_shares_the_kinds(tmp_path: Path) -> None:
    document = ConfigDocument(tmp_path / "oee.toml", plant("modbus"), KINDS)
    candidate = copy.deepcopy(document)
    assert candidate.kinds is KINDS and candidate.doc is not document.doc
    assert candidate.validate().sources[0].name == "plc"


def test_loading_every_kind_loads_no_protocol_library() -> None:
    """The registry and the config reader import no protocol stack; a driver imports its own, and only it."""
    code = f"""
import sys
from oee_tui.drivers.registry import KINDS, make_driver, parse_config
from oee_tui.config import TagMapping
from oee_tui.model import Signal
for kind in KINDS:
    parse_config({PLANT!r}.format(kind=kind, extra={EXTRA!r}.get(kind, ""), tag={TAGS!r}[kind]))
heavy = {PROTOCOL_LIBRARIES!r}
loaded = sorted(name for name in sys.modules if name.split(".")[0] in heavy)
assert not loaded, loaded
source = parse_config({PLANT!r}.format(kind="modbus", extra="", tag="hr:0")).sources[0]
make_driver(source, [TagMapping(Signal.TOTAL_COUNT, "plc", "hr:0")], config_path=None)
loaded = {{name.split(".")[0] for name in sys.modules if name.split(".")[0] in heavy}}
assert loaded == {{"pymodbus"}}, loaded
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_the_config_package_imports_no_driver_and_no_mqtt_codec() -> None:
    code = ("import sys, oee_tui.config, oee_tui.config.edit; "
            "bad = sorted(m for m in sys.modules if m.startswith(('oee_tui.drivers', 'oee_tui.mqtt'))); "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# ---------------------------------------------------------------- the polled-driver base


class SlowDevice(PolledDriver):
    """A device on a fixed-rate schedule whose reads take `read_s`: in memory, so the timing is the base's."""

    def __init__(self, source: SourceConfig, read_s: float) -> None:
        super().__init__(source, [TagMapping(Signal.TOTAL_COUNT, source.name, "hr:0")])
        self.read_s = read_s
        self.started: list[float] = []
        self.lost = False

    @property
    def where(self) -> str:
        return "test device"

    @property
    def connected(self) -> bool:
        return True

    async def connect(self) -> None:
        self._closed = False

    async def poll(self) -> list[TagSample]:
        self.started.append(time.monotonic())
        await asyncio.sleep(self.read_s)
        return [TagSample(time.time(), self.name, "hr:0", len(self.started))]

    def check_link(self) -> None:
        if self.lost:
            raise DriverError(f"{self.where}: the link dropped")

    async def close(self) -> None:
        self._closed = True
        self._wake.set()


async def test_a_poll_that_overruns_skips_the_ticks_it_missed() -> None:
    driver = SlowDevice(ModbusSource(name="plc", poll_interval_s=0.05), read_s=0.12)
    batches: list[SampleBatch] = []

    async def emit(batch: SampleBatch) -> None:
        batches.append(batch)
        if len(batches) == 4:
            await driver.close()

    await asyncio.wait_for(driver.run(emit), timeout=5)
    gaps = [later - earlier for earlier, later in zip(driver.started, driver.started[1:], strict=False)]
    # Each read takes 2.4 ticks: the next one starts on the next tick after it, not at once to catch up.
    assert all(0.14 <= gap <= 0.3 for gap in gaps), gaps


async def test_close_ends_the_wait_for_the_next_tick_and_a_lost_link_ends_the_run() -> None:
    driver = SlowDevice(ModbusSource(name="plc", poll_interval_s=30.0), read_s=0.0)

    async def emit(_batch: SampleBatch) -> None:
        asyncio.get_running_loop().call_later(0.05, lambda: asyncio.ensure_future(driver.close()))

    started = time.monotonic()
    await asyncio.wait_for(driver.run(emit), timeout=5)
    assert time.monotonic() - started < 1.0

    driver = SlowDevice(ModbusSource(name="plc", poll_interval_s=0.01), read_s=0.0)
    driver.lost = True

    async def keep(_batch: SampleBatch) -> None:
        return None

    with pytest.raises(DriverError, match="the link dropped"):
        await asyncio.wait_for(driver.run(keep), timeout=5)
