"""`aws.dynamodb.operations`: what each item call did, per item, from real and API shapes.

The real records' expectations were written by reading dynamodb_records.ndjson line by line.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from trailhound.cloudtrail.ecs import normalize
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.operations import operations, statement_operation
from trailhound.cloudtrail.record import record_from_object

# (event.action, aws.dynamodb.operations) of every DynamoDB data call in the real records
REAL = [
    ("PutItem", ["put"]),
    ("UpdateItem", ["update"]),
    ("TransactWriteItems", ["put", "update", "delete", "condition_check"]),
    ("TransactWriteItems", ["put", "update", "delete", "condition_check"]),
    ("ExecuteStatement", ["select"]),  # names its key values: a lookup, not a scan
    ("BatchExecuteStatement", ["update", "put"]),
    ("Scan", ["scan"]),
    ("DeleteItem", ["delete"]),
    ("Scan", ["scan"]),
    ("PutItem", ["put"]),
    ("GetItem", ["get"]),
    ("Query", ["query"]),
    ("UpdateItem", ["update"]),
]


def _pairs(columns: dict[str, list[Any]]) -> list[tuple[str, list[str] | None]]:
    return list(zip(columns["event.action"], columns["aws.dynamodb.operations"], strict=True))


def _normalized(lines: list[str]) -> dict[str, list[Any]]:
    records = [record_from_object(json.loads(line)) for line in lines if line]
    batch = normalize(records, ingested=datetime.now(UTC), enricher=Enricher.create()).batch
    return {f: batch.column(f).to_pylist() for f in ("event.action", "aws.dynamodb.operations")}


def test_the_real_item_calls(shared_data: Path) -> None:
    lines = (shared_data / "dynamodb-real/dynamodb_records.ndjson").read_text().splitlines()
    columns = _normalized(lines)
    found = [(action, ops) for action, ops in _pairs(columns) if ops is not None]
    assert found == REAL


def test_management_calls_and_other_services_have_none(shared_data: Path) -> None:
    lines = (shared_data / "dynamodb-real/dynamodb_records.ndjson").read_text().splitlines()
    columns = _normalized(lines)
    for action, ops in _pairs(columns):
        if action in ("UpdateTable", "DeleteTable", "Decrypt", "GetRecords", "ListTables"):
            assert ops is None


def test_a_batch_write_counts_every_request_of_every_table() -> None:
    request = {
        "requestItems": {
            "Orders": [{"deleteRequest": {"key": {"id": "1"}}}] * 3
            + [{"putRequest": {"key": {"id": "9"}, "item": ["id"]}}],
            "Carts": [{"DeleteRequest": {"Key": {"id": "2"}}}],
        }
    }
    assert operations("BatchWriteItem", request) == ["delete"] * 3 + ["put", "delete"]


def test_a_batch_get_counts_its_keys() -> None:
    request = {"requestItems": {"Orders": {"keys": [{"id": "1"}, {"id": "2"}]}}}
    assert operations("BatchGetItem", request) == ["get", "get"]


def test_transactions_in_the_api_shape() -> None:
    request = {"transactItems": [{"delete": {"tableName": "T"}}, {"conditionCheck": {}}]}
    assert operations("TransactWriteItems", request) == ["delete", "condition_check"]


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("DELETE FROM \"Orders\" WHERE id = 'o-1'", "delete"),
        ("  /* purge */ DeLeTe FROM Orders WHERE id = 'o-1'", "delete"),
        ("-- note\ninsert INTO Orders VALUE {'id' : ***(Redacted)}", "put"),
        ("UPDATE Orders SET s = ***(Redacted) WHERE id = 'o-1'", "update"),
        ('SELECT * FROM "Orders"', "scan"),
        ("select * from Orders where total > ***(Redacted)", "scan"),  # no key value logged
        ("SELECT * FROM Orders WHERE id = ?", "select"),
        ("SELECT * FROM Orders WHERE n = 42", "select"),
        ("EXISTS(SELECT * FROM Orders WHERE id = 'o-1')", "condition_check"),
        ("", None),
        ("EXPLAIN whatever", None),
    ],
)
def test_partiql_verbs(statement: str, expected: str | None) -> None:
    assert statement_operation(statement) == expected


def test_partiql_batches_give_one_value_per_statement() -> None:
    request = {"statements": [{"statement": "DELETE FROM T WHERE k = 'a'"}] * 2}
    assert operations("BatchExecuteStatement", request) == ["delete", "delete"]
    request = {"transactStatements": [{"statement": "SELECT * FROM T"}]}
    assert operations("ExecuteTransaction", request) == ["scan"]


def test_calls_that_touch_no_item() -> None:
    assert operations("DescribeTable", {"tableName": "T"}) == []
    assert operations("BatchWriteItem", None) == []


def test_the_full_and_the_partial_normalizer_derive_alike_from_what_elastic_drops() -> None:
    # Elastic's cleaning drops "-", "" and "none" values from the request's text columns; a
    # delete whose key is "-" is still a delete, and a table named "-" still a table
    requests = [
        {"requestItems": {"T": [{"deleteRequest": {"key": {"id": "-"}}},
                                {"deleteRequest": {"key": {"id": "7"}}}]}},
        {"requestItems": {"T": [{"putRequest": {"item": {"a": ""}}}], "U": []}},
        {"tableName": "-", "key": {"id": "none"}},
        {"requestItems": {"T": [{"deleteRequest": {"key": {"id": "-"}}}]}, "n": 1e999},
    ]  # fmt: skip
    actions = ["BatchWriteItem", "BatchWriteItem", "DeleteItem", "BatchWriteItem"]
    records = [
        record_from_object({
            "eventTime": "2026-03-02T09:30:00Z", "eventSource": "dynamodb.amazonaws.com",
            "eventName": action, "eventID": f"e{n}", "requestParameters": request,
        })
        for n, (action, request) in enumerate(zip(actions, requests, strict=True))
    ]  # fmt: skip
    fields = ["aws.dynamodb.operations", "aws.dynamodb.table_name"]
    now = datetime.now(UTC)
    full = normalize(records, ingested=now, enricher=Enricher.create()).batch
    some = normalize(records, ingested=now, enricher=Enricher.create(), fields=fields).batch
    for name in fields:
        assert full.column(name).to_pylist() == some.column(name).to_pylist(), name
    assert full.column("aws.dynamodb.operations").to_pylist() == [
        ["delete", "delete"], ["put"], ["delete"], ["delete"],
    ]  # fmt: skip
    assert full.column("aws.dynamodb.table_name").to_pylist()[:3] == [["T"], ["T", "U"], ["-"]]
