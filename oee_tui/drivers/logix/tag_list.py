"""Logix tag names and the controller's tag list, without pycomm3.

`check_tag_name` is a pure syntax check, so the config reader can use it on any
machine. On connect the driver turns pycomm3's upload into a small immutable `TagList`,
so mapped names are resolved, and the address space browsed, without the PLC.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from oee_tui.drivers.base import BrowseEntry

# Browsing a big array lists its first elements only; a person pages a 10 000-element
# array by typing an index, not by scrolling.
BROWSE_MAX_ELEMENTS: Final = 1000
MAX_NAME_LENGTH: Final = 40  # Logix limit for tag, member and program names
INTEGER_BITS: Final = {"SINT": 8, "USINT": 8, "INT": 16, "UINT": 16, "DINT": 32, "UDINT": 32, "LINT": 64,
                       "ULINT": 64, "BYTE": 8, "WORD": 16, "DWORD": 32, "LWORD": 64}

# ---------------------------------------------------------------- tag names (no pycomm3)

_IDENT: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# The first part may be an I/O module tag such as Local:1:I; later parts are plain members.
_BASE_PART: Final = re.compile(r"([A-Za-z_][A-Za-z0-9_]*(?::[A-Za-z0-9_]+)*)(?:\[([^\]]*)\])?")
_MEMBER_PART: Final = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[([^\]]*)\])?")


@dataclass(frozen=True, slots=True)
class TagName:
    """A parsed Logix tag reference: optional program, parts with element indexes, optional bit number."""

    program: str | None
    parts: tuple[tuple[str, tuple[int, ...]], ...]
    bit: int | None = None

    @property
    def base(self) -> str:
        """The name of the tag in the tag list: "Counts", "Program:MainProgram.LocalCount"."""
        first = self.parts[0][0]
        return first if self.program is None else f"Program:{self.program}.{first}"


def _check_identifier(name: str, what: str, text: str) -> None:
    first, *others = name.split(":")  # only an I/O module tag (Local:1:I) has more than one piece
    for piece in [first, *others]:
        if not _IDENT.fullmatch(piece) and not (piece is not first and piece.isdigit()):
            raise ValueError(f"{text!r}: {what} {name!r} must start with a letter or _ and hold only letters, "
                             f"digits and _")
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"{text!r}: {what} {name!r} is longer than {MAX_NAME_LENGTH} characters")
    if "__" in name or name.endswith("_"):
        raise ValueError(f"{text!r}: {what} {name!r} has two underscores in a row or ends in _, "
                         f"which Logix does not allow")


def parse_tag_name(text: str) -> TagName:
    """Parse "Tag", "Arr[3]", "Arr[1,2]", "Udt.Member", "Word.5" or "Program:Name.Tag"; ValueError says why not."""
    if not text or not text.strip():
        raise ValueError("tag name is empty")
    if any(c.isspace() for c in text):
        raise ValueError(f"{text!r}: a Logix tag name has no spaces")
    if "{" in text or "}" in text:
        raise ValueError(f"{text!r}: an element count {{n}} reads several values; map one element, "
                         f"such as Counts[3]")
    program: str | None = None
    rest = text
    if text.startswith("Program:"):
        program, dot, rest = text[len("Program:"):].partition(".")
        if not program:
            raise ValueError(f"{text!r}: give the program's name after Program:")
        if ":" in program:
            raise ValueError(f"{text!r}: program {program!r} must not contain ':'")
        _check_identifier(program, "program", text)
        if not dot or not rest:
            raise ValueError(f"{text!r}: give a tag after the program, such as Program:{program}.Count")
    pieces = rest.split(".")
    bit: int | None = None
    if len(pieces) > 1 and pieces[-1].isdigit():
        bit = int(pieces.pop())
        if bit > 63:
            raise ValueError(f"{text!r}: bit {bit} is out of range; integers have at most 64 bits (0..63)")
    parts: list[tuple[str, tuple[int, ...]]] = []
    for position, piece in enumerate(pieces):
        pattern = _BASE_PART if position == 0 and program is None else _MEMBER_PART
        match = pattern.fullmatch(piece)
        if not match:
            if not piece:
                raise ValueError(f"{text!r}: empty name between dots")
            raise ValueError(f"{text!r}: {piece!r} is not a tag or member name; a name must start with a letter "
                             f"or _ and hold only letters, digits and _, optionally followed by an [index]")
        name, index_text = match.group(1), match.group(2)
        _check_identifier(name, "member" if position else "tag", text)
        indexes: tuple[int, ...] = ()
        if index_text is not None:
            items = index_text.split(",")
            if not all(item.isdigit() for item in items) or not 1 <= len(items) <= 3:
                raise ValueError(f"{text!r}: index [{index_text}] must be one to three whole numbers, "
                                 f"such as [3] or [1,2]")
            indexes = tuple(int(item) for item in items)
        parts.append((name, indexes))
    return TagName(program, tuple(parts), bit)


def check_tag_name(text: str) -> str | None:
    """Why `text` is not a syntactically valid Logix tag reference, or None if it is. Needs no PLC."""
    try:
        parse_tag_name(text)
    except ValueError as exc:
        return str(exc)
    return None


# ---------------------------------------------------------------- the uploaded tag list


@dataclass(frozen=True, slots=True)
class LogixType:
    """A data type: atomic ("DINT"), string-like (readable as text) or a structure with public members."""

    name: str
    members: tuple[LogixMember, ...] = ()
    is_struct: bool = False

    def member(self, name: str) -> LogixMember | None:
        return next((m for m in self.members if m.name == name), None)


@dataclass(frozen=True, slots=True)
class LogixMember:
    name: str
    type: LogixType
    dims: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class LogixTag:
    name: str  # as pycomm3 reads it: "Counts", "Program:MainProgram.LocalCount"
    type: LogixType
    dims: tuple[int, ...] = ()


def type_text(type_: LogixType, dims: Sequence[int]) -> str:
    return f"{type_.name}[{','.join(map(str, dims))}]" if dims else type_.name


@dataclass(frozen=True, slots=True)
class Node:
    """What a tag reference points at: a type, the array dimensions still to index, a bit number."""

    name: str
    type: LogixType
    dims: tuple[int, ...] = ()
    bit: int | None = None

    @property
    def readable(self) -> bool:
        return not self.dims and not self.type.is_struct

    @property
    def type_name(self) -> str:
        return "BOOL" if self.bit is not None else type_text(self.type, self.dims)


class TagList:
    """The controller's tags as uploaded on connect; resolves names and answers browse requests."""

    def __init__(self, tags: Iterable[LogixTag], programs: Iterable[str]) -> None:
        self.tags: dict[str, LogixTag] = {t.name: t for t in tags}
        self.programs: tuple[str, ...] = tuple(programs)

    def __len__(self) -> int:
        return len(self.tags)

    def node(self, text: str) -> Node:
        """Walk a reference through arrays and members; ValueError names the part that does not exist."""
        name = parse_tag_name(text)
        if name.program is not None and name.program not in self.programs:
            known = ", ".join(self.programs) or "none"
            raise ValueError(f"{text!r}: program {name.program!r} is not in the controller (programs: {known})")
        tag = self.tags.get(name.base)
        if tag is None:
            raise ValueError(f"{text!r}: tag {name.base!r} is not in the controller's tag list "
                             f"({len(self.tags)} tags uploaded on connect)")
        type_, dims = tag.type, tag.dims
        path = ""
        for position, (part, indexes) in enumerate(name.parts):
            if position:
                if dims:
                    raise ValueError(f"{text!r}: {path} is an array ({type_text(type_, dims)}); index it before "
                                     f".{part}")
                member = type_.member(part)
                if member is None:
                    if not type_.is_struct:
                        raise ValueError(f"{text!r}: {path} is a {type_.name}, which has no members")
                    members = ", ".join(m.name for m in type_.members)
                    raise ValueError(f"{text!r}: {type_.name} has no member {part!r} (members: {members})")
                type_, dims = member.type, member.dims
                path = f"{path}.{part}"
            else:
                path = name.base
            if indexes:
                if not dims:
                    raise ValueError(f"{text!r}: {path} is a {type_text(type_, dims)}, not an array")
                if len(indexes) != len(dims):
                    raise ValueError(f"{text!r}: {path} has {len(dims)} dimension(s) ({type_text(type_, dims)}); "
                                     f"give {len(dims)} index(es)")
                for index, size in zip(indexes, dims, strict=True):
                    if index >= size:
                        raise ValueError(f"{text!r}: index {index} is out of range for {path} "
                                         f"({type_text(type_, dims)}: 0..{size - 1})")
                path = f"{path}[{','.join(map(str, indexes))}]"
                dims = ()
        if name.bit is not None:
            width = INTEGER_BITS.get(type_.name)
            if dims or width is None:
                raise ValueError(f"{text!r}: {path} is a {type_text(type_, dims)}; only integers have numbered bits")
            if name.bit >= width:
                raise ValueError(f"{text!r}: bit {name.bit} is out of range for {path} ({type_.name}: "
                                 f"0..{width - 1})")
        return Node(text, type_, dims, name.bit)

    def resolve(self, text: str) -> Node:
        """The node for a mapping, which must be one readable value (an atomic, a bit, a string)."""
        node = self.node(text)
        if node.dims:
            first = f"{text}[{','.join('0' for _ in node.dims)}]"
            raise ValueError(f"{text!r} is an array ({node.type_name}); map one element, such as {first}")
        if node.type.is_struct:
            members = ", ".join(f"{text}.{m.name}" for m in node.type.members[:3])
            raise ValueError(f"{text!r} is a structure ({node.type.name}); map one of its members, such as {members}")
        return node

    def validate(self, names: Iterable[str]) -> dict[str, str]:
        errors: dict[str, str] = {}
        for name in names:
            try:
                self.resolve(name)
            except ValueError as exc:
                errors[name] = str(exc)
        return errors

    def children(self, parent: str | None) -> list[BrowseEntry]:
        if parent is None:
            entries = [self._entry(t.name, t.name) for t in self.tags.values() if not t.name.startswith("Program:")]
            entries += [BrowseEntry(f"Program:{p}", f"Program:{p}", None, True) for p in self.programs]
            return entries
        if parent.startswith("Program:") and "." not in parent:
            program = parent[len("Program:"):]
            if program not in self.programs:
                raise ValueError(f"{parent!r}: program {program!r} is not in the controller")
            prefix = f"{parent}."
            return [self._entry(t.name, t.name[len(prefix):]) for t in self.tags.values()
                    if t.name.startswith(prefix)]
        node = self.node(parent)
        if node.dims:
            ranges = (range(d) for d in node.dims)
            indexes = itertools.islice(itertools.product(*ranges), BROWSE_MAX_ELEMENTS)
            ids = [f"{parent}[{','.join(map(str, ix))}]" for ix in indexes]
            return [self._entry(i, i[len(parent):]) for i in ids]
        if node.type.is_struct:
            return [self._entry(f"{parent}.{m.name}", m.name) for m in node.type.members]
        return []

    def _entry(self, id_: str, name: str) -> BrowseEntry:
        node = self.node(id_)
        has_children = bool(node.dims) or node.type.is_struct
        return BrowseEntry(id_, name, None if has_children else node.type_name, has_children)


