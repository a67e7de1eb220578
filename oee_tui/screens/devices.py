"""Devices: every source in the config file, its health, and the ways to change it.

This is where a maintenance technician connects the app to a real plant: add a
PLC or server, fix its address, map its tags to machine signals, test-read every
tag, browse a server for node ids. Each change is saved at once, atomically, with
the previous file kept as .bak, and handed to the running engine (OeeApp.apply_config),
so there is no "unsaved changes" state to lose.

The list comes from the file (what will be used), the health columns from the
engine's newest snapshot (what is happening now), matched by source name.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, Final

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Footer, Static

from oee_tui.config import Config, ConfigError
from oee_tui.config.edit import ConfigDocument, ConfigEditError
from oee_tui.device_checks import BROWSABLE_KINDS, not_browsable, tags_of
from oee_tui.drivers.registry import KINDS
from oee_tui.edge.status import EdgeView
from oee_tui.model import MachineState, PlantSnapshot, SourceStatus
from oee_tui.model.access import Action
from oee_tui.model.data_quality import SourceQuality
from oee_tui.quality_text import detail_text, short_cell
from oee_tui.screens.browse import BrowseScreen, browser_for, engine_reaching
from oee_tui.screens.connection_check import ConnectionCheckScreen
from oee_tui.screens.host import PlantScreen
from oee_tui.screens.source_form import SourceFormResult, SourceFormScreen
from oee_tui.screens.tag_maps import TagMapScreen
from oee_tui.service.remote_engine import RemoteEngine
from oee_tui.widgets.confirm_dialog import ConfirmScreen
from oee_tui.widgets.formatting import MISSING, count
from oee_tui.widgets.keyed_table import KeyedTable, Row
from oee_tui.widgets.states import state_colour

log = logging.getLogger(__name__)


def _right(text: str, style: str = "") -> Text:
    return Text(text, style=style, justify="right")


# Health first, so it is on screen at 80 columns; the address and the last error, long
# and variable, come last (and in full on the line under the table for the highlighted row).
COLUMNS: Final[tuple[tuple[str, str | Text], ...]] = (
    ("source", "Source"),
    ("link", "Link"),
    ("quality", "Quality"),  # data quality this hour: completeness, and the problems counted
    ("kind", "Kind"),
    ("maps", _right("Maps")),
    ("rate", _right("Reads/s")),
    ("p50", _right("p50 ms")),
    ("p95", _right("p95 ms")),
    ("errors", _right("Errors")),
    ("reconnects", _right("Reconn")),
    ("dropped", _right("Dropped")),
    ("address", "Address"),
    ("last_error", "Last error"),
)


def address_text(raw: dict[str, Any]) -> str:
    """Where a source is, from its table in the file (it may not load yet, so no SourceConfig)."""
    if raw.get("kind") == "opcua":
        return str(raw.get("endpoint", MISSING))
    address = f"{raw.get('host', '127.0.0.1')}:{raw.get('port', '')}".rstrip(":")
    if raw.get("kind") in ("s7", "logix") and raw.get("slot") is not None:
        address += f" slot {raw['slot']}"
    return address


@dataclass(frozen=True, slots=True)
class SourceFacts:
    """What the file says about one source, worked out once per read rather than once per tick."""

    name: str
    kind: str
    address: str
    maps: int  # tag maps that read from it
    machines: tuple[str, ...]  # the machines they belong to


def source_facts(document: ConfigDocument) -> list[SourceFacts]:
    facts = []
    for name in document.source_names():
        raw = document.source(name)
        maps = document.signals_of_source(name)
        facts.append(SourceFacts(name, str(raw.get("kind", "?")), address_text(raw), len(maps),
                                 tuple(sorted({machine for machine, _signal, _mapping in maps}))))
    return facts


BUILT_IN_PATH: Final = Path("demo plant (built in, read-only)")
READ_ONLY: Final = ("The demo plant's devices are built in and not saved anywhere; "
                    "test and browse work. To edit devices, write a config (`oee config init`) and run without --demo.")


def _read(path: Path, built_in: str | None = None, *,
          secrets: bool = True) -> tuple[ConfigDocument, list[SourceFacts], str | None]:
    """Open the file for editing and say whether it loads as it is. File work: run it in a thread."""
    document = (ConfigDocument(BUILT_IN_PATH, built_in, KINDS, secrets=secrets) if built_in is not None
                else ConfigDocument.open(path, KINDS, secrets=secrets))
    try:
        document.validate()
    except ConfigError as exc:
        return document, source_facts(document), str(exc)
    return document, source_facts(document), None


def error_cell(status: SourceStatus | None, tz: tzinfo) -> Text:
    """The error now, or else the last one with its time, dim: a count of errors always has its words."""
    if status is None:
        return Text(MISSING)
    if status.last_error:
        return Text(status.last_error)
    if status.previous_error:
        when = "" if status.previous_error_at is None else \
            f"{datetime.fromtimestamp(status.previous_error_at, tz):%H:%M:%S} "
        return Text(f"{when}{status.previous_error}", style="dim")
    return Text("")


def link_cell(status: SourceStatus | None, variables: dict[str, str]) -> Text:
    # A symbol and a word for every state: colour alone would be lost on a 16-colour terminal.
    if status is None:
        return Text(MISSING)
    if status.connected and not status.stale:
        return Text("● online", style=f"bold {state_colour(variables, MachineState.RUNNING)}")
    if status.connected:
        return Text("… stale", style=f"bold {state_colour(variables, MachineState.MINOR_STOP)}")
    return Text("✕ offline", style=f"bold {state_colour(variables, MachineState.DOWN)}")


def _ms(seconds: float | None) -> str:
    return MISSING if seconds is None else f"{seconds * 1000:.1f}"


def health_cells(status: SourceStatus | None) -> list[Text]:
    """Reads/s, p50, p95, errors, reconnects and dropped samples; "—" where nothing is known."""
    if status is None:
        return [_right(MISSING) for _ in range(6)]
    return [
        _right(f"{status.reads_per_s:.1f}"),
        _right(_ms(status.latency_p50_s)),
        _right(_ms(status.latency_p95_s)),
        _right(count(status.errors), "bold" if status.errors else ""),
        _right(count(status.reconnects)),
        _right(count(status.dropped), "bold reverse" if status.dropped else ""),
    ]


@dataclass(frozen=True, slots=True)
class EdgeReading:
    """The Sparkplug edge node's figures at one refresh, copied out of its stats (plain reads: the
    node's publish path is never touched), so drawing them never reaches into the live node."""

    node: str  # "<group_id>/<edge_node_id>"
    where: str  # the broker's URL
    primary_host: str | None
    status: str  # EdgeStats.status: "live", "offline, buffering", ...
    live: bool
    connected: bool
    bd_seq: int | None  # the open connection's; None between connections
    messages: int  # DDATA published, live and replayed
    births: int
    rebirths_answered: int
    buffered_rows: int  # waiting to be replayed
    replayed: int
    dropped: int
    refused: int
    ignored: int
    undecodable: int
    next_servers: int
    host_offline_ends: int
    last_error: str | None
    ts: float  # the snapshot's time: rates are counter deltas between two refreshes


