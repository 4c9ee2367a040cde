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
    assert taken.matched.schema.names == matched.schema.names
    assert [_plain(f.type) for f in taken.matched.schema] == matched.schema.types
    assert taken.matched.to_pylist() == matched.to_pylist()
    others = {k: v for k, v in vars(taken).items() if k != "matched"}
    assert others == {k: v for k, v in vars(out).items() if k != "matched"}


def _plain(kind: pa.DataType) -> pa.DataType:
    return kind.value_type if pa.types.is_dictionary(kind) else kind


def test_repeating_text_columns_travel_as_dictionaries_and_the_rest_as_they_were() -> None:
    # the scanning process holds ~100k received rows at a time: a rule id or an account
    # coded once per value rather than once per row
    rows = 6
    matched = pa.table(
        {
            "rule_id": pa.array(["r1", "r2"] * 3, pa.string()),
            "cloud.account.id": pa.array(["111", None] * 3, pa.string()),
            "event.action": pa.array(["DeleteTable"] * rows, pa.string()),
            "user.name": pa.array([None] * rows, pa.string()),
            "event.id": pa.array([f"e{n}" for n in range(rows)], pa.string()),
            "step": pa.array(range(rows), pa.int32()),
        }
    )
    taken = _sent(StageOutput(matched=matched)).matched
    assert taken is not None
    coded = {f.name for f in taken.schema if pa.types.is_dictionary(f.type)}
    assert coded == {"rule_id", "cloud.account.id", "event.action", "user.name"}
    assert taken.schema.field("event.id").type == pa.string()
    assert taken.to_pylist() == matched.to_pylist()


def test_an_output_without_matches_arrives_without_them() -> None:
    taken = _sent(StageOutput(events=5))
    assert taken.matched is None
    assert taken.events == 5


def test_an_empty_table_of_matches_arrives_empty_with_its_columns() -> None:
    empty = pa.table({"rule_id": pa.array([], pa.string()), "ts": pa.array([], pa.int64())})
    taken = _sent(StageOutput(matched=empty))
    assert taken.matched is not None
    assert taken.matched.num_rows == 0
    assert taken.matched.schema.names == empty.schema.names
    assert [_plain(f.type) for f in taken.matched.schema] == empty.schema.types
