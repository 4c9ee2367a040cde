"""What a DynamoDB data call did to each item, for the `aws.dynamodb.operations` column.

One value per item the call touched, in request order: `put`, `update`, `delete`,
`condition_check`, `get` (a read by key), `select` (a PartiQL SELECT that names a key value),
`query`, `scan` (a Scan, or a PartiQL SELECT that names no key value: a scan in disguise).
A BatchWriteItem of 25 delete requests gives 25 `delete`s, so rules count items, not calls,
and test the operation exactly rather than matching Elastic's Java-map text of the request.

PartiQL verbs are read case-insensitively after leading blanks and comments. CloudTrail logs
key attribute values and replaces the others with `***(Redacted)`, so a SELECT whose WHERE
compares nothing with a logged literal (or a `?` parameter) cannot name a key: it reads the
whole table.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from trailhound import arrow_kernels as kernels
from trailhound.cloudtrail.builder import Columns, Rows

COLUMN: Final = "aws.dynamodb.operations"
SOURCE: Final = "dynamodb.amazonaws.com"
_SINGLE: Final = {
    "PutItem": "put",
    "UpdateItem": "update",
    "DeleteItem": "delete",
    "GetItem": "get",
    "Query": "query",
    "Scan": "scan",
}
WRITE_REQUESTS: Final = {
    "putRequest": "put",
    "PutRequest": "put",
    "deleteRequest": "delete",
    "DeleteRequest": "delete",
}
"""A BatchWriteItem item's request kinds: an item gives one operation per kind it holds."""
# TransactWriteItems: CloudTrail's `operation` values, and the API's member names
_TRANSACT: Final = {
    "Put": "put",
    "Update": "update",
    "Delete": "delete",
    "ConditionCheck": "condition_check",
    "put": "put",
    "update": "update",
    "delete": "delete",
    "conditionCheck": "condition_check",
    "Get": "get",
    "get": "get",
}
_PARTIQL_VERBS: Final = {
    "insert": "put",
    "update": "update",
    "delete": "delete",
    "exists": "condition_check",
}
_LEADING: Final = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.DOTALL)
_VERB: Final = re.compile(r"[A-Za-z]+")
_WHERE: Final = re.compile(r"\bwhere\b", re.IGNORECASE)
_KEY_VALUE: Final = re.compile(r"'|\?|[=<>]\s*-?\d")


def fill(cols: Columns, rows: Rows) -> None:
    """Put the `aws.dynamodb.operations` column: only DynamoDB data calls are parsed."""
    if not cols.wants(COLUMN):
        return
    found: list[list[str] | None] = [None] * rows.n
    dynamodb = kernels.fill_null(kernels.equal(rows.source, SOURCE), False)
    if kernels.any(dynamodb).as_py():
        actions = rows.action.to_pylist()
        for i in kernels.indices_nonzero(dynamodb).to_pylist():
            reader = _READERS.get(actions[i])
            if reader is _single:  # one item whatever the request says: no need to parse it
                found[i] = _single(None, actions[i])
            elif reader is _batch_write:
                found[i] = _batch_write(rows.request_items_at(i), actions[i]) or None
            elif reader is not None:
                request = rows.value_at("request", rows.records[i].requestParameters, i)
                found[i] = reader(request, actions[i]) or None
    cols.put(COLUMN, found)


def operations(action: str, request: object) -> list[str]:
    """The per-item operations of one call (`[]` when the call touches no item)."""
    reader = _READERS.get(action)
    return reader(request, action) if reader is not None else []


def without_request(action: str | None) -> list[str] | None:
    """The operations of a DynamoDB call that touches one item whatever its request says (None
    for the calls whose operations are read from their request, and for the others)."""
    single = _SINGLE.get(action) if action is not None else None
    return [single] if single is not None else None


def reads_request(action: str | None) -> bool:
    """Whether a DynamoDB call's operations are read from its request."""
    return action is not None and action in _READERS and action not in _SINGLE


def _single(request: object, action: str) -> list[str]:
    return [_SINGLE[action]]


def _batch_write(request: object, action: str) -> list[str]:
    kinds = WRITE_REQUESTS
    entries = _each(_member(request, "requestItems"), by_table=True)
    return [kinds[kind] for entry in entries for kind in entry if kind in kinds]


def _batch_get(request: object, action: str) -> list[str]:
    items = _member(request, "requestItems")
    if not isinstance(items, Mapping):
        return []
    found: list[str] = []
    for per_table in items.values():
        keys = _member(per_table, "keys")
        found += ["get"] * (len(keys) if isinstance(keys, list) else 1)
    return found


def _transact(request: object, action: str) -> list[str]:
    items = _member(request, "requestItems") or _member(request, "transactItems")
    found: list[str] = []
    for item in items if isinstance(items, list) else ():
        if type(item) is not dict and not isinstance(item, Mapping):
            continue
        named = item.get("operation")
        if isinstance(named, str):
            found += [_TRANSACT[named]] if named in _TRANSACT else []
        else:
            found += [_TRANSACT[key] for key in item if key in _TRANSACT]
    if action == "TransactGetItems" and not found:
        found = ["get"] * (len(items) if isinstance(items, list) else 0)
    return found


def _partiql(request: object, action: str) -> list[str]:
    return [verb for text in _statements(request) if (verb := statement_operation(text))]


def statement_operation(statement: str) -> str | None:
    """The operation of one PartiQL statement, or None for text that is not one."""
    text = statement[_LEADING.match(statement).end() :]  # type: ignore[union-attr]
    verb = _VERB.match(text)
    if verb is None:
        return None
    word = verb.group().lower()
    if word != "select":
        return _PARTIQL_VERBS.get(word)
    where = _WHERE.search(text)
    return "select" if where and _KEY_VALUE.search(text, where.end()) else "scan"


def _statements(request: object) -> Iterator[str]:
    statement = _member(request, "statement")
    if isinstance(statement, str):
        yield statement
    for key in ("requestItems", "statements", "transactStatements"):
        for item in _each(_member(request, key)):
            text = _member(item, "statement")
            if isinstance(text, str):
                yield text


def _member(value: object, key: str) -> Any:
    """A member by its name with either case of the first letter (real samples use both)."""
    if type(value) is not dict and not isinstance(value, Mapping):
        return None
    found = value.get(key)
    return found if found is not None else value.get(key[0].upper() + key[1:])


def _each(value: object, *, by_table: bool = False) -> list[Mapping[str, Any]]:
    """The entries of a list, or of every table's list in a {table: [...]} map."""
    lists = value.values() if by_table and isinstance(value, Mapping) else (value,)
    # parsed JSON holds dicts: tested first, as a Mapping check costs several times more
    return [
        entry
        for entries in lists
        if isinstance(entries, list)
        for entry in entries
        if type(entry) is dict or isinstance(entry, Mapping)
    ]


_READERS: Final[dict[str, Callable[[object, str], list[str]]]] = {
    **dict.fromkeys(_SINGLE, _single),
    "BatchWriteItem": _batch_write,
    "BatchGetItem": _batch_get,
    "TransactWriteItems": _transact,
    "TransactGetItems": _transact,
    "ExecuteStatement": _partiql,
    "BatchExecuteStatement": _partiql,
    "ExecuteTransaction": _partiql,
}
