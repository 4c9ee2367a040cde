"""The intrusion: every technique the shipped pack detects, played by three actors.

1. A leaked access key of the legacy `reporting-svc` user, used from a VPN exit in another
   country: recon that runs into AccessDenied and touches the decoy table, a bulk Scan of five
   tables, a copy of `customers` key by key (far above the user's own hourly reads), and a
   read of the `orders` stream.
2. A stolen administrator session (IAM Identity Center) used from a hosting provider abroad:
   exports to a bucket of another account, a resource policy, a Kinesis destination and a
   Lambda reading a table's stream for persistence, a full read through PartiQL, a replica in
   an unused region, then ransomware-style impact: protection and recovery switched off, a
   backup, a recovery point and the vault's lock and plan selection removed, items deleted in
   bulk and overwritten, the tables' KMS key scheduled for deletion, six tables dropped.
3. A malicious CI workflow in staging: a burst of twelve tables, a restore, and capacity
   pushed up and down to run up the bill.

All of it happens in one night (from 02:00 UTC) after the 72-hour learning period of the
new-country rule: the fourth night with the default four days from midnight. A shorter run
gets the intrusion on its last night and the new-country rule stays quiet, as it should.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from trailhound.simulate import dynamodb_calls as ddb
from trailhound.simulate import other_calls as oc
from trailhound.simulate.records import Record, Recorder
from trailhound.simulate.world import (
    ATTACKER_ACCOUNT,
    DECOY,
    GITHUB_IPS,
    PROD,
    STAGING,
    UA_KALI_CLI,
    UA_PACU,
    Principal,
    Table,
    principal,
    table,
)

LEARNING = 72 * 3600  # the new-country rule's learning period
SPAN = 7 * 3600  # from the first attack step to the last
VPN_IP = "146.70.117.9"  # RO
HOSTING_IP = "80.82.77.33"  # NL
CI_AGENT = (
    "Boto3/1.34.84 md/Botocore#1.34.84 ua/2.0 os/linux#6.5.0-1017-azure md/arch#x86_64 "
    "lang/python#3.12.3 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.84"
)
EXFIL_BUCKET = "dbx-archive-7731"

Timed = tuple[int, Record]

_KINESIS_CREATE = oc.Op("kinesis.amazonaws.com", "CreateStream", False,
                        lambda r, p, region: {"streamName": "orders-cdc", "shardCount": 1})
_VAULT = "acme-prod-dynamodb"
_PLAN = "6f1d2c3b-4a5e-4f60-8b7c-9d0e1f2a3b4c"
_UNLOCK = oc.Op("backup.amazonaws.com", "DeleteBackupVaultLockConfiguration", False,
                lambda r, p, region: {"backupVaultName": _VAULT})
_UNSELECT = oc.Op("backup.amazonaws.com", "DeleteBackupSelection", False,
                  lambda r, p, region: {"backupPlanId": _PLAN,
                                        "selectionId": "0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d"})
_RANSOM = oc.Op("kms.amazonaws.com", "ScheduleKeyDeletion", False,
                lambda r, p, region: {"keyId": oc.key_arn(p, region), "pendingWindowInDays": 7})


def _delete_recovery_point(arn: str) -> oc.Op:
    return oc.Op("backup.amazonaws.com", "DeleteRecoveryPoint", False,
                 lambda r, p, region: {"backupVaultName": _VAULT, "recoveryPointArn": arn})


def _stream_mapping(t: Table, function: str) -> oc.Op:
    return oc.Op("lambda.amazonaws.com", "CreateEventSourceMapping20150331", False,
                 lambda r, p, region: {"eventSourceArn": ddb.stream_arn(t),
                                       "functionName": function, "enabled": True,
                                       "batchSize": 100, "startingPosition": "TRIM_HORIZON"})


class _Script:
    """One actor's steps, each a call made `gap` seconds after the previous one."""

    def __init__(self, r: Recorder, actor: Principal, start: int, ip: str, agent: str) -> None:
        self.r = r
        self.actor = actor
        self.t = start
        self.ip = ip
        self.agent = agent
        self.out: list[Timed] = []

    def do(self, gap: int, call: Callable[..., Record], *args: Any, **kw: Any) -> int:
        self.t += gap
        rec = call(self.r, self.actor, self.t, *args, ip=self.ip, agent=self.agent, **kw)
        self.out.append((self.t, rec))
        return self.t


def attack_start(origin: int, days: int) -> int:
    """02:00 UTC on the first night after the learning period that leaves room for the
    whole intrusion; in shorter runs, the last night that does; failing that, the start."""
    end = origin + days * 86400
    nights = [d + 2 * 3600 for d in range(origin - origin % 86400, end, 86400)]
    fitting = [n for n in nights if origin <= n and n + SPAN <= end]
    learned = [n for n in fitting if n >= origin + LEARNING]
    if learned:
        return learned[0]
    return fitting[-1] if fitting else origin


def plan(r: Recorder, origin: int, days: int) -> list[Timed]:
    """Every attack step with its event time; registers the tables the attack drops."""
    start = attack_start(origin, days)
    out = _leaked_key(r, start)
    out += _stolen_session(r, start + 45 * 60)
    out += _malicious_ci(r, start + 6 * 3600)
    return out