def tag_list_from_pycomm3(tags: Mapping[str, Mapping[str, Any]], programs: Iterable[str]) -> TagList:
    """Turn pycomm3's `plc.tags` (dicts of dicts) into a TagList."""
    cache: dict[str, LogixType] = {}

    def type_of(info: Mapping[str, Any]) -> LogixType:
        if info.get("tag_type") != "struct":
            return LogixType(str(info["data_type_name"]))
        definition = info["data_type"]
        name = str(definition["name"])
        if name not in cache:
            if "string" in definition:  # STRING and its kin read as text, not as LEN and DATA
                cache[name] = LogixType(name)
            else:
                members = []
                for member in definition["attributes"]:  # public members, in template order
                    member_info = definition["internal_tags"][member]
                    array = member_info.get("array") or 0
                    dims = (array,) if array and member_info.get("data_type_name") != "BOOL" else ()
                    members.append(LogixMember(member, type_of(member_info), dims))
                cache[name] = LogixType(name, tuple(members), is_struct=True)
        return cache[name]

    out = []
    for name, info in tags.items():
        dims = tuple(int(d) for d in info.get("dimensions", (0, 0, 0))[: int(info.get("dim", 0))])
        out.append(LogixTag(name, type_of(info), dims))
    return TagList(out, programs)