def read_edge(node: EdgeView, ts: float) -> EdgeReading:
    stats = node.stats
    config = node.config
    return EdgeReading(
        node=f"{config.group_id}/{config.edge_node_id}", where=node.where, primary_host=config.primary_host_id,
        status=stats.status, live=stats.live, connected=stats.connected, bd_seq=node.session_bd_seq,
        messages=stats.messages, births=stats.births, rebirths_answered=stats.rebirths_answered,
        buffered_rows=node.buffered_rows, replayed=stats.replayed, dropped=stats.dropped,
        refused=stats.commands_refused, ignored=stats.commands_ignored, undecodable=stats.commands_undecodable,
        next_servers=stats.next_servers_answered, host_offline_ends=stats.host_offline_ends,
        last_error=stats.last_error, ts=ts)


def ddata_rate(previous: EdgeReading | None, now: EdgeReading, rate: float | None) -> tuple[EdgeReading, float | None]:
    """The DDATA rate from the messages counter between two refreshes; (the reading to compare the
    next one with, the rate to show). The same snapshot twice (a screen shown again) keeps the rate."""
    if previous is None or now.messages < previous.messages or now.node != previous.node:
        return now, None  # a first look, or a different node since (a restart of the engine)
    elapsed = now.ts - previous.ts
    if elapsed <= 0:
        return previous, rate
    return now, (now.messages - previous.messages) / elapsed


