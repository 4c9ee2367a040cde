"""A string column as the compiled column makers meet it, drawn by hypothesis: a slice of a
longer array (so its offsets and validity do not start at its first row), with positions in
it to read at, in any order, some twice."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
from hypothesis import strategies as st


def sliced_with_positions(
    draw: Callable[[st.SearchStrategy[Any]], Any],
    middle: Sequence[str | None],
    texts: st.SearchStrategy[str | None],
    *,
    positions: int,
) -> tuple[pa.Array, np.ndarray]:
    """`middle` as a slice of a longer array (drawn `texts` before and after it), and up to
    `positions` positions in it."""
    before = draw(st.lists(texts, max_size=5))
    after = draw(st.lists(texts, max_size=3))
    column = pa.array([*before, *middle, *after], pa.string()).slice(len(before), len(middle))
    places = st.integers(0, len(middle) - 1)
    return column, np.array(draw(st.lists(places, max_size=positions)), np.int64)
