"""The compiled search for a literal in a string column's rows (`compiled_columns.holding`,
which the columnar step asks whether a KMS call's request holds the table context key) answers
as Arrow's kernels do on the texts taken at the same positions: on the requests the compiled
skimmer reads from simulated files, read in place in its block, and on made-up texts around
the literal's edges. Without the extension these tests are skipped."""

from __future__ import annotations

import random
import re
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support.damaged_columns import DAMAGED_AT
from support.drawn_columns import sliced_with_positions
from support.simulated_skims import simulated_skims
from trailhound.cloudtrail import compiled_columns, dynamodb, extensions
from trailhound.cloudtrail.record_members import REQUEST

pytestmark = pytest.mark.skipif(
    not compiled_columns.present(), reason="the compiled column makers were not built"
)
KEY = dynamodb.KMS_CONTEXT_KEY


def kernel_holding(texts: pa.Array, positions: np.ndarray, literal: str) -> list[bool]:
    """What the columnar step did before: RE2 on the texts taken, a null holding nothing."""
    taken = texts.take(pa.array(positions, pa.int64()))
    return pc.fill_null(pc.match_substring_regex(taken, re.escape(literal)), False).to_pylist()


def plain_holding(texts: pa.Array, positions: np.ndarray, literal: str) -> list[bool]:
    """Arrow's plain substring search (any literal, no pattern to escape)."""
    taken = texts.take(pa.array(positions, pa.int64()))
    return pc.fill_null(pc.match_substring(taken, literal), False).to_pylist()


def made(texts: pa.Array, positions: np.ndarray, literal: str) -> list[bool]:
    found = compiled_columns.holding(texts, positions, literal)
    assert found is not None
    return [bool(x) for x in found]


@pytest.fixture(scope="module")
def requests(tmp_path_factory: pytest.TempPathFactory) -> list[pa.Array]:
    """Per simulated file, the request texts the compiled skimmer read (a slice of its block)."""
    found = [r.columns[REQUEST] for r in simulated_skims(tmp_path_factory.mktemp("sim"), seed=5)]
    assert found
    return found


def test_simulated_requests_are_searched_alike(requests: list[pa.Array]) -> None:
    rng = random.Random(3)
    held = 0
    for texts in requests:
        n = len(texts)
        every = np.arange(n, dtype=np.int64)
        some = np.array([rng.randrange(n) for _ in range(n // 2)], np.int64)  # any order, twice
        for literal in (KEY, "tableName", '"requestItems"', "ws:dynamodb:tableNam"):
            for positions in (every, some, every[::-1].copy()):
                assert made(texts, positions, literal) == kernel_holding(texts, positions, literal)
        held += sum(made(texts, every, KEY))
    assert held  # some KMS calls' requests hold the key


def test_a_sliced_column_is_read_at_its_own_rows(requests: list[pa.Array]) -> None:
    texts = pa.concat_arrays(requests)
    for cut in (texts.slice(1, len(texts) - 2), texts.slice(len(texts) // 3, 7)):
        positions = np.arange(len(cut), dtype=np.int64)[::-1].copy()
        assert made(cut, positions, KEY) == kernel_holding(cut, positions, KEY)


# -- made-up texts --------------------------------------------------------------------------------

_PIECES = st.sampled_from(
    [KEY, KEY[:-1], KEY[1:], "aws:", "dynamodb:", ":tableName", "tableName", "a", "e", ":",
     "\"", "\\", "\x00", "\u00e9", "\U0001f600", " " * 15, "x" * 16, "aws:dynamodb:table",
     "Name", "aws:dynamodb:tableName"[::-1]]
)  # fmt: skip
_TEXTS = st.one_of(
    st.none(), st.lists(st.one_of(_PIECES, st.text(max_size=5)), max_size=9).map("".join)
)


@st.composite
def _column(draw: Any) -> tuple[pa.Array, np.ndarray]:
    """A string array of drawn texts, maybe a slice of a longer one, and positions in it (any
    order, some twice)."""
    middle = draw(st.lists(_TEXTS, min_size=1, max_size=20))
    return sliced_with_positions(draw, middle, _TEXTS, positions=30)


@given(_column())
@settings(max_examples=500, deadline=None)
def test_texts_around_the_key_are_searched_alike(column: tuple[pa.Array, np.ndarray]) -> None:
    texts, positions = column
    assert made(texts, positions, KEY) == kernel_holding(texts, positions, KEY)


@given(_column(), st.one_of(_PIECES, st.text(min_size=2, max_size=6)))
@settings(max_examples=500, deadline=None)
def test_any_literal_is_searched_as_a_plain_substring(
    column: tuple[pa.Array, np.ndarray], literal: str
) -> None:
    texts, positions = column
    if len(literal.encode()) < 2:
        return
    assert made(texts, positions, literal) == plain_holding(texts, positions, literal)


# -- what it does not read ------------------------------------------------------------------------


def test_without_the_extension_or_for_other_arrays_it_answers_none() -> None:
    at = np.array([0], np.int64)
    with extensions.off("_columns"):
        assert compiled_columns.holding(pa.array(["x"]), at, KEY) is None
    for odd in (pa.array([b"x"]), pa.array(["x"], pa.large_string()), pa.chunked_array([["x"]])):
        assert compiled_columns.holding(odd, at, KEY) is None


def test_damaged_buffers_and_positions_are_refused_not_read() -> None:
    from trailhound.cloudtrail import _columns  # type: ignore[attr-defined]

    for spec, at in DAMAGED_AT:
        with pytest.raises(ValueError):
            _columns.holding(spec, at, b"ab")
    offsets = pa.array([0, 3, 99], pa.int32()).buffers()[1]
    first = np.array([0], np.int64)
    with pytest.raises(ValueError):
        _columns.holding((None, offsets, b"abc", 0, 1), first, b"a")  # a literal too short
    # a row not read is not checked: the column may be a long block of which few rows are read
    assert _columns.holding((None, offsets, b"abc", 0, 2), first, b"bc") == b"\x01"
