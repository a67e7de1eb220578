"""Browse what a device offers (OPC-UA nodes, Logix tags, Sparkplug metrics) and pick one for a tag map.

The tree loads lazily: a node's children are asked for only when it is opened,
each time in a worker, because a real server can hold tens of thousands of
nodes and each answer is a round trip. One connection serves the whole browse
(a Logix controller uploads its tag list on every connect) and is closed with
the screen. An OPC-UA connection uses the config's PKI folder, as `oee devices
browse` does. Sparkplug metrics are not asked of a device: they are what the engine
heard edge nodes declare in their births (drivers/discovered_metrics.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Static, Tree
from textual.widgets.tree import TreeNode

from oee_tui.config import SourceConfig, TagMapping
from oee_tui.device_checks import BROWSABLE_KINDS, describe_error
from oee_tui.drivers.base import BrowseEntry, Driver
from oee_tui.drivers.discovered_metrics import nothing_heard
from oee_tui.drivers.driver_kind import NOT_BROWSABLE
from oee_tui.drivers.registry import kind_of, make_driver
from oee_tui.service.remote_engine import RemoteEngine
from oee_tui.widgets.dialog import Dialog

if TYPE_CHECKING:
    from oee_tui.engine.api import PlantEngine

# Modbus and S7 address spaces are flat register and memory areas with no names to list.


class Browser(Protocol):
    """Lists the children of a node of a device's address space (None: the top level)."""

    async def browse(self, parent: str | None) -> list[BrowseEntry]: ...

    async def close(self) -> None: ...


def engine_reaching(engine: object, source: SourceConfig) -> RemoteEngine | None:
    """The engine a TUI is attached to, when it runs `source` as it stands here: then the engine reaches
    the device (it holds the passwords). A source edited and not saved yet is tried from the TUI."""
    if not isinstance(engine, RemoteEngine):
        return None
    running = next((s for s in engine.config.sources if s.name == source.name), None)
    return engine if running == source else None


class EngineBrowser:
    """A Browser through the engine this TUI is attached to: the engine reaches the device, with the
    passwords it holds."""

    def __init__(self, engine: RemoteEngine, source: str) -> None:
        self.engine = engine
        self.source = source

    async def browse(self, parent: str | None) -> list[BrowseEntry]:
        return list(await self.engine.call("device_browse", name=self.source, parent=parent))

    async def close(self) -> None:
        return None


class DiscoveredBrowser:
    """A Browser over what this TUI's own engine heard the source's devices announce (Sparkplug births),
    read again for every node opened, so births heard meanwhile show."""

    def __init__(self, engine: PlantEngine | None, source: str) -> None:
        self.engine = engine
        self.source = source

    async def browse(self, parent: str | None) -> list[BrowseEntry]:
        discovered = None if self.engine is None else self.engine.discovered_metrics(self.source)
        if discovered is None:
            raise LookupError(nothing_heard(self.source))
        return discovered.children(parent)

    async def close(self) -> None:
        return None


def browser_for(engine: PlantEngine | None, source: SourceConfig) -> Browser | None:
    """How to browse `source` from a screen: through the engine this TUI is attached to when it runs the
    source as it stands here, from what this TUI's own engine heard for a kind browsed that way (Sparkplug),
    else None (BrowseScreen then connects to the device itself)."""
    if kind_of(source).browsed_in_engine is not None:
        if isinstance(engine, RemoteEngine):
            return EngineBrowser(engine, source.name)
        return DiscoveredBrowser(engine, source.name)
    reaching = engine_reaching(engine, source)
    return None if reaching is None else EngineBrowser(reaching, source.name)


class DeviceBrowser:
    """A Browser over one driver connection, opened on first use and reused for every node."""

    def __init__(self, source: SourceConfig, tags: Sequence[TagMapping], *, config_path: Path | None) -> None:
        self.source = source
        self.tags = tuple(tags)
        # OPC-UA keeps its certificates beside the config file (pki/): the ones `oee devices trust` trusted.
        self.config_path = config_path
        self._driver: Driver | None = None
        # One request at a time: the sync PLC libraries behind some drivers are not safe to share.
        self._lock = asyncio.Lock()

    async def browse(self, parent: str | None) -> list[BrowseEntry]:
        async with self._lock:
            try:
                if self._driver is None:
                    driver = make_driver(self.source, self.tags, config_path=self.config_path)
                    try:
                        await asyncio.wait_for(driver.connect(), self.source.timeout_s)
                    except BaseException:
                        await driver.close()
                        raise
                    self._driver = driver
                return await asyncio.wait_for(self._driver.browse(parent), max(self.source.timeout_s, 5.0) * 2)
            except (NotImplementedError, asyncio.CancelledError):
                raise
            except Exception:
                # The link may be half-dead after a failure: the next node opened reconnects.
                await self._drop()
                raise

    async def _drop(self) -> None:
        driver, self._driver = self._driver, None
        if driver is not None:
            await driver.close()

    async def close(self) -> None:
        async with self._lock:
            await self._drop()


@dataclass(slots=True)
class _Node:
    entry: BrowseEntry | None  # None for the root (the source itself)
    loaded: bool = False
    loading: bool = False
    placeholder: TreeNode[_Node] | None = field(default=None, repr=False)


