"""Source kind "logix": its settings (the CPU's slot, the tag upload), its tag-name check, and its declaration."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Final

from oee_tui.config import CommonKeys, SourceConfig, TagMapping, TagProblem, TomlReader, TomlTable
from oee_tui.drivers.base import Driver, settings_of
from oee_tui.drivers.driver_kind import FREE_TEXT_SIXTEEN_BIT, DriverKind, host_and_port


@dataclass(frozen=True, slots=True)
class LogixSource(SourceConfig):
    """One ControlLogix or CompactLogix controller."""

    kind: ClassVar[str] = "logix"
    port: int = 44818
    slot: int | None = None  # the CPU's backplane slot; None: the driver's default (0)
    # Upload the controller's tag list on connect. Gateways and simulators that cannot serve it
    # (cpppo's) need false, and then each tag map declares the tag's type.
    tag_upload: bool = True


def _read(r: TomlReader, t: TomlTable, key: str, common: CommonKeys) -> LogixSource:
    return LogixSource(**common, slot=None if t.get("slot") is None else r.integer(t, key, "slot", 0, 0, 31),
                       tag_upload=r.boolean(t, key, "tag_upload", True))


def tag_type(tag: str, given_type: str | None) -> str | None:
    # Imported on first use, as the other kinds' checkers: `oee report` loads only the kinds its plant uses.
    from oee_tui.drivers.logix.tag_list import check_tag_name

    problem = check_tag_name(tag)
    if problem is not None:
        raise TagProblem(problem)
    return given_type


def check_logix_tag(text: str, _type_text: str = "") -> str | None:
    """A Logix tag name such as Program:Main.Count or Line1_Count[3].Value, as typed."""
    from oee_tui.drivers.logix.tag_list import check_tag_name

    if not text.strip():
        return "is required, such as Line1_Count or Program:Main.Count"
    return check_tag_name(text.strip())


def _address(source: SourceConfig) -> str:
    logix = settings_of(source, LogixSource)
    return host_and_port(logix) + ("" if logix.slot is None else f" slot {logix.slot}")


def _driver(source: SourceConfig, tags: Sequence[TagMapping], _config_path: Path | None) -> Driver:
    from oee_tui.drivers.logix.logix_driver import LogixDriver

    return LogixDriver(settings_of(source, LogixSource), tags)


LOGIX: Final = DriverKind(
    name="logix",
    default_port=44818,
    settings_type=LogixSource,
    keys=frozenset({"slot", "tag_upload"}),
    read_keys=_read,
    tag_check=tag_type,
    sixteen_bit_types=FREE_TEXT_SIXTEEN_BIT,
    tag_problem=check_logix_tag,
    address=_address,
    not_browsable=None,
    driver=_driver,
)
