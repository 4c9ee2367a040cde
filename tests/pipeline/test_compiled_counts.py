"""A stage's counts of the records it read made by compiled code in one pass
(`Counted.compiled`, through `compiled_columns.counted`) are the counts Arrow's kernels make
(`Counted`'s methods and the stage's parsing of the times), in the same order: on the columns
the compiled skimmer reads from simulated files, on hostile columns made up by hypothesis, and
in a stage's outputs with the extension switched off. A time not in CloudTrail's own form
leaves the counting to Arrow. Damaged parts are refused. Without the extension these tests are
skipped."""

from __future__ import annotations

import gzip
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trailhound.cloudtrail import compiled_columns, extensions
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.reader import blobs_of
from trailhound.cloudtrail.report import Report
from trailhound.cloudtrail.skim import compiled_skimmer
from trailhound.engine.filtering import FilterPlan
from trailhound.pipeline.coverage import COUNTED_PATHS, DYNAMODB, TIMELINE_STEP, Counted, Counts
from trailhound.pipeline.stage import Stage, StageOutput, StagePlan, _times_counted
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.simulate import simulate
from trailhound.sources import open_source

pytestmark = pytest.mark.skipif(
    not compiled_columns.present(), reason="the compiled column makers were not built"
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    simulate(out, days=1, seed=7, events=5_000)
    return out


def reference(counted: Counted) -> Counts:
    """The counts by Arrow's kernels, as a stage makes them when the compiled count cannot."""
    latest, times = _times_counted(counted.times()[0], counted.dynamodb_mask())
    return Counts(latest, times, counted.dynamodb(), counted.dynamodb_places())


def assert_same(counted: Counted) -> None:
    made, expected = counted.compiled(), reference(counted)
    assert made is not None
    assert made.latest == expected.latest
    # the same keys in the same order: what the counts are merged into keeps their order
    for name in ("times", "dynamodb", "places"):
        assert list(getattr(made, name).items()) == list(getattr(expected, name).items())


def test_skimmed_files_are_counted_alike(corpus: Path) -> None:
    skimmer = compiled_skimmer(list(COUNTED_PATHS), ())
    assert skimmer is not None
    files = sorted(corpus.rglob("*.json.gz"))
    together = Counted()
    for path in files:
        read = skimmer(gzip.decompress(path.read_bytes()))
        assert read is not None
        alone = Counted()
        alone.add(read.columns)
        together.add(read.columns)
        assert_same(alone)
    assert_same(together)
    assert sum(reference(together).dynamodb.values()) > 100


_TIMES = ["2026-03-02T09:01:00Z", "2026-03-02T09:04:59Z", "2026-03-02T09:05:00Z",
          "1969-12-31T23:58:00Z", "2024-02-29T23:59:59Z", "0001-01-01T00:00:00Z"]  # fmt: skip
# some begin as a valid time of the same hour does: the hour of the time before is reused
_ODD_TIMES = [" 2026-03-02T09:01:00Z", "2026-03-02T09:01:00.5Z", "2026-03-02 09:01:00",
              "2026-02-29T00:00:00Z", "2026-03-02T24:00:00Z", "", "soon",
              "2026-03-02T09:60:00Z", "2026-03-02T09:01:60Z", "2026-03-02T09:0x:00Z",
              "2026-03-02T09:01-00Z", "2026-03-02T09:01:00+"]  # fmt: skip


@st.composite
def _column(draw: Any, pool: list[str], rows: int) -> pa.Array:
    """A string column of `rows` values drawn from `pool` and nulls, maybe a slice of a
    longer one at an odd offset."""
    value = st.one_of(st.none(), st.sampled_from(pool))
    before = draw(st.lists(value, max_size=3))
    middle = draw(st.lists(value, min_size=rows, max_size=rows))
    return pa.array([*before, *middle], pa.string()).slice(len(before), rows)


@st.composite
def _counted(draw: Any, times: list[str]) -> Counted:
    """Records added a part at a time, their values from small pools (runs and repeats)."""
    counted = Counted()
    texts = st.lists(st.text(max_size=6), min_size=1, max_size=4)
    pools = {
        "eventTime": times,
        "eventSource": [DYNAMODB, "s3.amazonaws.com", ""],
        **{name: draw(texts) for name in COUNTED_PATHS[2:]},
    }
    for rows in draw(st.lists(st.integers(0, 30), min_size=1, max_size=5)):
        counted.add({name: draw(_column(pool, rows)) for name, pool in pools.items()})
    return counted


@given(_counted(_TIMES))
@settings(max_examples=400, deadline=None)
def test_hostile_columns_are_counted_alike(counted: Counted) -> None:
    assert_same(counted)


@given(_counted(_TIMES + _ODD_TIMES))
@settings(max_examples=200, deadline=None)
def test_a_time_not_cloudtrails_own_is_left_to_arrow(counted: Counted) -> None:
    texts = counted.times()[0].to_pylist()
    if any(t is not None and t not in _TIMES for t in texts):
        assert counted.compiled() is None
    else:
        assert_same(counted)


def test_many_groups_and_intervals_are_counted_alike() -> None:
    """Past the tables' first sizes: their growth keeps every count."""
    n = 5_000
    counted = Counted()
    minute = 60 * 1_000_000
    start = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp() * 1_000_000)
    times = [
        datetime.fromtimestamp((start + i * 7 * minute) / 1e6, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for i in range(n)
    ]
    counted.add({
        "eventTime": pa.array(times, pa.string()),
        "eventSource": pa.array([DYNAMODB if i % 5 else None for i in range(n)], pa.string()),
        "eventCategory": pa.array(["Data", "Management", None] * (n // 3) + ["Data"] * (n % 3)),
        "eventName": pa.array([f"Action{i % 97}" for i in range(n)], pa.string()),
        "recipientAccountId": pa.array([f"{i % 13:012d}" for i in range(n)], pa.string()),
        "awsRegion": pa.array([None if i % 11 == 0 else f"r-{i % 7}" for i in range(n)]),
    })  # fmt: skip
    assert_same(counted)
    made = counted.compiled()
    assert made is not None
    assert len(made.times) > 1_000 and made.latest == start + (n - 1) * 7 * minute


def test_nothing_added_counts_nothing() -> None:
    assert Counted().compiled() == Counts(None, Counter(), Counter(), Counter())


def test_damaged_parts_are_refused() -> None:
    module = extensions.loaded("_columns")
    assert module is not None
    column = pa.array(["a", "b"], pa.string())
    _, offsets, data = column.buffers()
    whole = (None, offsets, data, 0, 2)
    source = DYNAMODB.encode()
    with pytest.raises(ValueError):
        module.counted(((whole,) * 5,), source, TIMELINE_STEP)  # five columns
    with pytest.raises(ValueError):
        module.counted(((whole,) * 5 + ((None, offsets, data, 0, 1),),), source, TIMELINE_STEP)
    with pytest.raises(ValueError):
        module.counted(((whole,) * 5 + ((None, offsets, data, 0, 3),),), source, TIMELINE_STEP)
    short = pa.py_buffer(data.to_pybytes()[:1])
    with pytest.raises(ValueError):
        module.counted(((whole,) * 5 + ((None, offsets, short, 0, 2),),), source, TIMELINE_STEP)
    with pytest.raises(ValueError):
        module.counted(((whole,) * 6,), source, 0)


def test_a_stage_counts_alike_without_the_compiled_count(corpus: Path) -> None:
    rules = load_rules([shipped_pack_dir()]).rules
    filters = FilterPlan.build(rules, now=datetime.now(UTC))
    plan = StagePlan.build(rules, enricher=Enricher.create(), filters=filters)
    blobs = list(blobs_of([open_source(str(corpus))], Report()))
    made = _counts(Stage(plan).run(blobs, Report()))
    with extensions.off("_columns"):
        expected = _counts(Stage(plan).run(blobs, Report()))
    assert made == expected
    assert sum(count for _, _, dynamodb, _ in made for _, count in dynamodb) > 100


def _counts(outputs: Any) -> list[tuple[Any, ...]]:
    """Each output's counts, in their order."""
    found = []
    for out in outputs:
        assert isinstance(out, StageOutput)
        found.append((out.latest, list(out.dynamodb_times.items()), list(out.dynamodb.items()),
                      list(out.dynamodb_places.items())))  # fmt: skip
    return found
