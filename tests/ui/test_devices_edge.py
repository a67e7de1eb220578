"""The Sparkplug B edge node on the Devices screen (F2) and in `oee devices list`.

The pilot tests run the real engine with `[edge]` enabled against a real Mosquitto on a free
loopback port, with the app's own 0.1 s refresh timer (the cadence the sources' health uses),
and read the line the way a user would: after pressing F2. Waiting for the broker and the
node is polling with a deadline (`until`), because those events happen in real time.

The snapshots cannot use a real edge node: its broker URL has a free port in it and its
counters depend on timing. They use `EdgeStandIn`, an object with the attributes the screen
reads of an EdgeNode (an EdgeView), holding a real EdgeStats with fixed figures (see its docstring).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.content import Content
from textual.pilot import Pilot
from textual.style import Style
from textual.widgets import Static

from oee_tui.app import OeeApp
from oee_tui.cli import main
from oee_tui.config import EdgeConfig
from oee_tui.drivers.registry import load_config
from oee_tui.edge.node import EdgeNode
from oee_tui.edge.status import EdgeStats, EdgeView
from oee_tui.engine.live.engine import Engine
from oee_tui.model import Quality, TagSample
from oee_tui.runtime import build_engine
from oee_tui.screens.devices import DevicesScreen, link_cell
from oee_tui.store import Store
from tests.mqtt.broker import MosquittoBroker, running_broker
from tests.support.pilot import until
from tests.ui.conftest import DATA_DIR
from tests.ui.fakes import NOW, StaticEngine, frozen_clock, source_status
from tests.ui.test_devices import write_config
from tests.ui.test_devices_snapshots import devices_snapshot_app, open_devices_for_snapshot

TIMEOUT = 15.0  # generous: two loaded cores shared with other test runs
SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]

PLANT = """
[site]
name = "Edge plant"
timezone = "UTC"

[[lines]]
id = "L1"

[[sources]]
name = "plc"
kind = "modbus"
host = "127.0.0.1"
port = 1502

[[machines]]
id = "M1"
line = "L1"
ideal_cycle_time_s = 1.0
[machines.signals]
total_count = {{ source = "plc", tag = "hr:0", type = "uint32", width = 32 }}
state_code = {{ source = "plc", tag = "hr:2" }}

[edge]
enabled = true
host = "127.0.0.1"
port = {port}
group_id = "Plant1"
edge_node_id = "oee-line1"
publish_interval_s = 0.05
buffer_flush_s = 0.1
reconnect_min_s = 0.1
reconnect_max_s = 0.3
timeout_s = 2.0
{extra}
"""


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A fresh plain-MQTT broker per test (tests/mqtt/conftest.py's fixture is not visible from here)."""
    with running_broker(MosquittoBroker, tmp_path / "mosquitto") as server:
        yield server


def write_plant(tmp_path: Path, port: int, extra: str = "") -> Path:
    path = tmp_path / "oee.toml"
    path.write_text(PLANT.format(port=port, extra=extra), encoding="utf-8")
    return path


def edge_app(config_path: Path, data_dir: Path) -> tuple[OeeApp, Engine]:
    # acquire=False: the PLC is not there; samples come through ingest(), as every source kind delivers them.
    engine = build_engine(load_config(config_path), Store.open(data_dir), acquire=False, tick_s=0.05,
                          flush_interval_s=0.2)
    return OeeApp(engine, config_path=config_path, data_dir=data_dir, refresh_interval=0.1), engine


def edge_line(app: OeeApp) -> str:
    screen = app.screen
    assert isinstance(screen, DevicesScreen)
    line = screen.query_one("#edge-node", Static)
    return str(line.render()) if line.display else ""


def style_of(app: OeeApp, words: str) -> Style:
    """The style the edge line gives `words`, as drawn."""
    screen = app.screen
    assert isinstance(screen, DevicesScreen)
    content = screen.query_one("#edge-node", Static).visual
    assert isinstance(content, Content)
    start = content.plain.index(words)
    return next(span.style for span in content.spans if span.start <= start < span.end and span.end > start)


def offline_source_style(app: OeeApp) -> Style:
    """The Link cell of an offline source, the style the edge line must share for its trouble."""
    cell = link_cell(source_status("plc", "modbus", connected=False), app.theme_variables)
    return Style.parse(str(cell.style))


def counts(engine: Engine, value: int) -> list[TagSample]:
    now = time.time()
    return [TagSample(now, "plc", "hr:0", value, Quality.GOOD), TagSample(now, "plc", "hr:2", value % 3, Quality.GOOD)]


