"""Modal that picks a stop reason from the configured reason tree. Returns its code, or None."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Static, Tree
from textual.widgets.tree import TreeNode

from oee_tui.config import Reason
from oee_tui.widgets.dialog import Dialog


def reason_label(reason: Reason) -> Text:
    # Built as Text, not markup: "[planned]" would otherwise be read as a style tag.
    label = Text(reason.name)
    label.append(f"  {reason.code}", style="dim")
    if reason.planned:
        label.append("  [planned]", style="bold")
    return label


class ReasonPickerScreen(Dialog[str | None]):
    """The reason tree, fully expanded; Enter picks the highlighted reason (a leaf or a group)."""

    HELP_TITLE = "Pick a stop reason"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="picker.cancel", tooltip="Close without giving a reason"),
        Binding("enter", "pick", "Pick", id="picker.pick", tooltip="Give the highlighted reason to the stop"),
    ]
    DEFAULT_CSS = """
    ReasonPickerScreen #dialog {
        width: 64;
    }
    ReasonPickerScreen #picker-stop {
        margin-bottom: 1;
    }
    ReasonPickerScreen Tree {
        height: auto;
        max-height: 16;
    }
    """

    def __init__(self, reasons: Sequence[Reason], stop_label: str, current: str | None = None) -> None:
        super().__init__("Stop reason")
        self.reasons = tuple(reasons)
        self.stop_label = stop_label
        self.current = current
        self._reason_nodes: dict[str, TreeNode[str]] = {}

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield Static(Text.assemble("Reason for the stop ", (self.stop_label, "bold")), id="picker-stop")
        tree: Tree[str] = Tree("Reasons", id="reason-tree")
        tree.show_root = False
        tree.auto_expand = False  # Enter picks; it must not fold a group as a side effect
        yield tree
        yield Static("↑↓ move   Enter pick   Space fold/unfold   Esc cancel", id="picker-hint", classes="hint")

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
