"""The Textual application: a thin shell that owns the engine's lifecycle and routes snapshots to screens.

Screens talk to the engine only through the PlantEngine protocol. The app
pulls one immutable PlantSnapshot per tick (engine.snapshot() is an in-memory
read) and posts it as one message; a backlog of those collapses to the newest
(`SnapshotReady.can_replace`), so a busy UI never renders stale ticks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.timer import Timer
from textual.worker import Worker, WorkerState

from oee_tui.engine.api import PlantEngine
from oee_tui.engine.snapshot import PlantSnapshot
from oee_tui.screens.first_run import FirstRunScreen
from oee_tui.screens.help import HelpScreen, HelpTopic
from oee_tui.screens.live import LiveScreen
from oee_tui.screens.machine_detail import MachineDetailScreen
from oee_tui.widgets.states import state_variables

log = logging.getLogger(__name__)

LIVE_MODE = "live"


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
    MODES: ClassVar[dict[str, str | Callable[[], Screen]]] = {LIVE_MODE: LiveScreen}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="app.quit",
                tooltip="Stop acquisition, save what is buffered, and exit"),
        # Textual binds ctrl+c to a "press ctrl+q" hint; operators expect it to quit, and it
        # must take the same path as q so the store is flushed.
        Binding("ctrl+c", "quit", "Quit", show=False, id="app.quit-ctrl-c"),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True, id="app.quit-ctrl-q"),
        Binding("f1", "help", "Help", id="app.help", tooltip="List the keys of this screen"),
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
    ) -> None:
        super().__init__()
        self.engine = engine
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
        self.run_worker(engine.start(), name="engine-start", group="engine", exclusive=True,
                        exit_on_error=False)
        if isinstance(self.screen, FirstRunScreen):
            self.pop_screen()
        self.switch_mode(LIVE_MODE)

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
            self.notify(f"The engine did not start: {event.worker.error}", title="Engine error",
                        severity="error", timeout=30)

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
        if isinstance(self.screen, ModalScreen):
            return
        live = self.live_screen
        if live is not None and self.screen is live:
            live.show_snapshot(snapshot)

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
        except Exception:
            log.exception("engine stop failed")
            result = 1
        self.exit(result)

    async def _stop_engine(self) -> None:
        engine, self.engine = self.engine, None
        self._engine_running = False
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

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        if self.engine is not None:
            yield SystemCommand("Live status", "Every machine's state and OEE, updated live", self.action_live)
        if isinstance(screen, LiveScreen) and (name := screen.highlighted_machine_name()) is not None:
            yield SystemCommand("Open machine detail", f"Timeline, trend and stops of {name}",
                                screen.action_open_detail)
        if isinstance(screen, MachineDetailScreen) and (stop := screen.selected_stop_label()) is not None:
            yield SystemCommand("Give reason to the selected stop", f"Pick a reason for the stop {stop}",
                                screen.action_give_reason)
        yield SystemCommand("Help", "List the keys of this screen (F1)", self.action_help)
        yield SystemCommand("Quit", "Stop acquisition, save what is buffered, and exit (q)", self.action_quit)
        # Textual's own commands (theme, keys panel, screenshot…) stay; its Quit is replaced
        # by the one above, which says that quitting saves the data.
        yield from (command for command in super().get_system_commands(screen) if command.title != "Quit")
