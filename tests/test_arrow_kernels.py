"""`arrow_kernels` gives what `pyarrow.compute` gives, where its wrappers handle the arguments
themselves (a fill value's type, a cast's safety, options made from keywords)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from trailhound import arrow_kernels as kernels

INTS = pa.array([3, None, 1, 3, None, 2], pa.int32())
TEXTS = pa.chunked_array([["b", None, "a"], ["b", "c", None]])


@pytest.mark.parametrize("fill", [0, pa.scalar(7, pa.int64()), pa.scalar(7, pa.int32())])
def test_fill_null_makes_its_value_the_values_type(fill: object) -> None:
    """A Python value, or a scalar of another type, fills as a scalar of the values' type."""
    filled = kernels.fill_null(INTS, fill)
    assert filled.type == pa.int32()
    assert filled.equals(pc.fill_null(INTS, fill))


def test_fill_null_by_an_array_fills_row_by_row() -> None:
    other = pa.array([9, 8, 7, 6, 5, 4], pa.int32())
    assert kernels.fill_null(INTS, other).equals(pc.fill_null(INTS, other))


def test_cast_is_safe() -> None:
    """A value the target type cannot hold raises, as `pc.cast` and `Array.cast` do."""
    assert kernels.cast(INTS, pa.int64()).equals(INTS.cast(pa.int64()))
    with pytest.raises(pa.ArrowInvalid):
        kernels.cast(pa.array([300]), pa.int8())
    times = pa.array(["2026-01-01T00:00:00Z", None])
    stamp = pa.timestamp("us", tz="UTC")
    assert kernels.cast(times, stamp).equals(times.cast(stamp))


def test_is_in_matches_a_null_to_a_null_in_the_set() -> None:
    value_set = pa.array(["a", None])
    assert kernels.is_in(TEXTS, value_set).equals(pc.is_in(TEXTS, value_set=value_set))
    assert kernels.is_in(TEXTS, pa.array(["c"])).to_pylist() == [
        False, False, False, False, True, False
    ]  # fmt: skip


def test_sort_indices_by_keys_and_alone() -> None:
    table = pa.table({"k": INTS, "v": pa.array(range(6))})
    keys = [("k", "descending"), ("v", "ascending")]
    assert kernels.sort_indices(table, keys).equals(pc.sort_indices(table, sort_keys=keys))
    assert kernels.sort_indices(INTS).equals(pc.sort_indices(INTS))  # stable, nulls last


def test_options_made_from_keywords() -> None:
    assert kernels.rank(INTS).equals(pc.rank(INTS, tiebreaker="first"))
    assert kernels.match_substring_regex(TEXTS, "^[ab]$").equals(
        pc.match_substring_regex(TEXTS, "^[ab]$")
    )
    texts = pa.array(["2026-02-30 01:02:03", "2026-02-03 01:02:03", None])
    parsed = kernels.strptime(texts, format="%Y-%m-%d %H:%M:%S", unit="s", error_is_null=True)
    wanted = pc.strptime(texts, format="%Y-%m-%d %H:%M:%S", unit="s", error_is_null=True)
    assert parsed.equals(wanted)
    assert kernels.strftime(parsed, format="%Y-%m-%d").equals(
        pc.strftime(wanted, format="%Y-%m-%d")
    )


def test_rows_of_tables_and_arrays() -> None:
    table = pa.table({"k": INTS})
    mask = pa.array([True, None, False, True, True, False])
    assert kernels.filter(table, mask).equals(table.filter(mask))  # a null drops its row
    assert kernels.filter(INTS, mask).equals(INTS.filter(mask))
    at = pa.array([5, None, 0])
    assert kernels.take(table, at).equals(table.take(at))
    assert kernels.take(TEXTS, at).equals(TEXTS.take(at))
    assert kernels.drop_null(INTS).equals(INTS.drop_null())
    assert kernels.indices_nonzero(mask).to_pylist() == [0, 3, 4]


def test_python_values_become_scalars() -> None:
    outcome = kernels.if_else(pa.array([True, False, None]), "failure", "success")
    assert outcome.to_pylist() == ["failure", "success", None]
    assert kernels.equal(TEXTS, "b").equals(pc.equal(TEXTS, "b"))
    assert kernels.and_(pa.array([True, None]), pa.array([False, False])).to_pylist() == [
        False, None
    ]  # fmt: skip
