"""DynamoDB calls as CloudTrail logs them: request parameters, responses, resources.

Shapes follow ../shared/data/dynamodb-real and the request member names in
../shared/data/shapes: key attributes are logged with their values, other attributes by name
only, PartiQL values arrive as `***(Redacted)`, export and point-in-time APIs name the table
by `tableArn`. Each function returns one finished record.
"""

from __future__ import annotations

from typing import Any

from trailhound.simulate.records import Record, Recorder, iso
from trailhound.simulate.world import Principal, Table

SOURCE = "dynamodb.amazonaws.com"
API = "2012-08-10"
_ITEM_ATTRS = ("status", "updatedAt", "total", "currency", "payload", "version")


def table_arn(t: Table) -> str:
    return f"arn:aws:dynamodb:{t.region}:{t.account}:table/{t.name}"


def _resources(t: Table) -> list[dict[str, str]]:
    return [{"accountId": t.account, "type": "AWS::DynamoDB::Table", "ARN": table_arn(t)}]


def item_key(r: Recorder, t: Table) -> dict[str, str]:
    bits = r.rng.getrandbits(48)
    key = {t.keys[0]: f"{t.keys[0][:3].upper()}-{bits & 0xFFFFFF:06X}"}
    if len(t.keys) > 1:
        key[t.keys[1]] = str((bits >> 24) & 0xFFFF)
    return key


def _missing(r: Recorder, ts: int, t: Table | None) -> tuple[str, str] | None:
    """Calls on a table after an attack dropped it fail, as they would."""
    if t is None or not r.gone:
        return None
    when = r.gone.get((t.account, t.name))
    if when is None or ts <= when:
        return None
    return "ResourceNotFoundException", f"Requested resource not found: Table: {t.name} not found"


def _data(
    r: Recorder, p: Principal, ts: int, t: Table, name: str, params: dict[str, Any],
    *, read_only: bool, ip: str | None = None, agent: str | None = None,
    error: tuple[str, str] | None = None,
) -> Record:
    error = error or _missing(r, ts, t)
    return r.call(
        p, ts, t.region, SOURCE, name, params, None, read_only=read_only, data=True,
        resources=_resources(t), api_version=API, ip=ip, agent=agent, error=error,
    )


def _mgmt(
    r: Recorder, p: Principal, ts: int, t: Table | None, name: str, params: dict[str, Any] | None,
    response: Any = None, *, read_only: bool, region: str | None = None,
    ip: str | None = None, agent: str | None = None, error: tuple[str, str] | None = None,
) -> Record:
    where = region or (t.region if t else "us-east-1")
    error = error or _missing(r, ts, t)
    if error is not None and error[0] == "ResourceNotFoundException":
        response = None
    return r.call(
        p, ts, where, SOURCE, name, params, response, read_only=read_only,
        resources=_resources(t) if t else None, api_version=API, ip=ip, agent=agent,
        error=error,
    )


def access_denied(p: Principal, action: str, t: Table | None) -> tuple[str, str]:
    """The errorCode and errorMessage CloudTrail writes when IAM refuses a call."""
    who = f"arn:aws:iam::{p.account}:user/{p.name}" if p.kind == "user" else (
        f"arn:aws:sts::{p.account}:assumed-role/{p.name}/{p.session}")
    where = table_arn(t) if t else f"arn:aws:dynamodb:us-east-1:{p.account}:table/*"
    return ("AccessDenied", f"User: {who} is not authorized to perform: dynamodb:{action} on "
            f"resource: {where} because no identity-based policy allows the dynamodb:{action} "
            "action")


# -- data events --------------------------------------------------------------------------------

def get_item(r: Recorder, p: Principal, ts: int, t: Table, **kw: Any) -> Record:
    params = {"tableName": t.name, "key": item_key(r, t), "consistentRead": False}
    return _data(r, p, ts, t, "GetItem", params, read_only=True, **kw)


def query(r: Recorder, p: Principal, ts: int, t: Table, **kw: Any) -> Record:
    pk = t.keys[0]
    params = {
        "tableName": t.name,
        "key": {pk: item_key(r, t)[pk]},
        "keyConditionExpression": "#n0 = :v0",
        "expressionAttributeNames": {"#n0": pk},
        "limit": 50,
    }
    return _data(r, p, ts, t, "Query", params, read_only=True, **kw)


