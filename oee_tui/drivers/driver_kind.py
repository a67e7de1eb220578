"""What one kind of source declares: its settings and keys, its tag checks, how it delivers, its driver.

One DriverKind per protocol lives beside its driver (modbus/modbus_source.py, ...), and
oee_tui.drivers.registry lists them. The config reader sees a kind through
oee_tui.config.kinds.SourceKind; the forms, the acquisition runner and the device
checks ask the same declaration instead of testing `kind == "..."`. A declaration
never imports its protocol library: only `make_driver` does, when it is called, so a
Modbus-only plant never loads asyncua or paho.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from oee_tui.config import CommonKeys, SourceConfig, TagMapping, TomlReader, TomlTable
from oee_tui.drivers.base import Driver

if TYPE_CHECKING:
    from oee_tui.mqtt.transport import MqttSettings  # paho: only loaded by a kind that talks to a broker

NOT_BROWSABLE: Final = "this kind of source has no browsable address space: type the address instead"
# A counter's width when its tag map gives none and its type does not say: most PLC counters are 32-bit.
DEFAULT_COUNTER_WIDTH: Final = 32
# A kind whose tag maps take the type as free text (the device knows the real one) finds 16-bit
# counters by these names, whatever the protocol calls them.
FREE_TEXT_SIXTEEN_BIT: Final = frozenset({"int16", "uint16", "int", "word"})
DriverFactory = Callable[[SourceConfig, Sequence[TagMapping], Path | None], Driver]


def host_and_port(source: SourceConfig) -> str:
    return f"{source.host}:{source.port}"


def poll_interval(source: SourceConfig) -> float:
    return max(0.001, source.poll_interval_s)


def no_device_time(_source: SourceConfig) -> bool:
    return False


def always_device_time(_source: SourceConfig) -> bool:
    return True


def keeps_mapped_only(_source: SourceConfig) -> bool:
    return False


def any_type(_type_text: str, _tag: str) -> str | None:
    """For a kind whose tag maps take whatever type the device reports: nothing to check."""
    return None


@dataclass(frozen=True, slots=True)
class DriverKind:
    """One kind of source, declared once. `make_driver` is the only part that loads its protocol library."""

    name: str  # the value of `kind` in [[sources]]
    default_port: int
    settings_type: type[SourceConfig]
    keys: frozenset[str]  # the keys it accepts beyond config.COMMON_KEYS
    read_keys: Callable[[TomlReader, TomlTable, str, CommonKeys], SourceConfig]  # its settings from its table
    tag_check: Callable[[str, str | None], str | None]  # tag, type -> the type to use; raises config.TagProblem
    sixteen_bit_types: frozenset[str]  # tag types whose counters wrap at 16 bits; any other type: 32
    # The tag-map form's checks as a person types (oee_tui.field_checks): None, or what is wrong.
    tag_problem: Callable[[str, str], str | None]  # the tag as typed, with the type as typed
    driver: DriverFactory  # source, tags, the config file's path (OPC-UA keeps its certificates beside it)
    subscribes: bool = False  # the device pushes changes (else the driver polls at poll_interval_s)
    expected_interval: Callable[[SourceConfig], float] = poll_interval  # how often data or a keep-alive comes
    type_problem: Callable[[str, str], str | None] = any_type  # the type as typed, with the tag as typed
    address: Callable[[SourceConfig], str] = host_and_port  # where it is, as lists and messages show it
    not_readable: str | None = None  # why `oee devices test` cannot read its tags; None: it can
    not_browsable: str | None = NOT_BROWSABLE  # why it has no address space to browse; None: it has
    # Browsed from what the running engine heard the devices announce (Sparkplug births), never by
    # connecting: then the text says what to do where no engine runs. None: browsed on the device.
    browsed_in_engine: str | None = None
    # MQTT kinds: the broker connection a probe makes (a client id of its own, a clean session).
    broker_probe: Callable[[SourceConfig], MqttSettings] | None = None
    # Whether "is it there?" probes the broker instead of connecting as the source would.
    checked_by_probe: bool = False
    # How a counter's width is found when the tag map gives none and the source tells it (a
    # Sparkplug birth's datatype), as the tag-map form says it; None: the kind's default.
    learned_width: str | None = None
    # Whether a source's samples carry the device's own timestamps (an OPC-UA source timestamp, a Sparkplug
    # metric's): the data-quality checks measure the device clock's skew from them. A polled kind stamps
    # each batch with the box's time of the read, so it has none.
    device_time: Callable[[SourceConfig], bool] = no_device_time
    # Whether the source's samples of tags no machine maps are stored too (and the source is
    # started without tag maps): Sparkplug's keep_all_metrics.
    keeps_every_sample: Callable[[SourceConfig], bool] = keeps_mapped_only

    # ------------------------------------------------------------ config.kinds.SourceKind

    def read_source(self, reader: TomlReader, table: TomlTable, key: str, common: CommonKeys) -> SourceConfig:
        return self.read_keys(reader, table, key, common)

    def check_tag(self, tag: str, tag_type: str | None) -> str | None:
        return self.tag_check(tag, tag_type)

    def counter_width(self, tag_type: str | None) -> int:
        return 16 if tag_type in self.sixteen_bit_types else DEFAULT_COUNTER_WIDTH

    # ------------------------------------------------------------ the rest of the program

    def make_driver(self, source: SourceConfig, tags: Sequence[TagMapping], *, config_path: Path | None) -> Driver:
        """The source's driver; imports its protocol library now, not before."""
        return self.driver(source, tags, config_path)

    def expected_interval_s(self, source: SourceConfig) -> float:
        """How often data (or, for a quiet subscription, a keep-alive) should arrive from `source`."""
        return self.expected_interval(source)

    @property
    def browsable(self) -> bool:
        return self.not_browsable is None

    @property
    def readable(self) -> bool:
        return self.not_readable is None
