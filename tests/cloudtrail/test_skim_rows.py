"""A shared columnar call's rows hold nulls in the fields their own group does not want."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from trailhound.cloudtrail.skim_rows import _unwanted_nulled


def _cut(values: list[object], kind: pa.DataType, before: int) -> pa.Array:
    """The values as a slice of a longer array (as a skimmer's paths come, cut from one take),
    so that the column starts at an offset."""
    padding: list[object] = [None if k % 3 else values[0] for k in range(before)]
    return pa.array([*padding, *values, *padding], kind).slice(before, len(values))


def test_rows_of_groups_not_wanting_a_field_read_null_in_sliced_columns() -> None:
    texts = ["a", None, "c", "d", "e", None, "g", "h", "i", "j", "k"]
    lists = [["x"], None, [], ["y", "z"], ["w"], ["v"], None, ["u"], [], ["t"], ["s", "r"]]
    batch = pa.RecordBatch.from_arrays(
        [_cut(texts, pa.string(), 13), _cut(lists, pa.list_(pa.string()), 70)],
        ["user.name", "aws.dynamodb.table_name"],
    )
    assert batch.column(0).offset and batch.column(1).offset
    groups = np.array([0, 1, 0, 1, 1, 0, 0, 1, 0, 0, 1])
    wanted = [frozenset({"user.name"}), frozenset({"user.name", "aws.dynamodb.table_name"})]

    nulled = _unwanted_nulled(batch, groups, wanted, frozenset(batch.schema.names))

    for column in nulled.columns:
        column.validate(full=True)
    assert nulled.column("user.name").to_pylist() == texts
    assert nulled.column("aws.dynamodb.table_name").to_pylist() == [
        value if group == 1 else None for value, group in zip(lists, groups, strict=True)
    ]
    assert nulled.column("aws.dynamodb.table_name").null_count == 7


def test_a_sliced_column_with_its_own_nulls_keeps_them() -> None:
    texts = [None, "b", "c", None, "e", "f"]
    batch = pa.RecordBatch.from_arrays([_cut(texts, pa.string(), 9)], ["source.address"])
    groups = np.array([1, 0, 1, 1, 0, 1])
    wanted = [frozenset(), frozenset({"source.address"})]

    column = _unwanted_nulled(batch, groups, wanted, frozenset({"source.address"})).column(0)

    column.validate(full=True)
    assert column.to_pylist() == [None, None, "c", None, None, "f"]
    assert column.null_count == 4
    assert pa.concat_arrays([column, column]).to_pylist() == column.to_pylist() * 2


def test_fields_lacking_in_the_same_groups_are_nulled_alike_at_any_offset() -> None:
    texts = ["a", None, "c", "d", "e", "f", None, "h", "i"]
    full = ["p", "q", "r", "s", "t", "u", "v", "w", "x"]
    columns = [
        _cut(texts, pa.string(), 5),
        _cut(full, pa.string(), 5),
        _cut(full, pa.string(), 8),
        _cut(texts, pa.string(), 19),
        pa.array(full, pa.string()),
    ]
    names = ["user.name", "user.email", "event.id", "source.address", "event.action"]
    batch = pa.RecordBatch.from_arrays(columns, names)
    groups = np.array([0, 1, 1, 0, 1, 0, 0, 1, 1])
    wanted = [frozenset({"event.action"}), frozenset(names)]

    nulled = _unwanted_nulled(batch, groups, wanted, frozenset(names))

    for name, before in zip(names, columns, strict=True):
        column = nulled.column(name)
        column.validate(full=True)
        expected = [
            v if g == 1 or name == "event.action" else None
            for v, g in zip(before.to_pylist(), groups, strict=True)
        ]
        assert column.to_pylist() == expected
        assert column.null_count == expected.count(None)