async def test_edge_line_says_live_then_offline_buffering_when_the_broker_goes(broker: MosquittoBroker,
                                                                                tmp_path: Path) -> None:
    app, engine = edge_app(write_plant(tmp_path, broker.port), tmp_path / "data")
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("f2")
            await until(pilot, lambda: isinstance(app.screen, DevicesScreen) and "● live" in edge_line(app),
                        "the edge line to say live")
            first, counters, totals = edge_line(app).split("\n")
            # bdSeq: 0 on a fresh store, unless a loaded machine made the first attempt time out.
            assert re.fullmatch(rf"Edge node Plant1/oee-line1 → mqtt://127\.0\.0\.1:{broker.port}: ● live · bdSeq \d+",
                                first), first
            assert counters in ("— DDATA/s · buffer 0 rows · dropped 0 · refused commands 0",
                                "0.0 DDATA/s · buffer 0 rows · dropped 0 · refused commands 0")
            assert totals.startswith("sent 0 DDATA · births ")

            engine.ingest(counts(engine, 1))
            await until(pilot, lambda: "sent 1 DDATA" in edge_line(app), "the DDATA to be counted on the line")

            await asyncio.to_thread(broker.stop)
            await until(pilot, lambda: "✕ offline, buffering" in edge_line(app), "the edge line to say offline")
            first, _counters, _totals, error = edge_line(app).split("\n")
            assert first == f"Edge node Plant1/oee-line1 → mqtt://127.0.0.1:{broker.port}: ✕ offline, buffering"
            # No connection, so no bdSeq of one; the reason is the node's own words.
            assert error.startswith(f"last error: mqtt://127.0.0.1:{broker.port}: ")
            assert style_of(app, "✕ offline") == offline_source_style(app)

            # Changes made while offline are counted in the buffer the user sees.
            engine.ingest(counts(engine, 2))
            await until(pilot, lambda: "buffer 2 rows" in edge_line(app), "the offline changes in the buffer")
    finally:
        await engine.stop()


async def test_edge_line_waits_for_the_primary_host_in_the_offline_style(broker: MosquittoBroker,
                                                                          tmp_path: Path) -> None:
    app, engine = edge_app(write_plant(tmp_path, broker.port, 'primary_host_id = "scada-1"'), tmp_path / "data")
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.press("f2")
            await until(pilot, lambda: isinstance(app.screen, DevicesScreen) and "waiting" in edge_line(app),
                        "the edge line to say it waits for the host")
            first = edge_line(app).split("\n")[0]
            assert re.fullmatch(rf"Edge node Plant1/oee-line1 → mqtt://127\.0\.0\.1:{broker.port} "
                                r"\(primary host scada-1\): ✕ waiting for primary host scada-1 · bdSeq \d+",
                                first), first
            # Publishing nothing is trouble: it looks as an offline source does in the table above.
            assert style_of(app, "✕ waiting") == offline_source_style(app)
    finally:
        await engine.stop()


async def test_no_edge_line_without_edge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(tmp_path)
    monkeypatch.chdir(tmp_path)
    app = OeeApp(StaticEngine(), config_path=Path("oee.toml"), data_dir=DATA_DIR, clock=frozen_clock,
                 refresh_interval=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.app.workers.wait_for_complete()
        app.show_snapshot(StaticEngine().snapshot())
        await pilot.press("f2")
        await pilot.pause()
        assert isinstance(app.screen, DevicesScreen)
        assert not app.screen.query_one("#edge-node", Static).display


# ---------------------------------------------------------------- snapshots


class EdgeStandIn:
    """FOR SNAPSHOTS ONLY, instead of an EdgeNode: a real node's broker URL carries a free port and
    its counters and bdSeq depend on timing, so they cannot make a stable picture. It has exactly
    what the Devices screen reads of an EdgeNode (config, where, stats, session_bd_seq,
    buffered_rows); the stats are a real EdgeStats, so its `status` words are the node's own."""

    def __init__(self, stats: EdgeStats, *, bd_seq: int | None, buffered_rows: int,
                 primary_host_id: str | None = None) -> None:
        self.config = EdgeConfig(enabled=True, host="broker", port=1883, group_id="Plant1", edge_node_id="oee-line1",
                                 primary_host_id=primary_host_id)
        self.where = "mqtt://broker:1883"
        self.stats = stats
        self.session_bd_seq = bd_seq
        self.buffered_rows = buffered_rows


EDGE_SECTION = """
[edge]
enabled = true
host = "broker"
group_id = "Plant1"
edge_node_id = "oee-line1"
"""


def snapshot_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edge: EdgeStandIn) -> OeeApp:
    engine = StaticEngine()
    engine.observers = [edge]  # the screen finds the edge node among the engine's observers
    return devices_snapshot_app(tmp_path, monkeypatch, engine, EDGE_SECTION)


