"""The rows a thinned term keeps are found by jumping from one kept row to the next; they must
be the rows of the rule as stated, walked row by row: a row goes when the row after it lies
within the history of the last row that stays, and a term's first and last rows stay. Times
spread over 2**62 µs take the path for terms and times that would not fit one 63-bit number."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from trailhound.engine.eligibility import _skeleton

FAR = (1 << 62) // 60  # µs between two minutes of a far-apart case


def walked(terms: list[int], ts: list[int], history: int) -> list[bool]:
    kept = [True] * len(ts)
    last = 0
    for j in range(1, len(ts) - 1):
        if terms[j] != terms[j - 1]:
            last = j
        elif terms[j + 1] == terms[j] and ts[j + 1] - ts[last] <= history:
            kept[j] = False
        else:
            last = j
    return kept


rows = st.lists(st.tuples(st.integers(0, 4), st.integers(0, 60)), max_size=60)


@settings(max_examples=300, deadline=None)
@given(rows, st.integers(0, 20), st.booleans())
def test_the_kept_rows_are_those_of_walking_every_row(
    given_rows: list[tuple[int, int]], history: int, far: bool
) -> None:
    ordered = sorted(given_rows)
    terms = [t for t, _ in ordered]
    step = FAR if far else 1
    ts = [m * step for _, m in ordered]
    span = history * step
    found = _skeleton(np.array(terms, np.int64), np.array(ts, np.int64), span)
    assert found.tolist() == walked(terms, ts, span)
