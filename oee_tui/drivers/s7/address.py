"""Siemens S7 addresses as PLC programmers write them: DB1.DBW20, M0.1, IW64, DB3.DBD4:REAL.

Pure Python with no snap7 import, so config validation can check an address
without loading a protocol stack. Accepted forms, in any letter case:

* data blocks: DB1.DBX8.0, DB1.DBB3, DB1.DBW20, DB1.DBD4
* memory, inputs, outputs: M0.1, MB2, MW0, MD4; I0.0, IB0, IW0, ID0; Q1.7, QB0, QW2, QD0
  (German mnemonics E for inputs and A for outputs: E0.0, AW4; MX0.1 spells the bit size out)
* TIA Portal's leading % (%MW0) and STEP 7's space before the offset (MW 20, DB1.DBX 8.0)
* an optional type after a colon: DB3.DBD4:REAL, DB1.DBW2:WORD, DB2.DBB0:STRING[20]

Values are big-endian, as S7 CPUs store them. An S7 STRING[n] takes n + 2 bytes:
its maximum length, its current length, then n single-byte characters.
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass
from typing import Final

S7Value = bool | int | float | str

AREAS: Final = ("DB", "M", "I", "Q")
TYPES: Final = ("BOOL", "BYTE", "WORD", "INT", "DWORD", "DINT", "REAL", "STRING")
MAX_DB: Final = 65535
MAX_BYTE: Final = 65535
MAX_STRING: Final = 254  # S7 STRING holds at most 254 characters; a bare STRING means STRING[254]
STRING_HEADER: Final = 2
STRING_ENCODING: Final = "latin-1"  # single-byte characters; latin-1 maps every byte, so nothing read is lost

EXAMPLES: Final = "DB1.DBW20, DB1.DBX8.0, MW0, I0.1 or DB3.DBD4:REAL"
TYPE_LIST: Final = "BOOL, BYTE, WORD, INT, DWORD, DINT, REAL or STRING[n]"

# The size letter of an address and the types that fit it; the first is the default.
_SIZE_TYPES: Final = {"X": ("BOOL",), "B": ("BYTE", "STRING"), "W": ("INT", "WORD"), "D": ("DINT", "DWORD", "REAL")}
_TYPE_SIZE: Final = {t: letter for letter, types in _SIZE_TYPES.items() for t in types}
_SIZE_WORDS: Final = {"X": "a bit address", "B": "a B (byte) address", "W": "a W (2-byte) address",
                      "D": "a D (4-byte) address"}
_FIXED_BYTES: Final = {"BOOL": 1, "BYTE": 1, "WORD": 2, "INT": 2, "DWORD": 4, "DINT": 4, "REAL": 4}
_STRUCT: Final = {"BYTE": ">B", "WORD": ">H", "INT": ">h", "DWORD": ">I", "DINT": ">i", "REAL": ">f"}
# German mnemonics: Eingang (input), Ausgang (output).
_AREA_ALIASES: Final = {"M": "M", "I": "I", "E": "I", "Q": "Q", "A": "Q"}

_DB_HEAD = re.compile(r"DB(\d*)(.*)")
_LOCATION = re.compile(r" ?(\d*)(?:\.(\d*))?(.*)")
_STRING_TYPE = re.compile(r"STRING(?:\[(\d+)\])?")


@dataclass(frozen=True, slots=True)
class S7Address:
    """One value in a CPU's memory: where it is, its S7 type, and how many bytes it takes."""

    area: str  # "DB", "M", "I" or "Q"
    db: int  # the DB number; 0 outside data blocks
    byte: int
    bit: int | None  # 0..7 for BOOL, None otherwise
    type: str  # one of TYPES
    size: int  # bytes read for it: 1, 2, 4, or n + 2 for STRING[n]
    text: str  # as written in the config

    @property
    def end(self) -> int:
        """The byte just past the value."""
        return self.byte + self.size

    @property
    def string_length(self) -> int | None:
        """n of STRING[n]; None for other types."""
        return self.size - STRING_HEADER if self.type == "STRING" else None

    @property
    def type_name(self) -> str:
        """The type as TIA Portal shows it: REAL, STRING[20]."""
        return f"STRING[{self.string_length}]" if self.type == "STRING" else self.type

    @property
    def canonical(self) -> str:
        """The address in the usual Siemens spelling, with a type suffix only when it is not the default."""
        letter = _TYPE_SIZE[self.type]
        suffix = "" if _SIZE_TYPES[letter][0] == self.type else f":{self.type_name}"
        return _spell(self.area, self.db, letter, self.byte, self.bit) + suffix


# ---------------------------------------------------------------- parsing


def parse_s7_address(text: str, type_override: str | None = None) -> S7Address:
    """Parse `text`; `type_override` (a mapping's `type` key) must agree with any `:TYPE` suffix.

    Raises ValueError with a message that quotes the address, says what is wrong
    and shows how to write it.
    """
    body, _, suffix = text.strip().partition(":")
    body = body.strip().upper().removeprefix("%")
    if not body:
        raise _bad(text, "it is empty")
    area, db, rest = _area(text, body)
    letter, byte, bit = _location(text, area, db, rest)
    kind = _choose_type(text, area, db, letter, byte, bit, suffix if ":" in text else None, type_override)
    string_length = _string_length(kind)
    if string_length is not None:
        return S7Address(area, db, byte, None, "STRING", string_length + STRING_HEADER, text)
    return S7Address(area, db, byte, bit, kind, _FIXED_BYTES[kind], text)


