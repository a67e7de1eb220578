"""Test connection: read every mapped tag of one source once and show what came back.

The read uses its own connection (oee_tui.device_checks.test_source), apart from the
engine's acquisition, so testing never disturbs the data being collected. It runs
in a worker: the screen stays live while a slow or absent device times out. An
OPC-UA source uses the config's PKI folder, as `oee devices test` does, so a server
certificate trusted with `oee devices trust` is trusted here too.

A Sparkplug source has nothing to read on request (edge nodes push their metrics),
so its test connects to the broker as a probe client and says whether the broker
took the connection and the login.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import ClassVar, Final

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, LoadingIndicator, Static

from oee_tui.config import Config, SourceConfig
from oee_tui.device_checks import BrokerProbe, address_of, describe_error, probe_broker, tags_of, test_source
from oee_tui.drivers.base import TagReading
from oee_tui.model import Quality
from oee_tui.widgets.dialog import Dialog
from oee_tui.widgets.keyed_table import KeyedTable

COLUMNS: Final = (
    ("tag", "Tag"),
    ("value", Text("Value", justify="right")),
    ("type", "Type"),
    ("quality", "Quality"),
    ("latency", Text("ms", justify="right")),
    ("error", "Error"),
)

# Symbol and word, never colour alone: the quality must read on a monochrome terminal.
QUALITY_TEXT: Final = {
    Quality.GOOD: "✓ good",
    Quality.UNCERTAIN: "? uncertain",
    Quality.BAD: "✕ bad",
    Quality.STALE: "… stale",
}


def _value_text(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def reading_cells(reading: TagReading) -> list[Text]:
    quality = Quality(reading.quality)
    return [
        Text(reading.tag),
        Text(_value_text(reading.value), justify="right"),
        Text(reading.type or "—"),
        Text(QUALITY_TEXT.get(quality, str(quality)), style="" if quality is Quality.GOOD else "bold"),
        Text(f"{reading.latency_s * 1000:.1f}", justify="right"),
        Text(reading.error or ""),
    ]


class ConnectionCheckScreen(Dialog[None]):
    """One read of every mapped tag: value, type, quality, latency and the device's error, per tag."""

    HELP_TITLE = "Test connection"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Close", id="test.close", tooltip="Back to the device list"),
        Binding("r", "retry", "Read again", id="test.retry", tooltip="Connect and read every tag once more"),
        # A modal screen hides the app's bindings, F1 included; bring help back explicitly.
        Binding("f1", "app.help", "Help", id="test.help", tooltip="List the keys of this screen"),
    ]
    DEFAULT_CSS = """
    ConnectionCheckScreen #dialog {
        width: 100;
    }
    ConnectionCheckScreen LoadingIndicator {
        height: 3;
    }
    ConnectionCheckScreen #test-readings {
        height: auto;
        max-height: 16;
    }
    ConnectionCheckScreen #test-outcome {
        margin-top: 1;
    }
    """

    def __init__(self, config: Config, source: SourceConfig, *, overall_timeout_s: float | None = None,
                 read: Callable[[], Awaitable[Sequence[TagReading]]] | None = None) -> None:
        super().__init__(f"Test connection: {source.name}")
        self.config = config
        self.source = source
        # How the tags are read: by the engine this TUI is attached to (it holds the passwords), else here.
        self.read = read
        self.tag_count = len({mapping.tag for mapping in tags_of(config, source.name)})
        # A device that accepts the connection and then never answers must not leave the
        # spinner turning forever; the driver's own timeouts should fire well before this.
        self.overall_timeout_s = overall_timeout_s or max(10.0, source.timeout_s * (3 + self.tag_count))
        self.readings: list[TagReading] = []
        self.failure: str | None = None
        self.probe: BrokerProbe | None = None  # a sparkplug source's answer

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield Static(Text.assemble(f"{self.source.kind} at ", (address_of(self.source), "bold"),
                                   f" · {self.tag_count} mapped tag{'' if self.tag_count == 1 else 's'}"),
                     id="test-target")
        yield LoadingIndicator(id="test-loading")
        yield KeyedTable(COLUMNS, id="test-readings", fixed_columns=1)
        yield Static("", id="test-outcome")

    def on_mount(self) -> None:
        self.query_one("#test-readings").display = False
        self.action_retry()

    def action_retry(self) -> None:
        self.query_one("#test-loading").display = True
        if self.source.kind == "sparkplug":
            self.query_one("#test-outcome", Static).update("Connecting to the broker…")
            self._probe_broker()
            return
        self.query_one("#test-outcome", Static).update(
            f"Connecting and reading {self.tag_count} tag{'' if self.tag_count == 1 else 's'}…")
        self._run_test()

    @work(exclusive=True, group="test-connection", exit_on_error=False)
    async def _probe_broker(self) -> None:
        try:
            probe = await asyncio.wait_for(probe_broker(self.source), self.overall_timeout_s)
        except Exception as exc:  # the broker's or the network's words are the answer
            self._show_failure(f"Could not reach the broker of {self.source.name}: {describe_error(exc)}.\n"
                               "Check the host, port, login and TLS files, and that the broker runs; r tries again.")
            return
        self._show_broker(probe)

    def _show_broker(self, probe: BrokerProbe) -> None:
        self.failure = None
        self.probe = probe
        self.readings = []
        self.query_one("#test-loading").display = False
        self.query_one("#test-readings").display = False
        self.query_one("#test-outcome", Static).update(Text.assemble(
            ("✓ The broker took the connection", "bold"), f" in {probe.connect_s * 1000:.0f} ms: {probe.endpoint}.\n"
            "Sparkplug metrics are pushed by the edge nodes (a birth, then changes), so there is nothing to read "
            "on request. The Link and Reads/s columns of the device list show whether they arrive. This test "
            "published nothing and used its own client id, so the engine's session and STATE are untouched."))

    @work(exclusive=True, group="test-connection", exit_on_error=False)
    async def _run_test(self) -> None:
        # The drivers are asyncio-native (the engine runs them on this same loop), and an async
        # worker is cancelled, closing the connection, when the modal closes mid-test.
        started = time.perf_counter()
        try:
            reading = self.read() if self.read is not None else test_source(self.config, self.source)
            readings = list(await asyncio.wait_for(reading, self.overall_timeout_s))
        except NotImplementedError:
            self._show_failure(f"{self.source.kind} sources cannot be test-read by this version of oee.")
            return
        except Exception as exc:  # whatever went wrong is the answer the technician asked for
            self._show_failure(f"Could not read from {self.source.name} at {address_of(self.source)}: "
                               f"{describe_error(exc)}.\nCheck the address, that the device is on and "
                               "reachable from here; r tries again.")
            return
        self._show_readings(readings, time.perf_counter() - started)

    def _show_failure(self, message: str) -> None:
        self.failure = message
        self.readings = []
        self.query_one("#test-loading").display = False
        self.query_one("#test-readings").display = False
        self.query_one("#test-outcome", Static).update(Text.assemble(("✕ ", "bold"), (message, "bold")))

    def _show_readings(self, readings: list[TagReading], elapsed_s: float) -> None:
        self.failure = None
        self.readings = readings
        self.query_one("#test-loading").display = False
        table = self.query_one("#test-readings", KeyedTable)
        table.sync([(reading.tag, reading_cells(reading)) for reading in readings])
        table.display = bool(readings)
        bad = sum(1 for reading in readings if Quality(reading.quality) is not Quality.GOOD)
        if not readings:
            outcome = (f"✓ Connected in {elapsed_s * 1000:.0f} ms. No tag maps read from this source yet: "
                       "press m on the device list to map some.")
        elif bad:
            outcome = f"✕ {bad} of {len(readings)} tags did not read good: see the Error column. r reads again."
        else:
            outcome = f"✓ All {len(readings)} tags read good in {elapsed_s * 1000:.0f} ms. r reads again."
        self.query_one("#test-outcome", Static).update(Text(outcome, style="bold" if bad else ""))
        if readings:
            table.focus()
