"""Live status: one row per machine, updated by difference once per snapshot."""

from __future__ import annotations

from typing import ClassVar, Final

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.theme import Theme
from textual.widgets import Footer, Static

from oee_tui.model import MachineSnapshot, MachineState, OeeResult, PlantSnapshot, SourceStatus
from oee_tui.screens.host import PlantScreen
from oee_tui.screens.machine_detail import MachineDetailScreen
from oee_tui.widgets.formatting import (
    MISSING,
    STALE_MARK,
    age,
    count,
    count_short,
    hms,
    percent,
    percent_aligned,
    percent_with_sign,
)
from oee_tui.widgets.keyed_table import KeyedTable, Row
from oee_tui.widgets.states import look, state_colour

# Up to 120 columns every figure an operator needs fits in 80: whole percents, short counts, one blank
# between columns, long machine names cut. From 120 on there is room for the product each machine runs,
# one decimal and a total row under each line.
WIDE: Final = 120
MACHINE_WIDTH: Final = 14  # at 80 columns; the detail screen shows the whole name
LINE_ROW_PREFIX: Final = "line:"  # the key of a line's total row, apart from any machine id


def _right(text: str, style: str = "") -> Text:
    """Figures are right-aligned, headers included, so digits of equal weight line up."""
    return Text(text, style=style, justify="right")