async def _open_devices_twice(pilot: Pilot[Any], edge: EdgeStandIn, messages_later: int) -> None:
    """Two refreshes one second apart (by the snapshots' clock): the DDATA/s between them is fixed."""
    app = pilot.app
    assert isinstance(app, OeeApp) and app.engine is not None
    await open_devices_for_snapshot(pilot)
    edge.stats.messages = messages_later
    app.show_snapshot(replace(app.engine.snapshot(), ts=NOW + 1))
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_devices_with_a_live_edge_node(snap_compare: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       size: tuple[int, int]) -> None:
    stats = EdgeStats(connected=True, live=True, connects=3, messages=88_000, metrics=250_000, births=4,
                      rebirths_answered=1, buffered=5_000, replayed=5_000)
    edge = EdgeStandIn(stats, bd_seq=12, buffered_rows=0)

    async def run_before(pilot: Pilot[Any]) -> None:
        await _open_devices_twice(pilot, edge, 89_234)

    assert snap_compare(snapshot_app(tmp_path, monkeypatch, edge), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_devices_with_an_offline_edge_node(snap_compare: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           size: tuple[int, int]) -> None:
    stats = EdgeStats(connected=False, live=False, connects=3, messages=88_000, births=4, buffered=20_400,
                      dropped=400, commands_refused=2, commands_undecodable=1, host_offline_ends=1,
                      last_error="mqtt://broker:1883: cannot connect: [Errno 111] Connection refused")
    edge = EdgeStandIn(stats, bd_seq=None, buffered_rows=20_000)

    async def run_before(pilot: Pilot[Any]) -> None:
        await _open_devices_twice(pilot, edge, 88_000)

    assert snap_compare(snapshot_app(tmp_path, monkeypatch, edge), terminal_size=size, run_before=run_before)


def test_the_stand_in_has_what_the_screen_reads_of_an_edge_node() -> None:
    """If EdgeNode renames what the screen reads, the snapshots' stand-in must not keep passing alone."""
    node = EdgeNode(EdgeConfig(enabled=True, host="broker", group_id="Plant1", edge_node_id="oee-line1"), [])
    stand_in = EdgeStandIn(EdgeStats(), bd_seq=None, buffered_rows=0)
    assert (node.where, node.session_bd_seq, node.buffered_rows) == (stand_in.where, None, 0)
    assert isinstance(node, EdgeView) and isinstance(stand_in, EdgeView)
    for name in ("config", "where", "stats", "session_bd_seq", "buffered_rows"):
        assert hasattr(node, name) and hasattr(stand_in, name)


# ---------------------------------------------------------------- oee devices list


def test_devices_list_names_the_edge_node_after_the_sources(broker: MosquittoBroker, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "oee.toml"
    plant = PLANT.format(port=broker.port, extra='primary_host_id = "scada-1"\nusername = "oee"\n'
                                                 'password = "s3cret"')
    # A source the probe finds (an MQTT broker) instead of the PLC, so the exit code is the edge's business only.
    plant = plant.replace('kind = "modbus"\nhost = "127.0.0.1"\nport = 1502',
                          f'kind = "mqtt"\nhost = "127.0.0.1"\nport = {broker.port}')
    config.write_text(plant, encoding="utf-8")
    assert main(["--config", str(config), "devices", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["source", "kind", "address", "tags", "status", "feeds"]
    assert out[1].split()[:4] == ["plc", "mqtt", f"127.0.0.1:{broker.port}", "2"]
    assert out[2:] == [
        f"edge node Plant1/oee-line1 → mqtt://127.0.0.1:{broker.port} (MQTT 3.1.1, client id Plant1-oee-line1, "
        "user 'oee', clean session), primary host scada-1 (live status: in the TUI's Devices screen)"]


def test_devices_list_has_no_edge_line_without_edge(broker: MosquittoBroker, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "oee.toml"
    plant = PLANT.format(port=broker.port, extra="").replace("enabled = true", "enabled = false")
    config.write_text(plant.replace('kind = "modbus"\nhost = "127.0.0.1"\nport = 1502',
                                    f'kind = "mqtt"\nhost = "127.0.0.1"\nport = {broker.port}'), encoding="utf-8")
    assert main(["--config", str(config), "devices", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and not any("edge node" in line for line in out)
