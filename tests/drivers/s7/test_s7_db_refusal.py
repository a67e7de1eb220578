"""The words for a refused DB read, and the search for a DB's end, on byte readers of known length.

The in-process snap7 server (test_s7.py) always names a return code; a CPU or server that does not (the
C snap7 server's "Data item is truncated") is stood for here by a plain function over a DB of known size.
"""

from __future__ import annotations

import pytest

from oee_tui.drivers.s7.db_refusal import ReadsByte, explain, readable_size, return_code, worth_probing


def db_of(size: int) -> tuple[list[int], ReadsByte]:
    asked: list[int] = []

    async def reads_byte(offset: int) -> bool:
        asked.append(offset)
        return offset < size

    return asked, reads_byte


@pytest.mark.parametrize(("size", "end"), [(0, 2), (1, 4), (4, 8), (64, 66), (255, 258), (999, 65_536)])
async def test_readable_size_finds_the_end_of_a_short_db(size: int, end: int) -> None:
    asked, reads_byte = db_of(size)
    assert await readable_size(reads_byte, end) == size
    assert len(asked) <= 2 + end.bit_length()  # a binary search, not a byte-by-byte walk


async def test_readable_size_is_none_when_the_db_is_long_enough() -> None:
    asked, reads_byte = db_of(100)
    assert await readable_size(reads_byte, 100) is None
    assert asked == [99]


def test_which_refusals_are_about_the_db() -> None:
    assert return_code("Read operation failed: Object does not exist (0x0a)") == 0x0A
    assert worth_probing("Read operation failed: Invalid address (0x05) reading DB1.DBB254 (4 bytes)")
    assert worth_probing("Data item is truncated reading DB2.DBB0 (2 bytes)")  # names no code: probe
    assert not worth_probing("Read operation failed: Accessing the object not allowed (0x03)")  # PUT/GET off


def test_the_words() -> None:
    assert explain(2, "DB2.DBD4", 4, 8, 4) == "DB2 has 4 bytes; DB2.DBD4 needs bytes 4-7"
    assert explain(2, "DB2.DBX1.0", 1, 2, 1) == "DB2 has 1 byte; DB2.DBX1.0 needs byte 1"
    assert explain(2, "DB2.DBB0", 0, 1, 0) == "DB2 does not exist on the PLC"
