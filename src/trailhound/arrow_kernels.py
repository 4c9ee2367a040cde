"""Arrow's compute kernels, called without importing `pyarrow.compute`.

`pyarrow.compute` costs a process 20-27 ms of CPU when it is imported: it wraps each of Arrow's
~290 kernels in a Python function and scrapes the options classes' docstrings for them. The
kernels themselves, their registry and their options classes live in `pyarrow._compute` (~4 ms),
so a scan's path calls them here by name, through `call_function`, with the options the
wrapper in `pyarrow.compute` would have made from the same arguments. Arrow's own methods that
reach a kernel (`Array.take`, `.filter`, `.cast`, `.unique`, `.is_null`, `Table.filter`...) import
`pyarrow.compute` on their first call; the scan's path uses the functions of the same names
here instead.

Each function takes what its kernel takes: Arrow arrays, chunked arrays, tables, scalars, or
Python values (which Arrow makes scalars of, as the wrappers do). Only `cast` and `fill_null`
handle their arguments as the wrappers of the same names in `pyarrow.compute` do by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
from pyarrow._compute import (
    CastOptions,
    MatchSubstringOptions,
    RankOptions,
    SetLookupOptions,
    SortOptions,
    StrftimeOptions,
    StrptimeOptions,
    call_function,
)

Datum = Any
"""An Arrow array, chunked array, table, record batch or scalar, or a Python value a kernel
makes a scalar of (pyarrow has no type hints of its own)."""

SortKeys = Sequence[tuple[str, str]]


# Comparisons and logic (`and`/`or` are not Kleene's: a null on either side gives null)


def equal(left: Datum, right: Datum) -> Datum:
    return call_function("equal", [left, right])


def not_equal(left: Datum, right: Datum) -> Datum:
    return call_function("not_equal", [left, right])


def greater(left: Datum, right: Datum) -> Datum:
    return call_function("greater", [left, right])


def less(left: Datum, right: Datum) -> Datum:
    return call_function("less", [left, right])


def greater_equal(left: Datum, right: Datum) -> Datum:
    return call_function("greater_equal", [left, right])


def and_(left: Datum, right: Datum) -> Datum:
    return call_function("and", [left, right])


def and_not(left: Datum, right: Datum) -> Datum:
    return call_function("and_not", [left, right])


def or_(left: Datum, right: Datum) -> Datum:
    return call_function("or", [left, right])


def invert(values: Datum) -> Datum:
    return call_function("invert", [values])


def is_valid(values: Datum) -> Datum:
    return call_function("is_valid", [values])


def is_null(values: Datum) -> Datum:
    """True where null (NaN is not null: the `NullOptions` default)."""
    return call_function("is_null", [values])


def is_in(values: Datum, value_set: Datum) -> Datum:
    """True where a value is in `value_set`; a null matches a null in the set."""
    return call_function("is_in", [values], SetLookupOptions(value_set))


def index_in(values: Datum, value_set: Datum) -> Datum:
    """Each value's place in `value_set`, null where it is not there."""
    return call_function("index_in", [values], SetLookupOptions(value_set))


# Choosing and filling


def if_else(cond: Datum, left: Datum, right: Datum) -> Datum:
    return call_function("if_else", [cond, left, right])


def coalesce(*values: Datum) -> Datum:
    return call_function("coalesce", list(values))


def fill_null(values: Datum, fill_value: Datum) -> Datum:
    """Nulls in `values` replaced by `fill_value`'s, which is first made a scalar of `values`'
    type when it is a Python value or a scalar of another type (as `pyarrow.compute` does)."""
    if not isinstance(fill_value, pa.Array | pa.ChunkedArray | pa.Scalar):
        fill_value = pa.scalar(fill_value, type=values.type)
    elif values.type != fill_value.type:
        fill_value = pa.scalar(fill_value.as_py(), type=values.type)
    return call_function("coalesce", [values, fill_value])


def replace_with_mask(values: Datum, mask: Datum, replacements: Datum) -> Datum:
    return call_function("replace_with_mask", [values, mask, replacements])


# Selecting rows


def indices_nonzero(values: Datum) -> Datum:
    return call_function("indices_nonzero", [values])


def filter(data: Datum, mask: Datum) -> Datum:  # pyarrow.compute's name
    """The rows of an array or table where `mask` is true; a null in the mask drops its row."""
    return call_function("filter", [data, mask])


def take(data: Datum, indices: Datum) -> Datum:
    """The rows of an array or table at `indices` (bounds checked; a null index gives null)."""
    return call_function("take", [data, indices])


def drop_null(data: Datum) -> Datum:
    """`data` without its nulls (a table: without the rows holding any)."""
    return call_function("drop_null", [data])


def sort_indices(data: Datum, sort_keys: SortKeys | None = None) -> Datum:
    """Indices that sort `data` stably, nulls last: an array ascending, or a table by
    `sort_keys` of (column, "ascending" or "descending")."""
    options = None if sort_keys is None else SortOptions(list(sort_keys))
    return call_function("sort_indices", [data], options)


def rank(values: Datum, tiebreaker: str = "first") -> Datum:
    """Each value's 1-based place in ascending order, nulls last."""
    return call_function("rank", [values], RankOptions(tiebreaker=tiebreaker))


# Types and texts


def cast(values: Datum, target_type: pa.DataType) -> Datum:
    """`values` as `target_type`, raising where a value would not survive (a safe cast)."""
    return call_function("cast", [values], CastOptions.safe(target_type))


def match_substring_regex(texts: Datum, pattern: str) -> Datum:
    return call_function("match_substring_regex", [texts], MatchSubstringOptions(pattern))


def strptime(texts: Datum, format: str, unit: str, error_is_null: bool = False) -> Datum:
    options = StrptimeOptions(format, unit, error_is_null=error_is_null)
    return call_function("strptime", [texts], options)


def strftime(times: Datum, format: str) -> Datum:
    """Times as texts in the C locale."""
    return call_function("strftime", [times], StrftimeOptions(format))


def binary_join(lists: Datum, separator: Datum) -> Datum:
    return call_function("binary_join", [lists, separator])


# Arithmetic and aggregates


def multiply(left: Datum, right: Datum) -> Datum:
    return call_function("multiply", [left, right])


def divide(left: Datum, right: Datum) -> Datum:
    return call_function("divide", [left, right])


def any(values: Datum) -> Datum:  # pyarrow.compute's name
    """Whether any value is true (nulls skipped), as a boolean scalar."""
    return call_function("any", [values])


def max(values: Datum) -> Datum:  # pyarrow.compute's name
    return call_function("max", [values])


def count(values: Datum) -> Datum:
    """The non-null values' number, as a scalar."""
    return call_function("count", [values])


def unique(values: Datum) -> Datum:
    return call_function("unique", [values])


def value_counts(values: Datum) -> Datum:
    return call_function("value_counts", [values])


def dictionary_encode(values: Datum) -> Datum:
    """Indices into the distinct values in their first-seen order (nulls stay null)."""
    return call_function("dictionary_encode", [values])
