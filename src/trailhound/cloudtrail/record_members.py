"""What a batch's table names need beyond member paths, read from the JSON texts of the rows'
requests and responses (a skimmer's raw paths, `skim.compiled_skimmer`), not from the records.

Whether a request names tables by a key other than those read from paths, or a response
describes a table, is a question about keys: a pattern over the raw texts answers it without
decoding them, erring only towards "yes" (a key nested deeper, or holding null, counts too;
so does any `\\u` escape, the one way JSON can spell a key's letters otherwise), which only
sends a row the old way. A BatchWriteItem's or BatchGetItem's tables and operations are read
by one msgspec pass over those rows' requests alone.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from functools import cache
from typing import Any, Final

import msgspec
import pyarrow as pa
from msgspec import Struct

from trailhound import arrow_kernels as kernels
from trailhound.cloudtrail import dynamodb, operations
from trailhound.cloudtrail.payloads import parsed_value

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
    keyed = kernels.match_substring_regex(requests, _key_pattern(read_keys))
    asked = kernels.fill_null(keyed, False)
    return kernels.or_(asked, describes_tables(responses))


def describes_tables(responses: pa.Array) -> pa.Array:
    """Per row (no nulls), whether `dynamodb.table_names` may read a table from its response."""
    described = kernels.match_substring_regex(responses, _description_pattern())
    return kernels.fill_null(described, False)


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


class BatchWrites(Struct, frozen=True):
    """Per BatchWriteItem (or BatchGetItem) row: its tables as `dynamodb.table_names` reads
    them from the request (the keys of `requestItems`, in order) and its item operations (a
    list<string> array, null for a row that names no item)."""

    tables: list[tuple[str, ...]]
    operations: pa.Array


def read_batch_writes(requests: pa.Array) -> BatchWrites | None:
    """The tables and operations of BatchWriteItem calls from their requests' JSON texts (null
    where there is none), read as `operations` and `dynamodb` read them; None when a request
    has any other table-naming member, is not of the shape
    `{"requestItems": {table: [{kind: {...} or null, ...}, ...]}}`, or has an item holding
    both a put and a delete (whose order only the old way keeps)."""
    shapes = _write_shapes()
    try:
        decoded = shapes.decoder.decode(_joined(requests))[1:-1]
    except (msgspec.DecodeError, RecursionError):
        return None
    if len(decoded) != len(requests):
        return None
    items = [request.requestItems if request is not None else None for request in decoded]
    kinds = _kinds(shapes, items)
    return BatchWrites(_tables(items), _operations_column(kinds)) if kinds is not None else None


def read_parsed(actions: list[str], requests: pa.Array) -> BatchWrites:
    """The tables and operations of calls read from their requests' JSON texts (null where
    there is none) parsed whole, as `normalize` parses them (`payloads.parsed_value`), by
    `operations` and `dynamodb` themselves: for transactions, whose items a table may be
    named in at any depth `dynamodb` looks, the record is still not decoded. The tables are
    the request's alone (a response describing one is the caller's to look for)."""
    tables: list[tuple[str, ...]] = []
    found: list[tuple[str, ...]] = []
    for action, raw in zip(actions, kernels.cast(requests, pa.binary()).to_pylist(), strict=True):
        request = parsed_value(raw) if raw else None
        tables.append(tuple(dynamodb.table_names(request)))
        found.append(tuple(operations.operations(action, request)))
    return BatchWrites(tables, _operations_column(found))


def read_batch_gets(requests: pa.Array) -> BatchWrites | None:
    """The tables and operations of BatchGetItem calls from their requests' JSON texts (null
    where there is none), read as `operations` and `dynamodb` read them: a `get` per key of
    each table (one for a table whose keys are not a list); None when a request has any other
    table-naming member or is not of the shape `{"requestItems": {table: {...}, ...}}` with
    each table's `keys` (or `Keys`) a list of objects or null."""
    try:
        decoded = _get_decoder().decode(_joined(requests))[1:-1]
    except (msgspec.DecodeError, RecursionError):
        return None
    if len(decoded) != len(requests):
        return None
    items = [request.requestItems if request is not None else None for request in decoded]
    gets = [("get",) * _keys_asked(per_table) if per_table else () for per_table in items]
    return BatchWrites(_tables(items), _operations_column(gets))


def _keys_asked(per_table: dict[str, Any]) -> int:
    """How many items a BatchGetItem's tables ask for, as `operations` counts them: the
    `keys` list's length, `Keys`'s when `keys` is absent or null, else one."""
    count = 0
    for entry in per_table.values():
        keys = entry.keys
        if keys is None or keys is msgspec.UNSET:
            keys = entry.Keys
        count += len(keys) if isinstance(keys, list) else 1
    return count


@cache
def _get_decoder() -> msgspec.json.Decoder[list[Any]]:
    """As `_write_shapes`'s: another table-naming key must hold null; a table's entry must be
    an object, its keys' bodies are skipped, not built."""
    body = msgspec.defstruct("GetKey", [], frozen=True, gc=False)
    keys_type = list[body] | None | msgspec.UnsetType  # type: ignore[valid-type]
    entry = msgspec.defstruct(
        "GetEntry",
        [("keys", keys_type, msgspec.UNSET), ("Keys", keys_type, msgspec.UNSET)],
        gc=False,
    )
    others = sorted(dynamodb.REQUEST_KEYS - {"requestItems"})
    items = dict[str, entry] | None  # type: ignore[valid-type]
    fields = [("requestItems", items, None), *[(k, None, None) for k in others]]
    request = msgspec.defstruct("BatchGetRequest", fields, gc=False)
    return msgspec.json.Decoder(list[request | None])  # type: ignore[valid-type]


