"""The text check that spares most free-form members a walk of their parsed value
(`payloads._may_nest_deeper`) never answers "not deep" for a member that is: a member it
lets through uncut would reach every later step, which recurse freely."""

from __future__ import annotations

import json

import orjson
from hypothesis import example, given
from hypothesis import strategies as st

from fuzz.hostile import nested
from fuzz.profiles import fuzz
from trailhound.cloudtrail.payloads import MAX_DEPTH, _deeper_than, _may_nest_deeper

# strings full of brackets, quotes and backslashes: the check must skip what strings hold
_TRICKY = st.text(alphabet='{}[]"\\\\ax', max_size=12)
_LEAF = st.none() | st.booleans() | st.integers() | _TRICKY
_VALUE = st.recursive(
    _LEAF,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TRICKY, inner, max_size=4),
    max_leaves=300,
)


def _deep(depth: int, leaf: str, array: bool) -> bytes:
    return nested(depth, leaf, array=array).encode()


@fuzz()
@given(
    st.one_of(
        _VALUE.map(lambda v: json.dumps(v).encode()),
        st.builds(
            _deep, st.integers(60, 70), st.sampled_from(['"]]}"', "[]", "{}", "1"]), st.booleans()
        ),
    )
)
@example(_deep(MAX_DEPTH + 1, "1", True))
@example(_deep(MAX_DEPTH, "[]", True))
@example(b'{"k": "' + b"[" * 200 + b'", "v": ' + b"[" * 70 + b"]" * 70 + b"}")
def test_the_text_check_never_misses_a_deep_member(raw: bytes) -> None:
    deep = _deeper_than(orjson.loads(raw), MAX_DEPTH)
    assert _may_nest_deeper(raw) or not deep


def test_wide_shallow_members_need_no_walk() -> None:
    keys = json.dumps({"Customers": {"keys": [{"id": f"C-{i}"} for i in range(100)]}})
    assert not _may_nest_deeper(keys.encode())
    assert not _may_nest_deeper(json.dumps({"s": "[" * 500}).encode())
