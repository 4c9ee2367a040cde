"""Which DynamoDB tables a CloudTrail event touched, for the `aws.dynamodb.table_name` column.

CloudTrail names the table in many places, depending on the API: `tableName`; a table ARN
(export, point-in-time and resource-policy APIs); the keys of `requestItems` (BatchGetItem,
BatchWriteItem); the items of `transactItems` / `requestItems` lists (TransactWriteItems,
TransactGetItems); PartiQL text (ExecuteStatement, BatchExecuteStatement, ExecuteTransaction);
the KMS encryption context of calls DynamoDB makes for a table; the stream ARN of a Lambda
event source mapping; the ARN of an AWS Backup recovery point or resource when it is a
DynamoDB one; and the event's resources.
Request keys are matched with either case of their first letter, since real samples use both.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from enum import Enum, auto
from typing import Any, Final

DYNAMODB_SOURCES: Final = frozenset({"dynamodb.amazonaws.com", "streams.dynamodb.amazonaws.com"})
KMS_SOURCE: Final = "kms.amazonaws.com"
LAMBDA_SOURCE: Final = "lambda.amazonaws.com"  # event source mappings read DynamoDB streams
BACKUP_SOURCE: Final = "backup.amazonaws.com"  # AWS Backup's recovery points of tables
# Services whose requests name a table only by a DynamoDB ARN
_ARN_SOURCES: Final = frozenset({LAMBDA_SOURCE, BACKUP_SOURCE})
TABLE_SOURCES: Final = frozenset({*DYNAMODB_SOURCES, KMS_SOURCE, *_ARN_SOURCES})
KMS_CONTEXT_KEY: Final = "aws:dynamodb:tableName"
TABLE_RESOURCE_TYPE: Final = "AWS::DynamoDB::Table"
STREAM_RESOURCE_TYPE: Final = "AWS::DynamoDB::Stream"  # a stream's ARN holds its table's
_KMS_CONTEXT_BYTES: Final = KMS_CONTEXT_KEY.encode()
_DYNAMODB_ARN_BYTES: Final = b'"arn:aws:dynamodb:'


class _Role(Enum):
    NAME = auto()  # the value is a table name
    ARN = auto()  # the value is an ARN, maybe of a table
    STATEMENT = auto()  # PartiQL text
    ITEMS = auto()  # a list of items that name tables or hold statements
    REQUEST_ITEMS = auto()  # {table: ...} (batch APIs) or a list of items
    NESTED = auto()  # an object with the same kinds of members
    KMS_CONTEXT = auto()  # a KMS encryption context


_ROLE_OF_KEY: Final = {
    "tableName": _Role.NAME,
    "sourceTableName": _Role.NAME,
    "targetTableName": _Role.NAME,
    "globalTableName": _Role.NAME,
    "tableArn": _Role.ARN,
    "sourceTableArn": _Role.ARN,
    "resourceArn": _Role.ARN,
    "backupArn": _Role.ARN,
    "exportArn": _Role.ARN,
    "streamArn": _Role.ARN,
    "globalTableSourceArn": _Role.ARN,
    "eventSourceArn": _Role.ARN,
    "recoveryPointArn": _Role.ARN,
    "statement": _Role.STATEMENT,
    "statements": _Role.ITEMS,
    "transactStatements": _Role.ITEMS,
    "transactItems": _Role.ITEMS,
    "requestItems": _Role.REQUEST_ITEMS,
    "tableCreationParameters": _Role.NESTED,
    "constraints": _Role.NESTED,
    "encryptionContext": _Role.KMS_CONTEXT,
    "encryptionContextSubset": _Role.KMS_CONTEXT,
    "encryptionContextEquals": _Role.KMS_CONTEXT,
}
# Real samples write request keys with either case of the first letter.
_ROLES: Final = {
    **_ROLE_OF_KEY,
    **{key[0].upper() + key[1:]: role for key, role in _ROLE_OF_KEY.items()},
}
# Every request key `table_names` reads
REQUEST_KEYS: Final = frozenset(_ROLES)
# the keys `_from_item` reads
_ITEM_KEYS: Final = frozenset(
    key for key, role in _ROLES.items() if role in (_Role.NAME, _Role.STATEMENT)
)
# the same, by role, for `_requests.c` (which reads names and refuses statements)
ITEM_NAME_KEYS: Final = tuple(key for key, role in _ROLES.items() if role is _Role.NAME)
ITEM_STATEMENT_KEYS: Final = tuple(key for key, role in _ROLES.items() if role is _Role.STATEMENT)
# Response members that describe the table acted on (UpdateTable, DescribeTable, exports, ...).
RESPONSE_DESCRIPTIONS: Final = (
    "tableDescription",
    "table",
    "exportDescription",
    "importTableDescription",
    "sourceTableDetails",
)

# String literals are dropped first so that `WHERE a = 'x from y'` names no table.
_PARTIQL_LITERAL: Final = re.compile(r"'(?:[^']|'')*'")
_PARTIQL_TABLE: Final = re.compile(
    r"\b(?:FROM|UPDATE|INTO)\s+(?:\"(?P<quoted>(?:[^\"]|\"\")+)\"|(?P<bare>[A-Za-z0-9_\-]+))",
    re.IGNORECASE,
)


def wants_tables(event_source: str | None, request_json: Callable[[], bytes]) -> bool:
    """Whether the event may name a table: worth parsing its request for. `request_json` gives
    the request's raw JSON; it is read only for KMS, Lambda and AWS Backup events."""
    if event_source in DYNAMODB_SOURCES:
        return True
    if event_source in _ARN_SOURCES:
        return _DYNAMODB_ARN_BYTES in request_json()
    return event_source == KMS_SOURCE and _KMS_CONTEXT_BYTES in request_json()


