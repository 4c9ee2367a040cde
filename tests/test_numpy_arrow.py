"""`arrow_array` gives what `pa.array` gives for the NumPy arrays trailhound hands Arrow."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from trailhound.numpy_arrow import arrow_array

LENGTHS = (0, 1, 7, 8, 9, 64, 1000)


@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("dtype", [np.bool_, np.int32, np.int64, np.uint64, np.float64])
def test_the_same_array_as_pa_array(n: int, dtype: type) -> None:
    values = (np.arange(n) * 7919 % 5 == 1).astype(dtype)
    made = arrow_array(values)
    assert made.type == pa.array(values).type
    assert made.equals(pa.array(values))
    made.validate(full=True)


@pytest.mark.parametrize("n", LENGTHS)
def test_a_mask_nulls_its_rows(n: int) -> None:
    values = np.arange(n, dtype=np.int32)
    mask = np.arange(n) % 3 == 0
    made = arrow_array(values, mask=mask)
    assert made.equals(pa.array(values, mask=mask))
    assert made.null_count == int(mask.sum())
    assert arrow_array(values, mask=np.zeros(n, np.bool_)).null_count == 0
    assert arrow_array(values > 3, mask=mask).equals(pa.array(values > 3, mask=mask))


def test_a_kind_casts_and_a_view_is_read_in_order() -> None:
    values = np.arange(20, dtype=np.int32)
    assert arrow_array(values, kind=pa.int64()).equals(pa.array(values, pa.int64()))
    every_third = values[::3]  # not contiguous
    assert arrow_array(every_third).to_pylist() == every_third.tolist()
    flags = np.arange(20) % 2 == 0
    assert arrow_array(flags[1::2]).to_pylist() == flags[1::2].tolist()


def test_the_array_outlives_its_numpy_name() -> None:
    made = arrow_array(np.arange(5, dtype=np.int64) + 10)  # the only reference is Arrow's
    assert made.to_pylist() == [10, 11, 12, 13, 14]


def test_only_one_dimension() -> None:
    with pytest.raises(ValueError, match="one-dimensional"):
        arrow_array(np.zeros((2, 2), np.int64))
