"""Live status: one row per machine, updated by difference once per snapshot."""

from __future__ import annotations

from typing import ClassVar, Final

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.theme import Theme
from textual.widgets import Footer, Static

from oee_tui.model import MachineSnapshot, MachineState, PlantSnapshot, SourceStatus
from oee_tui.screens.host import PlantScreen
from oee_tui.screens.machine_detail import MachineDetailScreen
from oee_tui.widgets.formatting import MISSING, age, count, hms, percent, percent_aligned, percent_with_sign
from oee_tui.widgets.keyed_table import KeyedTable, Row
from oee_tui.widgets.states import look, state_colour

# Compact headers so the figures that matter fit in 80 columns; the machine name
# stays put (fixed column) when the operator scrolls right to the counts.


def _right(text: str, style: str = "") -> Text:
    """Figures are right-aligned, headers included, so digits of equal weight line up."""
    return Text(text, style=style, justify="right")


COLUMNS: Final[tuple[tuple[str, str | Text], ...]] = (
    ("machine", "Machine"),
    ("line", "Line"),
    ("state", "State"),
    ("in_state", _right("In state")),
    ("oee", _right("OEE%")),
    ("availability", _right("A%")),
    ("performance", _right("P% ")),
    ("quality", _right("Q%")),
    ("good", _right("Good")),
    ("reject", _right("Rej")),
    # Good parts against the target for the shift so far: the target already allows for the
    # plant's OEE target, so good (not total) output is what it is measured against.
    ("actual_target", _right("Good/Tgt")),
    ("data_age", _right("Age")),
)


def _sources_offline(sources: list[SourceStatus]) -> str:
    """"1 source offline: plc2 (connection refused)"; with several, their names only."""
    if len(sources) == 1:
        source = sources[0]
        why = source.last_error or ("not connected" if not source.connected else "no data")
        return f"1 source offline: {source.name} ({why})"
    return f"{len(sources)} sources offline: {', '.join(source.name for source in sources)}"


class LiveScreen(PlantScreen[None]):
    """Every machine's state, time in state, OEE, A, P, Q, counts and data age."""

    HELP_TITLE = "Live status"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "open_detail", "Detail", id="live.detail",
                tooltip="Open the highlighted machine (also Enter)"),
    ]
    DEFAULT_CSS = """
    LiveScreen #live-header {
        height: 1;
        background: $panel;
        padding: 0 1;
    }
    LiveScreen #machines {
        height: 1fr;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self._machines: dict[str, MachineSnapshot] = {}

    def compose(self) -> ComposeResult:
        yield Static("Waiting for the engine's first snapshot…", id="live-header", markup=False)
        yield KeyedTable(COLUMNS, id="machines", fixed_columns=1)
        yield Footer()

    def on_mount(self) -> None:
        # Colours in DataTable cells are concrete, so a theme switch must re-render them.
        self.app.theme_changed_signal.subscribe(self, self._on_theme_changed)
        if self.oee_app.latest_snapshot is not None:
            self.show_snapshot(self.oee_app.latest_snapshot)

    def _on_theme_changed(self, _theme: Theme) -> None:
        if self.oee_app.latest_snapshot is not None and self.app.screen is self:
            self.show_snapshot(self.oee_app.latest_snapshot)

    def on_screen_resume(self) -> None:
        # Snapshots that arrived while the detail screen or a modal was on top were not
        # rendered; catch up with the newest one now.
        snapshot = self.oee_app.latest_snapshot
        if snapshot is not None:
            self.show_snapshot(snapshot)

    @property
    def table(self) -> KeyedTable:
        return self.query_one("#machines", KeyedTable)

    # ------------------------------------------------------------ rendering

    def show_snapshot(self, snapshot: PlantSnapshot) -> None:
        if not self.query("#live-header"):
            return  # a snapshot that came as the screen was pushed, before its widgets: on_mount shows it
        now = self.oee_app.clock()
        variables = self.app.theme_variables
        rows: list[Row] = [(machine.machine, self._cells(machine, now, variables)) for machine in snapshot.machines]
        with self.app.batch_update():
            self.query_one("#live-header", Static).update(self._header(snapshot))
            self.table.sync(rows)
        self._machines = {machine.machine: machine for machine in snapshot.machines}

    def _header(self, snapshot: PlantSnapshot) -> Text:
        engine = self.oee_app.engine
        site = engine.config.site.name if engine is not None else "Plant"
        plant_oee = percent_with_sign(snapshot.plant.oee if snapshot.plant is not None else None)
        stale = sum(1 for machine in snapshot.machines if machine.stale)
        running = sum(1 for machine in snapshot.machines if machine.state is MachineState.RUNNING and not machine.stale)
        header = Text.assemble(
            (site, "bold"), " │ Shift ", (snapshot.shift or "none", "bold"),
            " │ Plant OEE ", (plant_oee, "bold"),
            f" │ {running}/{len(snapshot.machines)} running",
        )
        if stale:
            header.append(f" │ {stale} stale", style="bold reverse")
        offline = [source for source in snapshot.sources if not source.online]
        if offline:
            header.append(" │ ")
            header.append(_sources_offline(offline), style="bold reverse")
        dropped = sum(source.dropped for source in snapshot.sources)
        if dropped:
            header.append(f" │ {dropped} samples dropped", style="bold")
        return header

    def _cells(self, machine: MachineSnapshot, now: float, variables: dict[str, str]) -> list[Text]:
        # A stale machine is shown as offline whatever its last state was: its data cannot be trusted.
        state = MachineState.OFFLINE if machine.stale else machine.state
        state_look = look(state)
        result = machine.oee
        if machine.last_data is None:
            data_age = "STALE —" if machine.stale else MISSING
        else:
            data_age = ("STALE " if machine.stale else "") + age(now - machine.last_data)
        over_100 = result.performance is not None and result.performance > 1.0
        return [
            # A counter that reset or jumped this shift: a mark on the machine; its detail says what.
            Text.assemble(machine.name, (" ⚠", "bold") if machine.events else ""),
            Text(machine.line),
            Text(state_look.text, style=f"bold {state_colour(variables, state)}"),
            _right(hms(now - machine.state_since)),
            _right(percent(result.oee), "bold"),
            _right(percent(result.availability)),
            _right(percent_aligned(result.performance), "bold" if over_100 else ""),
            _right(percent(result.quality)),
            _right(count(machine.good_count)),
            _right(count(machine.reject_count)),
            _right(f"{count(machine.good_count)}/{count(machine.target_count)}"),
            _right(data_age, "bold reverse" if machine.stale else ""),
        ]

    # ------------------------------------------------------------ actions

    def highlighted_machine(self) -> MachineSnapshot | None:
        key = self.table.cursor_key
        return None if key is None else self._machines.get(key)

    def highlighted_machine_name(self) -> str | None:
        machine = self.highlighted_machine()
        return None if machine is None else machine.name

    def action_open_detail(self) -> None:
        machine = self.highlighted_machine()
        if machine is None:
            self.notify("No machine is highlighted yet.", severity="warning")
            return
        self._open_detail(machine.machine)

    @on(KeyedTable.RowSelected, "#machines")
    def _row_selected(self, event: KeyedTable.RowSelected) -> None:
        self._open_detail(event.key)

    def _open_detail(self, machine_id: str) -> None:
        self.app.push_screen(MachineDetailScreen(machine_id))
