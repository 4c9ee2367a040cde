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

from trailhound.cloudtrail import compiled_columns

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
    column as `combined` takes it. A text column's are made by compiled code where it was
    built, the same codes as Arrow's (`arrow_codes`), which are the reference."""
    whole = _whole(column)
    made = compiled_columns.codes(whole)
    return arrow_codes(whole) if made is None else made


def arrow_codes(column: pa.Array) -> tuple[np.ndarray, int]:
    """`dictionary_codes` by Arrow's dictionary encoding."""
    encoded = column.dictionary_encode()
    count = len(encoded.dictionary)
    if not encoded.indices.null_count:  # fill_null's own cost is ~15 µs a call, a dozen a batch
        return encoded.indices.to_numpy(), count
    return pc.fill_null(encoded.indices, count).to_numpy(zero_copy_only=False), count


class CodedColumns:
    """One table's columns as NumPy codes, each column coded at most once however many of the
    rules thinned in a batch read it: coding a column per rule was most of thinning's cost
    on a task's few thousand rows (a fixed ~20-40 µs per Arrow call)."""

    def __init__(self, table: pa.Table | pa.RecordBatch) -> None:
        self._table = table
        self._codes: dict[str, tuple[np.ndarray, int]] = {}
        self._singles: dict[str, tuple[np.ndarray, int]] = {}
        self._keys: dict[tuple[str, ...], Ints] = {}

    def codes(self, name: str) -> tuple[np.ndarray, int]:
        """`dictionary_codes` of the column: its nulls have the last code."""
        if name not in self._codes:
            self._codes[name] = dictionary_codes(self._table.column(name))
        return self._codes[name]

    def nulls(self, name: str) -> np.ndarray:
        codes, last = self.codes(name)
        return np.asarray(codes == last)

    def key(self, names: tuple[str, ...]) -> Ints:
        """`combined` codes of these columns: equal combinations, equal numbers."""
        if names not in self._keys:
            columns = (self.codes(name) for name in names)
            self._keys[names] = combined(columns, self._table.num_rows)
        return self._keys[names]

    def single(self, name: str) -> tuple[np.ndarray, int]:
        """Codes of each row's one value (a list's only item), and the code of rows with none
        (a null, an empty list, a longer one, a list of a null)."""
        if name not in self._singles:
            self._singles[name] = self._single(name)
        return self._singles[name]

    def _single(self, name: str) -> tuple[np.ndarray, int]:
        column = _whole(self._table.column(name))
        if not (pa.types.is_list(column.type) or pa.types.is_large_list(column.type)):
            return self.codes(name)
        # from the offsets and the items' codes: Arrow's list kernels cost ~20 µs a call
        offsets = column.offsets.to_numpy()
        items, last = dictionary_codes(column.values)
        one = np.diff(offsets) == 1
        if column.null_count:
            one &= column.is_valid().to_numpy(zero_copy_only=False)
        at = offsets[:-1][one]
        codes = np.full(len(column), last, dtype=items.dtype if len(items) else np.int64)
        if len(at):
            codes[one] = items[at]
        return codes, last

    def at(self, name: str, rows: np.ndarray) -> pa.ChunkedArray:
        """The column's values at these rows, as Arrow."""
        return self._table.column(name).take(pa.array(rows, pa.int64()))

    def has(self, name: str) -> bool:
        return name in self._table.schema.names


def _whole(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def list_codes(lists: pa.Array) -> tuple[np.ndarray, int] | None:
    """A code per list, equal for equal lists (a null list and an empty one each have their
    own), and a number none exceeds; None when an item is null. From the items' codes and
    the offsets: joining each list into one text to code it cost two kernel calls and a copy
    of every item."""
    items, last = dictionary_codes(lists.values)
    offsets = lists.offsets.to_numpy()
    lengths = np.diff(offsets)
    if (items[offsets[0] : offsets[-1]] == last).any():
        return None  # a null item: the caller's slower way decides what it equals
    codes = np.ones(len(lists), np.int64)  # 1: empty
    single = np.flatnonzero(lengths == 1)
    codes[single] = items[offsets[single]].astype(np.int64) + 2
    longer = np.flatnonzero(lengths > 1)
    numbers, distinct = _sequence_codes(items, offsets, longer)
    codes[longer] = last + 2 + numbers
    if lists.null_count:
        codes[~lists.is_valid().to_numpy(zero_copy_only=False)] = 0
    return codes, last + 2 + distinct


def _sequence_codes(items: Ints, offsets: np.ndarray, rows: np.ndarray) -> tuple[Ints, int]:
    """A number per list at `rows` for its sequence of item codes, by first appearance, and
    how many there are. Each list is looked up by its codes' bytes: a tuple of its codes made
    per list cost three times as much, and a batch's operations hold hundreds of batch calls'
    lists."""
    data = items.astype(np.int64).tobytes()
    starts, ends = (offsets[rows] * 8).tolist(), (offsets[rows + 1] * 8).tolist()
    seen: dict[bytes, int] = {}
    numbers = [seen.setdefault(data[a:b], len(seen)) for a, b in zip(starts, ends, strict=True)]
    return np.array(numbers, np.int64), len(seen)
