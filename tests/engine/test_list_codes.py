"""A list column's codes (`codes.list_codes`, which the matcher groups rows by): equal lists,
equal codes, and each distinct list its own, numbered as a reading of the lists in order
would number them; a null list and an empty one each apart; a list holding a null item left
to the caller."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from trailhound.engine.codes import list_codes

_ITEMS = st.sampled_from(["get", "put", "query", "", "a,b", "é"])
_LISTS = st.one_of(st.none(), st.lists(_ITEMS, max_size=5))


def reference(lists: list[list[str] | None]) -> list[tuple[Any, ...] | None]:
    return [None if value is None else tuple(value) for value in lists]


@given(st.lists(_LISTS, max_size=60), st.integers(0, 4))
@settings(max_examples=400, deadline=None)
def test_equal_lists_have_equal_codes(lists: list[list[str] | None], cut: int) -> None:
    array = pa.array([["x"]] * cut + lists, pa.list_(pa.string())).slice(cut)
    made = list_codes(array)
    assert made is not None
    codes, bound = made
    values = reference(lists)
    assert all(0 <= c <= bound for c in codes.tolist())
    pairs = dict(zip(values, codes.tolist(), strict=True))
    assert len(set(pairs.values())) == len(pairs)  # distinct lists, distinct codes
    assert [pairs[v] for v in values] == codes.tolist()
    longer = [c for v, c in zip(values, codes.tolist(), strict=True) if v and len(v) > 1]
    assert _by_first_appearance(longer)


def _by_first_appearance(codes: list[int]) -> bool:
    firsts = list(dict.fromkeys(codes))
    return firsts == sorted(firsts)


def test_a_null_item_is_left_to_the_caller() -> None:
    assert list_codes(pa.array([["get"], ["put", None]], pa.list_(pa.string()))) is None
