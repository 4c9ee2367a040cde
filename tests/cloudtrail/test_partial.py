"""`joined`: parts of a batch normalized apart come out as one result, each row where it was."""

from __future__ import annotations

import pyarrow as pa

from trailhound.cloudtrail.columnset import ColumnSet
from trailhound.cloudtrail.ecs import Normalized
from trailhound.cloudtrail.partial import joined
from trailhound.cloudtrail.schema import arrow_schema

_IDS = "event.id"
_REGIONS = "cloud.region"


def _part(ids: list[str | None], regions: list[str | None] | None = None) -> pa.RecordBatch:
    wanted = {_IDS, _REGIONS} if regions is not None else {_IDS}
    cols = ColumnSet(len(ids), frozenset(wanted))
    cols.put(_IDS, ids)
    if regions is not None:
        cols.put(_REGIONS, regions)
    return cols.batch()


def test_joined_keeps_every_column_and_each_rows_input_position() -> None:
    first = Normalized(_part(["a", "b"]), [])
    second = Normalized(_part(["c", None, "d"], ["eu-west-1", None, "us-east-1"]), [])
    result = joined([([3, 0], first), ([1, 4, 2], second)])
    assert result.batch.schema == arrow_schema()
    assert result.order == [3, 0, 1, 4, 2]
    assert result.batch.column(_IDS).to_pylist() == ["a", "b", "c", None, "d"]
    assert result.batch.column(_REGIONS).to_pylist() == [None, None, "eu-west-1", None, "us-east-1"]
    # a column no part made is null at every row, of its own type and the batch's length
    untouched = result.batch.column("user.name")
    assert untouched.null_count == len(untouched) == 5
    assert untouched.type == arrow_schema().field("user.name").type


def test_joined_maps_rejected_and_reordered_rows_to_their_input_positions() -> None:
    rejecting = Normalized(_part(["a", "c"]), [(1, "bad time")], notes=[(2, "note")])
    reordering = Normalized(_part(["e", "d"]), [], order=[1, 0])
    result = joined([([10, 11, 12], rejecting), ([20, 21], reordering)])
    assert result.order == [10, 12, 21, 20]
    assert result.rejected == [(11, "bad time")]
    assert result.notes == [(12, "note")]
    assert result.batch.column(_IDS).to_pylist() == ["a", "c", "e", "d"]


def test_joined_of_one_part_is_that_part_at_its_positions() -> None:
    only = Normalized(_part(["a", "b"]), [])
    result = joined([([5, 6], only)])
    assert result.batch.equals(only.batch)
    assert result.order == [5, 6]


def test_joined_of_no_parts_is_an_empty_batch() -> None:
    result = joined([])
    assert result.batch.num_rows == 0
    assert result.batch.schema == arrow_schema()
    assert result.order == []
