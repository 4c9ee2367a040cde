"""The compiled coding of a text column (`compiled_columns.codes`, which the matcher's grouping
and thinning use through `codes.dictionary_codes`) gives exactly Arrow's dictionary codes: on
the columns the compiled skimmer reads from simulated files, whole and sliced, on hostile
texts made up by hypothesis, and on columns of many distinct values; a stage's matches, packs
and hits are the same without it. Damaged buffers are refused. Without the extension these
tests are skipped."""

from __future__ import annotations

import gzip
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trailhound.cloudtrail import compiled_columns, extensions
from trailhound.cloudtrail.columnar import PATHS
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.reader import blobs_of
from trailhound.cloudtrail.report import Report
from trailhound.cloudtrail.skim import compiled_skimmer
from trailhound.engine.codes import arrow_codes, dictionary_codes
from trailhound.engine.filtering import FilterPlan
from trailhound.pipeline.stage import Stage, StagePlan
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.simulate import simulate
from trailhound.sources import open_source

pytestmark = pytest.mark.skipif(
    not compiled_columns.present(), reason="the compiled column makers were not built"
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    simulate(out, days=1, seed=5, events=5_000)
    return out


def assert_same(texts: pa.Array) -> None:
    made = compiled_columns.codes(texts)
    assert made is not None
    codes, count = made
    reference, reference_count = arrow_codes(texts)
    assert count == reference_count
    assert codes.dtype == reference.dtype
    assert codes.tolist() == reference.tolist()


def test_skimmed_columns_are_coded_alike(corpus: Path) -> None:
    skimmer = compiled_skimmer(PATHS, ())
    assert skimmer is not None
    files = sorted(corpus.rglob("*.json.gz"))
    assert files
    for path in files:
        read = skimmer(gzip.decompress(path.read_bytes()))
        assert read is not None
        for name in PATHS:
            column = read.columns[name]
            n = len(column)
            for cut in (column, column.slice(1), column.slice(n // 3, n // 3)):
                assert_same(cut)


@st.composite
def _sliced(draw: Any) -> pa.Array:
    """A string array of drawn values from a small pool (runs and repeats, as a batch's columns
    hold), maybe a slice of a longer one at an odd offset."""
    pool = draw(st.lists(st.text(max_size=20), min_size=1, max_size=12))
    value = st.one_of(st.none(), st.sampled_from(pool))
    before, middle = draw(st.lists(value, max_size=9)), draw(st.lists(value, max_size=60))
    after = draw(st.lists(value, max_size=3))
    return pa.array([*before, *middle, *after], pa.string()).slice(len(before), len(middle))


@given(_sliced())
@settings(max_examples=500, deadline=None)
def test_hostile_texts_are_coded_alike(texts: pa.Array) -> None:
    assert_same(texts)


@pytest.mark.parametrize("distinct", [1, 31, 32, 33, 100, 5_000])
def test_many_distinct_values_are_coded_alike(distinct: int) -> None:
    """Past the table's first sizes: its growth keeps every code."""
    rng = np.random.default_rng(distinct)
    values = [f"value-{i}" * (i % 5) for i in range(distinct)]
    picked = rng.integers(0, distinct, 3 * distinct)
    assert_same(pa.array([values[i] if i % 7 else None for i in picked], pa.string()))


def test_columns_without_values_are_coded_alike() -> None:
    for texts in ([], [None, None], ["", ""], ["", None, ""]):
        assert_same(pa.array(texts, pa.string()))


def test_other_arrays_are_coded_by_arrow() -> None:
    for odd in (pa.array([b"x", b"y", b"x"]), pa.array(["x"], pa.large_string()),
                pa.array([3, None, 3])):  # fmt: skip
        assert compiled_columns.codes(odd) is None
        codes, count = dictionary_codes(odd)
        assert (codes.tolist(), count) == (arrow_codes(odd)[0].tolist(), arrow_codes(odd)[1])


def test_damaged_buffers_are_refused_not_read() -> None:
    from trailhound.cloudtrail import _columns  # type: ignore[attr-defined]

    offsets = pa.array([0, 3, 99], pa.int32()).buffers()[1]
    for spec in (
        (None, offsets, b"abc", 0, 2),  # an offset past the data
        (None, offsets, b"abc", 2, 1),  # offsets too short for the slice
        (b"", offsets, b"abc", 0, 1),  # a validity bitmap too short
        (None, pa.array([5, 2], pa.int32()).buffers()[1], b"abcdef", 0, 1),  # going backwards
        (None, offsets, b"abc", -1, 1),
    ):
        with pytest.raises(ValueError):
            _columns.codes(spec)


def test_a_stage_matches_alike_without_the_compiled_codes(corpus: Path) -> None:
    rules = load_rules([shipped_pack_dir()]).rules
    filters = FilterPlan.build(rules, now=datetime.now(UTC))
    plan = StagePlan.build(rules, enricher=Enricher.create(), filters=filters)
    blobs = list(blobs_of([open_source(str(corpus))], Report()))
    made = _outputs(Stage(plan), blobs)
    with extensions.off("_columns"):
        reference = _outputs(Stage(plan), blobs)
    assert made == reference
    assert sum(hits.total() for _, _, hits in made) > 100


def _outputs(stage: Stage, blobs: list[Any]) -> list[tuple[Any, bytes | None, Counter[str]]]:
    """Each output's matched rows (less the run's own time), pack and hits."""
    found = []
    for out in stage.run(blobs, Report()):
        rows = None
        if out.matched is not None:
            rows = out.matched.drop_columns(["event.ingested"]).to_pylist()
        found.append((rows, out.records, out.hits))
    return found
