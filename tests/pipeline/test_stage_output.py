"""A stage's output as a worker sends it: the scanning process gets the same matches, evidence
and counts as the worker had (they travel pickled, the matches as an Arrow stream)."""

from __future__ import annotations

from collections import Counter
from multiprocessing.reduction import ForkingPickler

import pyarrow as pa

from trailhound.pipeline.stage import Problems, StageOutput


def _sent(out: StageOutput) -> StageOutput:
    taken: StageOutput = ForkingPickler.loads(ForkingPickler.dumps(out))
    return taken


def test_matches_arrive_with_their_types_nulls_and_order() -> None:
    matched = pa.table(
        {
            "rule_id": pa.array(["r1", "r2", None], pa.string()),
            "ts": pa.array([3, None, 1], pa.int64()),
            "@timestamp": pa.array([1, 2, None], pa.timestamp("us", tz="UTC")),
            "aws.dynamodb.table_name": pa.array([["a", "b"], None, []], pa.list_(pa.string())),
        }
    )
    out = StageOutput(
        matched=matched, records=b"\x00pack", events=7, latest=3, hits=Counter({"r1": 2}),
        dynamodb=Counter({"Data": 4}), dynamodb_times=Counter({300: 4}),
        dynamodb_places=Counter({("1", "eu-west-1"): 4}), files_read=2, stored_bytes=99,
        records_normalized=3, problems=Problems(), failed={"r3": "why"},
    )  # fmt: skip
    taken = _sent(out)
    assert taken.matched is not None
    assert taken.matched.schema == matched.schema
    assert taken.matched.equals(matched)
    assert taken.matched.to_pylist() == matched.to_pylist()
    others = {k: v for k, v in vars(taken).items() if k != "matched"}
    assert others == {k: v for k, v in vars(out).items() if k != "matched"}


def test_an_output_without_matches_arrives_without_them() -> None:
    taken = _sent(StageOutput(events=5))
    assert taken.matched is None
    assert taken.events == 5


def test_an_empty_table_of_matches_arrives_empty_with_its_columns() -> None:
    empty = pa.table({"rule_id": pa.array([], pa.string()), "ts": pa.array([], pa.int64())})
    taken = _sent(StageOutput(matched=empty))
    assert taken.matched is not None
    assert taken.matched.num_rows == 0
    assert taken.matched.schema == empty.schema
