"""The Textual application: a thin shell that owns the engine's lifecycle and routes snapshots to screens.

Screens talk to the engine only through the PlantEngine protocol. The app
pulls one immutable PlantSnapshot per tick (engine.snapshot() is an in-memory
read) and posts it as one message; a backlog of those collapses to the newest
(`SnapshotReady.can_replace`), so a busy UI never renders stale ticks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Final

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.timer import Timer
from textual.worker import Worker, WorkerState

from oee_tui.config import Config, ConfigError
from oee_tui.config.edit import ConfigDocument, ConfigEditError, config_diff
from oee_tui.engine.api import PlantEngine
from oee_tui.engine.live.store_health import UnsavedDataError
from oee_tui.model import PlantSnapshot
from oee_tui.model.access import Action
from oee_tui.screens.devices import DevicesScreen
from oee_tui.screens.file_import.import_screen import ImportScreen
from oee_tui.screens.first_run import FirstRunScreen
from oee_tui.screens.help import HelpScreen, HelpTopic
from oee_tui.screens.host import ScreenHost, may
from oee_tui.screens.live_status import LiveScreen
from oee_tui.screens.machine_detail import MachineDetailScreen, operator_name
from oee_tui.screens.shift_review.review_screen import ReviewScreen
from oee_tui.service.client import EngineLost, EngineRefused
from oee_tui.service.remote_engine import RemoteEngine
from oee_tui.service.server import EngineServer
from oee_tui.service.session_origin import local_origin
from oee_tui.widgets.engine_link import EngineLink
from oee_tui.widgets.states import state_variables
from oee_tui.widgets.store_status import StoreStatus, store_status_text
from oee_tui.widgets.sync_status import SyncStatus

log = logging.getLogger(__name__)

# `oee`'s exit code for a stop with unsaved data (commands.common's EXIT_UNSAVED; a sibling layer, not imported).
EXIT_UNSAVED: Final = 5

LIVE_MODE = "live"
DEVICES_MODE = "devices"
REVIEW_MODE = "review"
IMPORT_MODE = "import"


class SnapshotReady(Message):
    """The engine published a new plant snapshot."""

    def __init__(self, snapshot: PlantSnapshot) -> None:
        super().__init__()
        self.snapshot = snapshot

    def can_replace(self, message: Message) -> bool:
        # Only the newest snapshot matters; an older one still queued is dropped.
        return isinstance(message, SnapshotReady)


class OeeApp(App[int]):
    """oee-tui's terminal UI. Returns 0 on a clean exit, 1 if the engine failed to stop cleanly."""

    TITLE = "oee"
    MODES: ClassVar[dict[str, str | Callable[[], Screen[Any]]]] = {LIVE_MODE: LiveScreen, DEVICES_MODE: DevicesScreen,
                                                                 REVIEW_MODE: ReviewScreen, IMPORT_MODE: ImportScreen}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="app.quit",
                tooltip="Stop acquisition, save what is buffered, and exit"),
        # Textual binds ctrl+c to a "press ctrl+q" hint; operators expect it to quit, and it
        # must take the same path as q so the store is flushed.
        Binding("ctrl+c", "quit", "Quit", show=False, id="app.quit-ctrl-c"),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True, id="app.quit-ctrl-q"),
        Binding("f1", "help", "Help", id="app.help", tooltip="List the keys of this screen"),
        Binding("f2", "devices", "Devices", id="app.devices",
                tooltip="PLCs and servers: health, settings, tag maps"),
        Binding("f3", "review", "Review", id="app.review",
                tooltip="Shift review: OEE by line and machine, losses, Pareto, targets, stops to explain"),
        Binding("f4", "import", "Import", id="app.import",
                tooltip="Import planning data or a production log from a CSV or Excel file"),
        # Not in the footer (it is full at 80 columns); F1 lists it and Ctrl+P offers it.
        Binding("f6", "dead_letters", "Dead letters", id="app.dead-letters", show=False,
                tooltip="Payloads a source sent that could not be decoded or mapped, with their bytes"),
        Binding("f7", "audit", "Audit", id="app.audit", show=False,
                tooltip="The audit trail: who changed what, when and from where; and the check of its hash chain"),
    ]

    def __init__(
        self,
        engine: PlantEngine | None,
        *,
        config_path: Path,
        data_dir: Path,
        demo_factory: Callable[[], PlantEngine] | None = None,
        clock: Callable[[], float] = time.time,
        refresh_interval: float | None = 1.0,
        serve: bool = False,
    ) -> None:
        super().__init__()
        self.engine = engine
        # Owning the store (no engine ran when this TUI started): serve its socket, so that other TUIs
        # and commands attach to this one as they would to `oee engine`.
        self.serve = serve
        self._server: EngineServer | None = None
        self.config_path = config_path
        self.data_dir = data_dir
        self.demo_factory = demo_factory
        self.clock = clock
        self.refresh_interval = refresh_interval
        # The detail screen queries the engine (shift history), so it refreshes slower than the
        # live table; with no live refresh (tests) it refreshes only when asked.
        self.detail_refresh_interval: float | None = (
            None if refresh_interval is None else max(5.0, refresh_interval * 5)
        )
        self.latest_snapshot: PlantSnapshot | None = None
        self._refresh_timer: Timer | None = None
        self._engine_running = False
        self._stopping = False
        self._start_problem: str | None = None  # why the engine did not start, shown until it is replaced
        self.stop_error: str | None = None  # why the engine's stop failed (data not saved): printed after exit

    # ------------------------------------------------------------ theme

    def get_css_variables(self) -> dict[str, str]:
        variables = {**super().get_css_variables(), **state_variables(self.current_theme.dark)}
        # Content markup ("[$state-down]") resolves names from theme_variables, so keep both in step.
        self.theme_variables = variables
        return variables

    # ------------------------------------------------------------ lifecycle

    def on_mount(self) -> None:
        if self.engine is None:
            demo_available = self.demo_factory is not None
            self.push_screen(FirstRunScreen(self.config_path, self.data_dir, demo_available=demo_available))
        else:
            self.use_engine(self.engine)

    def use_engine(self, engine: PlantEngine) -> None:
        """Start `engine` in the background and show the live screen at once.

        The first frame never waits for the engine: start() may connect to devices.
        """
        self.engine = engine
        if isinstance(engine, RemoteEngine):
            engine.on_change = lambda: self.call_next(self.show_store_status)
            # Shown as it arrives, not at the next tick of the timer: the engine pushes only what is new.
            engine.on_snapshot = self._pushed
        self.run_worker(self._start(engine), name="engine-start", group="engine", exclusive=True,
                        exit_on_error=False)
        if isinstance(self.screen, FirstRunScreen):
            self.pop_screen()
        self.switch_mode(LIVE_MODE)

    def _pushed(self, snapshot: PlantSnapshot) -> None:
        self.post_message(SnapshotReady(snapshot))

    async def _start(self, engine: PlantEngine) -> None:
        await engine.start()
        if self.serve and not isinstance(engine, RemoteEngine) and engine.store is not None:
            # The store's own dir: the demo picked on the welcome screen keeps its store in the data dir's demo/.
            server = EngineServer(engine, None, data_dir=engine.store.data_dir, config_path=engine.config.path)
            try:
                await server.start()
            except Exception as exc:  # the plant runs on; only attaching to it is not possible
                log.warning("not serving %s: %s", server.path, exc)
                self.notify(f"Other TUIs and commands cannot attach to this one: {exc}", severity="warning",
                            timeout=15)
            else:
                self._server = server

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "engine":
            return
        if event.state is WorkerState.SUCCESS:
            self._engine_running = True
            if self.refresh_interval is not None and self._refresh_timer is None:
                self._refresh_timer = self.set_interval(self.refresh_interval, self._tick, name="snapshot")
                self._tick()
        elif event.state is WorkerState.ERROR:
            log.error("engine failed to start", exc_info=event.worker.error)
            self._start_problem = str(event.worker.error)
            self.notify(f"The engine did not start: {event.worker.error}", title="Engine error",
                        severity="error", timeout=30)
            self.show_store_status()

    def _tick(self) -> None:
        if self.engine is not None and self._engine_running:
            self.post_message(SnapshotReady(self.engine.snapshot()))

    def on_snapshot_ready(self, message: SnapshotReady) -> None:
        self.show_snapshot(message.snapshot)

    def show_snapshot(self, snapshot: PlantSnapshot) -> None:
        """Deliver one snapshot to the screens.

        Only the visible live screen renders it; a modal on top, or the detail
        screen, means nobody would see the work, so the live screen catches up
        from `latest_snapshot` when it is shown again.
        """
        self.latest_snapshot = snapshot
        if not self.screen_stack:
            return  # the app is closing: a snapshot queued meanwhile has nowhere to go
        self.show_store_status()
        if isinstance(self.screen, ModalScreen):
            return
        live = self.live_screen
        if live is not None and self.screen is live:
            live.show_snapshot(snapshot)
        elif isinstance(self.screen, DevicesScreen):
            self.screen.show_health(snapshot)

    def show_store_status(self) -> None:
        """Keep the store's banner on the screen in front (every screen gets one the first time
        there is something to say): what is not saved, since when and why."""
        if not self.screen_stack:
            return
        health = None if self.latest_snapshot is None else self.latest_snapshot.store
        tz = None if self.engine is None else self.engine.config.tz
        screen = self.screen
        self._show_engine_link(screen)
        self._show_sync_status(screen)
        banners = screen.query(StoreStatus)
        if banners:
            banners.first().show(health, self._start_problem, tz)
        elif store_status_text(health, self._start_problem, tz):
            banner = StoreStatus()
            screen.mount(banner)
            banner.show(health, self._start_problem, tz)

    def _show_sync_status(self, screen: Screen[Any]) -> None:
        sync = None if self.latest_snapshot is None else self.latest_snapshot.sync
        if sync is None:
            return
        items = screen.query(SyncStatus)
        item = items.first() if items else None
        if item is None:
            item = SyncStatus()
            screen.mount(item)
        item.show(sync)

    def _show_engine_link(self, screen: Screen[Any]) -> None:
        engine = self.engine
        if not isinstance(engine, RemoteEngine):
            return
        hello = engine.hello
        links = screen.query(EngineLink)
        link = links.first() if links else None
        if link is None:
            link = EngineLink()
            screen.mount(link)
        link.show(engine.pid, hello.get("person") or hello.get("user"), hello.get("role"), engine.lost)

    @property
    def live_screen(self) -> LiveScreen | None:
        try:
            stack = self.get_screen_stack(LIVE_MODE)
        except KeyError:
            return None
        return stack[0] if stack and isinstance(stack[0], LiveScreen) else None

    # ------------------------------------------------------------ quitting

    async def action_quit(self) -> None:
        """Quit by way of engine.stop(), so buffered data reaches the store.

        q, ctrl+c, ctrl+q and the palette's Quit all land here. The stop runs in a
        worker so the screen can say what it is doing while the store flushes.
        """
        if self._stopping:
            return
        self._stopping = True
        if self._refresh_timer is not None:
            self._refresh_timer.stop()
        if self.engine is None:
            self.exit(0)
            return
        if not isinstance(self.engine, RemoteEngine):  # an attached TUI only lets go; the engine saves
            self.notify("Saving buffered data…", title="Stopping")
        self.run_worker(self._stop_and_exit(), name="engine-stop", group="quit", exclusive=True, exit_on_error=False)

    async def _stop_and_exit(self) -> None:
        result = 0
        try:
            # Let a start still in progress finish first: stopping a half-started engine could
            # leave tasks behind.
            starting = [worker for worker in self.workers if worker.group == "engine" and not worker.is_finished]
            if starting:
                await self.workers.wait_for_complete(starting)
            await self._stop_engine()
        except UnsavedDataError as exc:
            log.error("engine stopped with unsaved data: %s", exc)
            self.stop_error = str(exc)
            result = EXIT_UNSAVED
        except Exception as exc:
            log.exception("engine stop failed")
            self.stop_error = f"the engine did not stop cleanly: {exc}"
            result = 1
        self.exit(result)

    async def _stop_engine(self) -> None:
        engine, self.engine = self.engine, None
        self._engine_running = False
        server, self._server = self._server, None
        if server is not None:  # the attached TUIs hear that this one is going before its engine stops
            await server.close()
        if engine is not None:
            await engine.stop()

    async def on_unmount(self) -> None:
        # A last resort for exits that bypass action_quit (app.exit() from elsewhere):
        # never leave acquisition running with unflushed data.
        if self.engine is not None:
            try:
                await self._stop_engine()
            except Exception:
                log.exception("engine stop on shutdown failed")

    # ------------------------------------------------------------ config changes

    async def apply_config(self, document: ConfigDocument) -> Config | None:
        """Write an edited config to disk, then hand it to the running engine. Call from a worker.

        Says how it went in a notification: saved or not (and why), and whether the
        engine now runs on the change or needs a restart. Returns the new config, or
        None when nothing was written.
        """
        if isinstance(self.engine, RemoteEngine):
            return await self._save_in_engine(self.engine, document)
        before, after = document.original, document.text()
        try:
            # Validation, the .bak copy and fsync are file work: keep them off the event loop.
            config = await asyncio.to_thread(document.save)
        except (ConfigError, ConfigEditError, OSError) as exc:
            log.warning("config not saved: %s", exc)
            again = " (r on the device list reads it again)" if isinstance(exc, ConfigEditError) else ""
            self.notify(f"Not saved: {exc}{again}", title="Config", severity="error", timeout=30)
            return None
        await self._audit_config(document.path, before, after)
        backup = document.path.with_name(document.path.name + ".bak")
        saved = f"Saved {document.path}" + (f" (the previous version is {backup.name})" if backup.exists() else "")
        self.notify(saved + ". " + await self._reload_engine(config, document.path), title="Config saved", timeout=10)
        return config

    async def _audit_config(self, path: Path, before: str, after: str) -> None:
        """The change in the store's audit trail, as the engine records an attached TUI's (secrets masked)."""
        store = None if self.engine is None else self.engine.store
        if store is None:
            return
        try:
            await asyncio.to_thread(store.append_audit, user=operator_name(), origin=local_origin(), kind="config",
                                    subject=str(path), before=None, after={"diff": config_diff(before, after)})
        except Exception as exc:  # saved, but not audited: said, not hidden
            log.exception("audit entry for %s not written", path)
            self.notify(f"The change is saved but not in the audit trail: {exc}", severity="warning", timeout=15)

    async def _save_in_engine(self, engine: RemoteEngine, document: ConfigDocument) -> Config | None:
        """An attached TUI's edit is saved by the engine (which owns the file and checks the role), then
        read back here to show it."""
        try:
            config = document.validate()
            said = await engine.call("save_config", original=document.original, text=document.text())
        except (ConfigError, EngineRefused, EngineLost) as exc:
            log.warning("config not saved: %s", exc)
            self.notify(f"Not saved: {exc}", title="Config", severity="error", timeout=30)
            return None
        engine.config = config
        restarted = ", ".join(said.get("sources_restarted") or ())
        self.notify(f"Saved {document.path} in the engine (pid {engine.pid}), which runs on it now."
                    + (f" Reconnected: {restarted}." if restarted else ""), title="Config saved", timeout=10)
        return config

    async def _reload_engine(self, config: Config, path: Path) -> str:
        """Give the running engine the new config; returns what happened, for the person who saved."""
        engine = self.engine
        if engine is None:
            return "It is used when oee next starts."
        # Only an engine that runs on this very file takes it; the demo plant's config is built in code.
        if engine.config.path is None or engine.config.path.resolve() != path.resolve():
            return "The running plant is not read from this file, so it keeps running unchanged."
        reload = getattr(engine, "reload", None)
        if reload is None:
            return "The running engine cannot take a new config while it runs: restart oee to use the change."
        try:
            summary = await reload(config)
        except Exception as exc:
            log.exception("engine reload failed")
            self.notify(f"The engine did not take the new config and keeps running on the previous one: {exc}",
                        title="Engine reload", severity="error", timeout=30)
            return "The engine did not take it (see the next message)."
        # The engine may say what the reload touched; a technician wants to know which links dropped.
        restarted = tuple(getattr(summary, "sources_restarted", ()) or ())
        removed = tuple(getattr(summary, "machines_removed", ()) or ())
        said = "The running engine picked up the change."
        if restarted:
            said += f" Reconnected: {', '.join(restarted)}."
        if removed:
            said += f" Machines no longer running: {', '.join(removed)}."
        return said

    # ------------------------------------------------------------ help and commands

    def action_help(self) -> None:
        screen = self.screen
        if isinstance(screen, HelpScreen):
            screen.dismiss()
            return
        self.push_screen(HelpScreen(HelpTopic.for_screen(screen)))

    def action_live(self) -> None:
        """Back to the live status, from wherever the operator is."""
        if self.engine is None:
            self.notify("There is no plant to show yet.", severity="warning")
            return
        self.switch_mode(LIVE_MODE)
        while len(self.screen_stack) > 1:
            self.pop_screen()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Before there is a plant (the welcome screen) there is no device list to go back from;
        # on the device screens the key would lead where the technician already is.
        if action == "devices":
            return self.engine is not None and self.current_mode != DEVICES_MODE
        if action == "review":
            return self.engine is not None and self.current_mode != REVIEW_MODE
        if action == "import":
            return self.engine is not None and self.current_mode != IMPORT_MODE
        if action == "audit":
            return self.engine is not None and may(self.engine, Action.AUDIT)
        return True

    def action_devices(self) -> None:
        """The device configuration: sources, their health, settings and tag maps."""
        if self.engine is None or isinstance(self.screen, ModalScreen):
            return
        self.switch_mode(DEVICES_MODE)

    def action_review(self) -> None:
        """The supervisor's shift review: a period's OEE, losses, Pareto, targets and unexplained stops."""
        if self.engine is None or isinstance(self.screen, ModalScreen):
            return
        self.switch_mode(REVIEW_MODE)

    def action_import(self) -> None:
        """Import planning data: pick a file, check it with a preview, then write it."""
        if self.engine is None or isinstance(self.screen, ModalScreen):
            return
        self.switch_mode(IMPORT_MODE)

    def action_dead_letters(self) -> None:
        """Payloads that could not be decoded or mapped; F6 again (or Escape) goes back."""
        from oee_tui.screens.dead_letters import DeadLettersScreen

        if self.engine is None or isinstance(self.screen, ModalScreen):
            return
        if isinstance(self.screen, DeadLettersScreen):
            self.screen.dismiss()
            return
        self.push_screen(DeadLettersScreen(refresh_s=None if self.refresh_interval is None else 5.0))

    def action_audit(self) -> None:
        """The audit trail by user, kind and time, and the check of its chain; F7 again (or Escape) goes back."""
        from oee_tui.screens.audit_screen import AuditScreen

        if self.engine is None or isinstance(self.screen, ModalScreen) or not may(self.engine, Action.AUDIT):
            return
        if isinstance(self.screen, AuditScreen):
            self.screen.dismiss()
            return
        self.push_screen(AuditScreen(refresh_s=None if self.refresh_interval is None else 5.0))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        if self.engine is not None:
            yield SystemCommand("Live status", "Every machine's state and OEE, updated live", self.action_live)
            yield SystemCommand("Devices", "Sources: health, settings, tag maps, test connection, browse (F2)",
                                self.action_devices)
            yield SystemCommand("Shift review", "OEE by line and machine, losses, Pareto, targets, stops to explain "
                                "(F3)", self.action_review)
            yield SystemCommand("Import planning data", "Products, schedule, shifts, downtime plan, reasons or a "
                                "production log from CSV/XLSX, checked before it is written (F4)", self.action_import)
            yield SystemCommand("Dead letters", "Payloads that could not be decoded or mapped, with their bytes (F6)",
                                self.action_dead_letters)
            if may(self.engine, Action.AUDIT):
                yield SystemCommand("Audit trail", "Who changed what, when and from where; check the hash chain (F7)",
                                    self.action_audit)
        if isinstance(screen, LiveScreen) and (name := screen.highlighted_machine_name()) is not None:
            yield SystemCommand("Open machine detail", f"Timeline, trend and stops of {name}",
                                screen.action_open_detail)
        if isinstance(screen, MachineDetailScreen) and (stop := screen.selected_stop_label()) is not None:
            yield SystemCommand("Give reason to the selected stop", f"Pick a reason for the stop {stop}",
                                screen.action_give_reason)
        if isinstance(screen, DevicesScreen):
            yield from screen.commands()
        yield SystemCommand("Help", "List the keys of this screen (F1)", self.action_help)
        yield SystemCommand("Quit", "Stop acquisition, save what is buffered, and exit (q)", self.action_quit)
        # Textual's own commands (theme, keys panel, screenshot…) stay; its Quit is replaced
        # by the one above, which says that quitting saves the data.
        yield from (command for command in super().get_system_commands(screen) if command.title != "Quit")


if TYPE_CHECKING:
    def _hosts_its_screens(app: OeeApp) -> ScreenHost:
        # The screens see the app only as a ScreenHost (they never import this module); handing
        # the app over as one makes mypy check that it gives them everything they ask for.
        return app
