"""Every kind of source there is, and the config reader bound to them.

Each kind is declared once beside its driver (oee_tui.drivers.driver_kind.DriverKind).
The program asks this registry about a source's protocol instead of testing
`kind == "..."`, and loads its config through the functions here, which hand the
kinds to oee_tui.config (that package knows no driver); a config opened for editing
is handed them too: `ConfigDocument.open(path, KINDS)`. Importing this module loads
no protocol library: a kind's driver module is imported when its first driver is made.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Final

from oee_tui.config import Config, SourceConfig, TagMapping, TomlTable, loading
from oee_tui.drivers.base import Driver
from oee_tui.drivers.driver_kind import DriverKind
from oee_tui.drivers.logix.logix_source import LOGIX
from oee_tui.drivers.modbus.modbus_source import MODBUS
from oee_tui.drivers.mqtt_json.mqtt_json_source import MQTT
from oee_tui.drivers.opcua.opcua_source import OPCUA
from oee_tui.drivers.s7.s7_source import S7
from oee_tui.drivers.sparkplug.sparkplug_source import SPARKPLUG

# In the order the config reader lists them when `kind` is wrong.
KINDS: Final[Mapping[str, DriverKind]] = MappingProxyType(
    {kind.name: kind for kind in (MODBUS, OPCUA, S7, LOGIX, SPARKPLUG, MQTT)})
SOURCE_KINDS: Final = tuple(KINDS)
DEFAULT_PORTS: Final = MappingProxyType({kind.name: kind.default_port for kind in KINDS.values()})


def kind_named(name: str) -> DriverKind:
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown kind {name!r}; known kinds: {', '.join(KINDS)}") from None


def kind_of(source: SourceConfig) -> DriverKind:
    return kind_named(source.kind)


def make_driver(source: SourceConfig, tags: Sequence[TagMapping], *, config_path: Path | None) -> Driver:
    """The driver for `source`. `config_path` is the file the source was read from: OPC-UA keeps this
    client's certificate and the trusted and rejected server certificates beside it (pki/); None, for a
    config that is not a file, uses the user's config folder."""
    return kind_of(source).make_driver(source, tags, config_path=config_path)


def load_config(path: Path | str, *, secrets: bool = True) -> Config:
    """oee_tui.config.load_config with every kind of source."""
    return loading.load_config(path, KINDS, secrets=secrets)


def parse_config(text: str, path: Path | str = "<config>", *, secrets: bool = True) -> Config:
    return loading.parse_config(text, KINDS, path, secrets=secrets)


def config_from_dict(data: TomlTable, path: Path | str = "<config>") -> Config:
    return loading.config_from_dict(data, KINDS, path)
