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
    BaselineCheck,
    Check,
    CorrelationCheck,
    NewTermsCheck,
    Predicate,
    QueryCheck,
    SequenceCheck,
    ThresholdCheck,
)
from trailhound.simulate.world import DECOY_TABLES

HOUR = 3600
DAY = 86400
TEN_MINUTES = 600
ACCOUNT, USER, TABLE, COUNTRY = (
    "cloud.account.id", "user.name", "aws.dynamodb.table_name", "source.geo.country_iso_code",
)
REPLICA_REGION = "aws.cloudtrail.flattened.request_parameters.replicaUpdates.create.regionName"
SUPPRESSED_BY = (ACCOUNT, USER, TABLE)
PARTIQL = frozenset({"ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction"})
BACKUP, KMS, LAMBDA = "backup.amazonaws.com", "kms.amazonaws.com", "lambda.amazonaws.com"
DYNAMODB = "dynamodb.amazonaws.com"
KEY_ARN = "aws.cloudtrail.resources.arn"


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
            True for _ in _each(f.params, "transactItems", "delete", "tableName"))
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
            True for kind in ("put", "update") for _ in _each(f.params, "transactItems", kind,
                                                              "tableName"))
    return _partiql(f, ("insert", "update"))


def _pitr_disabled(f: Facts) -> bool:
    return (_is("UpdateContinuousBackups")(f) and _get(
        f.params, "pointInTimeRecoverySpecification", "pointInTimeRecoveryEnabled") is False)


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
        any(True for _ in _each(f.params, *path)) for path in _THROUGHPUT_PATHS)


def _replica_added(f: Facts) -> bool:
    return (f.success and f.action in ("UpdateTable", "UpdateGlobalTable")
            and any(True for _ in _each(f.params, "replicaUpdates", "create", "regionName")))


def _policy_opens(f: Facts) -> bool:
    policy = _get(f.params, "policy")
    return (_is("PutResourcePolicy")(f) and isinstance(policy, str) and '"Allow"' in policy
            and ('"AWS"' in policy or '"*"' in policy))


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
    return QueryCheck(name, predicate, actions, group_fields=SUPPRESSED_BY,
                      group=_suppression_key, duration=HOUR)


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


# -- trailhound's own, issue 13 ----------------------------------------------------------------

def _identity(f: Facts) -> dict[str, Any]:
    identity = f.rec.get("userIdentity")
    return identity if isinstance(identity, dict) else {}


def _by_service(f: Facts) -> bool:
    """Called by an AWS service, for itself or for a principal."""
    identity = _identity(f)
    return identity.get("type") == "AWSService" or bool(identity.get("invokedBy"))


def _verb(text: str) -> str:
    return text.lstrip().split(None, 1)[0].upper() if text.strip() else ""


def _names_no_key(text: str) -> bool:
    """A SELECT that names no key value: nothing after WHERE is a literal or a parameter."""
    upper = text.upper()
    if " WHERE " not in upper:
        return True
    condition = text[upper.index(" WHERE ") + 7:]
    return "'" not in condition and "?" not in condition and not any(
        c.isdigit() for c in condition.replace("***(Redacted)", ""))


def _full_read(f: Facts) -> bool:
    return (f.success and f.action in PARTIQL and any(
        _verb(s) == "SELECT" and _names_no_key(s) for s in _statements(f)))


def _deleted_items(f: Facts) -> int:
    """Items a call deletes, read off the request as this simulator writes it."""
    if f.action == "DeleteItem":
        return 1
    if f.action == "BatchWriteItem":
        items = f.params.get("requestItems") if isinstance(f.params, dict) else None
        return sum(1 for requests in (items or {}).values() for req in requests
                   if "deleteRequest" in req)
    if f.action == "TransactWriteItems":
        return sum(1 for op in _each(f.params, "requestItems", "operation") if op == "Delete")
    return sum(1 for s in _statements(f) if _verb(s) == "DELETE")


