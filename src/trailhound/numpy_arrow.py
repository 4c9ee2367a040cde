"""A one-dimensional NumPy array of booleans or fixed-width numbers as an Arrow array, and an
Arrow column of whole numbers as NumPy's 64-bit integers.

`pa.array(ndarray)` first asks whether it was handed a masked array, `np.ma.MaskedArray`,
and that question imports `numpy.ma` (7-10 ms of CPU at every start: a one-file scan's
first batch asks it at a dozen places). Here the array's memory is handed to Arrow as its
values buffer (a boolean array packed into bits first), which is what `pa.array` does for
these types, and `numpy.ma` stays unimported.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from trailhound import arrow_kernels as kernels


def arrow_array(
    values: np.ndarray, mask: np.ndarray | None = None, kind: pa.DataType | None = None
) -> pa.Array:
    """`values` as Arrow, as `pa.array(values, kind, mask=mask)` gives it: null where `mask`
    is true, cast to `kind` when it is another type."""
    values = np.ascontiguousarray(values)
    if values.ndim != 1:
        raise ValueError("only a one-dimensional array is taken")
    if values.dtype == np.bool_:
        made, data = pa.bool_(), _bits(values)
    else:
        made, data = pa.from_numpy_dtype(values.dtype), pa.py_buffer(values)
    validity = None if mask is None or not mask.any() else _bits(~np.asarray(mask, np.bool_))
    array = pa.Array.from_buffers(made, len(values), [validity, data])
    return array if kind is None or kind == made else kernels.cast(array, kind)


def _bits(flags: np.ndarray) -> pa.Buffer:
    """Booleans as Arrow keeps them: one bit each, the first in the lowest bit of a byte."""
    return pa.py_buffer(np.packbits(flags, bitorder="little"))


def int64s(column: pa.ChunkedArray | pa.Array) -> npt.NDArray[np.int64]:
    """An Arrow column of whole numbers without nulls as one NumPy array of 64-bit integers."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    return np.asarray(column.to_numpy(zero_copy_only=False), np.int64)