def _leaked_key(r: Recorder, start: int) -> list[Timed]:
    s = _Script(r, principal("reporting"), start, VPN_IP, UA_KALI_CLI)
    orders, customers = table(PROD.id, "orders"), table(PROD.id, "customers")
    s.do(0, oc.call, "us-east-1", oc.STS_CALLER)
    s.do(25, ddb.list_tables, "us-east-1")
    s.do(16, ddb.describe_table, orders)
    s.do(9, ddb.describe_table, DECOY)
    for gap, action, target in ((14, "ListBackups", orders),
                                (8, "DescribeContinuousBackups", orders),
                                (7, "ListExports", None),
                                (8, "DescribeKinesisStreamingDestination", orders),
                                (12, "ListBackups", customers)):
        error = ddb.access_denied(s.actor, action, target)
        if target is None:
            s.do(gap, ddb.account_read, "us-east-1", action, {}, error=error)
        else:
            s.do(gap, ddb.simple_read, target, action, error=error)
    for name, pages in (("orders", 4), ("customers", 3), ("order-items", 3), ("products", 2),
                        ("sessions", 2)):
        for _ in range(pages):
            s.do(7 + r.rng.randrange(8), ddb.scan, table(PROD.id, name))
    # Key by key, which no Scan rule sees: far above the user's own hours of reads.
    for _ in range(120):
        s.do(3 + r.rng.randrange(5), ddb.get_item, customers)
    for _ in range(6):
        s.do(9, ddb.batch_get, customers, keys_wanted=100)
    s.do(30, ddb.get_shard_iterator, orders)
    s.do(2, ddb.get_records, orders)
    return s.out


def _stolen_session(r: Recorder, start: int) -> list[Timed]:
    s = _Script(r, principal("alice"), start, HOSTING_IP, UA_PACU)
    orders, customers = table(PROD.id, "orders"), table(PROD.id, "customers")
    items = table(PROD.id, "order-items")
    s.do(0, oc.call, "us-east-1", oc.STS_CALLER)
    s.do(12, ddb.list_tables, "us-east-1")
    s.do(18, ddb.describe_table, customers)
    s.do(14, ddb.list_backups, customers)
    for target in (customers, orders):
        s.do(40, ddb.export_table, target, EXFIL_BUCKET, ATTACKER_ACCOUNT)
    s.do(70, ddb.put_resource_policy, customers, _grant(customers))
    s.do(60, oc.call, "us-east-1", _KINESIS_CREATE)
    s.do(40, ddb.enable_kinesis, orders, f"arn:aws:kinesis:us-east-1:{PROD.id}:stream/orders-cdc")
    s.do(50, oc.call, "us-east-1", _stream_mapping(customers, "customers-replica"))
    for _ in range(3):
        s.do(6, ddb.partiql, customers, "SELECT_ALL")
    s.do(60, ddb.update_table, orders,
         {"replicaUpdates": [{"create": {"regionName": "ap-southeast-1"}}]})
    s.do(60, ddb.update_pitr, customers, False)
    # The impact comes well over an hour later, once the exports have finished.
    s.t += 95 * 60
    for target in (orders, customers):
        s.do(20, ddb.update_table, target, {"deletionProtectionEnabled": False})
    s.do(25, ddb.update_ttl, items, attribute="createdAt")
    s.do(35, ddb.list_backups, orders)
    last_night = start - start % 86400 - 86400 + 3 * 3600 + 47
    s.do(15, ddb.delete_backup, orders, ddb.backup_arn(orders, last_night))
    s.do(20, oc.call, "us-east-1", _delete_recovery_point(ddb.backup_arn(customers, last_night)))
    s.do(18, oc.call, "us-east-1", _UNLOCK)
    s.do(12, oc.call, "us-east-1", _UNSELECT)
    s.do(30, ddb.put_item, orders, attrs=("note", "contact", "wallet"))
    for _ in range(5):
        s.do(8, ddb.batch_write, customers, "Delete", 25)
    s.do(14, ddb.partiql, items, "DELETE")
    s.do(25, oc.call, "us-east-1", _RANSOM)
    for name in ("orders", "customers", "order-items", "products", "sessions", "payments"):
        doomed = table(PROD.id, name)
        r.gone[(doomed.account, doomed.name)] = s.do(40, ddb.delete_table, doomed)
    return s.out


def _grant(t: Table) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "ReplicationReader", "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ATTACKER_ACCOUNT}:root"},
        "Action": ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"],
        "Resource": ddb.table_arn(t)}]}, separators=(",", ":"))


def _malicious_ci(r: Recorder, start: int) -> list[Timed]:
    s = _Script(r, principal("ci_staging"), start, GITHUB_IPS[0], CI_AGENT)
    for i in range(12):
        s.do(35, ddb.create_table, Table(STAGING.id, "us-east-1", f"ci-cache-{i:02d}", ("pk",)))
    source = table(STAGING.id, "customers-staging")
    s.do(120, ddb.restore_from_backup, source, "customers-staging-copy",
         ddb.backup_arn(source, start - 86400))
    target = table(STAGING.id, "orders-staging")
    for units in (4000, 100, 8000, 100, 12000, 100):
        change = {"billingMode": "PROVISIONED", **ddb.throughput(units, units)}
        s.do(60, ddb.update_table, target, change)
    return s.out