def _bad(text: str, why: str, fix: str = EXAMPLES) -> ValueError:
    return ValueError(f'"{text}" is not an S7 address: {why}; write it as {fix}')


def _area(text: str, body: str) -> tuple[str, int, str]:
    """The area, the DB number (0 outside DBs) and what follows them."""
    db_head = _DB_HEAD.fullmatch(body)
    if db_head is None:
        area = _AREA_ALIASES.get(body[0])
        if area is None:
            raise _bad(text, "it must start with DB, M, I or Q (E and A are accepted for inputs and outputs)")
        return area, 0, body[1:]
    digits, rest = db_head.groups()
    if not digits:
        raise _bad(text, "the DB number is missing")
    db = int(digits)
    if not 1 <= db <= MAX_DB:
        raise _bad(text, f"DB number {db} is out of range (1 to {MAX_DB})")
    if not rest:
        raise _bad(text, f"the address inside DB{db} is missing", f"DB{db}.DBW0, DB{db}.DBX0.0 or DB{db}.DBD0:REAL")
    if not rest.startswith(".DB"):
        raise _bad(text, f"after DB{db} must come .DBX, .DBB, .DBW or .DBD")
    return "DB", db, rest[3:]


def _location(text: str, area: str, db: int, rest: str) -> tuple[str, int, int | None]:
    """The size letter, byte offset and bit number from what follows the area."""
    if rest[:1] in _SIZE_TYPES:
        letter, rest = rest[0], rest[1:]
    elif rest[:1].isalpha():
        raise _bad(text, f"size letter {rest[0]} is not X (bit), B (byte), W (word) or D (double word)")
    elif area == "DB":
        raise _bad(text, "the size letter X, B, W or D after .DB is missing")
    else:
        letter = "X"  # M0.1, I0.0: the bit form has no size letter
    match = _LOCATION.fullmatch(rest)
    assert match is not None  # the pattern accepts any string
    byte_digits, bit_digits, trailing = match.groups()
    if not byte_digits:
        raise _bad(text, "the byte offset is missing")
    byte = int(byte_digits)
    if trailing:
        as_written = text.partition(":")[0].rstrip()[-len(trailing):]
        raise _bad(text, f'"{as_written}" at its end is not understood')
    if byte > MAX_BYTE:
        raise _bad(text, f"byte offset {byte} is out of range (0 to {MAX_BYTE})")
    if letter != "X":
        if bit_digits is not None:
            raise _bad(text, f"{_SIZE_WORDS[letter]} has no bit number",
                       f"{_spell(area, db, letter, byte, None)}, or {_spell(area, db, 'X', byte, 0)} for a bit")
        return letter, byte, None
    if not bit_digits:
        raise _bad(text, "a bit address needs a bit number from 0 to 7 after a dot",
                   _spell(area, db, "X", byte, 0))
    bit = int(bit_digits)
    if bit > 7:
        raise _bad(text, f"bit number {bit} is out of range (0 to 7)", _spell(area, db, "X", byte, 7))
    return letter, byte, bit


def _choose_type(text: str, area: str, db: int, letter: str, byte: int, bit: int | None,
                 suffix: str | None, override: str | None) -> str:
    """The address's type: its suffix, else the mapping's type, else the size's default."""
    named = None if suffix is None else _normal_type(text, suffix, "the type after the colon")
    if override is not None:
        from_mapping = _normal_type(text, override, "the mapping's type")
        named = _agree(text, named, from_mapping)
    if named is None:
        return _SIZE_TYPES[letter][0]
    if named == "STRING":
        named = f"STRING[{MAX_STRING}]"
    base = "STRING" if named.startswith("STRING") else named
    needed = _TYPE_SIZE[base]
    if needed != letter:
        fix = _spell(area, db, needed, byte, 0 if needed == "X" else None)
        if named != _SIZE_TYPES[needed][0]:
            fix += f":{named}"
        raise ValueError(f'"{text}" cannot be read as {named}: {base} needs {_SIZE_WORDS[needed]}; write it as {fix}')
    return named


def _agree(text: str, from_suffix: str | None, from_mapping: str) -> str:
    """One type from the suffix and the mapping's type; a bare STRING agrees with any STRING[n]."""
    if from_suffix is None or from_suffix == from_mapping:
        return from_mapping
    if from_suffix.startswith("STRING") and from_mapping.startswith("STRING") and "STRING" in (
            from_suffix, from_mapping):
        return from_mapping if from_suffix == "STRING" else from_suffix
    raise ValueError(f'"{text}" has two different types: the suffix says {from_suffix} and the mapping\'s '
                     f"type says {from_mapping}; keep one of them")