def _read_items(f: Facts) -> int:
    """Items a read asks for: a key each, one per Query, Scan or reading statement."""
    if f.action == "BatchGetItem":
        return sum(len(per_table.get("keys", ())) for per_table
                   in (f.params.get("requestItems") or {}).values())
    if f.action in PARTIQL:
        return sum(1 for s in _statements(f) if _verb(s) == "SELECT")
    return 1


def _reads(f: Facts) -> bool:
    if not f.success or _identity(f).get("type") == "AWSService":
        return False
    return f.action in READS or (f.action in PARTIQL and _read_items(f) > 0)


def _protection_off(f: Facts) -> bool:
    return _is("UpdateTable")(f) and _get(f.params, "deletionProtectionEnabled") is False


def _stream_consumer(f: Facts) -> bool:
    if not f.success:
        return False
    if f.source == LAMBDA:
        arn = _get(f.params, "eventSourceArn")
        return isinstance(arn, str) and arn.startswith("arn:aws:dynamodb:")
    return f.action in ("GetShardIterator", "GetRecords") and not _identity(f).get("invokedBy")


def _table_terms(f: Facts) -> list[tuple[Any, ...]]:
    if f.account is None or f.user is None:
        return []
    return [(f.account, f.user, t) for t in f.tables]


def _recovery_point_deleted(f: Facts) -> bool:
    arn = _get(f.params, "recoveryPointArn")
    return (f.success and f.action == "DeleteRecoveryPoint" and isinstance(arn, str)
            and arn.startswith(("arn:aws:dynamodb:", "arn:aws:backup:"))
            and _identity(f).get("type") != "AWSService"
            and _identity(f).get("invokedBy") != BACKUP)


def _key_arns(f: Facts) -> list[str]:
    return [r["ARN"] for r in f.rec.get("resources") or () if r.get("type") == "AWS::KMS::Key"]


def _key_lost(f: Facts) -> bool:
    if not f.success or f.source != KMS:
        return False
    if f.action in ("DisableKey", "ScheduleKeyDeletion"):
        return True
    policy = _get(f.params, "policy")
    return (f.action == "PutKeyPolicy" and isinstance(policy, str)
            and ("Deny" in policy or ":root" not in policy))


def _key_taught(f: Facts) -> bool:
    if not f.success:
        return False
    if f.source == KMS:
        return bool(f.tables) and f.action not in KEY_CHANGES
    return f.action in SSE_ACTIONS and _sse_key(f) is not None


def _sse_key(f: Facts) -> str | None:
    response = f.rec.get("responseElements")
    arn = _get(response, "tableDescription", "sSEDescription", "kMSMasterKeyArn")
    return arn if isinstance(arn, str) else None


def _key_facts(f: Facts) -> list[tuple[str, str]]:
    keys = _key_arns(f) if f.source == KMS else [k for k in [_sse_key(f)] if k]
    return [(k, t) for k in keys for t in f.tables]


def _decoy_key(f: Facts) -> tuple[Any, ...]:
    return (f.account, f.user, f.tables or None)


def _decoy(f: Facts) -> bool:
    return any(t in DECOY_TABLES for t in f.tables) and not _by_service(f)


def _lists_tables(f: Facts) -> bool:
    return _is("ListTables")(f) and not _by_service(f)


READS = frozenset({"GetItem", "BatchGetItem", "TransactGetItems", "Query", "Scan"})
KEY_CHANGES = frozenset({"DisableKey", "ScheduleKeyDeletion", "PutKeyPolicy"})
SSE_ACTIONS = frozenset({"CreateTable", "UpdateTable", "RestoreTableFromBackup",
                         "RestoreTableToPointInTime"})
VAULT_ACTIONS = frozenset({"DeleteBackupVaultLockConfiguration", "DeleteBackupVault",
                           "DeleteBackupPlan", "DeleteBackupSelection"})