def scan(r: Recorder, p: Principal, ts: int, t: Table, *, segment: int | None = None,
         **kw: Any) -> Record:
    params: dict[str, Any] = {"tableName": t.name, "limit": 1000, "consistentRead": False}
    if segment is not None:
        params["segment"] = segment
        params["totalSegments"] = 4
    return _data(r, p, ts, t, "Scan", params, read_only=True, **kw)


def put_item(r: Recorder, p: Principal, ts: int, t: Table, *,
             attrs: tuple[str, ...] = _ITEM_ATTRS[:4], **kw: Any) -> Record:
    key = item_key(r, t)
    params = {"tableName": t.name, "key": key, "items": [*key, *attrs]}
    return _data(r, p, ts, t, "PutItem", params, read_only=False, **kw)


def update_item(r: Recorder, p: Principal, ts: int, t: Table, **kw: Any) -> Record:
    params = {
        "tableName": t.name,
        "key": item_key(r, t),
        "updateExpression": "SET #s = :s, #u = :u",
        "expressionAttributeNames": {"#s": "status", "#u": "updatedAt"},
        "conditionExpression": "attribute_exists(#s)",
    }
    return _data(r, p, ts, t, "UpdateItem", params, read_only=False, **kw)


def delete_item(r: Recorder, p: Principal, ts: int, t: Table, **kw: Any) -> Record:
    params = {"tableName": t.name, "key": item_key(r, t)}
    return _data(r, p, ts, t, "DeleteItem", params, read_only=False, **kw)


def batch_get(r: Recorder, p: Principal, ts: int, t: Table, *, keys_wanted: int = 3,
              **kw: Any) -> Record:
    keys = [item_key(r, t) for _ in range(keys_wanted)]
    params = {"requestItems": {t.name: {"keys": keys, "consistentRead": False}}}
    return _data(r, p, ts, t, "BatchGetItem", params, read_only=True, **kw)


def batch_write(r: Recorder, p: Principal, ts: int, t: Table, op: str, n: int,
                **kw: Any) -> Record:
    """BatchWriteItem of `n` requests of one kind (`Put` or `Delete`) on one table."""
    requests: list[dict[str, Any]] = []
    for _ in range(n):
        key = item_key(r, t)
        if op == "Put":
            requests.append({"putRequest": {"key": key, "item": [*key, *_ITEM_ATTRS[:3]]}})
        else:
            requests.append({"deleteRequest": {"key": key}})
    params = {"requestItems": {t.name: requests}, "returnConsumedCapacity": "TOTAL"}
    return _data(r, p, ts, t, "BatchWriteItem", params, read_only=False, **kw)


def transact_write(r: Recorder, p: Principal, ts: int, t: Table, ops: tuple[str, ...],
                   **kw: Any) -> Record:
    items: list[dict[str, Any]] = []
    for op in ops:
        key = item_key(r, t)
        entry: dict[str, Any] = {"operation": op, "tableName": t.name, "key": key}
        if op == "Put":
            entry["items"] = [*key, *_ITEM_ATTRS[:3]]
        elif op == "Update":
            entry["updateExpression"] = "SET #v = #v + :one"
            entry["expressionAttributeNames"] = {"#v": "version"}
        items.append(entry)
    return _data(r, p, ts, t, "TransactWriteItems", {"requestItems": items}, read_only=False,
                 **kw)


def partiql(r: Recorder, p: Principal, ts: int, t: Table, verb: str, **kw: Any) -> Record:
    """ExecuteStatement with SELECT, INSERT, UPDATE or DELETE, or SELECT_ALL (a SELECT that
    names no key); values redacted as logged."""
    pk = t.keys[0]
    value = item_key(r, t)[pk]
    statement = {
        "SELECT": f"SELECT * FROM \"{t.name}\" WHERE {pk} = '{value}'",
        "SELECT_ALL": f"SELECT * FROM \"{t.name}\"",
        "INSERT": f"INSERT INTO \"{t.name}\" VALUE {{'{pk}' : ***(Redacted), "
                  "'status' : ***(Redacted)}",
        "UPDATE": f"UPDATE \"{t.name}\" SET status = ***(Redacted) WHERE {pk} = '{value}'",
        "DELETE": f"DELETE FROM \"{t.name}\" WHERE {pk} = '{value}'",
    }[verb]
    return _data(r, p, ts, t, "ExecuteStatement", {"statement": statement},
                 read_only=verb.startswith("SELECT"), **kw)


def stream_arn(t: Table) -> str:
    return f"{table_arn(t)}/stream/2025-01-14T09:41:07.113"


