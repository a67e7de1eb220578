"""Why a CPU refused to read a data block, in the user's words: the DB does not exist, or is too short.

A CPU answers a read of a DB it lacks, or of bytes past a DB's end, with a bare return code, which reaches
the user as "Object does not exist (0x0a)", "Invalid address (0x05)" or, from other servers, "Data item is
truncated". Which DB is missing, or how long it is, the CPU does not say. Reading single bytes finds out:
byte 0 of a DB that exists can be read, and the bytes that can be read end at the DB's end.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Final

# The S7 item return codes after which probing tells something; others (0x03, access not allowed: PUT/GET
# is off; 0x01, hardware error) are about the CPU, not the DB, and keep the CPU's own words.
OBJECT_DOES_NOT_EXIST: Final = 0x0A
INVALID_ADDRESS: Final = 0x05
_CODE: Final = re.compile(r"\(0x([0-9a-fA-F]{2})\)")

# Reads one byte of the DB at an offset: True if the CPU serves it, False if it refuses it.
ReadsByte = Callable[[int], Awaitable[bool]]


def return_code(refusal: str) -> int | None:
    """The S7 return code in a refusal's text ("... (0x0a)"), or None when the text names none."""
    match = _CODE.search(refusal)
    return None if match is None else int(match.group(1), 16)


def worth_probing(refusal: str) -> bool:
    return return_code(refusal) in (None, OBJECT_DOES_NOT_EXIST, INVALID_ADDRESS)


async def readable_size(reads_byte: ReadsByte, end: int) -> int | None:
    """How many bytes of the DB can be read, when fewer than `end`; None when byte `end - 1` can be read
    (the DB is long enough: the refusal was about something else). 0 when not even byte 0 can.
    One read, then a binary search: about log2(end) reads."""
    if await reads_byte(end - 1):
        return None
    low, high = 0, end - 1  # the size is in [low, high]
    while low < high:
        middle = (low + high + 1) // 2
        if await reads_byte(middle - 1):
            low = middle
        else:
            high = middle - 1
    return low


def explain(db: int, text: str, start: int, end: int, size: int) -> str:
    """The error of a tag at bytes start..end-1 of DB `db`, of which `size` bytes can be read."""
    if size == 0:
        return f"DB{db} does not exist on the PLC"
    needs = f"byte {start}" if end - start == 1 else f"bytes {start}-{end - 1}"
    return f"DB{db} has {size} byte{'' if size == 1 else 's'}; {text} needs {needs}"
