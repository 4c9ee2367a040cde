"""related.entity and entity.target.id on real CloudTrail records: who and what each event
names, and what it acted on (cloudtrail/entities.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from trailhound.cloudtrail.ecs import normalize
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.record import record_from_object

STRATUS = "negative/stratus-red-team"


def _entities(records: list[dict[str, Any]], fields: list[str] | None = None) -> list[Any]:
    result = normalize(
        [record_from_object(r) for r in records],
        ingested=datetime.now(UTC),
        enricher=Enricher.create([]),
        fields=fields,
    )
    assert result.rejected == []
    columns = result.batch.to_pydict()
    return list(zip(columns["entity.target.id"], columns["related.entity"], strict=True))


def _stratus(shared_data: Path, name: str, action: str) -> dict[str, Any]:
    records = json.loads((shared_data / STRATUS / f"aws.{name}.json").read_text())
    (found,) = [r for r in records if r["eventName"] == action]
    return dict(found)


def _dynamodb(shared_data: Path, action: str) -> list[dict[str, Any]]:
    lines = (shared_data / "dynamodb-real/dynamodb_records.ndjson").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r.get("eventName") == action]


def test_a_policy_attached_to_a_role_targets_the_role_and_relates_the_policy(
    shared_data: Path,
) -> None:
    record = _stratus(shared_data, "persistence.iam-create-backdoor-role", "AttachRolePolicy")
    ((target, related),) = _entities([record])
    assert target == ["stratus-red-team-malicious-iam-role"]
    assert related == sorted(
        [
            "stratus-red-team-malicious-iam-role",
            "arn:aws:iam::aws:policy/AdministratorAccess",
            "arn:aws:iam::609418236337:user/christophe",
            "AIDAK4TRC24VBN0JX8JX",
            "AKIA0W5KI69TY8X86BGT",
            "christophe",
        ]
    )


@pytest.mark.parametrize(
    ("name", "action", "target", "also_related"),
    [
        (
            "persistence.iam-backdoor-role",
            "UpdateAssumeRolePolicy",
            ["stratus-red-team-backdoor-r-role"],
            [],
        ),
        (
            "persistence.iam-create-admin-user",
            "CreateUser",
            ["malicious-iam-user", "arn:aws:iam::229654561268:user/malicious-iam-user"],
            ["AIDAL1XMLVWIUOK8KAF0"],
        ),
        (
            "persistence.iam-backdoor-user",
            "CreateAccessKey",
            ["stratus-red-team-backdoor-u-user"],
            ["AKIAL80DWDVKKM0UXEER"],
        ),
        (
            "exfiltration.ec2-share-ebs-snapshot",
            "ModifySnapshotAttribute",
            ["snap-041993b54a9b3af6f"],
            ["098797384747"],  # the account the snapshot was shared with
        ),
        (
            "exfiltration.rds-share-snapshot",
            "ModifyDBSnapshotAttribute",
            ["exfiltration"],
            ["503161813013"],
        ),
        (
            "defense-evasion.cloudtrail-stop",
            "StopLogging",
            ["stratus-red-team-ct-stop-trail-buykxbqejv"],
            [],
        ),
        (
            "defense-evasion.vpc-remove-flow-logs",
            "DeleteFlowLogs",
            ["fl-0e17aa62a21d4bbfe"],
            [],
        ),
    ],
)
def test_real_calls_name_the_entity_they_acted_on(
    shared_data: Path, name: str, action: str, target: list[str], also_related: list[str]
) -> None:
    record = _stratus(shared_data, name, action)
    ((got_target, related),) = _entities([record])
    assert got_target == target
    assert set(target) | set(also_related) | {record["userIdentity"]["arn"]} <= set(related)


def test_assume_role_targets_the_role_and_relates_the_session_it_made(shared_data: Path) -> None:
    records = json.loads(
        (shared_data / STRATUS / "aws.credential-access.ec2-get-password-data.json").read_text()
    )
    record = next(r for r in records if r["eventName"] == "AssumeRole")
    ((target, related),) = _entities([record])
    assert target == [record["requestParameters"]["roleArn"]]
    assert record["responseElements"]["assumedRoleUser"]["arn"] in related
    assert record["responseElements"]["credentials"]["accessKeyId"] in related


@pytest.mark.parametrize(
    ("action", "tables"),
    [
        ("DeleteTable", [["Music"], ["Students"]]),
        (
            "RestoreTableToPointInTime",
            [["sample-table", "restored-sample-table"], ["source-table", "target-table"]],
        ),
        ("TransactWriteItems", [["Music"], ["Music"]]),
        ("BatchExecuteStatement", [["Music"]]),
    ],
)
def test_a_dynamodb_call_targets_the_tables_it_touched(
    shared_data: Path, action: str, tables: list[list[str]]
) -> None:
    got = _entities(_dynamodb(shared_data, action))
    assert [target for target, _ in got] == tables
    assert all(set(target) <= set(related) for target, related in got)


def test_a_stream_read_targets_the_table_named_by_its_resources(shared_data: Path) -> None:
    (with_resources, _) = _dynamodb(shared_data, "GetRecords")
    ((target, related),) = _entities([with_resources])
    assert target == ["Music"]
    assert "arn:aws:dynamodb:us-west-2:123456789012:table/Music" in related


def test_a_call_outside_the_table_has_no_target_but_names_its_caller(shared_data: Path) -> None:
    record = _stratus(
        shared_data, "credential-access.ec2-steal-instance-credentials", "GetCallerIdentity"
    )
    ((target, related),) = _entities([record])
    assert target is None
    identity = record["userIdentity"]
    assert {identity["arn"], identity["sessionContext"]["sessionIssuer"]["arn"]} <= set(related)


def test_an_event_naming_nothing_has_no_entities(shared_data: Path) -> None:
    bare = _dynamodb(shared_data, "GetRecords")[1]  # no identity, no request, no resources
    assert _entities([bare]) == [(None, None)]


def test_asking_for_the_target_alone_leaves_related_entity_empty(shared_data: Path) -> None:
    record = _stratus(shared_data, "persistence.iam-backdoor-role", "UpdateAssumeRolePolicy")
    assert _entities([record], ["entity.target.id"]) == [
        (["stratus-red-team-backdoor-r-role"], None)
    ]


def test_tables_named_only_by_resources_are_targets_in_the_records_order() -> None:
    # aws.dynamodb.table_name takes the resources in Elastic's order (a Java HashMap's),
    # which here puts "users" first; the target keeps the order the record lists them in
    tables = ["orders", "users"]
    record = {
        "eventVersion": "1.08",
        "eventTime": "2025-06-06T04:50:00Z",
        "eventSource": "dynamodb.amazonaws.com",
        "eventName": "TransactGetItems",
        "awsRegion": "us-east-1",
        "eventID": "5f0e2b1c-0000-4000-8000-000000000001",
        "recipientAccountId": "111122223333",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/ana"},
        "resources": [
            {
                "accountId": "111122223333",
                "type": "AWS::DynamoDB::Table",
                "ARN": f"arn:aws:dynamodb:us-east-1:111122223333:table/{name}",
            }
            for name in tables
        ],
    }
    result = normalize(
        [record_from_object(record)], ingested=datetime.now(UTC), enricher=Enricher.create([])
    )
    columns = result.batch.to_pydict()
    assert columns["aws.dynamodb.table_name"] == [["users", "orders"]]
    assert columns["entity.target.id"] == [tables]
