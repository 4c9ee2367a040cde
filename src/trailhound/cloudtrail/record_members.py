"""The few members of a record that member paths cannot give, read for a whole batch at once.

A skimmer's columns hold strings; `resources` is a list, and whether a request names a table
by a key other than `tableName` (or an encryption context) is a question about its keys.
`read_members` answers both with one msgspec pass over the batch's record texts joined into one
JSON list, decoding nothing but the keys that matter: a request or response member that would
make `dynamodb.table_names` read more than `tableName` and the encryption context fails the
strict decoding, and only then is the batch decoded again, loosely, to find which rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Final

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from trailhound.cloudtrail import dynamodb, operations

# the request keys whose values the columnar path reads from member paths
READ_KEYS: Final = frozenset({"tableName", "encryptionContext"})
# the same, for a PartiQL statement
STATEMENT_KEYS: Final = frozenset({"statement"})


@dataclass(frozen=True, slots=True)
class Members:
    """Per row: `resources` as raw JSON (b"" when absent), whether `responseElements` is null
    or absent, and whether the request or response may name tables by other members."""

    resources: list[bytes]
    no_response: pa.Array
    elsewhere: pa.Array


def read_members(records: pa.Array, read_keys: frozenset[str] = READ_KEYS) -> Members | None:
    """The members of each record of a string array of record JSON texts (each may end in the
    blank space and comma that follow it in its file); None when they are not readable so.
    `elsewhere` is about the table-naming request keys other than `read_keys`."""
    joined = _joined(records)
    n = len(records)
    try:
        decoded = _strict_decoder(read_keys).decode(joined)[1:-1]
        elsewhere = pa.repeat(False, n)
    except msgspec.ValidationError:
        decoded, elsewhere = _loosely(joined, read_keys)
    except (msgspec.DecodeError, RecursionError):
        return None
    if len(decoded) != n:
        return None
    return Members(
        [bytes(m.resources) for m in decoded],
        pa.array([m.responseElements is None for m in decoded], pa.bool_()),
        elsewhere,
    )


@dataclass(frozen=True, slots=True)
class BatchWrites:
    """Per BatchWriteItem row: its tables as `dynamodb.table_names` reads them from the request
    (the keys of `requestItems`, in order), its item operations, its `resources` as raw JSON."""

    tables: list[tuple[str, ...]]
    operations: list[list[str] | None]
    resources: list[bytes]


def read_batch_writes(records: pa.Array) -> BatchWrites | None:
    """The BatchWriteItem records' tables and operations, read as `operations` and `dynamodb`
    read them; None when a request has any other table-naming member, or is not of the shape
    `{"requestItems": {table: [{kind: ...}, ...]}}` (the old way then reads it)."""
    try:
        decoded = _batch_write_decoder().decode(_joined(records))[1:-1]
    except (msgspec.DecodeError, RecursionError):
        return None
    if len(decoded) != len(records):
        return None
    requests = [_items_request(m.requestParameters) for m in decoded]
    return BatchWrites(
        [tuple(dynamodb.table_names(request)) for request in requests],
        [operations.operations(_BATCH_WRITE, request) or None for request in requests],
        [bytes(m.resources) for m in decoded],
    )


_BATCH_WRITE: Final = "BatchWriteItem"


def _items_request(request: Any) -> dict[str, Any] | None:
    return None if request is None else {"requestItems": request.requestItems}


@cache
def _batch_write_decoder() -> msgspec.json.Decoder[list[Any]]:
    others = sorted(dynamodb.REQUEST_KEYS - {"requestItems"})
    items = dict[str, list[dict[str, msgspec.Raw]]] | None
    fields = [("requestItems", items, None), *[(k, None, None) for k in others]]
    request = msgspec.defstruct("BatchWriteRequest", fields, gc=False)
    return msgspec.json.Decoder(list[_record_struct(request)])  # type: ignore[misc]


def _loosely(joined: pa.Buffer, read_keys: frozenset[str]) -> tuple[list[Any], pa.Array]:
    try:
        decoded = _loose_decoder().decode(joined)[1:-1]
    except (msgspec.DecodeError, RecursionError):
        return [], pa.array([], pa.bool_())
    others = dynamodb.REQUEST_KEYS - read_keys
    found = [_names_elsewhere(m, others) for m in decoded]
    return decoded, pa.array(found, pa.bool_())


def _joined(records: pa.Array) -> pa.Buffer:
    """The records as one JSON list, `[{}, record, ..., {}]` (the empty objects around them
    spare a test of where the separators go, and decode as a record with no members). Made in
    Arrow's memory, which a worker reuses batch after batch: a new Python bytes object of some
    megabytes costs more in fresh pages than the copying itself."""
    trimmed = pc.utf8_rtrim(records, characters=", \t\r\n").cast(pa.large_binary())
    ends = pa.array([b"[{}", b"{}]"], pa.large_binary())
    values = pa.concat_arrays([ends[:1], trimmed, ends[1:]])
    listed = pa.LargeListArray.from_arrays(pa.array([0, len(values)], pa.int64()), values)
    joined: pa.Buffer = pc.binary_join(listed, pa.scalar(b",", pa.large_binary()))[0].as_buffer()
    return joined


@cache
def _strict_decoder(read_keys: frozenset[str]) -> msgspec.json.Decoder[list[Any]]:
    """A key typed `None` takes only null, which names nothing: any other value of a
    table-naming member fails the decoding."""
    others = sorted(dynamodb.REQUEST_KEYS - read_keys)
    request = msgspec.defstruct("Request", [(k, None, None) for k in others], gc=False)
    return msgspec.json.Decoder(list[_record_struct(request)])  # type: ignore[misc]


def _record_struct(request: type) -> Any:
    described = [(k, None, None) for k in dynamodb.RESPONSE_DESCRIPTIONS]
    response = msgspec.defstruct("Response", described, gc=False)
    return msgspec.defstruct("Record", [
        ("requestParameters", request | None, None),
        ("responseElements", response | None, None),
        ("resources", msgspec.Raw, msgspec.Raw()),
    ], gc=False)  # fmt: skip


_AnyJson = dict[str, msgspec.Raw] | list[msgspec.Raw] | str | float | bool | None


class _Loose(msgspec.Struct, gc=False):
    requestParameters: _AnyJson = None
    responseElements: _AnyJson = None
    resources: msgspec.Raw = msgspec.Raw()


@cache
def _loose_decoder() -> msgspec.json.Decoder[list[_Loose]]:
    return msgspec.json.Decoder(list[_Loose])


def _names_elsewhere(members: _Loose, others: frozenset[str]) -> bool:
    request = members.requestParameters
    if type(request) is dict and not others.isdisjoint(request):
        return True
    response = members.responseElements
    return type(response) is dict and any(k in response for k in dynamodb.RESPONSE_DESCRIPTIONS)


__all__ = [
    "READ_KEYS",
    "STATEMENT_KEYS",
    "BatchWrites",
    "Members",
    "read_batch_writes",
    "read_members",
]
