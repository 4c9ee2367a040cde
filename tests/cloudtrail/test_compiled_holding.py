"""The compiled search for a literal in a string column's rows (`compiled_columns.holding`,
which the columnar step asks whether a KMS call's request holds the table context key) answers
as Arrow's kernels do on the texts taken at the same positions: on the requests the compiled
skimmer reads from simulated files, read in place in its block, and on made-up texts around
the literal's edges. Without the extension these tests are skipped."""

from __future__ import annotations

import gzip
import random
import re
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trailhound.cloudtrail import compiled_columns, dynamodb, extensions
from trailhound.cloudtrail.columnar import PATHS, RAW_PATHS
from trailhound.cloudtrail.record_members import REQUEST
from trailhound.cloudtrail.skim import compiled_skimmer
from trailhound.simulate import simulate

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
    out = tmp_path_factory.mktemp("sim")
    simulate(out, days=1, seed=5, events=4_000)
    skimmer = compiled_skimmer(PATHS, RAW_PATHS)
    assert skimmer is not None
    found = []
    for path in sorted(out.rglob("*.json.gz")):
        read = skimmer(gzip.decompress(path.read_bytes()))
        if read is not None:
            found.append(read.columns[REQUEST])
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
    before = draw(st.lists(_TEXTS, max_size=5))
    middle = draw(st.lists(_TEXTS, min_size=1, max_size=20))
    after = draw(st.lists(_TEXTS, max_size=3))
    texts = pa.array([*before, *middle, *after], pa.string()).slice(len(before), len(middle))
    places = st.integers(0, len(middle) - 1)
    return texts, np.array(draw(st.lists(places, max_size=30)), np.int64)


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

    offsets = pa.array([0, 3, 99], pa.int32()).buffers()[1]
    first, second = np.array([0], np.int64), np.array([1], np.int64)
    for spec, at in (
        ((None, offsets, b"abc", 0, 2), second),  # a row read whose offsets pass the data
        ((None, offsets, b"abc", 2, 1), first),  # offsets too short for the slice
        ((b"", offsets, b"abc", 0, 1), first),  # a validity bitmap too short
        ((None, pa.array([5, 2], pa.int32()).buffers()[1], b"abcdef", 0, 1), first),
        ((None, offsets, b"abc", -1, 1), first),
        ((None, offsets, b"abc", 0, 2**62), first),
        ((None, offsets, b"abc", 0, 1), second),  # a position past the column
        ((None, offsets, b"abc", 0, 1), np.array([-1], np.int64)),
        ((None, offsets, b"abc", 0, 1), b"\x00" * 3),  # positions that are not int64
    ):
        with pytest.raises(ValueError):
            _columns.holding(spec, at, b"ab")
    with pytest.raises(ValueError):
        _columns.holding((None, offsets, b"abc", 0, 1), first, b"a")  # a literal too short
    # a row not read is not checked: the column may be a long block of which few rows are read
    assert _columns.holding((None, offsets, b"abc", 0, 2), first, b"bc") == b"\x01"
