"""Reading declared tags with pycomm3 when the tag list was not uploaded.

pycomm3 builds a read from the definition it keeps for the tag (`LogixDriver._tags`,
filled by the upload). Without the upload, the definitions are made here from the
declared types, in the shape pycomm3's own upload gives them, and every read is by
name (symbolic): instance ids come only with the upload. This leans on pycomm3 1.2's
internals (`_tags`, `_cfg`, `_create_tag`, `_parse_tag_request`, `_sequence`,
`_forward_open`);
tests/drivers/logix/test_logix_declared_types.py pins it against two servers.

Called in the driver's worker thread, with pycomm3 imported: never on the event loop.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any, Final

from oee_tui.drivers.logix.declared_tags import TYPE_CODES, DeclaredTag, type_mismatch

# The reply of a Read Tag on a structure starts with this, then the structure handle.
_STRUCTURE_REPLY: Final = b"\xa0\x02"


def _atomic(plc: Any, name: str, type_name: str) -> dict[str, Any]:
    from pycomm3.cip.data_types import DataTypes
    from pycomm3.const import BASE_TAG_BIT

    definition: dict[str, Any] = plc._create_tag(name, {
        "symbol_type": DataTypes[type_name.lower()].code, "software_control": BASE_TAG_BIT, "instance_id": 0,
        "symbol_address": 0, "symbol_object_address": 0, "external_access": "Read/Write", "dimensions": [0, 0, 0]})
    return definition


def _structure(name: str) -> dict[str, Any]:
    # Only what pycomm3 walks to reach a member: the member definitions under internal_tags.
    return {"tag_name": name, "tag_type": "struct", "dim": 0, "dimensions": [0, 0, 0], "alias": False,
            "data_type": {"name": name, "internal_tags": {}, "attributes": []}, "data_type_name": name}


def install_definitions(plc: Any, declared: Iterable[DeclaredTag]) -> dict[str, str]:
    """Give pycomm3 a definition for each declared tag; the tags whose declarations contradict each other."""
    plc._cfg["use_instance_ids"] = False
    definitions: dict[str, dict[str, Any]] = {}
    conflicts: dict[str, str] = {}
    for tag in declared:
        parts = [part for part, _indexes in tag.name.parts]
        base = tag.name.base
        if len(parts) == 1:
            existing = definitions.get(base)
            if existing is not None and existing["tag_type"] == "struct":
                conflicts[tag.tag] = f"{tag.tag!r}: another tag map reads members of {base}, so it is a structure"
                continue
            definitions[base] = _atomic(plc, base, tag.type_name)
            continue
        entry = definitions.setdefault(base, _structure(base))
        for member in parts[1:-1]:
            if entry["tag_type"] != "struct":
                break
            entry = entry["data_type"]["internal_tags"].setdefault(member, _structure(member))
        if entry["tag_type"] != "struct":
            conflicts[tag.tag] = f"{tag.tag!r}: another tag map declares {entry['tag_name']} as {entry['data_type']}"
            continue
        entry["data_type"]["internal_tags"][parts[-1]] = _atomic(plc, parts[-1], tag.type_name)
    plc._tags = definitions
    return conflicts


@functools.cache
def _type_probe_class() -> Any:
    """A Read Tag request whose reply is kept as bytes: parsing it by the declared type is what may be wrong."""
    from pycomm3.packets.logix import ReadTagRequestPacket, ReadTagResponsePacket

    class UnparsedReadTagResponse(ReadTagResponsePacket):
        def _parse_reply(self, dont_parse: bool = False) -> None:
            super()._parse_reply(dont_parse=True)

    class TypeProbeRequest(ReadTagRequestPacket):
        response_class = UnparsedReadTagResponse

    return TypeProbeRequest


def check_declared_types(plc: Any, declared: Iterable[DeclaredTag]) -> dict[str, str]:
    """Read each declared tag once and compare its declared type with the controller's; what is wrong, by tag.

    One Read Tag per tag, on connect only: the reply's type code is not kept by pycomm3's read().
    """
    probe = _type_probe_class()
    if not plc._target_is_connected:
        plc._forward_open()  # as pycomm3's read() does first (its with_forward_open)
    problems: dict[str, str] = {}
    for tag in declared:
        parsed = plc._parse_tag_request(tag.tag)
        request = probe(plc._sequence, parsed["plc_tag"], parsed["elements"], parsed["tag_info"], 0, False)
        response = plc.send(request)
        if not response:
            problems[tag.tag] = f"{tag.tag!r}: the controller refused to read it: {response.error}"
            continue
        code = bytes(response.data[:2])
        if code == _STRUCTURE_REPLY:
            controller_type = "a structure"
        else:
            number = int.from_bytes(code, "little")
            controller_type = TYPE_CODES.get(number, f"type code 0x{number:04X}")
        problem = type_mismatch(tag, controller_type)
        if problem is not None:
            problems[tag.tag] = problem
    return problems
