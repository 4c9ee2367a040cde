"""What a batch's table names need beyond member paths, read from the JSON texts of the rows'
requests and responses (a skimmer's raw paths, `skim.compiled_skimmer`), not from the records.

Whether a request names tables by a key other than those read from paths, or a response
describes a table, is a question about keys: a pattern over the raw texts answers it without
decoding them, erring only towards "yes" (a key nested deeper, or holding null, counts too;
so does any `\\u` escape, the one way JSON can spell a key's letters otherwise), which only
sends a row the old way. A BatchWriteItem's tables and operations are read by one msgspec
pass over those rows' requests alone.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from trailhound.cloudtrail import dynamodb, operations

REQUEST: Final = "requestParameters"
RESPONSE: Final = "responseElements"
RESOURCES: Final = "resources"
RAW_PATHS: Final = (REQUEST, RESPONSE, RESOURCES)
"""The members read as raw JSON text, whatever their type."""

# the request keys whose values the columnar path reads from member paths
READ_KEYS: Final = frozenset({"tableName", "encryptionContext"})
# the same, for a PartiQL statement
STATEMENT_KEYS: Final = frozenset({"statement"})


def names_elsewhere(
    requests: pa.Array, responses: pa.Array, read_keys: frozenset[str] = READ_KEYS
) -> pa.Array:
    """Per row (no nulls), whether `dynamodb.table_names` may read more of it than the request
    keys `read_keys`: another table-naming request key, or a response's table description."""
    asked = pc.fill_null(pc.match_substring_regex(requests, _key_pattern(read_keys)), False)
    return pc.or_(asked, describes_tables(responses))


def describes_tables(responses: pa.Array) -> pa.Array:
    """Per row (no nulls), whether `dynamodb.table_names` may read a table from its response."""
    return pc.fill_null(pc.match_substring_regex(responses, _description_pattern()), False)


@cache
def _key_pattern(read_keys: frozenset[str]) -> str:
    return _any_key(dynamodb.REQUEST_KEYS - read_keys)


@cache
def _description_pattern() -> str:
    return _any_key(dynamodb.RESPONSE_DESCRIPTIONS)


def _any_key(keys: Collection[str]) -> str:
    """A key among `keys` as it stands in JSON, `"key"` then its colon (a string value cannot
    be followed by a colon), or an escape that could spell one."""
    names = "|".join(re.escape(key) for key in sorted(keys))
    return rf'\\u|"(?:{names})"[ \t\n\r]*:'


@dataclass(frozen=True, slots=True)
class BatchWrites:
    """Per BatchWriteItem row: its tables as `dynamodb.table_names` reads them from the request
    (the keys of `requestItems`, in order) and its item operations."""

    tables: list[tuple[str, ...]]
    operations: list[list[str] | None]


def read_batch_writes(requests: pa.Array) -> BatchWrites | None:
    """The tables and operations of BatchWriteItem calls from their requests' JSON texts (null
    where there is none), read as `operations` and `dynamodb` read them; None when a request
    has any other table-naming member, or is not of the shape
    `{"requestItems": {table: [{kind: ...}, ...]}}` (the old way then reads it)."""
    try:
        decoded = _batch_write_decoder().decode(_joined(requests))[1:-1]
    except (msgspec.DecodeError, RecursionError):
        return None
    if len(decoded) != len(requests):
        return None
    read = [_items_request(request) for request in decoded]
    return BatchWrites(
        [tuple(dynamodb.table_names(request)) for request in read],
        [operations.operations(_BATCH_WRITE, request) or None for request in read],
    )


_BATCH_WRITE: Final = "BatchWriteItem"


def _items_request(request: Any) -> dict[str, Any] | None:
    return None if request is None else {"requestItems": request.requestItems}


@cache
def _batch_write_decoder() -> msgspec.json.Decoder[list[Any]]:
    """A key typed `None` takes only null, which names nothing: any other value of another
    table-naming member fails the decoding."""
    others = sorted(dynamodb.REQUEST_KEYS - {"requestItems"})
    items = dict[str, list[dict[str, msgspec.Raw]]] | None
    fields = [("requestItems", items, None), *[(k, None, None) for k in others]]
    request = msgspec.defstruct("BatchWriteRequest", fields, gc=False)
    return msgspec.json.Decoder(list[request | None])  # type: ignore[valid-type]


def _joined(texts: pa.Array) -> pa.Buffer:
    """The texts as one JSON list, `[null, text, ..., null]`, null for a null (the nulls around
    them spare a test of where the separators go). Made in Arrow's memory, which a worker
    reuses batch after batch: a new Python bytes object of some megabytes costs more in fresh
    pages than the copying itself."""
    null = pa.scalar(b"null", pa.large_binary())
    ends = pa.array([b"[null", b"null]"], pa.large_binary())
    texts = pc.fill_null(texts.cast(pa.large_binary()), null)
    values = pa.concat_arrays([ends[:1], texts, ends[1:]])
    listed = pa.LargeListArray.from_arrays(pa.array([0, len(values)], pa.int64()), values)
    joined: pa.Buffer = pc.binary_join(listed, pa.scalar(b",", pa.large_binary()))[0].as_buffer()
    return joined


__all__ = [
    "RAW_PATHS",
    "READ_KEYS",
    "REQUEST",
    "RESOURCES",
    "RESPONSE",
    "STATEMENT_KEYS",
    "BatchWrites",
    "describes_tables",
    "names_elsewhere",
    "read_batch_writes",
]
