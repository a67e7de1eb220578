"""Result columns -> Python lists, for reads that hand out many small objects.

Arrow does the per-value work in C; these only pick the cheapest way to get Python objects
out (numpy's tolist for numbers, a dictionary for strings).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

# pyarrow.compute is imported where it is used: see oee_tui.store.database.
if TYPE_CHECKING:
    import pyarrow as pa


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building a large result.

    Creating 300k small objects sets off generation after generation of GC passes that
    rescan all of them: about half the cost of `intervals()`. These objects cannot form
    cycles, so nothing is lost by collecting after. Re-enables only what it disabled.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def str_list(col: pa.ChunkedArray, convert: Callable[[str], Any] | None = None) -> list[Any]:
    """Strings (None for NULL) through a dictionary: a column of a few distinct machine names,
    states or reasons then costs one object per distinct value, not one per row."""
    import pyarrow.compute as pc
    n = len(col)
    if col.null_count == n:
        return [None] * n
    encoded = col.combine_chunks().dictionary_encode()
    values: list[Any] = encoded.dictionary.to_pylist()
    if convert is not None:
        values = [convert(v) for v in values]
    values.append(None)  # NULL indices point here
    indices = pc.fill_null(encoded.indices, len(values) - 1).to_numpy()
    return list(map(values.__getitem__, indices.tolist()))


def num_list(col: pa.ChunkedArray) -> list[Any]:
    """Numbers (None for NULL): numpy's tolist, then the NULL positions, or the valid ones if fewer."""
    import pyarrow.compute as pc
    arr = col.combine_chunks()
    n, nulls = len(arr), arr.null_count
    if nulls == 0:
        out: list[Any] = arr.to_numpy().tolist()
        return out
    if nulls == n:
        return [None] * n
    values = pc.fill_null(arr, 0).to_numpy()
    valid = arr.is_valid().to_numpy(zero_copy_only=False)
    if nulls <= n // 2:
        out = values.tolist()
        for i in np.flatnonzero(~valid).tolist():
            out[i] = None
        return out
    out = [None] * n
    positions = np.flatnonzero(valid)
    for i, value in zip(positions.tolist(), values[positions].tolist(), strict=True):
        out[i] = value
    return out
