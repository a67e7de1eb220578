"""Modal that picks a stop reason from the configured reason tree. Returns its code, or None."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Static, Tree
from textual.widgets.tree import TreeNode

from oee_tui.config import Reason


def reason_label(reason: Reason) -> Text:
    # Built as Text, not markup: "[planned]" would otherwise be read as a style tag.
    label = Text(reason.name)
    label.append(f"  {reason.code}", style="dim")
    if reason.planned:
        label.append("  [planned]", style="bold")
    return label


class ReasonPickerScreen(ModalScreen[str | None]):
    """The reason tree, fully expanded; Enter picks the highlighted reason (a leaf or a group)."""

    HELP_TITLE = "Pick a stop reason"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="picker.cancel", tooltip="Close without giving a reason"),
        Binding("enter", "pick", "Pick", id="picker.pick", tooltip="Give the highlighted reason to the stop"),
    ]
    DEFAULT_CSS = """
    ReasonPickerScreen {
        align: center middle;
    }
    ReasonPickerScreen > Vertical {
        width: 64;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: round $accent;
        background: $surface;
        padding: 0 1;
    }
    ReasonPickerScreen #picker-stop {
        margin-bottom: 1;
    }
    ReasonPickerScreen Tree {
        height: auto;
        max-height: 16;
    }
    ReasonPickerScreen #picker-hint {
        color: $text-muted;
    }
    """

    def __init__(self, reasons: Sequence[Reason], stop_label: str, current: str | None = None) -> None:
        super().__init__()
        self.reasons = tuple(reasons)
        self.stop_label = stop_label
        self.current = current
        self._reason_nodes: dict[str, TreeNode[str]] = {}

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Stop reason"
            yield Static(Text.assemble("Reason for the stop ", (self.stop_label, "bold")), id="picker-stop")
            tree: Tree[str] = Tree("Reasons", id="reason-tree")
            tree.show_root = False
            tree.auto_expand = False  # Enter picks; it must not fold a group as a side effect
            yield tree
            yield Static("↑↓ move   Enter pick   Space fold/unfold   Esc cancel", id="picker-hint")
        yield Footer()

    def on_mount(self) -> None:
        tree = self.query_one("#reason-tree", Tree)
        parents = {reason.parent for reason in self.reasons if reason.parent is not None}
        # The config guarantees a parent is listed before its children, so one pass builds the tree.
        for reason in self.reasons:
            parent_node = self._reason_nodes.get(reason.parent or "", tree.root)
            label = reason_label(reason)
            if reason.code in parents:
                node = parent_node.add(label, data=reason.code, expand=True)
            else:
                node = parent_node.add_leaf(label, data=reason.code)
            self._reason_nodes[reason.code] = node
        tree.root.expand()
        tree.focus()
        # Start on the reason the stop already has, so changing it is one move away;
        # otherwise on the first reason, so Enter never meets "nothing highlighted".
        start = self._reason_nodes.get(self.current or "")
        if start is not None:
            # Node lines are laid out on the next refresh; move once they exist.
            self.call_after_refresh(tree.move_cursor, start)
        else:
            tree.cursor_line = 0

    @on(Tree.NodeSelected, "#reason-tree")
    def _node_selected(self, event: Tree.NodeSelected[str]) -> None:
        event.stop()
        if event.node.data is not None:
            self.dismiss(event.node.data)

    def action_pick(self) -> None:
        node = self.query_one("#reason-tree", Tree).cursor_node
        if node is not None and node.data is not None:
            self.dismiss(node.data)

    def action_cancel(self) -> None:
        self.dismiss(None)
