"""Source kind "s7": its settings (rack and slot, or both TSAPs), its tag check, and its declaration.

Tags are checked with the driver's own address parser (address.py, pure Python), so the
file is refused for an address the driver could not read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Final

from oee_tui.config import CommonKeys, SourceConfig, TagMapping, TagProblem, TomlReader, TomlTable
from oee_tui.drivers.base import Driver, settings_of
from oee_tui.drivers.driver_kind import DriverKind, host_and_port

_TSAP: Final = re.compile(r"^[0-9A-Fa-f]{2}\.[0-9A-Fa-f]{2}$")


@dataclass(frozen=True, slots=True)
class S7Source(SourceConfig):
    """One S7 CPU; reached by rack and slot, or by both TSAPs as Siemens writes them ("01.00", "03.01")."""

    kind: ClassVar[str] = "s7"
    port: int = 102
    rack: int = 0
    slot: int | None = None  # 1 for S7-1200/1500, 2 for S7-300; None: the driver's default
    local_tsap: str | None = None
    remote_tsap: str | None = None


def _read(r: TomlReader, t: TomlTable, key: str, common: CommonKeys) -> S7Source:
    tsaps: dict[str, str | None] = {}
    for field_name in ("local_tsap", "remote_tsap"):
        tsap = r.opt_string(t, key, field_name)
        if tsap is not None and not _TSAP.match(tsap):
            raise r.fail(f"{key}.{field_name}", tsap, "must be a TSAP as Siemens writes it, such as 01.00 or 03.01")
        tsaps[field_name] = tsap
    if (tsaps["local_tsap"] is None) != (tsaps["remote_tsap"] is None):
        raise r.fail(f"{key}.remote_tsap" if tsaps["remote_tsap"] is None else f"{key}.local_tsap", None,
                     "give both local_tsap and remote_tsap, or neither (then rack and slot are used)")
    return S7Source(
        **common,
        rack=r.integer(t, key, "rack", 0, 0, 7),
        slot=None if t.get("slot") is None else r.integer(t, key, "slot", 0, 0, 31),
        local_tsap=tsaps["local_tsap"],
        remote_tsap=tsaps["remote_tsap"],
    )


def tag_type(tag: str, given_type: str | None) -> str:
    """The address's type in lower case ("dint", "real"), from the address or the type given with it."""
    # Imported on first use, as the other kinds' checkers: `oee report` loads only the kinds its plant uses.
    from oee_tui.drivers.s7.address import parse_s7_address

    try:
        return parse_s7_address(tag, given_type).type.lower()
    except ValueError as exc:
        raise TagProblem(str(exc)) from None


def check_s7_address(text: str, type_text: str = "") -> str | None:
    """The tag field of the form, as the S7 driver parses it (with the type field, if filled)."""
    from oee_tui.drivers.s7.address import parse_s7_address

    if not text.strip():
        return "is required, such as DB1.DBD0 or M10.0"
    try:
        parse_s7_address(text.strip(), type_text.strip() or None)
    except ValueError as exc:
        return str(exc) or "is not an S7 address the driver can read"
    return None


def check_s7_type(type_text: str, tag: str) -> str | None:
    """The type field: a complaint only when the address alone is fine, so it is about the type."""
    if type_text.strip() and check_s7_address(tag) is None:
        return check_s7_address(tag, type_text)
    return None


def _address(source: SourceConfig) -> str:
    s7 = settings_of(source, S7Source)
    return host_and_port(s7) + ("" if s7.slot is None else f" slot {s7.slot}")


def _driver(source: SourceConfig, tags: Sequence[TagMapping], _config_path: Path | None) -> Driver:
    from oee_tui.drivers.s7.s7_driver import S7Driver

    return S7Driver(settings_of(source, S7Source), tags)


S7: Final = DriverKind(
    name="s7",
    default_port=102,
    settings_type=S7Source,
    keys=frozenset({"rack", "slot", "local_tsap", "remote_tsap"}),
    read_keys=_read,
    tag_check=tag_type,
    sixteen_bit_types=frozenset({"int", "word"}),
    tag_problem=check_s7_address,
    type_problem=check_s7_type,
    address=_address,
    driver=_driver,
)
