"""What a new user sees with no config file and no --demo: the next steps, not an error."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Footer, Static

from oee_tui.screens.host import PlantScreen


class FirstRunScreen(PlantScreen[None]):
    """Says plainly what to do next: start the demo, or write a config and where data will go."""

    HELP_TITLE = "Welcome"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d,D", "start_demo", "Start demo", id="first-run.demo", key_display="D",
                tooltip="Start the simulated demo plant now"),
    ]
    DEFAULT_CSS = """
    FirstRunScreen {
        align: center middle;
    }
    FirstRunScreen > Vertical {
        width: 100;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: round $accent;
        padding: 0 1;
        overflow-y: auto;
    }
    FirstRunScreen .step {
        margin-top: 1;
    }
    """

    def __init__(self, config_path: Path, data_dir: Path, *, demo_available: bool) -> None:
        super().__init__()
        self.config_path = config_path
        self.data_dir = data_dir
        self.demo_available = demo_available

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Welcome to oee-tui"
            yield Static(Content.assemble("There is no plant configuration yet at\n  ",
                                          (str(self.config_path), "bold")))
            if self.demo_available:
                yield Static(Content.assemble(("Press D", "bold $accent"), " to start the demo plant now"
                                              " (simulated machines, real protocols)."), classes="step")
            yield Static(Content.assemble("Or, from the shell:\n  ", ("oee --demo", "bold"),
                                          "          runs the demo plant\n  ",
                                          ("oee config init", "bold"),
                                          f"     writes a sample config to {self.config_path}\n"
                                          "                      edit its sources and machines, then run ",
                                          ("oee", "bold")), classes="step")
            yield Static(Content.assemble("Data (counts, states, stop reasons) goes to ",
                                          (str(self.data_dir), "bold")), classes="step")
            yield Static(Content.styled("Q quits.  F1 lists the keys.", "$text-muted"), classes="step")
        yield Footer()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Without a demo factory there is nothing D could start: hide it rather than fail.
        if action == "start_demo":
            return self.demo_available
        return True

    def action_start_demo(self) -> None:
        host = self.oee_app
        if host.demo_factory is None:
            return
        try:
            engine = host.demo_factory()
        except Exception as exc:  # e.g. the demo store is held by another process
            self.notify(f"The demo could not start: {exc}", title="Demo", severity="error", timeout=15)
            return
        host.use_engine(engine)
