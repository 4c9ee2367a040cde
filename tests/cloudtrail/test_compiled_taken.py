"""The picked rows' values taken from a skimmer's block by compiled code (`compiled_columns.taken`
and `codes_at`, which a normalizer uses for the columns its columnar step reads and for grouping
its rows by action) are exactly Arrow's take and dictionary encoding: on the blocks the compiled
skimmer reads from simulated files, at positions in any order, on hostile strings made up by
hypothesis, and through a whole normalizing with and without the extension. Damaged buffers
and positions are refused. Without the extension these tests are skipped."""

from __future__ import annotations

import gzip
import random
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support.damaged_columns import DAMAGED_AT
from support.drawn_columns import sliced_with_positions
from support.simulated_skims import simulated_skims
from trailhound.cloudtrail import compiled_columns, extensions, skim
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.skim_rows import SkimRows
from trailhound.engine.filtering import FilterPlan
from trailhound.pipeline.stage import Stage, StagePlan
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.simulate import simulate

pytestmark = pytest.mark.skipif(
    not compiled_columns.present(), reason="the compiled column makers were not built"
)


def taken(values: pa.Array, positions: np.ndarray) -> pa.Array:
    made = compiled_columns.taken(values, positions)
    assert made is not None
    made.validate(full=True)
    return made


def assert_taken_alike(values: pa.Array, positions: np.ndarray) -> None:
    """`taken` and `codes_at` against Arrow's take and dictionary encoding."""
    expected = values.take(pa.array(positions, pa.int64()))
    made = taken(values, positions)
    assert made.equals(expected) and made.null_count == expected.null_count
    found = compiled_columns.codes_at(values, positions)
    assert found is not None
    codes, count, firsts = found
    encoded = expected.dictionary_encode()
    assert count == len(encoded.dictionary)
    assert codes.tolist() == encoded.indices.fill_null(count).to_pylist()
    assert values.take(pa.array(positions[firsts])).equals(encoded.dictionary)


@pytest.fixture(scope="module")
def blocks(tmp_path_factory: pytest.TempPathFactory) -> list[pa.Array]:
    """Per simulated file the compiled skimmer reads, the values of its whole block (every
    path's run, the array a normalizer's columns are taken from)."""
    found = [r.block.values for r in simulated_skims(tmp_path_factory.mktemp("sim"), seed=7)
             if r.block is not None]  # fmt: skip
    assert found
    return found


