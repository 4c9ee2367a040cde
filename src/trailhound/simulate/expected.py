"""The shipped pack's rules, restated as oracle checks over raw records.

One entry per rule file in `trailhound/rules/pack`, with the same name, type, group or term
fields and parameters (a test compares them with the TOML files). The predicates are written
by hand against the record shapes this simulator produces; they are the independent second
opinion the answer key stands on, not a compilation of the rules' KQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from trailhound.simulate.facts import Facts
from trailhound.simulate.oracle import (
    Check,
    NewTermsCheck,
    Predicate,
    QueryCheck,
    SequenceCheck,
    ThresholdCheck,
)

HOUR = 3600
DAY = 86400
TEN_MINUTES = 600
ACCOUNT, USER, TABLE, COUNTRY = (
    "cloud.account.id",
    "user.name",
    "aws.dynamodb.table_name",
    "source.geo.country_iso_code",
)
REPLICA_REGION = "aws.cloudtrail.flattened.request_parameters.replicaUpdates.create.regionName"
SUPPRESSED_BY = (ACCOUNT, USER, TABLE)
PARTIQL = frozenset({"ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction"})


def _get(value: Any, *path: str) -> Any:
    """A nested member; through lists it yields the first element that has it."""
    for part in path:
        if isinstance(value, list):
            value = next((v[part] for v in value if isinstance(v, dict) and part in v), None)
        elif isinstance(value, dict):
            value = value.get(part)
        else:
            return None
    return value


def _each(value: Any, *path: str) -> Iterator[Any]:
    """Every value at `path`, expanding lists on the way (a flattened field's values)."""
    if not path:
        if isinstance(value, list):
            yield from value
        elif value is not None:
            yield value
        return
    if isinstance(value, list):
        for v in value:
            yield from _each(v, *path)
    elif isinstance(value, dict) and path[0] in value:
        yield from _each(value[path[0]], *path[1:])


def _is(action: str) -> Predicate:
    return lambda f: f.success and f.action == action


def _statements(f: Facts) -> Iterator[str]:
    params = f.params
    yield from (s for s in _each(params, "statement") if isinstance(s, str))
    for member in ("requestItems", "statements", "transactStatements"):
        yield from (s for s in _each(params, member, "statement") if isinstance(s, str))


def _partiql(f: Facts, verbs: tuple[str, ...]) -> bool:
    prefixes = tuple(v for verb in verbs for v in (verb.upper(), verb.lower(), verb.title()))
    return f.action in PARTIQL and any(s.startswith(prefixes) for s in _statements(f))


def _request_text(f: Facts) -> bytes:
    return orjson.dumps(f.params)


def _item_deleted(f: Facts) -> bool:
    if not f.success:
        return False
    if f.action == "DeleteItem":
        return True
    if f.action == "BatchWriteItem":
        text = _request_text(f)
        return b"deleteRequest" in text or b"DeleteRequest" in text
    if f.action == "TransactWriteItems":
        return "Delete" in _each(f.params, "requestItems", "operation") or any(
            True for _ in _each(f.params, "transactItems", "delete", "tableName")
        )
    return _partiql(f, ("delete",))


def _item_updated(f: Facts) -> bool:
    if not f.success:
        return False
    if f.action in ("PutItem", "UpdateItem"):
        return True
    if f.action == "BatchWriteItem":
        text = _request_text(f)
        return b"putRequest" in text or b"PutRequest" in text
    if f.action == "TransactWriteItems":
        ops = set(_each(f.params, "requestItems", "operation"))
        return bool(ops & {"Put", "Update"}) or any(
            True
            for kind in ("put", "update")
            for _ in _each(f.params, "transactItems", kind, "tableName")
        )
    return _partiql(f, ("insert", "update"))


def _pitr_disabled(f: Facts) -> bool:
    return (
        _is("UpdateContinuousBackups")(f)
        and _get(f.params, "pointInTimeRecoverySpecification", "pointInTimeRecoveryEnabled")
        is False
    )


_THROUGHPUT_PATHS = (
    ("provisionedThroughput", "readCapacityUnits"),
    ("provisionedThroughput", "writeCapacityUnits"),
    ("onDemandThroughput", "maxReadRequestUnits"),
    ("onDemandThroughput", "maxWriteRequestUnits"),
    ("billingMode",),
    ("globalSecondaryIndexUpdates", "create", "indexName"),
    ("globalSecondaryIndexUpdates", "update", "indexName"),
    ("globalSecondaryIndexUpdates", "delete", "indexName"),
    ("streamSpecification", "streamEnabled"),
)


def _capacity_update(f: Facts) -> bool:
    return _is("UpdateTable")(f) and any(
        any(True for _ in _each(f.params, *path)) for path in _THROUGHPUT_PATHS
    )


def _replica_added(f: Facts) -> bool:
    return (
        f.success
        and f.action in ("UpdateTable", "UpdateGlobalTable")
        and any(True for _ in _each(f.params, "replicaUpdates", "create", "regionName"))
    )


def _policy_opens(f: Facts) -> bool:
    policy = _get(f.params, "policy")
    return (
        _is("PutResourcePolicy")(f)
        and isinstance(policy, str)
        and '"Allow"' in policy
        and ('"AWS"' in policy or '"*"' in policy)
    )


def _values(*getters: str) -> Any:
    def read(f: Facts) -> tuple[Any, ...] | None:
        values = tuple(_field(f, g) for g in getters)
        return None if any(v is None for v in values) else values

    return read


def _field(f: Facts, name: str) -> Any:
    if name == ACCOUNT:
        return f.account
    if name == USER:
        return f.user
    if name == COUNTRY:
        return f.country
    if name == TABLE:
        if len(f.tables) != 1:
            raise AssertionError(f"{f.action} names {len(f.tables)} tables; group by one")
        return f.tables[0]
    raise KeyError(name)


def _suppression_key(f: Facts) -> tuple[Any, ...]:
    """Elastic keeps a multi-valued field whole in a suppression group; missing is a value."""
    return (f.account, f.user, f.tables or None)


def _suppressed(name: str, predicate: Predicate, actions: frozenset[str]) -> QueryCheck:
    return QueryCheck(
        name, predicate, actions, group_fields=SUPPRESSED_BY, group=_suppression_key, duration=HOUR
    )


def _account_user_terms(f: Facts) -> list[tuple[Any, ...]]:
    return [] if f.account is None or f.user is None else [(f.account, f.user)]


def _country_terms(f: Facts) -> list[tuple[Any, ...]]:
    country = f.country
    if f.account is None or f.user is None or country is None:
        return []
    return [(f.account, f.user, country)]


def _replica_terms(f: Facts) -> list[tuple[Any, ...]]:
    regions = dict.fromkeys(_each(f.params, "replicaUpdates", "create", "regionName"))
    return [] if f.account is None else [(f.account, r) for r in regions]


def _one(action: str) -> frozenset[str]:
    return frozenset({action})


def checks() -> list[Check]:
    """A fresh set of checks, one per rule of the shipped pack."""
    writes = frozenset({"PutItem", "UpdateItem", "BatchWriteItem", "TransactWriteItems"}) | PARTIQL
    deletes = frozenset({"DeleteItem", "BatchWriteItem", "TransactWriteItems"}) | PARTIQL
    by_user = _values(ACCOUNT, USER)
    return [
        QueryCheck("AWS DynamoDB Backup Deleted", _is("DeleteBackup"), _one("DeleteBackup")),
        _suppressed("AWS DynamoDB Table Item Deleted", _item_deleted, deletes),
        ThresholdCheck(
            "AWS DynamoDB Multiple Tables Deleted",
            _is("DeleteTable"),
            _one("DeleteTable"),
            group_fields=(ACCOUNT,),
            group=_values(ACCOUNT),
            value=6,
            window=TEN_MINUTES,
        ),
        ThresholdCheck(
            "AWS DynamoDB Multiple Tables Created",
            _is("CreateTable"),
            _one("CreateTable"),
            group_fields=(ACCOUNT,),
            group=_values(ACCOUNT),
            value=6,
            window=TEN_MINUTES,
        ),
        QueryCheck(
            "AWS DynamoDB Deletion Protection Disabled",
            lambda f: (
                _is("UpdateTable")(f) and _get(f.params, "deletionProtectionEnabled") is False
            ),
            _one("UpdateTable"),
        ),
        _suppressed("AWS DynamoDB Table Scanned", _is("Scan"), _one("Scan")),
        NewTermsCheck(
            "AWS DynamoDB Activity From New Country",
            lambda f: f.success and f.country is not None,
            None,
            fields=(ACCOUNT, USER, COUNTRY),
            terms=_country_terms,
            history=14 * DAY,
            learning=72 * HOUR,
        ),
        _suppressed("AWS DynamoDB Table Item Updated", _item_updated, writes),
        QueryCheck("AWS DynamoDB Backups Listed", _is("ListBackups"), _one("ListBackups")),
        ThresholdCheck(
            "AWS DynamoDB Multiple Table Update Operations",
            _capacity_update,
            _one("UpdateTable"),
            group_fields=(ACCOUNT, TABLE),
            group=_values(ACCOUNT, TABLE),
            value=6,
            window=TEN_MINUTES,
        ),
        NewTermsCheck(
            "AWS DynamoDB Scan by Unusual User",
            _is("Scan"),
            _one("Scan"),
            fields=(ACCOUNT, USER),
            terms=_account_user_terms,
            history=14 * DAY,
        ),
        NewTermsCheck(
            "AWS DynamoDB Table Exported to S3",
            _is("ExportTableToPointInTime"),
            _one("ExportTableToPointInTime"),
            fields=(ACCOUNT, USER),
            terms=_account_user_terms,
            history=14 * DAY,
        ),
        # trailhound's own
        QueryCheck(
            "AWS DynamoDB Point-In-Time Recovery Disabled",
            _pitr_disabled,
            _one("UpdateContinuousBackups"),
        ),
        QueryCheck(
            "AWS DynamoDB Export to Cross-Account S3 Bucket",
            lambda f: (
                _is("ExportTableToPointInTime")(f) and _get(f.params, "s3BucketOwner") is not None
            ),
            _one("ExportTableToPointInTime"),
        ),
        QueryCheck(
            "AWS DynamoDB Resource Policy Grants Cross-Account or Public Access",
            _policy_opens,
            _one("PutResourcePolicy"),
        ),
        SequenceCheck(
            "AWS DynamoDB Backups Deleted Then Table Deleted",
            (lambda f: _is("DeleteBackup")(f) or _pitr_disabled(f), _is("DeleteTable")),
            frozenset({"DeleteBackup", "UpdateContinuousBackups", "DeleteTable"}),
            by_fields=(ACCOUNT, USER),
            by=by_user,
            maxspan=HOUR,
        ),
        ThresholdCheck(
            "AWS DynamoDB Burst of Access Denied Errors",
            lambda f: f.error_code in ("AccessDenied", "AccessDeniedException"),
            None,
            group_fields=(ACCOUNT, USER),
            group=by_user,
            value=5,
            window=TEN_MINUTES,
            distinct=("event.action", lambda f: (f.action,)),
            distinct_value=3,
        ),
        ThresholdCheck(
            "AWS DynamoDB Many Tables Scanned by One Actor",
            _is("Scan"),
            _one("Scan"),
            group_fields=(ACCOUNT, USER),
            group=by_user,
            value=5,
            window=TEN_MINUTES,
            distinct=(TABLE, lambda f: f.tables),
            distinct_value=5,
        ),
        QueryCheck(
            "AWS DynamoDB Kinesis Streaming Destination Enabled",
            _is("EnableKinesisStreamingDestination"),
            _one("EnableKinesisStreamingDestination"),
        ),
        NewTermsCheck(
            "AWS DynamoDB Replica Added in New Region",
            _replica_added,
            frozenset({"UpdateTable", "UpdateGlobalTable"}),
            fields=(ACCOUNT, REPLICA_REGION),
            terms=_replica_terms,
            history=90 * DAY,
        ),
        NewTermsCheck(
            "AWS DynamoDB Table Restored by Unusual User",
            lambda f: (
                f.success and f.action in ("RestoreTableFromBackup", "RestoreTableToPointInTime")
            ),
            frozenset({"RestoreTableFromBackup", "RestoreTableToPointInTime"}),
            fields=(ACCOUNT, USER),
            terms=_account_user_terms,
            history=14 * DAY,
        ),
        QueryCheck(
            "AWS DynamoDB Time To Live Enabled",
            lambda f: (
                _is("UpdateTimeToLive")(f)
                and _get(f.params, "timeToLiveSpecification", "enabled") is True
            ),
            _one("UpdateTimeToLive"),
        ),
    ]