def _stream(r: Recorder, p: Principal, ts: int, t: Table, name: str, params: dict[str, Any],
            **kw: Any) -> Record:
    """A DynamoDB Streams read: a data event whose resource is the stream."""
    resources = [{"accountId": t.account, "type": "AWS::DynamoDB::Stream", "ARN": stream_arn(t)}]
    return r.call(p, ts, t.region, SOURCE, name, params, None, read_only=True, data=True,
                  resources=resources, api_version=API, **kw)


def get_shard_iterator(r: Recorder, p: Principal, ts: int, t: Table, **kw: Any) -> Record:
    params = {"streamArn": stream_arn(t), "shardId": f"shardId-{ts * 1000:020d}-4b6c2f1e",
              "shardIteratorType": "TRIM_HORIZON"}
    return _stream(r, p, ts, t, "GetShardIterator", params, **kw)


def get_records(r: Recorder, p: Principal, ts: int, t: Table, **kw: Any) -> Record:
    params = {"shardIterator": f"{stream_arn(t)}|1|AAAAAAAAAAH7HF3xwDQHBrvk{ts:x}EXAMPLE=="}
    return _stream(r, p, ts, t, "GetRecords", params, **kw)


# -- management events -------------------------------------------------------------------------

def describe_table(r: Recorder, p: Principal, ts: int, t: Table, **kw: Any) -> Record:
    return _mgmt(r, p, ts, t, "DescribeTable", {"tableName": t.name}, read_only=True, **kw)


def list_tables(r: Recorder, p: Principal, ts: int, region: str, **kw: Any) -> Record:
    return account_read(r, p, ts, region, "ListTables", {"limit": 100}, **kw)


def account_read(r: Recorder, p: Principal, ts: int, region: str, name: str,
                 params: dict[str, Any] | None, **kw: Any) -> Record:
    """A read that names no table: ListTables, ListExports, DescribeLimits..."""
    return _mgmt(r, p, ts, None, name, params, read_only=True, region=region, **kw)


def simple_read(r: Recorder, p: Principal, ts: int, t: Table, name: str, **kw: Any) -> Record:
    """Describe*/List* calls that take the table name and log no response."""
    params: dict[str, Any]
    if name == "ListTagsOfResource":
        params = {"resourceArn": table_arn(t)}
    else:
        params = {"tableName": t.name}
    return _mgmt(r, p, ts, t, name, params, read_only=True, **kw)


def list_backups(r: Recorder, p: Principal, ts: int, t: Table, **kw: Any) -> Record:
    params = {"tableName": t.name, "backupType": "ALL"}
    return _mgmt(r, p, ts, t, "ListBackups", params, read_only=True, **kw)


def backup_arn(t: Table, created: int) -> str:
    return f"{table_arn(t)}/backup/{created * 1000:013d}-{created % 99991:05x}"


def create_backup(r: Recorder, p: Principal, ts: int, t: Table, **kw: Any) -> Record:
    name = f"{t.name}-{iso(ts)[:10]}"
    response = {"backupDetails": {
        "backupArn": backup_arn(t, ts), "backupName": name, "backupStatus": "CREATING",
        "backupType": "USER", "backupCreationDateTime": iso(ts),
    }}
    return _mgmt(r, p, ts, t, "CreateBackup", {"tableName": t.name, "backupName": name},
                 response, read_only=False, **kw)


def delete_backup(r: Recorder, p: Principal, ts: int, t: Table, arn: str, **kw: Any) -> Record:
    response = {"backupDescription": {"backupDetails": {
        "backupArn": arn, "backupStatus": "DELETED", "backupType": "USER"},
        "sourceTableDetails": {"tableName": t.name, "tableArn": table_arn(t)}}}
    return _mgmt(r, p, ts, t, "DeleteBackup", {"backupArn": arn}, response,
                 read_only=False, **kw)


def _description(t: Table, status: str) -> dict[str, Any]:
    return {"tableDescription": {
        "tableName": t.name, "tableArn": table_arn(t), "tableStatus": status,
        "keySchema": [{"attributeName": k, "keyType": kt}
                      for k, kt in zip(t.keys, ("HASH", "RANGE"), strict=False)],
        "billingModeSummary": {"billingMode": "PAY_PER_REQUEST"},
    }}


