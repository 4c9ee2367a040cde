"""KQL means here what it means in Elastic: run queries over events and see which match."""

from __future__ import annotations

from datetime import timedelta

import pytest

from support.events import T0, event, run
from support.rules import rule
from trailhound.rules.kql import parse

EVENTS = [
    event(
        0, timedelta(0), "PutItem",
        user__name="alice",
        source__ip="10.1.2.3",
        aws__dynamodb__table_name=["orders", "users"],
        aws__cloudtrail__read_only=False,
        aws__cloudtrail__flattened__request_parameters=(
            '{"tableName": "orders", "replicaUpdates": [{"create": {"regionName": "eu-west-1"}}],'
            ' "deletionProtectionEnabled": false, "count": 25}'
        ),
    ),
    event(1, timedelta(minutes=5), "Scan", user__name="Bob", source__ip="203.0.113.9"),
    event(2, timedelta(minutes=10), "DeleteTable", user__name=None, source__ip="2001:db8::1"),
]


def matching(query: str) -> list[str]:
    alerts = run([rule(parse(query), max_signals=100)], EVENTS)
    return sorted(a.event_ids[0] for a in alerts)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("event.action: PutItem", ["ev-0000"]),
        ('event.action: "putitem"', []),  # keyword matches are case-sensitive
        ("user.name: bob", []),
        ("event.action: *Item", ["ev-0000"]),
        ("event.action: (Scan or DeleteTable)", ["ev-0001", "ev-0002"]),
        ("not user.name: alice", ["ev-0001", "ev-0002"]),  # a missing field is "not alice"
        ("user.name: *", ["ev-0000", "ev-0001"]),  # exists
        ("not user.name: *", ["ev-0002"]),
        ("no.such.field: x", []),
        ("not no.such.field: x", ["ev-0000", "ev-0001", "ev-0002"]),
        ("aws.dynamodb.table_name: users", ["ev-0000"]),  # any element of an array
        ("aws.dynamodb.table_name: ord*", ["ev-0000"]),
        ("source.ip: 10.0.0.0/8", ["ev-0000"]),
        ('source.ip: "2001:db8::/32"', ["ev-0002"]),
        ("aws.cloudtrail.read_only: false", ["ev-0000"]),
        (
            "aws.cloudtrail.flattened.request_parameters.deletionProtectionEnabled: false",
            ["ev-0000"],
        ),
        (
            "aws.cloudtrail.flattened.request_parameters.replicaUpdates.create.regionName: eu-*",
            ["ev-0000"],
        ),
        ("aws.cloudtrail.flattened.request_parameters.count >= 20", []),  # flattened is keyword
        ("aws.cloudtrail.flattened.request_parameters.count: 25", ["ev-0000"]),
        ("user.*: alice", ["ev-0000"]),
        (f'@timestamp >= "{(T0 + timedelta(minutes=5)).isoformat()}"', ["ev-0001", "ev-0002"]),
        ("event.action: PutItem or event.action: Scan and user.name: alice", ["ev-0000"]),
        ("*", ["ev-0000", "ev-0001", "ev-0002"]),
    ],
)
def test_query_matches_as_elastic_does(query: str, expected: list[str]) -> None:
    assert matching(query) == expected
