"""Compiled column makers: some of the columnar step's columns made by C (`_columns.c`) straight
from the buffers of the string columns a skimmer gives, in one pass a column.

Each maker answers None where it cannot make its column: the extension was not built (an
install without a compiler), or an input is not a plain `pa.string()` array. The caller
(`columnar.py`) then makes it with Arrow's kernels, which stay the reference: every maker gives
exactly the kernels' column (held so by `tests/cloudtrail/test_compiled_columns.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import pyarrow as pa

from trailhound.cloudtrail import extensions

_TIMESTAMP: Final = pa.timestamp("us", tz="UTC")
_NAME: Final = "_columns"


def present() -> bool:
    """Whether the extension was built and is not switched off (else every maker answers
    None). `extensions.off("_columns")` switches it off: the kernels' columns, for holding the
    makers to them and for measuring both in one process."""
    return extensions.loaded(_NAME) is not None


def cleaned(array: pa.Array) -> pa.Array | None:
    """The string column with the values Elastic's cleaning drops ("", "-", "none") nulled, as
    `columnset.cleaned` makes it: the same array when none is dropped, else the same offsets
    and data under a new validity bitmap."""
    spec, module = _spec(array), extensions.loaded(_NAME)
    if spec is None or module is None:
        return None
    answer = module.cleaned(spec)
    if answer is None:
        return array
    validity, null_count = answer
    offsets, data = array.buffers()[1:]
    return pa.Array.from_buffers(
        pa.string(), len(array), [pa.py_buffer(validity), offsets, data], null_count, array.offset
    )


def coalesced(arrays: Sequence[pa.Array], clean: bool) -> pa.Array | None:
    """Per row the first value of `arrays` that is valid (with `clean`, that Elastic's
    cleaning keeps), null where none is: `pc.coalesce` of the (cleaned) columns."""
    specs, module = [_spec(array) for array in arrays], extensions.loaded(_NAME)
    if module is None or any(spec is None for spec in specs):
        return None
    answer = module.coalesced(tuple(specs), clean)
    if answer is None:  # its data would not fit a string array's offsets
        return None
    validity, offsets, data, null_count = answer
    buffers = [_buffer(validity), pa.py_buffer(offsets), pa.py_buffer(data)]
    return pa.Array.from_buffers(pa.string(), len(arrays[0]), buffers, null_count)


def outcome(codes: pa.Array, messages: pa.Array) -> pa.Array | None:
    """event.outcome: "failure" where the error code or message is kept by Elastic's cleaning,
    else "success"."""
    specs, module = (_spec(codes), _spec(messages)), extensions.loaded(_NAME)
    if module is None or specs[0] is None or specs[1] is None:
        return None
    offsets, data = module.outcome(specs)
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    return pa.Array.from_buffers(pa.string(), len(codes), buffers, 0)


def event_times(texts: pa.Array) -> tuple[pa.Array, pa.Array] | None:
    """The times of the rows in CloudTrail's own `YYYY-MM-DDTHH:MM:SSZ` form (each part in its
    range, a day its month has, year 0001 on), null at the others; and which rows those are (a
    mask without nulls)."""
    spec, module = _spec(texts), extensions.loaded(_NAME)
    if spec is None or module is None:
        return None
    micros, bits, count = module.event_times(spec)
    n = len(texts)
    shaped = pa.py_buffer(bits)
    times = pa.Array.from_buffers(_TIMESTAMP, n, [shaped, pa.py_buffer(micros)], n - count)
    return times, pa.Array.from_buffers(pa.bool_(), n, [None, shaped], 0)


def holding(texts: pa.Array, positions: np.ndarray, literal: str) -> np.ndarray | None:
    """Per position (rows of `texts`, in any order), whether the row's text holds `literal` (two
    characters or more), false where null: `pc.match_substring_regex` of the texts taken at
    the positions, nulls false, read where they lie (the texts may be a skimmer's whole block,
    of which only these rows are read)."""
    spec, module = _spec(texts), extensions.loaded(_NAME)
    if spec is None or module is None:
        return None
    at = np.ascontiguousarray(positions, np.int64)
    found: np.ndarray = np.frombuffer(module.holding(spec, at, literal.encode()), np.bool_)
    return found


def codes(array: pa.Array) -> tuple[np.ndarray, int] | None:
    """Per row an int32 code for its value, numbered by first appearance, nulls the number of
    distinct values, and that number: `pc.dictionary_encode`'s indices, their nulls filled by
    its dictionary's length (`engine.codes.dictionary_codes`), without Arrow's ~30 µs a call
    and hashing of every row (a batch's columns run in blocks of one value)."""
    spec, module = _spec(array), extensions.loaded(_NAME)
    if spec is None or module is None:
        return None
    data, count = module.codes(spec)
    return np.frombuffer(data, np.int32), count


def _spec(array: pa.Array) -> tuple[Any, ...] | None:
    """A string array as the extension reads it: (validity or None, offsets, data, offset,
    length); None for any other array (a chunked, large or binary one goes to the kernels)."""
    if not isinstance(array, pa.Array) or array.type != pa.string():
        return None
    validity, offsets, data = array.buffers()
    if not array.null_count:
        validity = None  # a bitmap may be there with every bit set, or absent
    return (validity, offsets, data, array.offset, len(array))


def _buffer(data: bytes | None) -> pa.Buffer | None:
    return None if data is None else pa.py_buffer(data)


__all__ = ["cleaned", "coalesced", "codes", "event_times", "holding", "outcome", "present"]
