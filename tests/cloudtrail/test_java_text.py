"""A free-form member's text (`aws.cloudtrail.request_parameters` and the like) is what Java's
`Map.toString()` prints of it, objects in HashMap order. The renderer takes shortcuts through
objects of one member (a batch write's items nest them four deep); these tests hold it to the
plain definition, written out here, over values of every shape: chains of one-member objects
ending in any value, with the texts Elastic drops and empty containers anywhere in them."""

from __future__ import annotations

import json
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from trailhound.cloudtrail.payloads import (
    CUT,
    DROPPED_TEXT,
    MAX_DEPTH,
    java_order,
    java_scalar,
    payload,
)

_KEYS = st.sampled_from(["key", "S", "N", "deleteRequest", "putRequest", "item", "a", "Aa", "BB"])
_LEAF = st.one_of(
    st.sampled_from(["x", "SES-01", "", "-", "none", "1e5", "é"]),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)
_VALUE = st.recursive(
    _LEAF,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3),
    max_leaves=16,
)


def _chain(value: Any, keys: list[str]) -> Any:
    for key in reversed(keys):
        value = {key: value}
    return value


_CHAINED = st.builds(_chain, _VALUE, st.lists(_KEYS, max_size=4))
_MEMBER = st.dictionaries(_KEYS, _CHAINED | st.lists(_CHAINED, max_size=3), min_size=1, max_size=3)


def _needs_cleaning(value: Any) -> bool:
    if isinstance(value, dict):
        return not value or any(_needs_cleaning(v) for v in value.values())
    if isinstance(value, list):
        return not value or any(_needs_cleaning(v) for v in value)
    return value is None or (isinstance(value, str) and value in DROPPED_TEXT)


def _java_text(value: Any) -> str:
    """Map.toString() and List.toString() of a value with nothing to clean."""
    if isinstance(value, dict):
        keys = java_order(tuple(value), len(value))
        return "{" + ", ".join(f"{k}={_java_text(value[k])}" for k in keys) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_java_text(v) for v in value) + "]"
    return value if isinstance(value, str) else java_scalar(value)


@settings(max_examples=400, deadline=None)
@given(_MEMBER)
def test_text_is_javas_map_to_string(member: dict[str, Any]) -> None:
    read = payload(orjson.dumps(member))
    if _needs_cleaning(member):
        assert read.cleaned  # rendered from the cleaned value instead, as Elastic does
    else:
        assert read.text == _java_text(member)


def test_batch_write_items_print_as_java_does() -> None:
    request = {
        "requestItems": {
            "sessions": [
                {"deleteRequest": {"key": {"sessionId": "SES-01"}}},
                {"putRequest": {"item": {"id": {"S": "a"}, "n": {"N": "5"}}}},
            ]
        },
        "returnConsumedCapacity": "TOTAL",
    }
    assert payload(orjson.dumps(request)).text == (
        "{requestItems={sessions=[{deleteRequest={key={sessionId=SES-01}}}, "
        "{putRequest={item={id={S=a}, n={N=5}}}}]}, returnConsumedCapacity=TOTAL}"
    )


def test_a_dropped_text_at_the_end_of_a_chain_is_cleaned_away() -> None:
    read = payload(orjson.dumps({"tableName": "T", "key": {"id": {"S": "-"}}}))
    assert read.cleaned
    assert read.text == "{tableName=T}"


def _depth(value: Any) -> int:
    """How many containers down the deepest value lies (a scalar at the top: 0)."""
    if isinstance(value, dict) and value:
        return 1 + max(_depth(v) for v in value.values())
    if isinstance(value, list) and value:
        return 1 + max(_depth(v) for v in value)
    return 0


def _wrapped(leaf: Any, shells: list[int]) -> Any:
    """`leaf` inside one container per shell: a one-member object (0), an object with a
    second member (1), a list (2) or a list with a second item (3)."""
    value = leaf
    for shell in reversed(shells):
        if shell == 0:
            value = {"k": value}
        elif shell == 1:
            value = {"a": value, "b": "x"}
        elif shell == 2:
            value = [value]
        else:
            value = [value, 1]
    return value


_DEEP = st.builds(
    _wrapped,
    st.sampled_from(["x", "-", 1, None, {}, [], {"S": "v"}]),
    st.lists(st.integers(0, 3), min_size=60, max_size=70),
)


@settings(max_examples=300, deadline=None)
@given(_DEEP)
def test_members_too_deep_are_cut_and_told(member: Any) -> None:
    read = payload(orjson.dumps({"top": member}))
    too_deep = _depth({"top": member}) > MAX_DEPTH
    assert (read.note == f"nested more than {MAX_DEPTH} levels deep, cut there") is too_deep
    if too_deep:
        assert CUT in (read.text or "")
    elif not _needs_cleaning(member):
        assert read.text == _java_text({"top": member})


# Long members (a batch write's request) get their text from their JSON and a template made
# once per shape; texts that look like JSON's syntax, keys among them, must not mislead it.
_TRICKY = st.sampled_from(["x", ":", ",", "a:b", '":"', " ", "{", "[]", "é", "-", "", "none"])
_ANY_KEY = _KEYS | _TRICKY
_LONG_VALUE = st.recursive(
    st.one_of(_TRICKY, st.integers(-5, 5), st.booleans(), st.none()),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_ANY_KEY, inner, max_size=3),
    max_leaves=24,
)
_PADDING = {"padding": "p" * 300}  # long enough for the text path


def _spaced(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=1).encode()


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(_ANY_KEY, _LONG_VALUE, min_size=1, max_size=4), st.booleans())
def test_long_members_text_is_javas_map_to_string(member: dict[str, Any], spaced: bool) -> None:
    value = {**member, **_PADDING}
    read = payload(_spaced(value) if spaced else orjson.dumps(value))
    if _needs_cleaning(value):
        assert read.cleaned
    else:
        assert read.text == _java_text(value)


def test_long_members_of_one_shape_print_their_own_texts() -> None:
    def request(table: str, ids: list[str]) -> dict[str, Any]:
        items = [{"putRequest": {"key": {"metric": i, "day": "7"}, "item": ["a"]}} for i in ids]
        return {"requestItems": {table: items}, "returnConsumedCapacity": "TOTAL"}

    for ids in (["M-1", "M-2"] * 8, ["x:y", "a, b"] * 8, ["{", "}"] * 8):
        value = request("daily", ids)
        assert payload(orjson.dumps(value)).text == _java_text(value)


def test_a_colon_alone_as_a_key_or_an_item_is_not_taken_for_a_value() -> None:
    for value in (
        {":": "v", "k": [":", "w"], **_PADDING},
        {"k": [":", {"a": "b"}], "j": {":": ":"}, **_PADDING},
        {"a": ":", "b": [":"], ":": {":": "x"}, **_PADDING},
    ):
        assert payload(orjson.dumps(value)).text == _java_text(value)


def test_a_key_written_twice_prints_its_last_value_once() -> None:
    raw = b'{"a":"1","b":"2","a":"3","padding":"' + b"p" * 300 + b'"}'
    assert payload(raw).text == _java_text(orjson.loads(raw))
    assert "1" not in (payload(raw).text or "").replace("padding", "")
