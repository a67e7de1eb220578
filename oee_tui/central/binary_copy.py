"""PostgreSQL's binary COPY format built from Arrow columns with numpy, never row by row in Python.

psycopg's `write_row` costs about 2 µs a row in Python, and turning Arrow columns into Python tuples
(datetimes above all) costs far more; text COPY (CSV) costs the server a parse of every value. Here each
column is written into one byte buffer with a handful of vectorised numpy operations: lengths and
offsets from the Arrow buffers, then one gather per variable-width column.

The format (PostgreSQL's docs, "COPY", binary format): a signature and two int32 header fields; per row an
int16 field count, then per field an int32 byte length (-1: NULL) and the value in the type's binary send
format (big-endian); an int16 -1 as trailer. `timestamptz` is int64 microseconds since 2000-01-01 UTC.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import pyarrow as pa

HEADER: Final = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER: Final = b"\xff\xff"
_PG_EPOCH_US: Final = 946_684_800_000_000  # 2000-01-01 in microseconds since 1970
_FIXED: Final = {"float8": (8, ">f8"), "int8": (8, ">i8"), "timestamptz": (8, ">i8"), "bool": (1, "u1")}
KINDS: Final = frozenset({*_FIXED, "text", "bytea"})
ROWS_PER_PIECE: Final = 65_536  # bounds the index arrays (8 bytes per byte of output) to a few MB

Bytes = npt.NDArray[np.uint8]
Ints = npt.NDArray[np.int64]


def encode(table: pa.Table, kinds: Sequence[str]) -> Iterator[bytes]:
    """The rows of `table` in binary COPY format, header and trailer included, in pieces of bounded size.
    `kinds[i]` is the PostgreSQL type of column i: text, bytea, float8, int8, timestamptz or bool."""
    if len(kinds) != table.num_columns or not set(kinds) <= KINDS:
        raise ValueError(f"kinds {list(kinds)} do not fit the table's {table.num_columns} columns")
    yield HEADER
    for start in range(0, table.num_rows, ROWS_PER_PIECE):
        piece = table.slice(start, ROWS_PER_PIECE)
        yield _rows(piece, kinds)
    yield TRAILER


class _Column:
    """One column of a piece: per row its field size (length word + value) and how to write it."""

    def __init__(self, array: pa.Array, kind: str) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        self.kind = kind
        n = len(array)
        self.null: npt.NDArray[np.bool_] = (np.zeros(n, dtype=bool) if array.null_count == 0 else
                                            np.asarray(array.is_null().to_numpy(zero_copy_only=False), dtype=bool))
        if kind in _FIXED:
            width, dtype = _FIXED[kind]
            if kind == "timestamptz":
                values = np.asarray(pc.fill_null(array.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64()), 0)
                                    .to_numpy(zero_copy_only=False), dtype=np.int64) - _PG_EPOCH_US
            elif kind == "bool":
                values = np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=np.uint8)
            else:
                values = np.asarray(pc.fill_null(array, 0).to_numpy(zero_copy_only=False))
            self.data: Bytes = np.ascontiguousarray(values.astype(dtype)).view(np.uint8).reshape(n, width)
            self.lengths: Ints = np.where(self.null, -1, width).astype(np.int64)
            return
        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        if pa.types.is_large_string(array.type) or pa.types.is_large_binary(array.type):
            offset_type: type[np.int32] | type[np.int64] = np.int64
        else:
            offset_type = np.int32
            if not (pa.types.is_string(array.type) or pa.types.is_binary(array.type)):
                array = array.cast(pa.string())
        buffers = array.buffers()
        offsets = np.frombuffer(buffers[1], dtype=offset_type, count=n + 1, offset=array.offset *
                                np.dtype(offset_type).itemsize).astype(np.int64)
        self.starts: Ints = offsets[:-1]
        sizes = offsets[1:] - offsets[:-1]
        sizes[self.null] = 0  # a null slot may span bytes: none of them are sent
        self.sizes: Ints = sizes
        self.data = (np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None
                     else np.zeros(0, dtype=np.uint8))
        self.lengths = np.where(self.null, -1, sizes)

    @property
    def field_sizes(self) -> Ints:
        return 4 + np.maximum(self.lengths, 0)

    def write(self, out: Bytes, at: Ints) -> None:
        """Write this column's fields (length word and value) into `out`, row i's field at `at[i]`."""
        _put(out, at, self.lengths.astype(">i4").view(np.uint8).reshape(-1, 4))
        values_at = at + 4
        if self.kind in _FIXED:
            valid = ~self.null
            _put(out, values_at[valid], self.data[valid])
            return
        total = int(self.sizes.sum())
        if total == 0:
            return
        run_starts = np.cumsum(self.sizes) - self.sizes  # where each row's bytes begin among all sent bytes
        within = np.arange(total, dtype=np.int64) - np.repeat(run_starts, self.sizes)
        out[np.repeat(values_at, self.sizes) + within] = self.data[np.repeat(self.starts, self.sizes) + within]


def _put(out: Bytes, at: Ints, block: Bytes) -> None:
    """out[at[i] + k] = block[i, k] for every row i and byte k."""
    if len(at):
        out[at[:, None] + np.arange(block.shape[1], dtype=np.int64)] = block


def _rows(table: pa.Table, kinds: Sequence[str]) -> bytes:
    n = table.num_rows
    columns = [_Column(table.column(i).combine_chunks(), kind) for i, kind in enumerate(kinds)]
    sizes = [column.field_sizes for column in columns]
    row_sizes = 2 + np.sum(sizes, axis=0, dtype=np.int64) if sizes else np.full(n, 2, dtype=np.int64)
    row_starts = np.cumsum(row_sizes) - row_sizes
    out = np.empty(int(row_sizes.sum()), dtype=np.uint8)
    _put(out, row_starts, np.full((n, 1), len(kinds), dtype=">i2").view(np.uint8).reshape(n, 2))
    at = row_starts + 2
    for column, size in zip(columns, sizes, strict=True):
        column.write(out, at)
        at = at + size
    return out.tobytes()