def _issue_13_checks() -> list[Check]:
    by_user = _values(ACCOUNT, USER)
    item_deletes = frozenset({"DeleteItem", "BatchWriteItem", "TransactWriteItems"}) | PARTIQL
    return [
        QueryCheck("AWS DynamoDB Backup Recovery Point Deleted", _recovery_point_deleted,
                   _one("DeleteRecoveryPoint"), sources=frozenset({BACKUP})),
        QueryCheck("AWS Backup Vault Lock or Plan Removed",
                   lambda f: (f.success and f.action in VAULT_ACTIONS
                              and _identity(f).get("type") != "AWSService"),
                   VAULT_ACTIONS, sources=frozenset({BACKUP})),
        QueryCheck("AWS DynamoDB Decoy Table Accessed", _decoy, None, group_fields=SUPPRESSED_BY,
                   group=_decoy_key, duration=HOUR),
        BaselineCheck("AWS DynamoDB Unusual Read Volume", _reads, READS | PARTIQL,
                      group_fields=(ACCOUNT, USER), group=by_user, weight=_read_items,
                      window=HOUR, history=14 * DAY, min_count=100, min_history=DAY, factor=10),
        _suppressed("AWS DynamoDB Full Table Read via PartiQL", _full_read, PARTIQL),
        ThresholdCheck("AWS DynamoDB Mass Item Deletion",
                       lambda f: f.success and _deleted_items(f) > 0, item_deletes,
                       group_fields=(ACCOUNT, USER, TABLE), group=_values(ACCOUNT, USER, TABLE),
                       value=100, window=TEN_MINUTES, weight=_deleted_items,
                       count=("aws.dynamodb.operations", ("delete",))),
        SequenceCheck("AWS DynamoDB Table Deleted After Protection Disabled",
                      (_protection_off, _is("DeleteTable")),
                      frozenset({"UpdateTable", "DeleteTable"}), by_fields=(ACCOUNT, TABLE),
                      by=_values(ACCOUNT, TABLE), maxspan=HOUR),
        NewTermsCheck("AWS DynamoDB Stream Consumer Added", _stream_consumer,
                      frozenset({"CreateEventSourceMapping20150331", "CreateEventSourceMapping",
                                 "GetShardIterator", "GetRecords"}),
                      fields=(ACCOUNT, USER, TABLE), terms=_table_terms, history=14 * DAY,
                      sources=frozenset({DYNAMODB, LAMBDA})),
        NewTermsCheck("AWS DynamoDB Tables Listed by Unusual User", _lists_tables,
                      _one("ListTables"), fields=(ACCOUNT, USER), terms=_account_user_terms,
                      history=30 * DAY),
        CorrelationCheck("AWS DynamoDB Table Key Disabled or Scheduled for Deletion",
                         _key_lost, _key_taught, None, frozenset({KMS, DYNAMODB}),
                         key_field=KEY_ARN, value_field=TABLE, keys=_key_arns,
                         facts=_key_facts, remember=90 * DAY),
    ]