def _normal_type(text: str, raw: str, what: str) -> str:
    """"real" → "REAL", "string[20]" → "STRING[20]", a bare "string" → "STRING"; non-S7 types raise."""
    name = raw.strip().upper().replace(" ", "")
    if name in _FIXED_BYTES:
        return name
    string = _STRING_TYPE.fullmatch(name)
    if not name:
        raise ValueError(f'"{text}" has an empty type ({what}); use {TYPE_LIST}')
    if string is None:
        raise ValueError(f'"{text}" has an unknown type {raw.strip()} ({what}); S7 types are {TYPE_LIST}')
    if string.group(1) is None:
        return "STRING"
    length = int(string.group(1))
    if not 1 <= length <= MAX_STRING:
        raise ValueError(f'"{text}" has a bad STRING length: STRING[{length}] is out of range; '
                         f"an S7 STRING holds 1 to {MAX_STRING} characters, as in STRING[20]")
    return f"STRING[{length}]"


def _string_length(kind: str) -> int | None:
    match = _STRING_TYPE.fullmatch(kind)
    return None if match is None else int(match.group(1))


def _spell(area: str, db: int, letter: str, byte: int, bit: int | None) -> str:
    if area == "DB":
        return f"DB{db}.DBX{byte}.{bit}" if letter == "X" else f"DB{db}.DB{letter}{byte}"
    return f"{area}{byte}.{bit}" if letter == "X" else f"{area}{letter}{byte}"


# ---------------------------------------------------------------- values


def decode(address: S7Address, data: bytes | bytearray, offset: int = 0) -> S7Value:
    """The value of `address` from `data`, where data[offset] holds the address's first byte.

    Raises ValueError if `data` is too short or a STRING's header is inconsistent.
    """
    end = offset + address.size
    if offset < 0 or len(data) < end:
        raise ValueError(f"{address.text} needs {address.size} bytes at offset {offset}; got {len(data)} bytes")
    if address.type == "BOOL":
        assert address.bit is not None
        return bool(data[offset] >> address.bit & 1)
    if address.type == "STRING":
        return _decode_string(address, data[offset:end])
    value: int | float = struct.unpack_from(_STRUCT[address.type], data, offset)[0]
    return value


def _decode_string(address: S7Address, raw: bytes | bytearray) -> str:
    declared = address.string_length
    assert declared is not None
    maximum, current = raw[0], raw[1]
    # The CPU's own header wins over the config's length when it is shorter; a
    # current length beyond either means the bytes are not a STRING at all.
    if current > min(maximum, declared):
        why = "" if maximum == declared else f" (the CPU's header says {maximum}, the type says {declared})"
        raise ValueError(f"{address.text}: the STRING's current length {current} exceeds its maximum "
                         f"{min(maximum, declared)}{why}")
    return bytes(raw[STRING_HEADER:STRING_HEADER + current]).decode(STRING_ENCODING)


def encode(address: S7Address, value: S7Value) -> bytes:
    """The bytes a CPU holds for `value` at `address`; the inverse of decode (tests and the demo use it).

    A BOOL gives its whole byte with only this bit set or clear: use store() to
    keep the neighbouring bits.
    """
    if address.type == "BOOL":
        assert address.bit is not None
        if not isinstance(value, bool | int) or value not in (0, 1):
            raise ValueError(f"{address.text}: BOOL takes True or False, not {value!r}")
        return bytes([int(value) << address.bit])
    if address.type == "STRING":
        return _encode_string(address, value)
    if address.type == "REAL":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{address.text}: REAL takes a number, not {value!r}")
        if math.isfinite(value) and abs(value) > 3.4028234663852886e38:
            raise ValueError(f"{address.text}: {value} is too large for a REAL")
        return struct.pack(">f", value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{address.text}: {address.type} takes a whole number, not {value!r}")
    try:
        return struct.pack(_STRUCT[address.type], value)
    except struct.error:
        raise ValueError(f"{address.text}: {value} is out of range for {address.type}") from None


def _encode_string(address: S7Address, value: S7Value) -> bytes:
    declared = address.string_length
    assert declared is not None
    if not isinstance(value, str):
        raise ValueError(f"{address.text}: STRING takes text, not {value!r}")
    try:
        chars = value.encode(STRING_ENCODING)
    except UnicodeEncodeError:
        raise ValueError(f"{address.text}: {value!r} has characters an S7 STRING cannot hold "
                         f"(single-byte {STRING_ENCODING} only)") from None
    if len(chars) > declared:
        raise ValueError(f"{address.text}: {len(chars)} characters do not fit in STRING[{declared}]")
    return bytes([declared, len(chars)]) + chars.ljust(declared, b"\x00")


def store(address: S7Address, memory: bytearray, value: S7Value, base: int = 0) -> None:
    """Write `value` into `memory` (which holds the area from byte `base`), keeping a BOOL's neighbour bits."""
    start = address.byte - base
    raw = encode(address, value)
    if address.type == "BOOL":
        assert address.bit is not None
        memory[start] = (memory[start] & ~(1 << address.bit) & 0xFF) | raw[0]
        return
    memory[start:start + len(raw)] = raw
