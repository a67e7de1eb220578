"""Tag types declared in the tag map, for a Logix source whose tag list is not uploaded (tag_upload = false).

Without the upload, pycomm3 knows nothing of a tag, so the driver tells it each mapped
tag's type from here. What the tag map declares is checked against the type code the
controller puts in its reply on connect: a REAL declared as DINT would otherwise be
read as a plausible-looking wrong integer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from oee_tui.config import TagMapping
from oee_tui.drivers.logix.tag_list import INTEGER_BITS, TagName, parse_tag_name

# The atomic types a tag map may declare, as Logix names them, by their CIP type codes (1756-PM020).
TYPE_CODES: Final = {0xC1: "BOOL", 0xC2: "SINT", 0xC3: "INT", 0xC4: "DINT", 0xC5: "LINT", 0xC6: "USINT",
                     0xC7: "UINT", 0xC8: "UDINT", 0xC9: "ULINT", 0xCA: "REAL", 0xCB: "LREAL"}
DECLARABLE_TYPES: Final = tuple(TYPE_CODES.values())
_TYPE_LIST: Final = ", ".join(DECLARABLE_TYPES)


@dataclass(frozen=True, slots=True)
class DeclaredTag:
    """A mapped tag with its declared type: the type the controller replies with when it is read, which for
    a bit (`Counts[2].5`) is the integer that holds it."""

    tag: str
    name: TagName
    type_name: str

    @property
    def value_type(self) -> str:
        """The type of the value a poll gives: BOOL for a bit of an integer."""
        return "BOOL" if self.name.bit is not None else self.type_name


def declare_tags(tags: Sequence[TagMapping], source_name: str) -> tuple[dict[str, DeclaredTag], dict[str, str]]:
    """Each mapped tag with its declared type, and the tags that cannot be read, with why."""
    declared: dict[str, DeclaredTag] = {}
    invalid: dict[str, str] = {}
    for mapping in tags:
        if mapping.tag in declared or mapping.tag in invalid:
            continue  # one tag may feed several signals; its first map with a type says it
        given = next((m.type for m in tags if m.tag == mapping.tag and m.type), None)
        try:
            name = parse_tag_name(mapping.tag)
        except ValueError as exc:
            invalid[mapping.tag] = str(exc)
            continue
        if given is None:
            invalid[mapping.tag] = (f"{mapping.tag!r} has no type: source {source_name} has tag_upload = false, so "
                                    f"each tag map declares its tag's type (one of {_TYPE_LIST})")
            continue
        type_name = given.strip().upper()
        if type_name not in DECLARABLE_TYPES:
            invalid[mapping.tag] = (f"{mapping.tag!r}: type {given!r} is not a Logix type this driver can read "
                                    f"without the tag upload; use one of {_TYPE_LIST}")
            continue
        if name.bit is not None and type_name not in INTEGER_BITS:
            invalid[mapping.tag] = (f"{mapping.tag!r} is bit {name.bit} of an integer: declare the integer's "
                                    f"type (SINT, INT, DINT or LINT), not {type_name}")
            continue
        declared[mapping.tag] = DeclaredTag(mapping.tag, name, type_name)
    return declared, invalid


def type_mismatch(declared: DeclaredTag, controller_type: str) -> str | None:
    """Why the declared type is wrong, given the type the controller replied with; None when it is right."""
    if controller_type == declared.type_name:
        return None
    return (f"{declared.tag!r}: the tag map declares {declared.type_name} but the controller says "
            f"{controller_type}; correct the tag map's type")
