"""What the edge node tells a user about itself: its counters, its status in a few words, and
the view of it that the Devices screen reads.

Nothing here touches MQTT, so the screens can name the edge node without loading paho.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from oee_tui.config import EdgeConfig


@dataclass(slots=True)
class EdgeStats:
    connected: bool = False
    live: bool = False  # births out and buffer replayed: changes go straight out
    connects: int = 0
    messages: int = 0  # DDATA published (live and replayed)
    metrics: int = 0
    births: int = 0  # NBIRTHs published (connects and rebirths)
    rebirths_answered: int = 0
    buffered: int = 0  # rows written to the buffer
    replayed: int = 0  # rows sent from the buffer
    dropped: int = 0  # rows dropped because the buffer was full
    unknown_replayed: int = 0  # buffered rows whose machine or signal no longer exists
    next_servers_answered: int = 0  # NCMD Node Control/Next Server: sessions ended to connect again
    host_offline_ends: int = 0  # sessions ended because the primary host's STATE said offline
    commands_ignored: int = 0  # NCMD metrics other than the node controls we answer
    commands_refused: int = 0  # DCMD messages: writes to read-only machine metrics, or unknown devices
    commands_undecodable: int = 0  # NCMD/DCMD/STATE payloads that could not be decoded
    waiting_for_host: str | None = None  # the primary host id while births wait for its STATE online
    last_error: str | None = None

    @property
    def status(self) -> str:
        """One line for a user: what the edge node is doing now."""
        if self.live:
            return "live"
        if not self.connected:
            return "offline, buffering"
        if self.waiting_for_host is not None:
            return f"waiting for primary host {self.waiting_for_host}"
        return "replaying the buffer"


@runtime_checkable
class EdgeView(Protocol):
    """What the Devices screen reads of an edge node, once per refresh: plain attribute reads,
    so the refresh costs the node nothing (no lock, no store query, no work on the publish path).
    The screen finds the node among the engine's observers by this shape."""

    @property
    def config(self) -> EdgeConfig: ...

    @property
    def stats(self) -> EdgeStats: ...

    @property
    def where(self) -> str:
        """The broker's URL."""
        ...

    @property
    def session_bd_seq(self) -> int | None:
        """The bdSeq of the connection now open (its NBIRTH's and its will's); None between connections."""
        ...

    @property
    def buffered_rows(self) -> int:
        """Changes waiting to be sent as history: rows in the store's buffer plus those on their way there."""
        ...