def test_skimmed_blocks_are_taken_alike(blocks: list[pa.Array]) -> None:
    rng = random.Random(5)
    for values in blocks:
        n = len(values)
        every = np.arange(n, dtype=np.int64)
        some = np.array([rng.randrange(n) for _ in range(n // 3)], np.int64)  # any order, twice
        for positions in (every, some, every[::-1].copy(), every[:0]):
            assert_taken_alike(values, positions)


def test_a_sliced_column_is_taken_at_its_own_rows(blocks: list[pa.Array]) -> None:
    values = pa.concat_arrays(blocks)
    for cut in (values.slice(1, len(values) - 2), values.slice(len(values) // 3, 7)):
        assert_taken_alike(cut, np.arange(len(cut), dtype=np.int64)[::-1].copy())


# -- made-up texts ------------------------------------------------------------------------------

_ODD = st.sampled_from(
    ["", "-", "none", "\x00", "\u00e9", "\U0001f600", "x" * 15, "y" * 16, "z" * 17, "w" * 31,
     "v" * 32, "u" * 33, "t" * 100, "ab\x00cd"]
)  # fmt: skip
_TEXTS = st.one_of(st.none(), _ODD, st.text(max_size=40))


@st.composite
def _column(draw: Any) -> tuple[pa.Array, np.ndarray]:
    """A string array of drawn texts (runs of one value often, as a skimmer's), maybe a slice
    of a longer one, and positions in it (any order, some twice)."""
    texts = draw(st.lists(st.tuples(_TEXTS, st.integers(1, 4)), min_size=1, max_size=20))
    middle = [text for text, times in texts for _ in range(times)]
    return sliced_with_positions(draw, middle, _TEXTS, positions=40)


@given(_column())
@settings(max_examples=500, deadline=None)
def test_hostile_texts_are_taken_alike(column: tuple[pa.Array, np.ndarray]) -> None:
    assert_taken_alike(*column)


def test_a_value_at_the_end_of_its_data_is_copied_without_reading_past_it() -> None:
    # the last values leave fewer than 32 bytes of the data after their start
    values = pa.array(["a" * 40, "b" * 20, "c" * 5, "d"], pa.string())
    for positions in ([3, 2, 1, 0], [1], [2, 3]):
        assert_taken_alike(values, np.array(positions, np.int64))


# -- through a normalizer -----------------------------------------------------------------------


def test_skimmed_rows_are_normalized_alike_without_the_extension(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A worker's normalizer over the rows its skimmer picks: the same batch and rejections,
    with the rows' columns taken and grouped by the compiled makers or by Arrow."""
    out = tmp_path_factory.mktemp("sim")
    simulate(out, days=1, seed=13, events=3_000)
    rules = load_rules([shipped_pack_dir()]).rules
    filters = FilterPlan.build(rules, now=datetime.now(UTC))
    stage = Stage(StagePlan.build(rules, enricher=Enricher.create(), filters=filters))
    assert stage._skim is not None
    texts = [gzip.decompress(p.read_bytes()) for p in sorted(out.rglob("*.json.gz"))]
    files = skim.skimmed_all(stage._skim.skimmer, texts)
    got = [g for g in files if g is not None]
    spans: list[bytes] = []
    picked: list[int] = []
    for text, file in zip(texts, files, strict=True):
        if file is None:
            continue
        rows = range(len(file)) if file.picked is None else file.picked.tolist()
        starts, ends = file.starts.to_pylist(), file.ends.to_pylist()
        picked += [len(spans) + row for row in rows]
        spans += [text[starts[row] : ends[row]] for row in range(len(file))]
    spans = [spans[row] for row in picked]
    ingested = datetime(2026, 3, 1, tzinfo=UTC)

    def normalized() -> Any:
        columns = skim.picked_columns(got, picked, stage._skim.normalizer.paths)
        assert isinstance(columns, skim.PickedColumns)
        return stage._skim.normalizer(SkimRows(spans, columns), ingested, stage.plan.enricher)

    made = normalized()
    with extensions.off("_columns"):
        reference = normalized()
    assert made.batch.num_rows > 100, made.batch.num_rows
    assert made.batch.equals(reference.batch) and made.rejected == reference.rejected


# -- what it does not read ----------------------------------------------------------------------


def test_without_the_extension_or_for_other_arrays_it_answers_none() -> None:
    at = np.array([0], np.int64)
    with extensions.off("_columns"):
        assert compiled_columns.taken(pa.array(["x"]), at) is None
        assert compiled_columns.codes_at(pa.array(["x"]), at) is None
    for odd in (pa.array([b"x"]), pa.array(["x"], pa.large_string()), pa.chunked_array([["x"]])):
        assert compiled_columns.taken(odd, at) is None
        assert compiled_columns.codes_at(odd, at) is None


def test_damaged_buffers_and_positions_are_refused_not_read() -> None:
    from trailhound.cloudtrail import _columns  # type: ignore[attr-defined]

    for spec, at in DAMAGED_AT:
        for call in (_columns.taken, _columns.codes_at):
            with pytest.raises(ValueError):
                call(spec, at)
    # a row not read is not checked: the column may be a long block of which few rows are read
    offsets = pa.array([0, 3, 99], pa.int32()).buffers()[1]
    first = np.array([0], np.int64)
    validity, taken_offsets, data, nulls = _columns.taken((None, offsets, b"abc", 0, 2), first)
    assert (validity, bytes(data[:3]), nulls) == (None, b"abc", 0)
    assert np.frombuffer(taken_offsets, np.int32).tolist() == [0, 3]
