"""Source kind "modbus": its settings, how its keys and tag addresses are checked, and its declaration.

A tag is an address such as "hr:100" (holding register), "ir:7" (input register),
"co:3" (coil) or "di:0" (discrete input), with a data type that must fit its area.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Final

from oee_tui.config import BYTE_ORDERS, CommonKeys, SourceConfig, TagMapping, TagProblem, TomlReader, TomlTable
from oee_tui.drivers.base import Driver, settings_of
from oee_tui.drivers.driver_kind import DriverKind

MODBUS_TYPES: Final = ("bool", "int16", "uint16", "int32", "uint32", "float32")
BIT_AREAS: Final = ("co", "di")
REGISTER_AREAS: Final = ("hr", "ir")
_ADDRESS: Final = re.compile(r"^(hr|ir|co|di):(\d{1,5})$")
_TYPED_ADDRESS: Final = re.compile(r"^(hr|ir|co|di):(\d+)$")  # as typed: the number is checked on its own
_REGISTER_TYPES_TEXT: Final = "registers are int16, uint16, int32, uint32 or float32"


@dataclass(frozen=True, slots=True)
class ModbusSource(SourceConfig):
    """One Modbus TCP device (one unit id)."""

    kind: ClassVar[str] = "modbus"
    port: int = 502
    unit_id: int = 1
    byte_order: str = "big"  # the two bytes inside a register; a tag map may override it
    word_order: str = "big"  # which register holds the high word of a 32-bit value
    max_registers_per_read: int = 120


def _read(r: TomlReader, t: TomlTable, key: str, common: CommonKeys) -> ModbusSource:
    return ModbusSource(
        **common,
        unit_id=r.integer(t, key, "unit_id", 1, 0, 255),
        byte_order=r.string(t, key, "byte_order", default="big", choices=BYTE_ORDERS),
        word_order=r.string(t, key, "word_order", default="big", choices=BYTE_ORDERS),
        max_registers_per_read=r.integer(t, key, "max_registers_per_read", 120, 1, 125),
    )


def default_type(address: str) -> str:
    """The type the config reader assumes when a Modbus tag map gives none."""
    return "bool" if address.strip()[:2] in BIT_AREAS else "uint16"


def tag_type(tag: str, given_type: str | None) -> str:
    """The config reader's check of a tag map: the address, and a type that fits its area."""
    match = _ADDRESS.match(tag)
    if not match or int(match.group(2)) > 65535:
        raise TagProblem("must be a Modbus address hr:N, ir:N, co:N or di:N with N from 0 to 65535")
    area = match.group(1)
    type_name = default_type(tag) if given_type is None else given_type
    if type_name not in MODBUS_TYPES:
        raise TagProblem(f"must be one of {', '.join(MODBUS_TYPES)}", "type")
    if area in BIT_AREAS and type_name != "bool":
        raise TagProblem(f"must be bool for a {area} (bit) address", "type")
    if area in REGISTER_AREAS and type_name == "bool":
        raise TagProblem(f"bool needs a co: or di: address; {_REGISTER_TYPES_TEXT}", "type")
    return type_name


def check_modbus_address(text: str) -> str | None:
    """The tag field of the form, as typed."""
    match = _TYPED_ADDRESS.match(text.strip())
    if match is None:
        return ("must be a Modbus address: hr:N (holding register), ir:N (input register), "
                "co:N (coil) or di:N (discrete input)")
    if int(match.group(2)) > 65535:
        return f"address {match.group(2)} is out of range: N must be from 0 to 65535"
    return None


def check_modbus_type(type_text: str, address: str = "") -> str | None:
    """A Modbus data type, and whether it fits the address's area (bits are bool, registers are not)."""
    type_name = type_text.strip()
    if not type_name:
        return None  # the default for the area is used
    if type_name not in MODBUS_TYPES:
        return f"must be one of {', '.join(MODBUS_TYPES)}"
    area = address.strip()[:2]
    if area in BIT_AREAS and type_name != "bool":
        return f"must be bool for a {area}: (single bit) address"
    if area in REGISTER_AREAS and type_name == "bool":
        return f"bool needs a co: or di: address; {_REGISTER_TYPES_TEXT}"
    return None


def _driver(source: SourceConfig, tags: Sequence[TagMapping], _config_path: Path | None) -> Driver:
    from oee_tui.drivers.modbus.modbus_driver import ModbusDriver

    return ModbusDriver(settings_of(source, ModbusSource), tags)


MODBUS: Final = DriverKind(
    name="modbus",
    default_port=502,
    settings_type=ModbusSource,
    keys=frozenset({"unit_id", "byte_order", "word_order", "max_registers_per_read"}),
    read_keys=_read,
    tag_check=tag_type,
    sixteen_bit_types=frozenset({"int16", "uint16"}),
    tag_problem=lambda tag, _type_text: check_modbus_address(tag),
    type_problem=check_modbus_type,
    driver=_driver,
)
