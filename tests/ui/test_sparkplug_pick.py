"""Picking a Sparkplug tag map from the metrics the engine heard in births: `b` on the Devices screen
and F3 in the tag map form, as OPC-UA nodes are picked.

The engine here is the UI tests' StaticEngine with births handed to it; the births' way from a real
broker into the engine is tests/mqtt/test_sparkplug_keep_all.py's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.notifications import Notification
from textual.pilot import Pilot
from textual.widgets import Input, Tree

from oee_tui.drivers.discovered_metrics import DiscoveredMetrics
from oee_tui.drivers.registry import load_config
from oee_tui.model import BornMetrics
from oee_tui.screens.browse import BrowseScreen
from oee_tui.screens.tag_map_form import TagMapEditScreen
from oee_tui.screens.tag_maps import TagMapScreen
from tests.support.pilot import until
from tests.ui.fakes import StaticEngine
from tests.ui.test_devices import collect, cursor_to, make_devices_app, open_devices, settle, write_config
from tests.ui.test_source_form_mqtt import SPARKPLUG_SOURCE

BIRTHS = (
    BornMetrics("Plant1", "Line1", None, (("bdSeq", "Int64"), ("Node Control/Rebirth", "Boolean"))),
    BornMetrics("Plant1", "Line1", "Press1", (("Count", "UInt32"), ("Speed", "Double"), ("DATA/Running", "Boolean"))),
    BornMetrics("Plant2", "Line9", "Oven", (("Temperature", "Float"),)),
)


def heard(engine: StaticEngine) -> None:
    discovered = DiscoveredMetrics()
    discovered.learn(BIRTHS)
    engine.discovered["uns"] = discovered


def labels(node: Any) -> list[str]:
    return [str(child.label).split("  ")[0] for child in node.children]


async def open_path(pilot: Pilot[Any], tree: Tree[Any], *names: str) -> None:
    """Move down to each name in turn and open it (Space), waiting for its children to load."""
    for name in names:
        while tree.cursor_node is None or str(tree.cursor_node.label).split("  ")[0] != name:
            await pilot.press("down")
        node = tree.cursor_node
        await pilot.press("space")
        await until(pilot, lambda n=node: bool(n.children) and "loading…" not in labels(n), f"{name} opened")


async def test_b_lists_the_metrics_of_births_and_enter_picks_one(tmp_path: Path, engine: StaticEngine) -> None:
    heard(engine)
    path = write_config(tmp_path, extra=SPARKPLUG_SOURCE)
    notes: list[Notification] = []
    app = make_devices_app(path, engine)
    async with app.run_test(size=(80, 24), message_hook=collect(notes)) as pilot:
        devices = await open_devices(pilot, engine)
        await cursor_to(pilot, devices.table, "uns")
        await pilot.press("b")
        await settle(pilot)
        browse = app.screen
        assert isinstance(browse, BrowseScreen)
        tree: Tree[Any] = browse.query_one(Tree)
        await until(pilot, lambda: labels(tree.root) == ["Plant1", "Plant2"], "the groups listed")
        await open_path(pilot, tree, "Plant1", "Line1")
        line = tree.cursor_node
        assert line is not None
        # The edge node's devices, then its own metrics, each with its datatype.
        assert [str(child.label) for child in line.children] == [
            "Press1", "bdSeq  Int64", "Node Control/Rebirth  Boolean"]
        await open_path(pilot, tree, "Press1")
        assert labels(tree.cursor_node) == ["Count", "Speed", "DATA/Running"]
        while str(tree.cursor_node.label).split("  ")[0] != "DATA/Running":
            await pilot.press("down")
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(app.screen, BrowseScreen)
    picked = [note.message for note in notes if note.title == "Picked"]
    assert picked == ["Plant1/Line1/Press1/DATA/Running (copied). Press m to map it to a machine signal."]


async def test_f3_in_the_tag_map_form_fills_the_metric(tmp_path: Path, engine: StaticEngine) -> None:
    heard(engine)
    path = write_config(tmp_path, extra=SPARKPLUG_SOURCE)
    app = make_devices_app(path, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        devices = await open_devices(pilot, engine)
        await cursor_to(pilot, devices.table, "uns")
        await pilot.press("m")
        await pilot.pause()
        assert isinstance(app.screen, TagMapScreen)
        await pilot.press("a")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, TagMapEditScreen)
        await pilot.press("tab")  # machine (L1-FILL) -> signal
        await pilot.press("enter", *["down"] * 5, "enter")  # total_count -> speed, in Signal order
        await pilot.pause()
        await pilot.press("f3")
        await settle(pilot)
        browse = app.screen
        assert isinstance(browse, BrowseScreen)
        tree: Tree[Any] = browse.query_one(Tree)
        await until(pilot, lambda: labels(tree.root) == ["Plant1", "Plant2"], "the groups listed")
        await open_path(pilot, tree, "Plant1", "Line1", "Press1")
        while str(tree.cursor_node.label).split("  ")[0] != "Speed":
            await pilot.press("down")
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is form
        assert form.query_one("#field-tag", Input).value == "Plant1/Line1/Press1/Speed"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, TagMapScreen)
    signals = load_config(path).machine("L1-FILL").signals
    assert [(m.source, m.tag) for s, m in signals.items() if s.value == "speed"] == [
        ("uns", "Plant1/Line1/Press1/Speed")]


async def test_before_any_birth_the_browse_says_so(tmp_path: Path, engine: StaticEngine) -> None:
    path = write_config(tmp_path, extra=SPARKPLUG_SOURCE)
    app = make_devices_app(path, engine)
    async with app.run_test(size=(80, 24)) as pilot:
        devices = await open_devices(pilot, engine)
        await cursor_to(pilot, devices.table, "uns")
        await pilot.press("b")
        await settle(pilot)
        browse = app.screen
        assert isinstance(browse, BrowseScreen)
        tree: Tree[Any] = browse.query_one(Tree)
        await until(pilot, lambda: bool(tree.root.children) and "loading…" not in labels(tree.root), "the answer")
        assert labels(tree.root) == ["✕ could not browse uns: no birth heard on uns yet: edge nodes declare their "
                                     "metrics in their births (the engine asks a node that publishes without one "
                                     "for a rebirth)"]
