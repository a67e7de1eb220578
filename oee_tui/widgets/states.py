"""How a machine state looks: symbol, short label and the theme variable that colours it.

A state is never shown by colour alone (colour-blind operators, 16-colour
terminals, monochrome screenshots): every place that shows a state shows its
symbol and, where there is room, its label too. The symbols are single-width
and deliberately not emoji-capable (U+25B6 and U+2716 are, and some terminals
draw those two cells wide), so columns stay aligned in a plain 80x24 tmux.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from oee_tui.model import MachineState


@dataclass(frozen=True, slots=True)
class StateLook:
    symbol: str
    label: str
    variable: str  # theme variable name, without the "$"

    @property
    def text(self) -> str:
        return f"{self.symbol} {self.label}"


STATE_LOOKS: Final[dict[MachineState, StateLook]] = {
    MachineState.RUNNING: StateLook("►", "RUN", "state-running"),
    MachineState.MINOR_STOP: StateLook("‖", "MINOR", "state-minor-stop"),
    MachineState.DOWN: StateLook("✕", "DOWN", "state-down"),
    MachineState.PLANNED_STOP: StateLook("◷", "PLANNED", "state-planned-stop"),
    MachineState.CHANGEOVER: StateLook("⇄", "CHANGE", "state-changeover"),
    MachineState.OFFLINE: StateLook("?", "OFFLINE", "state-offline"),
}

# Two palettes so each colour keeps its contrast on the theme's background:
# bright tones on dark themes, deeper tones on light ones. Each tone was chosen so
# that it still lands on a distinct ANSI colour when a 16-colour terminal forces
# Textual to downgrade it (green, yellow, red, blue, magenta, grey).
_DARK: Final[dict[str, str]] = {
    "state-running": "#3fb950",
    "state-minor-stop": "#e3b341",
    "state-down": "#f85149",
    "state-planned-stop": "#58a6ff",
    "state-changeover": "#d670d6",
    "state-offline": "#8b949e",
}
_LIGHT: Final[dict[str, str]] = {
    "state-running": "#1f883d",
    "state-minor-stop": "#9a6700",
    "state-down": "#cf222e",
    "state-planned-stop": "#0969da",
    "state-changeover": "#a21caf",
    "state-offline": "#6e7781",
}


def state_variables(dark: bool) -> dict[str, str]:
    """The `$state-*` CSS variables for a dark or a light theme."""
    return dict(_DARK if dark else _LIGHT)


def look(state: MachineState) -> StateLook:
    return STATE_LOOKS[state]


def state_colour(theme_variables: Mapping[str, str], state: MachineState) -> str:
    """The colour of `state` in the current theme, for places that need a concrete colour (DataTable cells)."""
    variable = STATE_LOOKS[state].variable
    return theme_variables.get(variable, _DARK[variable])


def legend_markup() -> str:
    """One line naming every symbol, as Content markup coloured by the theme."""
    return "  ".join(
        f"[$background on ${item.variable}]{item.symbol}[/] {item.label.lower()}" for item in STATE_LOOKS.values()
    )