def _rate_text(rate: float | None) -> str:
    if rate is None:
        return MISSING
    return f"{rate:,.0f}" if rate >= 10 else f"{rate:.1f}"


def edge_status_cell(reading: EdgeReading, variables: dict[str, str]) -> Text:
    # The words and symbols of the source table's Link column: offline, buffering and waiting for
    # the primary host all mean data is not reaching the broker, so they look like an offline source.
    if reading.live:
        return Text(f"● {reading.status}", style=f"bold {state_colour(variables, MachineState.RUNNING)}")
    if reading.connected and reading.status == "replaying the buffer":
        return Text(f"… {reading.status}", style=f"bold {state_colour(variables, MachineState.MINOR_STOP)}")
    return Text(f"✕ {reading.status}", style=f"bold {state_colour(variables, MachineState.DOWN)}")


def edge_text(reading: EdgeReading, rate: float | None, variables: dict[str, str]) -> Text:
    """Lines cut with … where the screen is narrow, most important first: who, where and how it
    is; the live figures; the totals; while it is not live, the last error."""
    text = Text.assemble("Edge node ", (reading.node, "bold"), f" → {reading.where}")
    if reading.primary_host is not None:
        text.append(f" (primary host {reading.primary_host})")
    text.append(": ")
    text.append_text(edge_status_cell(reading, variables))
    if reading.bd_seq is not None:
        text.append(f" · bdSeq {reading.bd_seq}")
    text.append(f"\n{_rate_text(rate)} DDATA/s · buffer {count(reading.buffered_rows)} rows · dropped ")
    text.append(count(reading.dropped), style="bold reverse" if reading.dropped else "")
    text.append(" · refused commands ")
    text.append(count(reading.refused), style="bold" if reading.refused else "")
    # The totals on a line of their own: with the live figures above they are cut at 80 columns.
    text.append(f"\nsent {count(reading.messages)} DDATA · births {count(reading.births)}"
                f" · rebirths {count(reading.rebirths_answered)} · replayed {count(reading.replayed)} rows")
    # Rare events, named only once they happened, so the line fits where it can.
    for label, value in (("ignored commands", reading.ignored), ("undecodable", reading.undecodable),
                         ("next server", reading.next_servers), ("host offline", reading.host_offline_ends)):
        if value:
            text.append(f" · {label} {count(value)}")
    if not reading.live and reading.last_error:
        # Why it is not publishing, on a line of its own: at 80 columns it would be cut off above.
        text.append("\nlast error: ", style="bold")
        text.append(reading.last_error)
    return text


class SourceTable(KeyedTable):
    """The source list; says when the cursor moves, so the line under it can describe that source."""

    class CursorMoved(Message):
        pass

    def move_cursor(self, row: int, *, scroll: bool = True) -> None:
        super().move_cursor(row, scroll=scroll)
        self.post_message(self.CursorMoved())


