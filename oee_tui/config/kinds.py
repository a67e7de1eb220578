"""What the config reader needs from a kind of source, and how [[sources]] are read through the kinds.

The kinds themselves (Modbus, OPC-UA, S7, ...) live with their drivers
(oee_tui.drivers.registry) and are handed to the reader by whoever loads a
config, so this package never imports a driver or a protocol codec.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, Protocol, TypeAlias

from oee_tui.config.sources import COMMON_KEYS, CommonKeys, SourceConfig
from oee_tui.config.toml_reader import TomlReader, TomlTable, entry_key


class TagProblem(ValueError):
    """A tag map's tag or type that its source cannot read; the message is the config reader's words."""

    def __init__(self, message: str, field: Literal["tag", "type"] = "tag") -> None:
        super().__init__(message)
        self.field = field


class SourceKind(Protocol):
    """One kind of source as the config reader sees it: its keys and how its tag maps are checked."""

    @property
    def name(self) -> str:
        """The value of `kind` in a [[sources]] table."""

    @property
    def default_port(self) -> int: ...

    @property
    def keys(self) -> frozenset[str]:
        """The keys a source of this kind accepts beyond the common ones (sources.COMMON_KEYS)."""

    def read_source(self, reader: TomlReader, table: TomlTable, key: str, common: CommonKeys) -> SourceConfig:
        """The source's settings: the common keys as read, its own keys read and checked from `table`."""

    def check_tag(self, tag: str, tag_type: str | None) -> str | None:
        """The tag map's type, with the kind's default filled in; raises TagProblem."""

    def counter_width(self, tag_type: str | None) -> int:
        """A counter's width in bits when the tag map gives none."""


SourceKinds: TypeAlias = Mapping[str, SourceKind]  # by name, in the order `kind` lists them in errors


def read_sources(r: TomlReader, data: TomlTable, kinds: SourceKinds) -> tuple[SourceConfig, ...]:
    out: list[SourceConfig] = []
    seen: set[str] = set()
    for i, t in enumerate(r.tables(data, "sources", "sources")):
        with r.noting(entry_key("sources", i, t, "name")):
            key = entry_key("sources", i, t, "name")
            name = r.string(t, key, "name")
            r.unique(f"{key}.name", seen, name)
            key = f"sources[{name}]"
            kind = kinds[r.string(t, key, "kind", choices=tuple(kinds))]
            r.unknown_keys(t, key, COMMON_KEYS | kind.keys)
            reconnect_min = r.number(t, key, "reconnect_min_s", default=0.5, positive=True)
            reconnect_max = r.number(t, key, "reconnect_max_s", default=30.0, positive=True)
            if reconnect_max < reconnect_min:
                raise r.fail(f"{key}.reconnect_max_s", reconnect_max,
                             f"must be at least reconnect_min_s ({reconnect_min})")
            common = CommonKeys(
                name=name,
                host=r.string(t, key, "host", default="127.0.0.1"),
                port=r.integer(t, key, "port", kind.default_port, 1, 65535),
                poll_interval_s=r.number(t, key, "poll_interval_s", default=1.0, positive=True),
                timeout_s=r.number(t, key, "timeout_s", default=3.0, positive=True),
                reconnect_min_s=reconnect_min,
                reconnect_max_s=reconnect_max,
                queue_size=r.integer(t, key, "queue_size", 10_000, 10, 10_000_000),
                expected_every_s=None if t.get("expected_every_s") is None
                else r.number(t, key, "expected_every_s", positive=True),
            )
            out.append(kind.read_source(r, t, key, common))
    return tuple(out)
