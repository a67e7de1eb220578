"""The plant as its config file describes it: site, lines, machines and their signals, sources, shifts.

Typed and immutable; read from TOML by oee_tui.config.loading. Nothing here imports
Textual, a driver, or touches the network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

import platformdirs

from oee_tui.config.access import AccessSettings
from oee_tui.config.alert_rules import AlertSettings
from oee_tui.config.central_settings import CentralSettings
from oee_tui.config.edge_settings import EdgeConfig
from oee_tui.config.reasons import Reason
from oee_tui.config.service_settings import ServiceSettings
from oee_tui.config.shift_times import ShiftConfig
from oee_tui.config.sources import SourceConfig
from oee_tui.config.store_settings import StoreConfig
from oee_tui.config.validation_settings import ValidationSettings
from oee_tui.model import Signal

APP_NAME: Final = "oee-tui"
CONFIG_FILENAME: Final = "oee.toml"
BYTE_ORDERS: Final = ("big", "little")
COUNTER_WIDTHS: Final = (16, 32, 64)


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / CONFIG_FILENAME


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME))


@dataclass(frozen=True, slots=True)
class SiteConfig:
    name: str
    timezone: str
    stale_after_s: float = 10.0
    # A stop shorter than this needs no reason: the 0-1 s stops of a start-up or a sensor's flicker would
    # otherwise bury the stops worth explaining. Its time still counts as lost.
    reason_min_stop_s: float = 5.0


@dataclass(frozen=True, slots=True)
class LineConfig:
    id: str
    name: str
    area: str


@dataclass(frozen=True, slots=True)
class TagMapping:
    """Which tag of which source feeds one machine signal."""

    signal: Signal
    source: str
    tag: str  # modbus: "hr:100"; opcua: a node id such as "ns=2;s=Filler.Count"
    type: str | None = None  # modbus data type; opcua takes the server's type
    width: int | None = None  # counter width in bits; counters only
    # False: `width` is the kind's default, which a source that learns the tag's datatype
    # (a Sparkplug birth) replaces; True: the tag map gave it, and it wins.
    width_given: bool = True
    deadband: float = 0.0
    byte_order: str | None = None  # modbus override of the source's setting
    word_order: str | None = None
    # The values the tag may take (`min`/`max` in the tag map): a good sample outside counts as a
    # range violation in the data-quality checks (engine/live/data_quality.py). None: no bound.
    range_min: float | None = None
    range_max: float | None = None


@dataclass(frozen=True, slots=True)
class MachineConfig:
    id: str
    name: str
    line: str
    ideal_cycle_time_s: float
    micro_stop_threshold_s: float = 120.0
    startup_period_s: float = 300.0
    target_per_hour: float | None = None
    product_cycle_times: dict[str, float] = field(default_factory=dict)
    state_map: dict[int, str] = field(default_factory=dict)
    signals: dict[Signal, TagMapping] = field(default_factory=dict)
    default_product: str | None = None
    # A counter's change is counted only up to (time since its last reading) / the fastest ideal
    # cycle time x this margin, plus one part; a bigger jump is rebaselined (engine/live/counters.py).
    counter_jump_margin: float = 2.0
    # A state or stop shorter than this is a fragment: the tracker absorbs it into the state before
    # it, and a stop with less open time than this is no stop event (engine/oee/calculator.py).
    settle_time_s: float = 1.0

    def cycle_time_for(self, product: str | None) -> float:
        if product is not None and product in self.product_cycle_times:
            return self.product_cycle_times[product]
        return self.ideal_cycle_time_s

    def fastest_cycle_time(self) -> float:
        """The shortest ideal cycle time of the machine or any of its products: its fastest rate."""
        return min((self.ideal_cycle_time_s, *self.product_cycle_times.values()))


@dataclass(frozen=True, slots=True)
class Targets:
    oee: float = 0.85
    availability: float = 0.90
    performance: float = 0.95
    quality: float = 0.99


@dataclass(frozen=True, slots=True)
class Config:
    site: SiteConfig
    lines: tuple[LineConfig, ...]
    machines: tuple[MachineConfig, ...]
    sources: tuple[SourceConfig, ...]  # each of its kind's own settings type, in file order
    reasons: tuple[Reason, ...]
    shifts: tuple[ShiftConfig, ...]
    targets: Targets = Targets()
    path: Path | None = None
    edge: EdgeConfig = field(default_factory=EdgeConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    access: AccessSettings = field(default_factory=AccessSettings)
    # The keys whose secret (a password, a PIN's hash) is written in the file itself, not taken from a
    # variable or a file: config_warnings says so when others may read the file.
    secrets_in_file: tuple[str, ...] = ()
    private_key_files: tuple[tuple[str, str], ...] = ()  # (key, path as written): the TLS and OPC-UA user keys
    service: ServiceSettings = field(default_factory=ServiceSettings)
    validation: ValidationSettings = field(default_factory=ValidationSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    central: CentralSettings | None = None  # None: no [central] section, no sync

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.site.timezone)

    def machine(self, machine_id: str) -> MachineConfig:
        for machine in self.machines:
            if machine.id == machine_id:
                return machine
        raise KeyError(machine_id)

    def reason(self, code: str) -> Reason | None:
        for reason in self.reasons:
            if reason.code == code:
                return reason
        return None

    def source(self, name: str) -> SourceConfig:
        for source in self.sources:
            if source.name == name:
                return source
        raise KeyError(name)


DEFAULT_STATE_MAP: Final[dict[int, str]] = {
    0: "offline",
    1: "running",
    2: "stopped",
    3: "down",
    4: "changeover",
    5: "planned_stop",
}
