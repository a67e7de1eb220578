"""``[[sources]]``: the settings every kind of source has.

Each kind adds its own settings type (oee_tui.drivers: ModbusSource, OpcUaSource, ...) and
reads its own keys (oee_tui.config.kinds); `Config.sources` holds them in file order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Final, TypedDict

COMMON_KEYS: Final = frozenset({"name", "kind", "host", "port", "poll_interval_s", "timeout_s",
                                "reconnect_min_s", "reconnect_max_s", "queue_size", "expected_every_s"})


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """What every source has. Each kind's settings type subclasses it and names its `kind`."""

    kind: ClassVar[str]
    name: str
    host: str = "127.0.0.1"
    port: int = 502
    poll_interval_s: float = 1.0
    timeout_s: float = 3.0
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0
    queue_size: int = 10_000
    # Data quality: each mapped tag should send a sample at least this often. A polled source's
    # default is its poll interval; a subscription's is None (its completeness is n/a).
    expected_every_s: float | None = None


class CommonKeys(TypedDict):
    """The common keys of one [[sources]] table as read: a kind builds its settings type from them."""

    name: str
    host: str
    port: int
    poll_interval_s: float
    timeout_s: float
    reconnect_min_s: float
    reconnect_max_s: float
    queue_size: int
    expected_every_s: float | None