FIGURES: Final[tuple[tuple[str, str | Text], ...]] = (
    ("state", "State"),
    ("in_state", _right("In state")),
    ("oee", _right("OEE")),
    ("availability", _right("A")),
    ("performance", _right("P ")),
    ("quality", _right("Q")),
    ("good", _right("Good")),
    ("reject", _right("Rej")),
    # Good parts against the target for the shift so far: the target already allows for the
    # plant's OEE target, so good (not total) output is what it is measured against.
    ("actual_target", _right("Good/Tgt")),
    ("data_age", _right("Age")),
)
COLUMNS: Final[tuple[tuple[str, str | Text], ...]] = (("machine", "Machine"), ("line", "Line"), *FIGURES)
WIDE_COLUMNS: Final[tuple[tuple[str, str | Text], ...]] = (
    ("machine", "Machine"), ("line", "Line"), ("product", "Product"), *FIGURES)


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
        # The app's keys, shown in this screen's footer only (the app's own bindings say why); same ids,
        # so a user's keymap moves both.
        Binding("q", "app.quit", "Quit", id="app.quit", tooltip="Stop acquisition, save what is buffered, and exit"),
        Binding("f1", "app.help", "Help", id="app.help", tooltip="List the keys of this screen"),
        Binding("f2", "app.devices", "Devices", id="app.devices",
                tooltip="PLCs and servers: health, settings, tag maps"),
        Binding("f3", "app.review", "Review", id="app.review",
                tooltip="Shift review: OEE by line and machine, losses, Pareto, targets, stops to explain"),
        Binding("f4", "app.import", "Import", id="app.import",
                tooltip="Import planning data or a production log from a CSV or Excel file"),
    ]
    # What F1 says about the columns and marks, under the keys.
    HELP_NOTES: ClassVar[tuple[tuple[str, str], ...]] = (
        ("State", "► RUN, ‖ MINOR (a short stop), ✕ DOWN, ◷ PLANNED, ⇄ CHANGE (changeover), ? OFFLINE (no data)"),
        ("In state", "how long the machine has been in its state (h:mm:ss)"),
        ("OEE A P Q", "the shift so far, in %: OEE = availability × performance × quality; "
                      "— where there is nothing to divide by yet (no planned time, no parts)"),
        ("!", "after P: performance over 100%, so the machine's ideal cycle time is set too slow"),
        ("Good Rej", "good and rejected parts this shift; below 120 columns 12.3k = 12,300"),
        ("Good/Tgt", "good parts against the target for the planned time so far (OEE target included)"),
        ("Age", "how old the machine's newest data is (s, m, h); ?5m or STALE 5m: no fresh data, "
                "the row shows OFFLINE and its figures are not trusted"),
        ("⚠", "after a name: a counter reset or jumped this shift; the detail screen (d) says what"),
        ("Σ L1", "from 120 columns: the line's total, from its machines' times and counts"),
        ("Product", "from 120 columns: the product each machine runs now"),
    )
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
        self._wide = False

    def compose(self) -> ComposeResult:
        yield Static("Waiting for the engine's first snapshot…", id="live-header", markup=False)
        yield self._new_table(self.app.size.width >= WIDE)
        yield Footer()

    def _new_table(self, wide: bool) -> KeyedTable:
        self._wide = wide
        if wide:
            return KeyedTable(WIDE_COLUMNS, id="machines", fixed_columns=1)
        return KeyedTable(COLUMNS, id="machines", fixed_columns=1, gap=1, max_widths={"machine": MACHINE_WIDTH})

    async def on_resize(self, event: events.Resize) -> None:
        # Crossing 120 columns changes the table's columns: a new table, on the same snapshot and row.
        wide = event.size.width >= WIDE
        if wide == self._wide or not self.query("#machines"):
            return
        cursor = self.table.cursor_key
        await self.table.remove()
        table = self._new_table(wide)
        await self.mount(table, after=self.query_one("#live-header"))
        if self.oee_app.latest_snapshot is not None:
            self.show_snapshot(self.oee_app.latest_snapshot)
        if cursor is not None and cursor in table.shown_keys():
            table.move_cursor(table.get_row_index(cursor))

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
        rows: list[Row] = []
        lines = {result.scope: result for result in snapshot.lines}
        for index, machine in enumerate(snapshot.machines):
            rows.append((machine.machine, self._cells(machine, now, variables)))
            last_of_line = index + 1 == len(snapshot.machines) or snapshot.machines[index + 1].line != machine.line
            if self._wide and last_of_line and machine.line in lines:
                same_line = [other for other in snapshot.machines if other.line == machine.line]
                rows.append((LINE_ROW_PREFIX + machine.line, self._line_cells(machine.line, lines[machine.line],
                                                                               same_line)))
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
        data_age = MISSING if machine.last_data is None else age(now - machine.last_data)
        if machine.stale:
            data_age = f"STALE {data_age}" if self._wide else f"{STALE_MARK}{data_age}"
        cells = [
            # A counter that reset or jumped this shift: a mark on the machine; its detail says what.
            Text.assemble(machine.name, (" ⚠", "bold") if machine.events else ""),
            Text(machine.line),
        ]
        if self._wide:
            cells.append(Text(machine.product or MISSING))
        return [
            *cells,
            Text(state_look.text, style=f"bold {state_colour(variables, state)}"),
            _right(hms(now - machine.state_since)),
            *self._figures(result, machine.good_count, machine.reject_count, machine.target_count),
            _right(data_age, "bold reverse" if machine.stale else ""),
        ]

    def _line_cells(self, line: str, result: OeeResult, machines: list[MachineSnapshot]) -> list[Text]:
        """A line's total: its OEE from its machines' times and counts (never an average of percents)."""
        total = "bold"
        return [
            Text(f"Σ {line}", style=total), Text(line, style=total), Text(""), Text(""), Text(""),
            *(Text(cell.plain, style=total, justify="right") for cell in self._figures(
                result, result.good_count, result.reject_count, sum(machine.target_count for machine in machines))),
            Text(""),
        ]

    def _figures(self, result: OeeResult, good: int, reject: int, target: int) -> list[Text]:
        """OEE, A, P, Q, good, rejects and good against target: whole percents and short counts below 120
        columns, one decimal and every digit from there."""
        over_100 = result.performance is not None and result.performance > 1.0
        decimals = 1 if self._wide else 0
        number = count if self._wide else count_short
        return [
            _right(percent(result.oee, decimals=decimals), "bold"),
            _right(percent(result.availability, decimals=decimals)),
            _right(percent_aligned(result.performance, decimals=decimals), "bold" if over_100 else ""),
            _right(percent(result.quality, decimals=decimals)),
            _right(number(good)),
            _right(number(reject)),
            _right(f"{number(good)}/{number(target)}"),
        ]

    # ------------------------------------------------------------ actions

    def highlighted_machine(self) -> MachineSnapshot | None:
        """None on a line's total row too: it has no detail screen."""
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
        if event.key in self._machines:
            self._open_detail(event.key)

    def _open_detail(self, machine_id: str) -> None:
        self.app.push_screen(MachineDetailScreen(machine_id))
