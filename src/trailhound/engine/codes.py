"""Numbering rows by their combination of values in several columns, as one int64 each.

Each column comes as small integer codes (equal values, equal codes); a row's number is its
codes read as the digits of one number, column after column, so numbers keep the order of
the codes. They are renumbered densely (a sort) only when the next column would take them
past `KEY_LIMIT`: a sort per column was most of the cost on batches of a few hundred
thousand rows.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

KEY_LIMIT = 1 << 62
"""Combined numbers stay below it (int64, with room to add one)."""

Ints = npt.NDArray[np.int64]


def combined(columns: Iterable[tuple[np.ndarray, int]], rows: int) -> Ints:
    """One number per row for its combination of codes; each column is given as (its codes,
    a number none of them exceeds)."""
    key: Ints = np.zeros(rows, dtype=np.int64)
    bound = 1  # every number is below it
    for codes, most in columns:
        if bound * (most + 1) > KEY_LIMIT:
            _, key = np.unique(key, return_inverse=True)
            bound = int(key.max(initial=0)) + 1
        key = key * (most + 1) + codes.astype(np.int64, copy=False)
        bound *= most + 1
    return key


def dictionary_codes(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, int]:
    """A code per value, by first appearance (nulls: the last code), and that last code: a
    column as `combined` takes it."""
    whole = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    encoded = whole.dictionary_encode()
    count = len(encoded.dictionary)
    if not encoded.indices.null_count:  # fill_null's own cost is ~15 µs a call, a dozen a batch
        return encoded.indices.to_numpy(), count
    return pc.fill_null(encoded.indices, count).to_numpy(zero_copy_only=False), count