def create_table(r: Recorder, p: Principal, ts: int, t: Table, **kw: Any) -> Record:
    params = {
        "tableName": t.name,
        "attributeDefinitions": [{"attributeName": k, "attributeType": "S"} for k in t.keys],
        "keySchema": [{"attributeName": k, "keyType": kt}
                      for k, kt in zip(t.keys, ("HASH", "RANGE"), strict=False)],
        "billingMode": "PAY_PER_REQUEST",
        "deletionProtectionEnabled": False,
    }
    return _mgmt(r, p, ts, t, "CreateTable", params, _description(t, "CREATING"),
                 read_only=False, **kw)


def delete_table(r: Recorder, p: Principal, ts: int, t: Table, **kw: Any) -> Record:
    return _mgmt(r, p, ts, t, "DeleteTable", {"tableName": t.name}, _description(t, "DELETING"),
                 read_only=False, **kw)


def update_table(r: Recorder, p: Principal, ts: int, t: Table, change: dict[str, Any],
                 **kw: Any) -> Record:
    """UpdateTable with one change: throughput, an index, a stream, deletion protection..."""
    return _mgmt(r, p, ts, t, "UpdateTable", {"tableName": t.name, **change},
                 _description(t, "UPDATING"), read_only=False, **kw)


def throughput(read: int, write: int) -> dict[str, Any]:
    return {"provisionedThroughput": {"readCapacityUnits": read, "writeCapacityUnits": write}}


def update_pitr(r: Recorder, p: Principal, ts: int, t: Table, enabled: bool,
                **kw: Any) -> Record:
    params = {"tableName": t.name,
              "pointInTimeRecoverySpecification": {"pointInTimeRecoveryEnabled": enabled}}
    response = {"continuousBackupsDescription": {
        "continuousBackupsStatus": "ENABLED",
        "pointInTimeRecoveryDescription": {
            "pointInTimeRecoveryStatus": "ENABLED" if enabled else "DISABLED"}}}
    return _mgmt(r, p, ts, t, "UpdateContinuousBackups", params, response, read_only=False, **kw)


def export_table(r: Recorder, p: Principal, ts: int, t: Table, bucket: str, owner: str | None,
                 **kw: Any) -> Record:
    params: dict[str, Any] = {"tableArn": table_arn(t), "s3Bucket": bucket,
                              "s3Prefix": f"exports/{t.name}", "exportFormat": "DYNAMODB_JSON"}
    if owner is not None:
        params["s3BucketOwner"] = owner
    arn = f"{table_arn(t)}/export/{ts * 1000:013d}-{ts % 65521:04x}"
    response = {"exportDescription": {
        "exportArn": arn, "exportStatus": "IN_PROGRESS", "tableArn": table_arn(t),
        "s3Bucket": bucket, "exportFormat": "DYNAMODB_JSON", "exportType": "FULL_EXPORT"}}
    return _mgmt(r, p, ts, t, "ExportTableToPointInTime", params, response,
                 read_only=False, **kw)


def put_resource_policy(r: Recorder, p: Principal, ts: int, t: Table, policy: str,
                        **kw: Any) -> Record:
    params = {"resourceArn": table_arn(t), "policy": policy}
    return _mgmt(r, p, ts, t, "PutResourcePolicy", params, {"revisionId": str(ts * 1000)},
                 read_only=False, **kw)


def enable_kinesis(r: Recorder, p: Principal, ts: int, t: Table, stream_arn: str,
                   **kw: Any) -> Record:
    params = {"tableName": t.name, "streamArn": stream_arn}
    response = {"tableName": t.name, "streamArn": stream_arn, "destinationStatus": "ENABLING"}
    return _mgmt(r, p, ts, t, "EnableKinesisStreamingDestination", params, response,
                 read_only=False, **kw)


def restore_from_backup(r: Recorder, p: Principal, ts: int, t: Table, target: str, arn: str,
                        **kw: Any) -> Record:
    params = {"targetTableName": target, "backupArn": arn}
    return _mgmt(r, p, ts, t, "RestoreTableFromBackup", params,
                 {"tableDescription": {"tableName": target, "tableStatus": "CREATING"}},
                 read_only=False, **kw)


def update_ttl(r: Recorder, p: Principal, ts: int, t: Table, *, attribute: str = "expiresAt",
               **kw: Any) -> Record:
    spec = {"enabled": True, "attributeName": attribute}
    return _mgmt(r, p, ts, t, "UpdateTimeToLive",
                 {"tableName": t.name, "timeToLiveSpecification": spec},
                 {"timeToLiveSpecification": spec}, read_only=False, **kw)
