"""S7 address parsing and value coding: every accepted form, every error's exact words, round trips."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oee_tui.drivers.s7.address import (
    EXAMPLES,
    S7Address,
    decode,
    encode,
    parse_s7_address,
    store,
)

TYPE_ERROR_TAIL = "BOOL, BYTE, WORD, INT, DWORD, DINT, REAL or STRING[n]"


# ---------------------------------------------------------------- accepted forms


@pytest.mark.parametrize(("text", "area", "db", "byte", "bit", "type", "size"), [
    ("DB1.DBW20", "DB", 1, 20, None, "INT", 2),
    ("DB1.DBX8.0", "DB", 1, 8, 0, "BOOL", 1),
    ("DB1.DBB3", "DB", 1, 3, None, "BYTE", 1),
    ("DB1.DBD4", "DB", 1, 4, None, "DINT", 4),
    ("DB65535.DBX65535.7", "DB", 65535, 65535, 7, "BOOL", 1),
    ("MW0", "M", 0, 0, None, "INT", 2),
    ("MB2", "M", 0, 2, None, "BYTE", 1),
    ("MD4", "M", 0, 4, None, "DINT", 4),
    ("M0.1", "M", 0, 0, 1, "BOOL", 1),
    ("MX0.1", "M", 0, 0, 1, "BOOL", 1),
    ("IW0", "I", 0, 0, None, "INT", 2),
    ("I0.0", "I", 0, 0, 0, "BOOL", 1),
    ("IB0", "I", 0, 0, None, "BYTE", 1),
    ("ID0", "I", 0, 0, None, "DINT", 4),
    ("QW2", "Q", 0, 2, None, "INT", 2),
    ("Q1.7", "Q", 0, 1, 7, "BOOL", 1),
    ("QB0", "Q", 0, 0, None, "BYTE", 1),
    ("QD0", "Q", 0, 0, None, "DINT", 4),
    # German mnemonics: E(ingang) is an input, A(usgang) an output.
    ("E0.0", "I", 0, 0, 0, "BOOL", 1),
    ("EW4", "I", 0, 4, None, "INT", 2),
    ("AW4", "Q", 0, 4, None, "INT", 2),
    ("A1.2", "Q", 0, 1, 2, "BOOL", 1),
    ("AB3", "Q", 0, 3, None, "BYTE", 1),
    # Lower case, TIA Portal's %, STEP 7's space before the offset, space around the text.
    ("db1.dbw20", "DB", 1, 20, None, "INT", 2),
    ("m0.1", "M", 0, 0, 1, "BOOL", 1),
    ("e0.0", "I", 0, 0, 0, "BOOL", 1),
    ("%MW0", "M", 0, 0, None, "INT", 2),
    ("%DB1.DBX8.0", "DB", 1, 8, 0, "BOOL", 1),
    ("MW 20", "M", 0, 20, None, "INT", 2),
    ("M 0.1", "M", 0, 0, 1, "BOOL", 1),
    ("DB1.DBX 8.0", "DB", 1, 8, 0, "BOOL", 1),
    ("  DB1.DBW20  ", "DB", 1, 20, None, "INT", 2),
    # Type suffixes.
    ("DB3.DBD4:REAL", "DB", 3, 4, None, "REAL", 4),
    ("DB3.DBD4:DWORD", "DB", 3, 4, None, "DWORD", 4),
    ("DB3.DBD4:DINT", "DB", 3, 4, None, "DINT", 4),
    ("DB1.DBW2:WORD", "DB", 1, 2, None, "WORD", 2),
    ("DB1.DBW2:INT", "DB", 1, 2, None, "INT", 2),
    ("DB1.DBB2:BYTE", "DB", 1, 2, None, "BYTE", 1),
    ("DB1.DBX2.3:BOOL", "DB", 1, 2, 3, "BOOL", 1),
    ("MD8:real", "M", 0, 8, None, "REAL", 4),
    ("DB2.DBB0:STRING[20]", "DB", 2, 0, None, "STRING", 22),
    ("DB2.DBB0:string[1]", "DB", 2, 0, None, "STRING", 3),
    ("DB2.DBB0:STRING", "DB", 2, 0, None, "STRING", 256),
    ("DB2.DBB0 : STRING [20]", "DB", 2, 0, None, "STRING", 22),
])
def test_parses_every_form(text: str, area: str, db: int, byte: int, bit: int | None, type: str, size: int) -> None:
    address = parse_s7_address(text)
    assert address == S7Address(area, db, byte, bit, type, size, text)
    assert address.end == byte + size


@pytest.mark.parametrize(("text", "canonical", "type_name"), [
    ("db1.dbw20", "DB1.DBW20", "INT"),
    ("e0.0", "I0.0", "BOOL"),
    ("AW4", "QW4", "INT"),
    ("%mx3.1", "M3.1", "BOOL"),
    ("DB3.DBD4:real", "DB3.DBD4:REAL", "REAL"),
    ("DB3.DBD4:DINT", "DB3.DBD4", "DINT"),
    ("DB2.DBB0:STRING[20]", "DB2.DBB0:STRING[20]", "STRING[20]"),
])
def test_canonical_spelling_and_type_name(text: str, canonical: str, type_name: str) -> None:
    address = parse_s7_address(text)
    assert (address.canonical, address.type_name) == (canonical, type_name)
    assert parse_s7_address(canonical).canonical == canonical


@pytest.mark.parametrize(("text", "override", "type", "size"), [
    ("DB3.DBD4", "REAL", "REAL", 4),
    ("DB3.DBD4", "real", "REAL", 4),
    ("DB3.DBD4:REAL", "REAL", "REAL", 4),
    ("DB1.DBW2", "WORD", "WORD", 2),
    ("MB0", "STRING[8]", "STRING", 10),
    ("DB2.DBB0:STRING[20]", "STRING", "STRING", 22),  # a bare STRING agrees with any length
    ("DB2.DBB0:STRING", "STRING[30]", "STRING", 32),
    ("M0.0", "BOOL", "BOOL", 1),
])
def test_type_override_from_the_mapping(text: str, override: str, type: str, size: int) -> None:
    address = parse_s7_address(text, override)
    assert (address.type, address.size) == (type, size)


# ---------------------------------------------------------------- errors, word for word


def _not_address(text: str, why: str, fix: str = EXAMPLES) -> str:
    return f'"{text}" is not an S7 address: {why}; write it as {fix}'


@pytest.mark.parametrize(("text", "message"), [
    ("DB1.DBW", _not_address("DB1.DBW", "the byte offset is missing")),
    ("", _not_address("", "it is empty")),
    ("  ", _not_address("  ", "it is empty")),
    (":REAL", _not_address(":REAL", "it is empty")),
    ("MW", _not_address("MW", "the byte offset is missing")),
    ("X5", _not_address("X5", "it must start with DB, M, I or Q (E and A are accepted for inputs and outputs)")),
    ("T5", _not_address("T5", "it must start with DB, M, I or Q (E and A are accepted for inputs and outputs)")),
    ("hr:100", _not_address("hr:100",
                            "it must start with DB, M, I or Q (E and A are accepted for inputs and outputs)")),
    ("DB.DBW2", _not_address("DB.DBW2", "the DB number is missing")),
    ("DB0.DBW2", _not_address("DB0.DBW2", "DB number 0 is out of range (1 to 65535)")),
    ("DB65536.DBW2", _not_address("DB65536.DBW2", "DB number 65536 is out of range (1 to 65535)")),
    ("DB1", _not_address("DB1", "the address inside DB1 is missing", "DB1.DBW0, DB1.DBX0.0 or DB1.DBD0:REAL")),
    ("DB1.W2", _not_address("DB1.W2", "after DB1 must come .DBX, .DBB, .DBW or .DBD")),
    ("DB1.DB", _not_address("DB1.DB", "the size letter X, B, W or D after .DB is missing")),
    ("DB1.DB2", _not_address("DB1.DB2", "the size letter X, B, W or D after .DB is missing")),
    ("DB1.DBQ2", _not_address("DB1.DBQ2", "size letter Q is not X (bit), B (byte), W (word) or D (double word)")),
    ("MQ2", _not_address("MQ2", "size letter Q is not X (bit), B (byte), W (word) or D (double word)")),
    ("DB1.DBW65536", _not_address("DB1.DBW65536", "byte offset 65536 is out of range (0 to 65535)")),
    ("MW70000", _not_address("MW70000", "byte offset 70000 is out of range (0 to 65535)")),
    ("DB1.DBX8", _not_address("DB1.DBX8", "a bit address needs a bit number from 0 to 7 after a dot", "DB1.DBX8.0")),
    ("DB1.DBX8.", _not_address("DB1.DBX8.", "a bit address needs a bit number from 0 to 7 after a dot",
                               "DB1.DBX8.0")),
    ("M0", _not_address("M0", "a bit address needs a bit number from 0 to 7 after a dot", "M0.0")),
    ("I4", _not_address("I4", "a bit address needs a bit number from 0 to 7 after a dot", "I4.0")),
    ("M0.8", _not_address("M0.8", "bit number 8 is out of range (0 to 7)", "M0.7")),
    ("DB1.DBX3.9", _not_address("DB1.DBX3.9", "bit number 9 is out of range (0 to 7)", "DB1.DBX3.7")),
    ("MW2.1", _not_address("MW2.1", "a W (2-byte) address has no bit number", "MW2, or M2.0 for a bit")),
    ("DB1.DBD4.0", _not_address("DB1.DBD4.0", "a D (4-byte) address has no bit number",
                                "DB1.DBD4, or DB1.DBX4.0 for a bit")),
    ("QB1.1", _not_address("QB1.1", "a B (byte) address has no bit number", "QB1, or Q1.0 for a bit")),
    ("db1.dbw2x", _not_address("db1.dbw2x", '"x" at its end is not understood')),
    ("M0.1.2", _not_address("M0.1.2", '".2" at its end is not understood')),
    ("DB1.DBW-2", _not_address("DB1.DBW-2", "the byte offset is missing")),
    ("DB1.DBW2:FLOAT", '"DB1.DBW2:FLOAT" has an unknown type FLOAT (the type after the colon); '
                       f"S7 types are {TYPE_ERROR_TAIL}"),
    ("DB1.DBW2:", f'"DB1.DBW2:" has an empty type (the type after the colon); use {TYPE_ERROR_TAIL}'),
    ("DB1.DBW2:STRING[x]", '"DB1.DBW2:STRING[x]" has an unknown type STRING[x] (the type after the colon); '
                           f"S7 types are {TYPE_ERROR_TAIL}"),
    ("DB1.DBW2:REAL", '"DB1.DBW2:REAL" cannot be read as REAL: REAL needs a D (4-byte) address; '
                      "write it as DB1.DBD2:REAL"),
    ("DB1.DBB2:DINT", '"DB1.DBB2:DINT" cannot be read as DINT: DINT needs a D (4-byte) address; write it as DB1.DBD2'),
    ("DB1.DBX2.0:INT", '"DB1.DBX2.0:INT" cannot be read as INT: INT needs a W (2-byte) address; write it as DB1.DBW2'),
    ("MW2:BOOL", '"MW2:BOOL" cannot be read as BOOL: BOOL needs a bit address; write it as M2.0'),
    ("MD2:WORD", '"MD2:WORD" cannot be read as WORD: WORD needs a W (2-byte) address; write it as MW2:WORD'),
    ("IW0:BYTE", '"IW0:BYTE" cannot be read as BYTE: BYTE needs a B (byte) address; write it as IB0'),
    ("DB1.DBD0:STRING[4]", '"DB1.DBD0:STRING[4]" cannot be read as STRING[4]: STRING needs a B (byte) address; '
                           "write it as DB1.DBB0:STRING[4]"),
    ("DB2.DBB0:STRING[0]", '"DB2.DBB0:STRING[0]" has a bad STRING length: STRING[0] is out of range; '
                           "an S7 STRING holds 1 to 254 characters, as in STRING[20]"),
    ("DB2.DBB0:STRING[255]", '"DB2.DBB0:STRING[255]" has a bad STRING length: STRING[255] is out of range; '
                             "an S7 STRING holds 1 to 254 characters, as in STRING[20]"),
])
def test_every_error_names_the_bad_part_and_shows_the_fix(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_s7_address(text)
    assert str(caught.value) == message


@pytest.mark.parametrize(("text", "override", "message"), [
    ("DB3.DBD4:REAL", "DINT", '"DB3.DBD4:REAL" has two different types: the suffix says REAL and the '
                              "mapping's type says DINT; keep one of them"),
    ("DB2.DBB0:STRING[20]", "STRING[30]", '"DB2.DBB0:STRING[20]" has two different types: the suffix says '
                                          "STRING[20] and the mapping's type says STRING[30]; keep one of them"),
    ("DB1.DBW2", "int16", '"DB1.DBW2" has an unknown type int16 (the mapping\'s type); '
                          f"S7 types are {TYPE_ERROR_TAIL}"),
    ("DB1.DBW2", "", f'"DB1.DBW2" has an empty type (the mapping\'s type); use {TYPE_ERROR_TAIL}'),
    ("DB1.DBW2", "REAL", '"DB1.DBW2" cannot be read as REAL: REAL needs a D (4-byte) address; '
                         "write it as DB1.DBD2:REAL"),
    ("M0.0", "STRING", '"M0.0" cannot be read as STRING[254]: STRING needs a B (byte) address; '
                       "write it as MB0:STRING[254]"),
])
def test_type_override_errors(text: str, override: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_s7_address(text, override)
    assert str(caught.value) == message


def test_messages_read_as_the_end_of_a_config_error() -> None:
    """Config validation prints "sources.plc.tag: <message>"; the message must quote the tag and end cleanly."""
    for text in ("DB1.DBW", "MW2.1", "DB1.DBW2:REAL", "X5"):
        with pytest.raises(ValueError) as caught:
            parse_s7_address(text)
        message = str(caught.value)
        assert message.startswith(f'"{text}" ') and "\n" not in message and "write it as" in message


# ---------------------------------------------------------------- decoding and encoding


@pytest.mark.parametrize(("text", "raw", "expected"), [
    ("DB1.DBX0.0", b"\x01", True),
    ("DB1.DBX0.7", b"\x80", True),
    ("DB1.DBX0.6", b"\x80", False),
    ("DB1.DBB0", b"\xff", 255),
    ("DB1.DBW0", b"\xff\xfe", -2),  # INT is signed
    ("DB1.DBW0:WORD", b"\xff\xfe", 0xFFFE),  # WORD is not
    ("DB1.DBW0", b"\x12\x34", 0x1234),  # big-endian: the high byte first
    ("DB1.DBD0", b"\xff\xff\xff\xfe", -2),
    ("DB1.DBD0:DWORD", b"\xde\xad\xbe\xef", 0xDEADBEEF),
    ("DB1.DBD0:REAL", b"\x3f\x80\x00\x00", 1.0),
    ("DB1.DBD0:REAL", b"\xc4\x9a\x50\x00", -1234.5),
    ("DB1.DBB0:STRING[5]", b"\x05\x03abc\x00\x00", "abc"),
    ("DB1.DBB0:STRING[5]", b"\x05\x00\x00\x00\x00\x00\x00", ""),
    ("DB1.DBB0:STRING[3]", b"\x03\x03\xe4\xf6\xfc", "äöü"),  # single-byte latin-1 characters
])
def test_decode_known_vectors(text: str, raw: bytes, expected: object) -> None:
    assert decode(parse_s7_address(text), raw, 0) == expected


def test_decode_reads_at_the_offset_and_checks_the_length() -> None:
    word = parse_s7_address("MW4")
    assert decode(word, b"\x00\x00\x00\x00\x01\x02", 4) == 0x0102
    with pytest.raises(ValueError, match="needs 2 bytes at offset 5; got 6 bytes"):
        decode(word, b"\x00" * 6, 5)


def test_decode_rejects_a_string_longer_than_its_maximum() -> None:
    address = parse_s7_address("DB1.DBB0:STRING[4]")
    with pytest.raises(ValueError, match="current length 5 exceeds its maximum 4"):
        decode(address, b"\x04\x05abcd", 0)
    # The CPU's header is shorter than the config says: the CPU's maximum wins.
    with pytest.raises(ValueError, match=r"length 3 exceeds its maximum 2 \(the CPU's header says 2, the type says 4"):
        decode(address, b"\x02\x03abcd", 0)


def test_encode_rejects_values_that_do_not_fit() -> None:
    with pytest.raises(ValueError, match="40000 is out of range for INT"):
        encode(parse_s7_address("MW0"), 40000)
    with pytest.raises(ValueError, match="-1 is out of range for BYTE"):
        encode(parse_s7_address("MB0"), -1)
    with pytest.raises(ValueError, match="too large for a REAL"):
        encode(parse_s7_address("MD0:REAL"), 1e39)
    with pytest.raises(ValueError, match="do not fit in STRING"):
        encode(parse_s7_address("MB0:STRING[2]"), "abc")
    with pytest.raises(ValueError, match="cannot hold"):
        encode(parse_s7_address("MB0:STRING[2]"), "€")
    with pytest.raises(ValueError, match="BOOL takes True or False"):
        encode(parse_s7_address("M0.0"), 2)
    with pytest.raises(ValueError, match="takes a whole number"):
        encode(parse_s7_address("MD0"), 1.5)


def test_store_keeps_the_neighbouring_bits() -> None:
    memory = bytearray(b"\xff\x00\x00")
    store(parse_s7_address("M0.3"), memory, False)
    store(parse_s7_address("M1.0"), memory, True)
    assert memory == bytearray(b"\xf7\x01\x00")
    store(parse_s7_address("MW11:WORD"), memory, 0xBEEF, base=10)  # memory holds bytes 10.. of the area
    assert memory == bytearray(b"\xf7\xbe\xef")


_INTEGERS = {
    "DB1.DBB0": st.integers(0, 0xFF),
    "DB1.DBW0:WORD": st.integers(0, 0xFFFF),
    "DB1.DBW0": st.integers(-0x8000, 0x7FFF),
    "DB1.DBD0:DWORD": st.integers(0, 0xFFFF_FFFF),
    "DB1.DBD0": st.integers(-0x8000_0000, 0x7FFF_FFFF),
}


# No deadline: on a loaded CI box a slow example is not a failure.
@pytest.mark.parametrize("text", list(_INTEGERS))
@settings(deadline=None)
@given(data=st.data())
def test_integer_round_trip(text: str, data: st.DataObject) -> None:
    address = parse_s7_address(text)
    value = data.draw(_INTEGERS[text])
    raw = encode(address, value)
    assert len(raw) == address.size
    assert decode(address, raw, 0) == value


@settings(deadline=None)
@given(byte=st.integers(0, 65535), bit=st.integers(0, 7), value=st.booleans(), noise=st.integers(0, 255))
def test_bool_round_trip_among_other_bits(byte: int, bit: int, value: bool, noise: int) -> None:
    address = parse_s7_address(f"DB7.DBX{byte}.{bit}")
    memory = bytearray([noise])
    store(address, memory, value, base=byte)
    assert decode(address, memory, 0) is value
    others = [i for i in range(8) if i != bit]
    assert [memory[0] >> i & 1 for i in others] == [noise >> i & 1 for i in others]
    assert encode(address, value) == bytes([int(value) << bit])


@settings(deadline=None)
@given(value=st.floats(width=32))
def test_real_round_trip(value: float) -> None:
    address = parse_s7_address("MD0:REAL")
    raw = encode(address, value)
    assert raw == struct.pack(">f", value)
    decoded = decode(address, raw, 0)
    assert isinstance(decoded, float)
    assert decoded == value or (math.isnan(value) and math.isnan(decoded))


@settings(deadline=None)
@given(length=st.integers(1, 254), data=st.data())
def test_string_round_trip(length: int, data: st.DataObject) -> None:
    address = parse_s7_address(f"DB2.DBB10:STRING[{length}]")
    text = data.draw(st.text(st.characters(codec="latin-1"), max_size=length))
    raw = encode(address, text)
    assert len(raw) == address.size == length + 2
    assert raw[:2] == bytes([length, len(text)])
    assert decode(address, b"\x00" * 3 + raw, 3) == text
