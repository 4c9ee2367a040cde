"""Every real DynamoDB record maps to the action, user, account, outcome and table(s) a reader of
the record would name; and each place CloudTrail puts a table name is read.

The expectations below were written by reading dynamodb_records.ndjson line by line.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from trailhound.cloudtrail.dynamodb import table_names, tables_in_statement
from trailhound.cloudtrail.ecs import normalize
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.record import record_from_object

T_BOB = ("bob", "111122223333")
# (event.action, user.name, cloud.account.id, event.outcome, aws.dynamodb.table_name)
EXPECTED: list[tuple[str, str | None, str | None, str, list[str] | None]] = [
    ("UpdateTable", *T_BOB, "success", ["Music"]),  # named only in the response's description
    ("DeleteTable", *T_BOB, "success", ["Music"]),
    ("CreateCluster", *T_BOB, "success", None),  # DAX names no table
    ("PutItem", *T_BOB, "success", ["Music"]),
    ("UpdateItem", *T_BOB, "failure", ["Music"]),  # ConditionalCheckFailedException
    ("TransactWriteItems", *T_BOB, "success", ["Music"]),
    ("TransactWriteItems", *T_BOB, "failure", ["Music"]),  # TransactionCanceledException
    ("ExecuteStatement", *T_BOB, "success", ["Music"]),
    ("BatchExecuteStatement", *T_BOB, "success", ["Music"]),
    ("GetRecords", *T_BOB, "success", ["Music"]),
    # KMS calls DynamoDB makes for a table; the first is by the service itself, no account in
    # userIdentity: the recipient account stands in.
    ("GenerateDataKey", None, "111122223333", "success", ["Services"]),
    ("Decrypt", "Admin", "111122223333", "success", ["Books"]),
    ("CreateGrant", "Admin", "111122223333", "success", ["Books"]),
    ("CreateTable", None, "testAccountId", "success", ["Employee"]),  # Root: no user name
    ("UpdateTable", "rasika.shete", "testAccountId", "failure", ["Music12"]),
    ("UpdateTable", "rasika.shete", "testAccountId", "success", ["Music"]),
    ("DeleteTable", "rasika.shete", "testAccountId", "success", ["Students"]),
    ("CreateTable", None, "testAccountId", "success", ["Employee"]),
    ("ListTables", "uc-no-dynamodb-access", "testAccountId", "failure", None),  # AccessDenied
    ("ListExports", "user@example.com", "testAccountId", "success", ["Table_2504_1010"]),
    ("Scan", "example-iam-role", "123456789012", "success", ["Pratiksha"]),
    ("DeleteItem", "example-iam-role", "123456789012", "success", ["Pratiksha"]),
    ("Scan", "example-role", "123456789012", "success", ["TestDynamoDB"]),
    ("PutItem", "example-role", "123456789012", "success", ["TestDynamoDB"]),
    ("GetItem", "example-role", "123456789012", "success", ["TestDynamoDB"]),
    (
        "Query",
        "example-emr-instance-profile",
        "333333333333",
        "success",
        ["example-dynamodb-table"],
    ),
    ("UpdateItem", "user@example.com", "123456789012", "success", ["example-rds-das-cluster"]),
    (
        "RestoreTableToPointInTime",
        "paritosh",
        "123456789012",
        "success",
        ["sample-table", "restored-sample-table"],
    ),
    (
        "RestoreTableToPointInTime",
        "sample-role",
        "123456789012",
        "success",
        ["source-table", "target-table"],
    ),
    ("DescribeTable", "tester", "123456789012", "success", ["table"]),
    ("GetRecords", None, None, "success", None),  # a bare row: no identity, no table
    ("DescribeTable", "ankit", "568388783903", "success", ["users3"]),
]
FIELDS = (
    "event.action",
    "user.name",
    "cloud.account.id",
    "event.outcome",
    "aws.dynamodb.table_name",
)


@pytest.fixture(scope="module")
def columns(shared_data: Path) -> dict[str, list[Any]]:
    lines = (shared_data / "dynamodb-real/dynamodb_records.ndjson").read_text().splitlines()
    records = [record_from_object(json.loads(line)) for line in lines if line]
    result = normalize(records, ingested=datetime.now(UTC), enricher=Enricher.create())
    assert result.rejected == []
    return {field: result.batch.column(field).to_pylist() for field in FIELDS}


def test_the_file_holds_the_records_these_tests_expect(columns: dict[str, list[Any]]) -> None:
    assert len(columns["event.action"]) == len(EXPECTED)


@pytest.mark.parametrize("row", range(len(EXPECTED)))
def test_real_record(row: int, columns: dict[str, list[Any]]) -> None:
    produced = tuple(columns[field][row] for field in FIELDS)
    assert produced == EXPECTED[row]


# -- the places a table is named, one by one ----------------------------------------------------


@pytest.mark.parametrize(
    ("request_parameters", "tables"),
    [
        ({"tableName": "Music", "key": {"tableName": "not-a-table"}}, ["Music"]),
        ({"TableName": "Music"}, ["Music"]),
        (
            {"tableArn": "arn:aws:dynamodb:us-east-1:123456789012:table/Orders", "s3Bucket": "b"},
            ["Orders"],
        ),
        (
            {"resourceArn": "arn:aws:dynamodb:us-east-1:123456789012:table/Orders/stream/2024"},
            ["Orders"],
        ),
        ({"backupArn": "arn:aws:dynamodb:us-east-1:1:table/Orders/backup/01"}, ["Orders"]),
        ({"tableArn": "arn:aws:s3:::bucket/table/x"}, []),
        (  # BatchWriteItem / BatchGetItem: one key per table, names or ARNs
            {"requestItems": {"Music": [{}], "arn:aws:dynamodb:us-east-1:1:table/Orders": {}}},
            ["Music", "Orders"],
        ),
        (  # TransactWriteItems in the API's own shape
            {
                "transactItems": [
                    {"put": {"tableName": "Music"}},
                    {"Update": {"TableName": "Orders"}},
                    {"delete": {"tableName": "Music"}},
                ]
            },
            ["Music", "Orders"],
        ),
        (  # CloudTrail's list form: a table named beside or inside an item's objects, any
            # Mapping counting as an object, other members naming none
            {
                "requestItems": [
                    {"operation": "Put", "tableName": "Music", "key": {"id": "1"}},
                    MappingProxyType({"update": MappingProxyType({"TableName": "Orders"})}),
                    {"key": {"id": "2"}, "items": ["id"], "expressionAttributeNames": {"#v": "v"}},
                ]
            },
            ["Music", "Orders"],
        ),
        (  # ExecuteTransaction
            {
                "transactStatements": [
                    {"statement": 'UPDATE "Orders" SET a = ***(Redacted)'},
                    {"statement": "DELETE FROM Music WHERE pk = 'FROM Nowhere'"},
                ]
            },
            ["Orders", "Music"],
        ),
        (  # BatchExecuteStatement in the API's own shape
            {"statements": [{"statement": "SELECT * FROM Music"}]},
            ["Music"],
        ),
        ({"tableCreationParameters": {"tableName": "Imported"}}, ["Imported"]),
        ({"encryptionContext": {"aws:dynamodb:tableName": "Books"}}, ["Books"]),
        ({"exclusiveStartTableName": "Music"}, []),  # ListTables paging names no table it touched
    ],
)
def test_table_names_from_the_request(
    request_parameters: dict[str, Any], tables: list[str]
) -> None:
    assert table_names(request_parameters) == tables


def test_request_response_and_resources_in_that_order() -> None:
    tables = table_names(
        {"targetTableName": "B"},
        {"tableDescription": {"tableName": "C"}},
        ["A", "B"],
    )
    assert tables == ["B", "C", "A"]


@pytest.mark.parametrize(
    ("statement", "tables"),
    [
        ("SELECT * FROM Music WHERE Artist = 'No One You Know'", ["Music"]),
        ('SELECT * FROM "Music"."ArtistIndex"', ["Music"]),
        ("INSERT INTO \"my-table\" VALUE {'a' : ***(Redacted)}", ["my-table"]),
        ('UPDATE "odd""name" SET x = 1', ['odd"name']),
        ("select a from t1 where exists(select * from t2)", ["t1", "t2"]),
        ("SELECT * FROM Music WHERE note = 'update from the band'", ["Music"]),
        (42, []),
    ],
)
def test_partiql_statements(statement: object, tables: list[str]) -> None:
    assert tables_in_statement(statement) == tables


def test_a_repeated_kms_request_names_each_call_s_own_resource_table() -> None:
    """The same encryption context thousands of times is read once, but a call's resources
    still count for that call alone."""

    def decrypt(n: int, table: str | None) -> dict[str, Any]:
        found: dict[str, Any] = {
            "eventTime": "2025-01-01T00:00:00Z", "eventSource": "kms.amazonaws.com",
            "eventName": "Decrypt", "eventID": f"e{n}",
            "requestParameters": {"encryptionContext": {"aws:dynamodb:tableName": "Orders"}},
        }  # fmt: skip
        if table is not None:
            found["resources"] = [{"ARN": f"arn:aws:dynamodb:us-east-1:1:table/{table}",
                                   "type": "AWS::DynamoDB::Table"}]  # fmt: skip
        return found

    records = [record_from_object(decrypt(n, t)) for n, t in
               enumerate([None, "Ledger", None, "Ledger", "Audit"])]  # fmt: skip
    result = normalize(records, ingested=datetime.now(UTC), enricher=Enricher.create())
    assert result.batch.column("aws.dynamodb.table_name").to_pylist() == [
        ["Orders"], ["Orders", "Ledger"], ["Orders"], ["Orders", "Ledger"], ["Orders", "Audit"],
    ]