def checks() -> list[Check]:
    """A fresh set of checks, one per rule of the shipped pack."""
    writes = frozenset({"PutItem", "UpdateItem", "BatchWriteItem", "TransactWriteItems"}) | PARTIQL
    deletes = frozenset({"DeleteItem", "BatchWriteItem", "TransactWriteItems"}) | PARTIQL
    by_user = _values(ACCOUNT, USER)
    return [
        QueryCheck("AWS DynamoDB Backup Deleted", _is("DeleteBackup"), _one("DeleteBackup")),
        _suppressed("AWS DynamoDB Table Item Deleted", _item_deleted, deletes),
        ThresholdCheck("AWS DynamoDB Multiple Tables Deleted", _is("DeleteTable"),
                       _one("DeleteTable"), group_fields=(ACCOUNT,), group=_values(ACCOUNT),
                       value=6, window=TEN_MINUTES),
        ThresholdCheck("AWS DynamoDB Multiple Tables Created", _is("CreateTable"),
                       _one("CreateTable"), group_fields=(ACCOUNT,), group=_values(ACCOUNT),
                       value=6, window=TEN_MINUTES),
        QueryCheck("AWS DynamoDB Deletion Protection Disabled",
                   lambda f: _is("UpdateTable")(f)
                   and _get(f.params, "deletionProtectionEnabled") is False,
                   _one("UpdateTable")),
        _suppressed("AWS DynamoDB Table Scanned", _is("Scan"), _one("Scan")),
        NewTermsCheck("AWS DynamoDB Activity From New Country",
                      lambda f: f.success and f.country is not None, None,
                      fields=(ACCOUNT, USER, COUNTRY), terms=_country_terms,
                      history=14 * DAY, learning=72 * HOUR),
        _suppressed("AWS DynamoDB Table Item Updated", _item_updated, writes),
        QueryCheck("AWS DynamoDB Backups Listed", _is("ListBackups"), _one("ListBackups")),
        ThresholdCheck("AWS DynamoDB Multiple Table Update Operations", _capacity_update,
                       _one("UpdateTable"), group_fields=(ACCOUNT, TABLE),
                       group=_values(ACCOUNT, TABLE), value=6, window=TEN_MINUTES),
        NewTermsCheck("AWS DynamoDB Scan by Unusual User", _is("Scan"), _one("Scan"),
                      fields=(ACCOUNT, USER), terms=_account_user_terms, history=14 * DAY),
        NewTermsCheck("AWS DynamoDB Table Exported to S3", _is("ExportTableToPointInTime"),
                      _one("ExportTableToPointInTime"), fields=(ACCOUNT, USER),
                      terms=_account_user_terms, history=14 * DAY),
        # trailhound's own
        QueryCheck("AWS DynamoDB Point-In-Time Recovery Disabled", _pitr_disabled,
                   _one("UpdateContinuousBackups")),
        QueryCheck("AWS DynamoDB Export to Cross-Account S3 Bucket",
                   lambda f: _is("ExportTableToPointInTime")(f)
                   and _get(f.params, "s3BucketOwner") is not None,
                   _one("ExportTableToPointInTime")),
        QueryCheck("AWS DynamoDB Resource Policy Grants Cross-Account or Public Access",
                   _policy_opens, _one("PutResourcePolicy")),
        SequenceCheck("AWS DynamoDB Backups Deleted Then Table Deleted",
                      (lambda f: _is("DeleteBackup")(f) or _pitr_disabled(f), _is("DeleteTable")),
                      frozenset({"DeleteBackup", "UpdateContinuousBackups", "DeleteTable"}),
                      by_fields=(ACCOUNT, USER), by=by_user, maxspan=HOUR),
        ThresholdCheck("AWS DynamoDB Burst of Access Denied Errors",
                       lambda f: f.error_code in ("AccessDenied", "AccessDeniedException"), None,
                       group_fields=(ACCOUNT, USER), group=by_user, value=5, window=TEN_MINUTES,
                       distinct=("event.action", lambda f: (f.action,)), distinct_value=3),
        ThresholdCheck("AWS DynamoDB Many Tables Scanned by One Actor", _is("Scan"), _one("Scan"),
                       group_fields=(ACCOUNT, USER), group=by_user, value=5, window=TEN_MINUTES,
                       distinct=(TABLE, lambda f: f.tables), distinct_value=5),
        QueryCheck("AWS DynamoDB Kinesis Streaming Destination Enabled",
                   _is("EnableKinesisStreamingDestination"),
                   _one("EnableKinesisStreamingDestination")),
        NewTermsCheck("AWS DynamoDB Replica Added in New Region", _replica_added,
                      frozenset({"UpdateTable", "UpdateGlobalTable"}),
                      fields=(ACCOUNT, REPLICA_REGION), terms=_replica_terms, history=90 * DAY),
        NewTermsCheck("AWS DynamoDB Table Restored by Unusual User",
                      lambda f: f.success and f.action in ("RestoreTableFromBackup",
                                                           "RestoreTableToPointInTime"),
                      frozenset({"RestoreTableFromBackup", "RestoreTableToPointInTime"}),
                      fields=(ACCOUNT, USER), terms=_account_user_terms, history=14 * DAY),
        QueryCheck("AWS DynamoDB Time To Live Enabled",
                   lambda f: _is("UpdateTimeToLive")(f)
                   and _get(f.params, "timeToLiveSpecification", "enabled") is True,
                   _one("UpdateTimeToLive")),
        *_issue_13_checks(),
    ]