def _kinds(
    shapes: _WriteShapes, items: list[dict[str, Any] | None]
) -> list[tuple[str, ...]] | None:
    """Each row's operations; None when one row's cannot be read here."""
    found = []
    for per_table in items:
        row = shapes.kinds(per_table) if per_table else ()
        if row is None:
            return None
        found.append(row)
    return found


def _tables(items: list[dict[str, Any] | None]) -> list[tuple[str, ...]]:
    """Each row's tables, read once per distinct run of `requestItems` keys."""
    known: dict[tuple[str, ...], tuple[str, ...]] = {}
    found: list[tuple[str, ...]] = []
    for per_table in items:
        keys = tuple(per_table) if per_table else ()
        tables = known.get(keys)
        if tables is None:
            tables = known[keys] = dynamodb.request_item_tables(keys)
        found.append(tables)
    return found


def _operations_column(kinds: list[tuple[str, ...]]) -> pa.Array:
    """The rows' operations as Arrow lists, each distinct run converted once (a batch's rows
    mostly repeat a few: 25 puts, 25 deletes)."""
    codes: dict[tuple[str, ...], int] = {}
    at = [codes.setdefault(row, len(codes)) for row in kinds]
    distinct = pa.array([list(row) or None for row in codes], pa.list_(pa.string()))
    return kernels.take(distinct, pa.array(at, pa.int64()))


class _WriteShapes(Struct, frozen=True):
    """The decoder of BatchWriteItem requests, and the kind of each usual item (one kind,
    holding an object). An item is a frozen struct with one member per kind, so that
    equal items compare and hash alike; a kind's body is skipped, not built."""

    decoder: msgspec.json.Decoder[list[Any]]
    usual: dict[Any, str]

    def kinds(self, per_table: dict[str, list[Any]]) -> tuple[str, ...] | None:
        """A request's operations, table after table, item after item (None when an item
        holds different kinds)."""
        found: list[str] = []
        for listed in per_table.values():
            read = self._listed(listed)
            if read is None:
                return None
            found += read
        return tuple(found)

    def _listed(self, listed: list[Any]) -> list[str] | None:
        n = len(listed)
        for item, kind in self.usual.items():  # a table's items are mostly all of one kind
            if listed.count(item) == n:
                return [kind] * n
        found: list[str] = []
        for item in listed:
            usual = self.usual.get(item)
            if usual is not None:
                found.append(usual)
                continue
            held = _held_kinds(item)
            if len(set(held)) > 1:
                return None
            found += held
        return found


def _held_kinds(item: Any) -> list[str]:
    """The kinds an item holds, as `operations` counts them: a member holding null counts."""
    return [
        kind
        for name, kind in operations.WRITE_REQUESTS.items()
        if getattr(item, name) is not msgspec.UNSET
    ]


@cache
def _write_shapes() -> _WriteShapes:
    """A key typed `None` takes only null, which names nothing: any other value of another
    table-naming member fails the decoding. An item's other members are skipped, as
    `operations` skips them; a kind holding anything but an object or null fails it."""
    body = msgspec.defstruct("WriteBody", [], frozen=True, gc=False)
    kind_type = body | None | msgspec.UnsetType
    members = [(name, kind_type, msgspec.UNSET) for name in operations.WRITE_REQUESTS]
    item = msgspec.defstruct("WriteItem", members, frozen=True, gc=False)
    others = sorted(dynamodb.REQUEST_KEYS - {"requestItems"})
    items = dict[str, list[item]] | None  # type: ignore[valid-type]
    fields = [("requestItems", items, None), *[(k, None, None) for k in others]]
    request = msgspec.defstruct("BatchWriteRequest", fields, gc=False)
    decoder = msgspec.json.Decoder(list[request | None])  # type: ignore[valid-type]
    # real items use the lower-case names: tried first
    names = sorted(operations.WRITE_REQUESTS, key=lambda name: name[0].isupper())
    usual = {item(**{name: body()}): operations.WRITE_REQUESTS[name] for name in names}
    return _WriteShapes(decoder, usual)


def _joined(texts: pa.Array) -> pa.Buffer:
    """The texts as one JSON list, `[null, text, ..., null]`, null for a null (the nulls around
    them spare a test of where the separators go). Made in Arrow's memory, which a worker
    reuses batch after batch: a new Python bytes object of some megabytes costs more in fresh
    pages than the copying itself."""
    null = pa.scalar(b"null", pa.large_binary())
    ends = pa.array([b"[null", b"null]"], pa.large_binary())
    texts = kernels.fill_null(kernels.cast(texts, pa.large_binary()), null)
    values = pa.concat_arrays([ends[:1], texts, ends[1:]])
    listed = pa.LargeListArray.from_arrays(pa.array([0, len(values)], pa.int64()), values)
    comma = pa.scalar(b",", pa.large_binary())
    joined: pa.Buffer = kernels.binary_join(listed, comma)[0].as_buffer()
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
    "read_batch_gets",
    "read_batch_writes",
    "read_parsed",
]