def entry_label(entry: BrowseEntry) -> Text:
    label = Text(entry.name)
    if entry.type is not None:
        label.append(f"  {entry.type}", style="dim")
    return label


class BrowseScreen(Dialog[str | None]):
    """A tree of the device's address space. Enter on a readable item returns its id (node id, tag name)."""

    HELP_TITLE = "Browse a device"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="browse.cancel", tooltip="Close without picking"),
        # Priority, so it wins over the Tree's own Enter ("select") and the footer says what it does.
        Binding("enter", "pick", "Pick / open", id="browse.pick", priority=True,
                tooltip="Pick the highlighted tag, or open a folder"),
        # A modal screen hides the app's bindings, F1 included; bring help back explicitly.
        Binding("f1", "app.help", "Help", id="browse.help", tooltip="List the keys of this screen"),
    ]
    DEFAULT_CSS = """
    BrowseScreen #dialog {
        width: 90;
        height: 100%;
        max-height: 30;
    }
    BrowseScreen Tree {
        height: 1fr;
    }
    """

    def __init__(self, source: SourceConfig, browser: Browser | None, *, tags: Sequence[TagMapping] = (),
                 config_path: Path | None) -> None:
        super().__init__(f"Browse {source.name} ({source.kind})")
        self.source = source
        # A kind browsed in the engine (Sparkplug) is never connected to from here: see browser_for.
        browsable = source.kind in BROWSABLE_KINDS and kind_of(source).browsed_in_engine is None
        self.browser: Browser | None = browser if browser is not None else (
            DeviceBrowser(source, tags, config_path=config_path) if browsable else None)

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        tree: Tree[_Node] = Tree(self.source.name, data=_Node(None), id="browse-tree")
        tree.auto_expand = False  # Enter picks a tag; only folders open on Enter (see action_pick)
        yield tree
        yield Static("↑↓ move · Space open · Enter pick · Esc cancel", id="browse-status", classes="hint")

    @property
    def device_tree(self) -> Tree[_Node]:
        return self.query_one("#browse-tree", Tree)

    def on_mount(self) -> None:
        self.device_tree.focus()
        if self.browser is None:
            self._say(NOT_BROWSABLE)
            self.device_tree.root.allow_expand = False
            return
        self.device_tree.root.expand()  # posts NodeExpanded, which loads the top level

    def _say(self, message: str) -> None:
        self.query_one("#browse-status", Static).update(Text(message))

    # ------------------------------------------------------------ loading

    @on(Tree.NodeExpanded, "#browse-tree")
    def _expanded(self, event: Tree.NodeExpanded[_Node]) -> None:
        event.stop()
        node = event.node
        data = node.data
        if data is None or data.loaded or data.loading or self.browser is None:
            return
        data.loading = True
        node.remove_children()  # the message of an earlier failed attempt
        data.placeholder = node.add_leaf(Text("loading…", style="italic"))
        self.run_worker(self._load(node), group="browse", exit_on_error=False)

    async def _load(self, node: TreeNode[_Node]) -> None:
        data = node.data
        assert data is not None and self.browser is not None
        parent = None if data.entry is None else data.entry.id
        try:
            entries = await self.browser.browse(parent)
        except NotImplementedError:
            self._finish(node, [], NOT_BROWSABLE)
        except Exception as exc:  # shown on the node; opening it again retries
            self._finish(node, [], f"could not browse {parent or self.source.name}: {describe_error(exc)}")
        else:
            self._finish(node, entries, None)

    def _finish(self, node: TreeNode[_Node], entries: list[BrowseEntry], problem: str | None) -> None:
        data = node.data
        assert data is not None
        data.loading = False
        if data.placeholder is not None:
            data.placeholder.remove()
            data.placeholder = None
        if problem is not None:
            # Left unloaded, so opening the node again asks the device again.
            node.add_leaf(Text(f"✕ {problem}", style="bold"))
            self._say(f"✕ {problem}")
            return
        data.loaded = True
        for entry in entries:
            if entry.has_children:
                node.add(entry_label(entry), data=_Node(entry))
            else:
                node.add_leaf(entry_label(entry), data=_Node(entry, loaded=True))
        if not entries:
            node.add_leaf(Text("(empty)", style="dim"))
        where = "the top level" if data.entry is None else data.entry.name
        self._say(f"{len(entries)} item{'' if len(entries) == 1 else 's'} under {where} · "
                  "Space open · Enter pick · Esc cancel")

    # ------------------------------------------------------------ picking

    @on(Tree.NodeSelected, "#browse-tree")
    def _selected(self, event: Tree.NodeSelected[_Node]) -> None:
        event.stop()
        self.action_pick()

    def action_pick(self) -> None:
        node = self.device_tree.cursor_node
        if node is None or node.data is None or node.data.entry is None:
            if node is not None and node.allow_expand:
                node.toggle()
            return
        entry = node.data.entry
        if entry.type is not None or not entry.has_children:
            self.dismiss(entry.id)
        else:
            node.toggle()

    async def on_unmount(self) -> None:
        if self.browser is not None:
            # Closing is best effort: a device drops a dead link on its own.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.browser.close(), 5)
