"""Columns with null at some rows, their values kept: a new validity bitmap over the same
buffers where Arrow allows it (a take copies every value). Rows sharing a `Kept` share its
bitmaps, packed once per offset: fields nulled at the same rows pay for one bitmap.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from trailhound import arrow_kernels as kernels
from trailhound.numpy_arrow import arrow_array


class Kept:
    """The rows a field keeps (the others dropped), and their validity bitmaps by an array's
    offset: the fields sharing a mask share its bitmap, packed once (a pack per field, and a
    kernel call for an array's own validity, were most of the nulling)."""

    __slots__ = ("_bitmaps", "drop", "dropped")

    def __init__(self, drop: np.ndarray) -> None:
        self.drop = drop
        self.dropped = int(np.count_nonzero(drop))
        self._bitmaps: dict[int, np.ndarray] = {}

    def bitmap(self, offset: int) -> np.ndarray:
        """The kept rows' bits, starting `offset` bits into the first byte (as a slice's)."""
        found = self._bitmaps.get(offset)
        if found is None:
            keep = ~self.drop
            bits = np.concatenate([np.zeros(offset, np.bool_), keep]) if offset else keep
            found = self._bitmaps[offset] = np.packbits(bits, bitorder="little")
        return found


def nulled(array: pa.Array, kept: Kept) -> pa.Array:
    """The array with null at the rows `kept` drops. A flat array keeps its buffers under a
    new validity bitmap (a take copied every value, and was most of a task's nulling)."""
    if array.null_count == len(array):
        return array
    kind = array.type
    listed = pa.types.is_list(kind)  # a list's own buffers, its values as they are
    if (kind.num_fields and not listed) or pa.types.is_dictionary(kind):
        taken = arrow_array(np.arange(len(kept.drop)), mask=kept.drop)
        return kernels.take(array, taken)  # a null index takes a null
    # a slice (a skimmer's path cut from its rows' one take) keeps its offset: the bitmap
    # starts where its buffers do, so no value is copied (a take per slice was most of this)
    offset = array.offset
    bits = kept.bitmap(offset)
    own = array.buffers()[0]
    if own is None:
        nulls = kept.dropped
    else:  # the array's own nulls stay: its bitmap, over the same bits, and'ed with ours
        bits = bits & np.frombuffer(own, np.uint8, len(bits))
        nulls = -1  # Arrow counts them when asked
    validity = pa.py_buffer(bits)
    if listed:
        offsets = array.buffers()[1]
        return pa.Array.from_buffers(
            kind, len(array), [validity, offsets], nulls, offset, children=[array.values]
        )
    buffers = [validity, *array.buffers()[1:]]
    return pa.Array.from_buffers(kind, len(array), buffers, nulls, offset)
