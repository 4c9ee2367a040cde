"""Damaged buffers of a string column, as the compiled column makers are handed them
(validity, offsets, data, offset, length), and wrong positions to read them at: every maker
must refuse each with ValueError, never read it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

_OFFSETS = pa.array([0, 3, 99], pa.int32()).buffers()[1]
_FIRST, _SECOND = np.array([0], np.int64), np.array([1], np.int64)
_SOUND = (None, _OFFSETS, b"abc", 0, 1)

DAMAGED: list[tuple[Any, ...]] = [
    (None, _OFFSETS, b"abc", 0, 2),  # an offset past the data
    (None, _OFFSETS, b"abc", 2, 1),  # offsets too short for the slice
    (b"", _OFFSETS, b"abc", 0, 1),  # a validity bitmap too short
    (None, pa.array([5, 2], pa.int32()).buffers()[1], b"abcdef", 0, 1),  # going backwards
    (None, _OFFSETS, b"abc", -1, 1),
    (None, _OFFSETS, b"abc", 0, 2**62),
    (None, _OFFSETS, None, 0, 1),  # a value but no data
]

# A maker that reads at positions checks only the rows it reads (a block may be long and few of
# its rows read), so the first fault is met at the row past the good one; the others at any.
DAMAGED_AT: list[tuple[tuple[Any, ...], Any]] = [
    (DAMAGED[0], _SECOND),
    *[(spec, _FIRST) for spec in DAMAGED[1:]],
    (_SOUND, _SECOND),  # a position past the column
    (_SOUND, np.array([-1], np.int64)),
    (_SOUND, b"\x00" * 3),  # positions that are not int64
]
