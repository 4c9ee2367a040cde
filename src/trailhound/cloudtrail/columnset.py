"""The pieces a normalizer builds its Arrow batch with: a column held as distinct values plus one
index per row (`Distinct`), the wanted columns collected by ECS name (`ColumnSet`), and text
columns with the values Elastic's cleaning drops turned into nulls (`text_column`).

Shared by the record-at-a-time mapping (`ecs.py`) and the columnar one (`columnar.py`), which
must give the same columns.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from functools import cache
from operator import itemgetter
from typing import Any, Generic, TypeVar

import numpy as np
import pyarrow as pa

from trailhound import arrow_kernels as kernels
from trailhound.cloudtrail.nulling import Kept, nulled
from trailhound.cloudtrail.payloads import DROPPED_TEXT
from trailhound.cloudtrail.schema import COLUMNS, arrow_schema
from trailhound.numpy_arrow import arrow_array

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
W = TypeVar("W")


class Distinct(Generic[V]):
    """A column held as the distinct values of some key plus one index per row."""

    def __init__(self, values: list[V], indices: pa.Array) -> None:
        self.values = values
        self.indices = indices

    @classmethod
    def of(cls, keys: pa.Array, derive: Callable[[Any], V]) -> Distinct[V]:
        """Derive once per distinct key; null keys are derived from None."""
        return cls.of_encoded(kernels.dictionary_encode(keys), derive)

    @classmethod
    def of_encoded(cls, encoded: pa.DictionaryArray, derive: Callable[[Any], V]) -> Distinct[V]:
        """`of` the keys of this encoding (`keys.dictionary_encode()`), made once and shared."""
        distinct: list[Any] = encoded.dictionary.to_pylist()
        indices = encoded.indices
        if indices.null_count:
            indices = kernels.fill_null(indices, len(distinct))
            distinct.append(None)
        return cls([derive(key) for key in distinct], indices)

    @classmethod
    def of_bytes(cls, keys: list[K], derive: Callable[[K], V]) -> Distinct[V]:
        """Like `of`, for raw JSON keys (or tuples holding some): Python's dict beats Arrow on
        long binary values."""
        index: dict[K, int] = {}
        codes = [index.setdefault(key, len(index)) for key in keys]
        return cls([derive(key) for key in index], pa.array(codes, type=pa.int32()))

    def filter(self, mask: pa.Array) -> Distinct[V]:
        return Distinct(self.values, kernels.filter(self.indices, mask))

    def map(self, change: Callable[[V], W]) -> Distinct[W]:
        return Distinct([change(value) for value in self.values], self.indices)

    def rows_where(self, test: Callable[[V], bool]) -> list[tuple[int, V]]:
        hits = [j for j, value in enumerate(self.values) if test(value)]
        if not hits:
            return []
        hit = kernels.is_in(self.indices, value_set=pa.array(hits, pa.int32()))
        rows = kernels.indices_nonzero(hit)
        codes = self.indices.to_pylist()
        return [(i, self.values[codes[i]]) for i in rows.to_pylist()]

    def column(self, get: Callable[[V], Any], arrow_type: pa.DataType) -> pa.Array:
        made = pa.array([get(value) for value in self.values], type=arrow_type)
        return kernels.take(made, self.indices)

    def per_row(self) -> list[V]:
        values = self.values
        return [values[code] for code in self.indices.to_pylist()]


class ColumnSet:
    """Collects the wanted column arrays by ECS name; the others come out as nulls."""

    def __init__(self, n: int, wanted: frozenset[str]) -> None:
        self.n = n
        self.wanted = wanted
        self.arrays: dict[str, pa.Array] = {}

    def wants(self, *names: str) -> bool:
        return not self.wanted.isdisjoint(names)

    def put(self, name: str, values: pa.Array | list[Any]) -> None:
        if name not in self.wanted:
            return
        arrow_type = _types()[name]
        if not isinstance(values, pa.Array):
            values = pa.array(values, type=arrow_type)
        if values.type != arrow_type:
            values = kernels.cast(values, arrow_type)
        self.arrays[name] = values

    def constant(self, name: str, value: object) -> None:
        if name in self.wanted:
            self.put(name, pa.repeat(pa.scalar(value, _types()[name]), self.n))

    def spread(self, names: Sequence[str], distinct: Distinct[Sequence[Any]]) -> None:
        for position, name in enumerate(names):
            if name in self.wanted:
                self.put(name, distinct.column(itemgetter(position), _types()[name]))

    def batch(
        self, rows: np.ndarray | None = None, unwanted: Mapping[str, Kept] | None = None
    ) -> pa.RecordBatch:
        """The columns, at `rows` only (ascending positions) when given: only the columns put
        are taken, the schema's others being nulls of the new length (taking a whole batch
        took every one of its ~150 columns, most of them nulls). A column `unwanted` names
        is null at the rows its `Kept` (over the batch's rows) drops: nulled here, before the
        batch is made, as a batch's columns cost a wrapper each to take out and put back."""
        made = self.arrays
        n = self.n
        if rows is not None:
            at = arrow_array(rows, kind=pa.int64())
            made = {name: kernels.take(array, at) for name, array in made.items()}
            n = len(rows)
        if unwanted:
            made = {
                name: nulled(array, kept)
                if (kept := unwanted.get(name)) is not None and kept.dropped
                else array
                for name, array in made.items()
            }
        # the unwanted columns, most of the schema, share one null array per type: a batch of
        # a few rows would otherwise spend more on allocating them than on its own columns;
        # the schema's ~150 columns are laid out from a plan made once (a Python step per
        # column, every call, was a tenth of the columnar step's fixed cost)
        kinds, type_of, place = _layout()
        nulls = [pa.nulls(n, type=arrow_type) for arrow_type in kinds]
        arrays = [nulls[k] for k in type_of]
        for name, array in made.items():
            arrays[place[name]] = array
        return pa.RecordBatch.from_arrays(arrays, schema=arrow_schema())


@cache
def _layout() -> tuple[tuple[pa.DataType, ...], tuple[int, ...], dict[str, int]]:
    """The schema's distinct types, per column its type's number among them, and per name
    its column's place."""
    kinds = tuple(dict.fromkeys(c.arrow_type for c in COLUMNS))
    type_of = tuple(kinds.index(c.arrow_type) for c in COLUMNS)
    return kinds, type_of, {c.name: at for at, c in enumerate(COLUMNS)}


@cache
def _types() -> dict[str, pa.DataType]:
    """Per column name its Arrow type (a schema lookup, an enum's hash and a property per put
    cost more than the put)."""
    return {c.name: c.arrow_type for c in COLUMNS}


@cache
def dropped_array() -> pa.Array:
    """Elastic's pipeline drops these values (and then empty objects and lists) before mapping.
    (Made on first use: a module that makes Arrow arrays on import makes pyarrow look for
    pandas there, see `trailhound.arrow_setup`.)"""
    return pa.array(sorted(DROPPED_TEXT), type=pa.string())


def text_column(values: list[str | None]) -> pa.Array:
    """A string column with the values Elastic's cleaning drops turned into nulls."""
    return cleaned(pa.array(values, type=pa.string()))


def cleaned(array: pa.Array) -> pa.Array:
    """The string column with the values Elastic's cleaning drops turned into nulls."""
    dropped = kernels.is_in(array, value_set=dropped_array())
    if not dropped.true_count:  # a count kept with the array: no kernel call
        return array
    return kernels.if_else(dropped, pa.scalar(None, pa.string()), array)


def distinct_codes(codes: np.ndarray, bound: int) -> tuple[np.ndarray, np.ndarray]:
    """`np.unique(codes, return_inverse=True)` for codes in [0, bound): by a table of the
    codes present when it is small beside the rows (no sort: a sort of every row read was
    most of the table column's making; a batch's (source, action) pairs too), else by the sort
    (which also bounds the table where the codes are products of many distinct members)."""
    if bound > 4 * len(codes) + 4096:
        pairs, inverse = np.unique(codes, return_inverse=True)
        return pairs, inverse
    present = np.zeros(bound, np.bool_)
    present[codes] = True
    place = np.cumsum(present) - 1  # of each present code among them, ascending
    return np.flatnonzero(present), place[codes]


__all__ = ["ColumnSet", "Distinct", "cleaned", "distinct_codes", "dropped_array", "text_column"]
