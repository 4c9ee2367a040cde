"""A BatchWriteItem's request is read for its table names and operations without parsing its
items (`payloads.outline`, `ecs._Rows.request_items_at`): over requests of every shape, spelled
with any blank space, escapes and case, broken anywhere, or holding what orjson refuses, the
two columns must be what reading the whole request gives."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any

import msgspec
import orjson
from hypothesis import example, given
from hypothesis import strategies as st

from fuzz.profiles import fuzz
from trailhound.cloudtrail import dynamodb, ecs
from trailhound.cloudtrail.ecs import normalize
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.operations import operations
from trailhound.cloudtrail.payloads import outline, parsed_value
from trailhound.cloudtrail.record import Record

_KINDS = ["putRequest", "PutRequest", "deleteRequest", "DeleteRequest", "otherRequest", "-"]
_TEXT = st.sampled_from(["", "-", "none", "Orders", "x\u00e9", 'q"uote', "back\\slash", "1e5"])
_LEAF = st.one_of(
    _TEXT, st.integers(-(2**70), 2**70), st.floats(allow_nan=False), st.none(), st.booleans()
)
_ITEM = st.recursive(
    _LEAF, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=12,
)  # fmt: skip
_ENTRY = st.dictionaries(st.sampled_from(_KINDS), _ITEM, max_size=2) | _ITEM
_TABLES = st.dictionaries(
    st.sampled_from(["Orders", "arn:aws:dynamodb:us-east-1:1:table/Carts", "", "T\u00fc"]),
    st.lists(_ENTRY, max_size=4) | _ITEM,
    max_size=3,
)
_TOP_KEYS = ["requestItems", "RequestItems", "returnConsumedCapacity", "tableName", "statement"]
_BATCH = st.fixed_dictionaries({"requestItems": _TABLES}, optional={"x": _ITEM, "tableName": _TEXT})
_REQUEST = st.one_of(
    _BATCH, st.dictionaries(st.sampled_from(_TOP_KEYS), _TABLES | _ITEM, max_size=3), _ITEM
)


@st.composite
def spelled(draw: st.DrawFn, value: Any) -> bytes:
    """`value` as JSON text written in one of several ways: compact, spaced, ASCII-escaped,
    with a repeated member, or with one byte changed (then most often not JSON at all)."""
    text = json.dumps(
        value, ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, 1]))
    )
    how = draw(st.sampled_from(["plain", "escaped", "repeated", "huge", "mutated"]))
    if how == "escaped":  # a member name spelled with \u escapes reads as the same name
        text = text.replace('"putRequest"', '"\\u0070ut\\u0052equest"', 1)
    elif how == "repeated" and text.startswith("{") and len(text) > 2:
        text = '{"requestItems": {"Gone": [{"putRequest": 1}]}, ' + text[1:]
    elif how == "huge":  # orjson refuses it: the whole request is then read by Python's json
        text = text.replace("null", "1e999", 1).replace("true", "-2E+400", 1)
    data = text.encode()
    if how == "mutated" and data:
        rng = random.Random(draw(st.integers(0, 2**32)))
        at = rng.randrange(len(data))
        data = data[:at] + bytes([rng.choice(b'{}[],:"\\ 0e-\xff')]) + data[at + 1 :]
    return data


def _by_reading_all(raw: bytes) -> tuple[list[str], list[str]]:
    value = parsed_value(raw)
    return operations("BatchWriteItem", value), dynamodb.table_names(value)


def _by_outline(raw: bytes) -> tuple[list[str], list[str]] | None:
    found = outline(raw, ecs._REQUEST_ITEMS)
    if found is None or not dynamodb.names_tables_only_in_request_items(found):
        return None
    return operations("BatchWriteItem", found), dynamodb.table_names(found)


@fuzz()
@given(st.data(), _REQUEST)
@example(None, {"requestItems": {"Orders": [{"putRequest": {"k": "1e999"}}] * 3}})
def test_the_outline_reads_what_the_whole_request_holds(data: st.DataObject, value: Any) -> None:
    raw = data.draw(spelled(value)) if data is not None else orjson.dumps(value)
    outlined = _by_outline(raw)
    if outlined is not None:
        assert outlined == _by_reading_all(raw)


def test_what_the_outline_leaves_to_the_full_reading() -> None:
    items = {"Orders": [{"putRequest": {"key": {"id": "1"}}}]}
    assert _by_outline(json.dumps({"requestItems": items}).encode()) == (["put"], ["Orders"])
    refused = [
        {"requestItems": items, "x": "\u00e9"},  # not ASCII
        {"requestItems": items, "tableName": "Other"},  # another member names a table
        {"requestItems": {"Orders": {"keys": []}}},  # not a batch write's shape
        {"requestItems": items, "deep": json.loads("[" * 600 + "]" * 600)},
    ]
    for value in refused:
        assert _by_outline(json.dumps(value, ensure_ascii=False).encode()) is None
    # orjson refuses the number; Python's json reads it, and so the outline is the same
    huge = b'{"requestItems": {"Orders": [{"deleteRequest": {"n": 1e999}}]}}'
    assert _by_outline(huge) == _by_reading_all(huge) == (["delete"], ["Orders"])


@fuzz(0.3)
@given(st.lists(_REQUEST, min_size=1, max_size=6), st.data())
def test_normalized_columns_equal_the_whole_readings(
    values: list[Any], data: st.DataObject
) -> None:
    raws = [data.draw(spelled(v)) for v in values]
    records = [_record(raw, n) for n, raw in enumerate(raws)]
    fields = ["aws.dynamodb.operations", "aws.dynamodb.table_name", "event.id"]
    batch = normalize(
        records, ingested=datetime.now(UTC), enricher=Enricher.create(), fields=fields
    )
    columns = batch.batch.to_pydict()
    assert not batch.rejected
    for row, raw in enumerate(raws):
        ops, tables = _by_reading_all(raw)
        assert columns["aws.dynamodb.operations"][row] == (ops or None)
        assert columns["aws.dynamodb.table_name"][row] == (tables or None)


def _record(raw: bytes, n: int) -> Record:
    return Record(
        eventTime="2026-03-02T09:30:00Z",
        eventName="BatchWriteItem",
        eventSource="dynamodb.amazonaws.com",
        eventID=f"e{n}",
        requestParameters=msgspec.Raw(raw),
    )
