"""The few normalized fields the answer key needs, read straight off a raw record.

This is deliberately a second, small reading of CloudTrail, independent of the reader in
`trailhound.cloudtrail`: it only has to understand the shapes this simulator writes, and it
follows the same mapping (DESIGN 3.1) so that a disagreement between the two is a finding.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trailhound.simulate.records import Record

DYNAMODB = "dynamodb.amazonaws.com"
_NAME_KEYS = ("tableName", "targetTableName", "sourceTableName")
_ARN_KEYS = ("tableArn", "sourceTableArn", "resourceArn", "backupArn", "exportArn", "streamArn",
             "eventSourceArn", "recoveryPointArn")
_TABLE_RESOURCES = ("AWS::DynamoDB::Table", "AWS::DynamoDB::Stream")
KMS_TABLE_CONTEXT = "aws:dynamodb:tableName"


class Facts:
    """A record's normalized fields; the costlier ones (tables, country) on first use."""

    __slots__ = ("_country", "_country_of", "_tables", "account", "action", "error_code",
                 "event_id", "params", "rec", "source", "success", "t", "user")

    def __init__(self, rec: Record, t: int, country_of: Callable[[str], str | None]) -> None:
        identity = rec["userIdentity"]
        issuer = identity.get("sessionContext", {}).get("sessionIssuer", {})
        error = rec.get("errorCode") or None
        self.t = t
        self.rec = rec
        self.event_id: str = rec["eventID"]
        self.action: str = rec["eventName"]
        self.source: str = rec["eventSource"]
        self.error_code: str | None = error
        self.success = not error and not rec.get("errorMessage")
        self.account: str | None = identity.get("accountId") or rec.get("recipientAccountId")
        self.user: str | None = identity.get("userName") or issuer.get("userName")
        self.params: Any = rec.get("requestParameters")
        self._country_of = country_of
        self._country: str | bool | None = False  # False: not looked up yet
        self._tables: tuple[str, ...] | None = None

    @property
    def country(self) -> str | None:
        if self._country is False:
            self._country = self._country_of(self.rec["sourceIPAddress"])
        return self._country  # type: ignore[return-value]

    @property
    def tables(self) -> tuple[str, ...]:
        if self._tables is None:
            self._tables = tables(self.rec)
        return self._tables


def table_from_arn(arn: str) -> str | None:
    head, _, rest = arn.partition(":table/")
    return rest.split("/", 1)[0] or None if head.startswith("arn:aws:dynamodb:") else None


def tables(rec: Record) -> tuple[str, ...]:
    """Table names in request, then response description, then resource order, once each."""
    found: dict[str, None] = {}
    params = rec.get("requestParameters")
    if isinstance(params, dict):
        _from_params(params, found)
    response = rec.get("responseElements")
    if isinstance(response, dict):
        for key in ("tableDescription", "exportDescription", "sourceTableDetails"):
            described = response.get(key)
            if isinstance(described, dict):
                _from_params(described, found)
    for res in rec.get("resources") or ():
        if res.get("type") in _TABLE_RESOURCES:
            _add(found, table_from_arn(res["ARN"]))
    return tuple(found)


def _from_params(params: dict[str, Any], found: dict[str, None]) -> None:
    for key in _NAME_KEYS:
        _add(found, params.get(key))
    for key in _ARN_KEYS:
        value = params.get(key)
        if isinstance(value, str):
            _add(found, table_from_arn(value))
    items = params.get("requestItems")
    if isinstance(items, dict):
        for name in items:
            _add(found, name)
    elif isinstance(items, list):
        for item in items:
            _add(found, item.get("tableName"))
    statement = params.get("statement")
    if isinstance(statement, str):
        _add(found, statement_table(statement))
    context = params.get("encryptionContext")
    if isinstance(context, dict):
        _add(found, context.get(KMS_TABLE_CONTEXT))


def statement_table(statement: str) -> str | None:
    """The quoted table name of the statements this simulator writes."""
    first, _, rest = statement.partition('"')
    return rest.partition('"')[0] if first and rest else None


def _add(found: dict[str, None], name: object) -> None:
    if isinstance(name, str) and name:
        found.setdefault(name, None)