class DevicesScreen(PlantScreen[None]):
    """The sources of the config file with their health; add, edit, delete, test, browse, map tags."""

    HELP_TITLE = "Devices"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add", "Add", id="devices.add", tooltip="Add a source (PLC or server)"),
        Binding("e", "edit", "Edit", id="devices.edit", tooltip="Edit the highlighted source (also Enter)"),
        Binding("x,delete", "delete", "Delete", id="devices.delete", key_display="x",
                tooltip="Delete the highlighted source, after asking"),
        Binding("t", "test", "Test", id="devices.test",
                tooltip="Read every mapped tag of the highlighted source once"),
        Binding("b", "browse", "Browse", id="devices.browse",
                tooltip="Browse the highlighted source's nodes or tags (OPC-UA, Logix)"),
        Binding("m", "tag_maps", "Maps", id="devices.tag-maps",
                tooltip="Which machine signals read which tags of the highlighted source"),
        Binding("r", "reread", "Re-read file", id="devices.reread", show=False,
                tooltip="Read the config file again (after someone else changed it)"),
        Binding("escape", "back", "Live", id="devices.back", tooltip="Back to the live status"),
    ]
    DEFAULT_CSS = """
    DevicesScreen #devices-header {
        height: auto;
        max-height: 3;
        background: $panel;
        padding: 0 1;
    }
    DevicesScreen #sources {
        height: 1fr;
    }
    DevicesScreen #device-detail {
        height: auto;
        max-height: 4;
        padding: 0 1;
        background: $panel;
    }
    DevicesScreen #edge-node {
        height: auto;
        max-height: 4;
        padding: 0 1;
        background: $boost;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.document: ConfigDocument | None = None
        self.load_problem: str | None = None  # the file cannot be opened at all
        self.config_problem: str | None = None  # it opens but would not load as it is
        self._facts: dict[str, SourceFacts] = {}  # by source name, in file order
        self._health: dict[str, SourceStatus] = {}
        self._quality: dict[str, SourceQuality] = {}  # this hour's data-quality checks, by source name
        self._has_health = False
        self._edge_previous: EdgeReading | None = None  # the last reading a rate was taken from
        self._edge_rate: float | None = None

    @property
    def table(self) -> KeyedTable:
        return self.query_one("#sources", KeyedTable)

    def compose(self) -> ComposeResult:
        yield Static("Reading the config file…", id="devices-header", markup=False)
        yield SourceTable(COLUMNS, id="sources", fixed_columns=1)
        # At 80 columns the address and the last error are off to the right: the highlighted
        # source's are spelled out here in full.
        yield Static("", id="device-detail", markup=False)
        # Shown only while the engine publishes the plant as a Sparkplug edge node ([edge]).
        edge = Static("", id="edge-node", markup=False)
        edge.display = False
        yield edge
        # Compact: seven keys of its own plus the app's must fit in 80 columns.
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.table.focus()
        if self.oee_app.latest_snapshot is not None:
            self.show_health(self.oee_app.latest_snapshot)
        self.action_reread()

    def on_screen_resume(self) -> None:
        snapshot = self.oee_app.latest_snapshot
        if snapshot is not None:
            self.show_health(snapshot)

    # ------------------------------------------------------------ reading the file

    def action_reread(self) -> None:
        if self._saving():
            return
        self._load()

    @property
    def read_only(self) -> bool:
        # Only the demo engine has built-in devices; a real plant's live in its config file.
        return getattr(self.oee_app.engine, "built_in_config_text", None) is not None

    def _refuse_if_read_only(self) -> bool:
        if self._refuse_for_role():
            return True
        if self.read_only:
            self.notify(READ_ONLY, title="Read-only", severity="warning", timeout=12)
        return self.read_only

    def _refuse_for_role(self) -> bool:
        """Devices and tag maps need the maintenance role or above: an attached operator is told so."""
        if self.may(Action.DEVICES):
            return False
        engine = self.oee_app.engine
        role = engine.role.label if isinstance(engine, RemoteEngine) and engine.role is not None else "your"
        self.notify(f"Devices are changed, tested and browsed from the maintenance role up; you are {role}.",
                    title="Not for your role", severity="warning", timeout=12)
        return True

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Offered only to a role that may: the engine refuses the others anyway.
        if action in ("add", "edit", "delete", "tag_maps", "test", "browse"):
            return self.may(Action.DEVICES)
        return True

    @work(exclusive=True, group="config-load", exit_on_error=False)
    async def _load(self) -> None:
        path = self.oee_app.config_path
        built_in: str | None = getattr(self.oee_app.engine, "built_in_config_text", None)
        try:
            # Attached, the engine holds the passwords given by variables and files, and checks them on save.
            document, facts, problem = await asyncio.to_thread(
                partial(_read, path, built_in, secrets=not isinstance(self.oee_app.engine, RemoteEngine)))
        except FileNotFoundError:
            self._set_document(None, [], load_problem=f"There is no config file at {path} yet: "
                                                     "`oee config init` writes a sample.")
            return
        except Exception as exc:  # unreadable, not UTF-8, not TOML: say so instead of showing nothing
            self._set_document(None, [], load_problem=f"{path} cannot be opened for editing: {exc}")
            return
        self._set_document(document, facts, config_problem=problem)

    def _set_document(self, document: ConfigDocument | None, facts: list[SourceFacts], *,
                      load_problem: str | None = None, config_problem: str | None = None,
                      focus: str | None = None) -> None:
        self.document = document
        self._facts = {fact.name: fact for fact in facts}
        self.load_problem = load_problem
        self.config_problem = config_problem
        self._show_sources(focus)

    # ------------------------------------------------------------ rendering

    def show_health(self, snapshot: PlantSnapshot) -> None:
        sources = getattr(snapshot, "sources", ())
        self._has_health = bool(sources)
        self._health = {status.name: status for status in sources}
        if not self.query("#edge-node"):
            return  # a snapshot that came as the screen was switched to, before its widgets: kept for then
        if self.document is not None:
            self._show_sources()
        self._show_edge(snapshot.ts)
        self._read_quality()

    @work(exclusive=True, group="data-quality", exit_on_error=False)
    async def _read_quality(self) -> None:
        """The data-quality checks, with each snapshot: from the engine in this process, or through the socket
        from the one attached to (a request of its own: they are not in the pushed snapshot)."""
        engine = self.oee_app.engine
        if engine is None:
            return
        try:
            report = await engine.data_quality(tags=False)
        except Exception as exc:  # an engine lost or refusing: the column keeps the last figures
            log.debug("data quality not read: %s", exc)
            return
        self._quality = {quality.source: quality for quality in report.current}
        if self.document is not None:
            self._show_sources()

    def _show_edge(self, ts: float) -> None:
        """The edge node's line, with each snapshot: a handful of attribute reads, nothing that waits."""
        line = self.query_one("#edge-node", Static)
        engine = self.oee_app.engine
        node = next((observer for observer in (engine.observers if engine is not None else ())
                     if isinstance(observer, EdgeView)), None)
        if node is None:
            line.display = False
            self._edge_previous = self._edge_rate = None
            return
        reading = read_edge(node, ts)
        self._edge_previous, self._edge_rate = ddata_rate(self._edge_previous, reading, self._edge_rate)
        line.update(edge_text(reading, self._edge_rate, self.app.theme_variables))
        line.display = True

    def _show_sources(self, focus: str | None = None) -> None:
        # Once a second with the engine's health: only the health is new, the rest is cached facts.
        variables = self.app.theme_variables
        rows: list[Row] = []
        for fact in self._facts.values():
            status = self._health.get(fact.name)
            rows.append((fact.name, [
                Text(fact.name),
                link_cell(status, variables),
                Text(short_cell(self._quality.get(fact.name)), style="bold" if self._problems(fact.name) else ""),
                Text(fact.kind),
                _right(str(fact.maps)),
                *health_cells(status),
                Text(fact.address),
                error_cell(status, self.config.tz),
            ]))
        with self.app.batch_update():
            self.query_one("#devices-header", Static).update(self._header(len(rows)))
            self.table.sync(rows)
            if focus is not None and focus in self.table.shown_keys():
                self.table.move_cursor(self.table.get_row_index(focus))
            self._show_detail()

    @on(SourceTable.CursorMoved)
    def _cursor_moved(self, _event: SourceTable.CursorMoved) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        detail = self.query_one("#device-detail", Static)
        name = self.table.cursor_key
        fact = None if name is None else self._facts.get(name)
        if fact is None:
            detail.update("" if self.document is None else "No sources yet: press a to add one.")
            return
        text = Text.assemble((fact.name, "bold"), f" · {fact.kind} {fact.address} · ")
        text.append(f"feeds {', '.join(fact.machines)}" if fact.machines else "feeds no machine yet (m maps tags)")
        status = self._health.get(fact.name)
        if status is not None and status.last_error:
            text.append(" · last error: ", style="bold")
            text.append(status.last_error)
        elif status is not None and status.previous_error:
            text.append(" · last error (answers again since): ", style="bold")
            text.append(error_cell(status, self.config.tz))
        if status is not None and status.next_retry_in_s is not None and not status.connected:
            text.append(f" · next try in {status.next_retry_in_s:.0f} s")
        quality = self._quality.get(fact.name)
        if quality is not None:
            text.append("\n" + detail_text(quality))
        detail.update(text)

    def _problems(self, source: str) -> bool:
        quality = self._quality.get(source)
        return quality is not None and quality.problems > 0

    def _header(self, sources: int) -> Text:
        if self.load_problem is not None:
            return Text.assemble(("✕ ", "bold"), (self.load_problem, "bold"))
        shown = BUILT_IN_PATH if self.read_only else self.oee_app.config_path
        header = Text.assemble((str(shown), "bold"),
                               f" │ {sources} source{'' if sources == 1 else 's'} │ ")
        header.append("health from the running engine" if self._has_health
                      else "no health reported yet (— in the columns)")
        if self.config_problem is not None:
            header.append("\n✕ The file does not load as it is: ", style="bold")
            header.append(self.config_problem, style="bold")
        return header

    # ------------------------------------------------------------ what the keys do

    def _saving(self) -> bool:
        busy = any(worker.group == "config-save" and not worker.is_finished for worker in self.workers)
        if busy:
            self.notify("Still saving the last change…", severity="warning")
        return busy

    def _highlighted(self) -> str | None:
        if self.document is None:
            self.notify(self.load_problem or "The config file is still being read.", severity="warning")
            return None
        name = self.table.cursor_key
        if name is None:
            self.notify("There are no sources yet: press a to add one.", severity="warning")
        return name

    def _config(self) -> Config | None:
        """The file as `oee` would load it; testing and browsing need the parsed source and its tags."""
        assert self.document is not None
        try:
            return self.document.validate()
        except ConfigError as exc:
            self.notify(f"The config does not load, so its sources cannot be reached from here: {exc}",
                        title="Config", severity="error", timeout=20)
            return None

    def action_add(self) -> None:
        if self._refuse_if_read_only() or self._saving():
            return
        if self.document is None:
            self.notify(self.load_problem or "The config file is still being read.", severity="warning")
            return
        self.app.push_screen(SourceFormScreen(self.document), self._form_done)

    def action_edit(self) -> None:
        if self._refuse_if_read_only() or self._saving():
            return
        name = self._highlighted()
        if name is not None and self.document is not None:
            self.app.push_screen(SourceFormScreen(self.document, name), self._form_done)

    @on(KeyedTable.RowSelected, "#sources")
    def _row_selected(self, event: KeyedTable.RowSelected) -> None:
        self.action_edit()

    def _form_done(self, result: SourceFormResult | None) -> None:
        if result is not None:
            self._save(result.document, result.name)

    def action_delete(self) -> None:
        if self._refuse_if_read_only() or self._saving():
            return
        name = self._highlighted()
        if name is None or self.document is None:
            return
        users = self.document.signals_of_source(name)
        if users:
            # Refused before asking: deleting it would leave machines reading from nothing.
            fed = ", ".join(f"{machine} {signal}" for machine, signal, _ in users)
            self.notify(f"{name} still feeds {fed}. Remove or move those tag maps first (m).",
                        title="Not deleted", severity="error", timeout=15)
            return

        def answered(yes: bool | None) -> None:
            if not yes or self.document is None:
                return
            candidate = copy.deepcopy(self.document)
            try:
                candidate.delete_source(name)
            except ConfigEditError as exc:
                self.notify(str(exc), title="Not deleted", severity="error", timeout=15)
                return
            self._save(candidate, None)

        self.app.push_screen(ConfirmScreen(f"Delete source {name}? It is removed from the config file."),
                             answered)

    def action_test(self) -> None:
        if self._refuse_for_role():
            return
        name = self._highlighted()
        config = self._config() if name is not None else None
        if name is None or config is None:
            return
        source = config.source(name)
        engine = engine_reaching(self.oee_app.engine, source)
        read = None if engine is None else partial(engine.call, "device_test", name=name)
        self.app.push_screen(ConnectionCheckScreen(config, source, read=read))

    def action_browse(self) -> None:
        if self._refuse_for_role():
            return
        name = self._highlighted()
        if name is None or self.document is None:
            return
        kind = str(self.document.source(name).get("kind", ""))
        if kind not in BROWSABLE_KINDS:
            self.notify(f"{name}: {not_browsable(kind)}.", title="Browse", severity="warning", timeout=12)
            return
        config = self._config()
        if config is None:
            return

        def picked(node: str | None) -> None:
            if node:
                self.app.copy_to_clipboard(node)
                self.notify(f"{node} (copied). Press m to map it to a machine signal.", title="Picked",
                            timeout=15)

        source = config.source(name)
        browser = browser_for(self.oee_app.engine, source)
        self.app.push_screen(BrowseScreen(source, browser, tags=tags_of(config, name),
                                          config_path=config.path), picked)

    def action_tag_maps(self) -> None:
        if self._refuse_if_read_only() or self._saving():
            return
        name = self._highlighted()
        if name is None or self.document is None:
            return

        def closed(_changed: bool | None) -> None:
            # The tag map screen saved its changes itself; show the file as it is now.
            self._load()

        self.app.push_screen(TagMapScreen(self.document, name), closed)

    def action_back(self) -> None:
        self.oee_app.action_live()

    def commands(self) -> Iterator[SystemCommand]:
        """This screen's actions for the command palette, named after the highlighted source."""
        yield SystemCommand("Add a source", "A PLC, server or broker: Modbus, OPC-UA, S7, Logix, Sparkplug or MQTT (a)",
                            self.action_add)
        name = self.table.cursor_key
        if name is not None:
            yield SystemCommand(f"Edit source {name}", "Its address and connection settings (e)", self.action_edit)
            yield SystemCommand(f"Test connection to {name}", "Read every mapped tag once (t)", self.action_test)
            yield SystemCommand(f"Browse {name}", "Its nodes, tags or metrics: OPC-UA, Logix, Sparkplug (b)",
                                self.action_browse)
            yield SystemCommand(f"Tag maps of {name}", "Which machine signals read which tags (m)",
                                self.action_tag_maps)
            yield SystemCommand(f"Delete source {name}", "After asking; refused while tags are mapped (x)",
                                self.action_delete)
        yield SystemCommand("Re-read the config file", "After someone else changed it (r)", self.action_reread)

    # ------------------------------------------------------------ saving

    @work(exclusive=True, group="config-save", exit_on_error=False)
    async def _save(self, candidate: ConfigDocument, focus: str | None) -> None:
        config = await self.oee_app.apply_config(candidate)
        if config is not None:
            self._set_document(candidate, source_facts(candidate), focus=focus)