def table_names(request: object, response: object = None, also: Iterable[str] = ()) -> list[str]:
    """Table names in order of appearance, without repeats: from the request, then from the
    table description in the response, then `also` (the resources' tables)."""
    found: dict[str, None] = {}
    # parsed JSON holds dicts (and None): tested first, a Mapping check costs several times more
    if type(request) is dict or (request is not None and isinstance(request, Mapping)):
        _from_request(request, found)
    if type(response) is dict or (response is not None and isinstance(response, Mapping)):
        for key in RESPONSE_DESCRIPTIONS:
            described = response.get(key)
            if type(described) is dict or isinstance(described, Mapping):
                _from_request(described, found)
    _add_all(found, also)
    return list(found)


def names_tables_only_in_request_items(request: Mapping[str, Any]) -> bool:
    """Whether `table_names` reads no member of this request but its `requestItems`."""
    return all(_ROLES.get(key, _Role.REQUEST_ITEMS) is _Role.REQUEST_ITEMS for key in request)


def resource_tables(resources: Iterable[tuple[str | None, str | None]]) -> list[str]:
    """The tables among an event's resources, given as (ARN, type) pairs."""
    found: dict[str, None] = {}
    for arn, kind in resources:
        if arn is not None and kind in (None, TABLE_RESOURCE_TYPE, STREAM_RESOURCE_TYPE):
            _add(found, table_from_arn(arn))
    return list(found)


def table_from_arn(arn: object) -> str | None:
    """`Music` from `arn:aws:dynamodb:us-east-1:123456789012:table/Music[/stream/...]`."""
    if not isinstance(arn, str):
        return None
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn" or parts[2] not in ("dynamodb", ""):
        return None
    kind, _, rest = parts[5].partition("/")
    if kind != "table":
        return None
    return rest.split("/", 1)[0] or None


def tables_in_statement(statement: object) -> list[str]:
    """The tables a PartiQL statement reads or writes."""
    if not isinstance(statement, str):
        return []
    text = _PARTIQL_LITERAL.sub("''", statement)
    return [
        match["quoted"].replace('""', '"') if match["quoted"] is not None else match["bare"]
        for match in _PARTIQL_TABLE.finditer(text)
    ]


def _from_request(request: Mapping[str, Any], found: dict[str, None]) -> None:
    for key, value in request.items():
        role = _ROLES.get(key)
        if role is None:
            continue
        if role is _Role.NAME:
            _add(found, value)
        elif role is _Role.ARN:
            _add(found, table_from_arn(value))
        elif role is _Role.STATEMENT:
            _add_all(found, tables_in_statement(value))
        elif role is _Role.ITEMS:
            _from_items(value, found)
        elif role is _Role.REQUEST_ITEMS:
            _from_request_items(value, found)
        elif role is _Role.NESTED and (type(value) is dict or isinstance(value, Mapping)):
            _from_request(value, found)
        elif role is _Role.KMS_CONTEXT and isinstance(value, Mapping):
            _add(found, value.get(KMS_CONTEXT_KEY))


def request_item_tables(keys: Iterable[object]) -> tuple[str, ...]:
    """The tables the keys of a batch call's `requestItems` map name (each a table's name or
    ARN), in order, without repeats."""
    found: dict[str, None] = {}
    for key in keys:
        _add(found, table_from_arn(key) if str(key).startswith("arn:") else key)
    return tuple(found)


def _from_request_items(value: object, found: dict[str, None]) -> None:
    if isinstance(value, Mapping):  # BatchGetItem / BatchWriteItem: {table name or ARN: ...}
        _add_all(found, request_item_tables(value))
    else:  # the list form CloudTrail writes for transactions and PartiQL batches
        _from_items(value, found)


def _from_items(value: object, found: dict[str, None]) -> None:
    if not isinstance(value, list):
        return
    for item in value:
        if type(item) is not dict and not isinstance(item, Mapping):  # (the ABC's test is slow)
            continue
        _from_item(item, found)
        # TransactWriteItems in the API shape: [{"Put": {"TableName": ...}}, ...]
        for inner in item.values():
            if _is_mapping(inner):
                _from_item(inner, found)


def _is_mapping(value: object) -> bool:
    """`isinstance(value, Mapping)`, sparing the ABC's slow test for parsed JSON's types."""
    kind = type(value)
    return kind is dict or (kind not in _JSON_LEAVES and isinstance(value, Mapping))


_JSON_LEAVES: Final = (str, list, int, float, bool, type(None))


def _from_item(item: Mapping[str, Any], found: dict[str, None]) -> None:
    # most of a transaction's inner objects (keys, attribute names) hold no such key: one
    # set test in C spares a Python step per member
    if item.keys().isdisjoint(_ITEM_KEYS):
        return
    for key, value in item.items():
        role = _ROLES.get(key)
        if role is _Role.NAME:
            _add(found, value)
        elif role is _Role.STATEMENT:
            _add_all(found, tables_in_statement(value))


def _add(found: dict[str, None], name: object) -> None:
    if isinstance(name, str) and name:
        found.setdefault(name, None)


def _add_all(found: dict[str, None], names: Iterable[str]) -> None:
    for name in names:
        _add(found, name)
