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


# Elasticsearch's ip field type ("IP field type", Elasticsearch reference) holds IPv4 and IPv6
# addresses as addresses: a term or range query compares the address, not the text written,
# and a term in CIDR notation (`192.168.0.0/16`, `2001:db8::/48`) matches the network. Inside
# Elasticsearch an IPv4 address is the IPv4-mapped IPv6 address ::ffff:a.b.c.d, so the two
# spellings are one address and IPv4 addresses sort above ::1.
IP_EVENTS = [
    event(0, timedelta(0), "Scan", source__ip="10.0.0.9"),
    event(1, timedelta(minutes=1), "Scan", source__ip="10.0.0.100"),
    event(2, timedelta(minutes=2), "Scan", source__ip="0:0::1"),
    event(3, timedelta(minutes=3), "Scan", source__ip="::ffff:10.0.0.5"),
    event(4, timedelta(minutes=4), "Scan", source__ip="2001:DB8::1"),
    event(5, timedelta(minutes=5), "Scan", source__ip=None),
]


def matching_ip(query: str) -> list[str]:
    alerts = run([rule(parse(query), max_signals=100)], IP_EVENTS)
    return sorted(a.event_ids[0] for a in alerts)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # ordered as numbers, not as text ("10.0.0.100" < "10.0.0.9" as text)
        ("source.ip < 10.0.0.100", ["ev-0000", "ev-0002", "ev-0003"]),
        ("source.ip >= 10.0.0.100", ["ev-0001", "ev-0004"]),
        ("source.ip > 10.0.0.9 and source.ip <= 10.0.0.100", ["ev-0001"]),
        # one address however it is written
        (r"source.ip: \:\:1", ["ev-0002"]),  # KQL escapes an unquoted colon
        ('source.ip: "0000:0000:0000:0000:0000:0000:0000:0001"', ["ev-0002"]),
        ("source.ip: 10.0.0.5", ["ev-0003"]),
        ('source.ip: "2001:db8:0::1"', ["ev-0004"]),
        # networks hold the IPv4-mapped spelling of their addresses
        ("source.ip: 10.0.0.0/8", ["ev-0000", "ev-0001", "ev-0003"]),
        ('source.ip: "::ffff:10.0.0.0/104"', ["ev-0000", "ev-0001", "ev-0003"]),
        ('source.ip: "2001:db8::/32"', ["ev-0004"]),
        # a value that is no address matches nothing (Elasticsearch refuses the query)
        ("source.ip: somehost", []),
        ("source.ip > somehost", []),
        # deliberate: Elasticsearch refuses a wildcard on an ip field; here it matches the text
        ("source.ip: 10.0.0.1*", ["ev-0001"]),
        ('not source.ip: "::1"', ["ev-0000", "ev-0001", "ev-0003", "ev-0004", "ev-0005"]),
    ],
)
def test_ip_fields_compare_addresses_as_elasticsearch_does(query: str, expected: list[str]) -> None:
    assert matching_ip(query) == expected


# Kibana's KQL has no literal for true, false or null: an unquoted `true` is the same value as
# the quoted "true" ("Kibana Query Language": keyword, numeric, date and boolean fields match
# the value exactly, punctuation and case included). What it matches is up to the field type:
# a keyword holds the text "true"; Elasticsearch's boolean field type reads the texts "true"
# as true and "false" and "" (empty string) as false, and nothing else. `null` is a word like
# any other, not a test for a missing field (that is `not f: *`).
LITERAL_EVENTS = [
    event(0, timedelta(0), "Scan", user__name="true", aws__cloudtrail__read_only=True),
    event(1, timedelta(minutes=1), "Scan", user__name="null", aws__cloudtrail__read_only=False),
    event(2, timedelta(minutes=2), "Scan", user__name="TRUE", aws__cloudtrail__read_only=None),
    event(3, timedelta(minutes=3), "Scan", user__name=None),
]


def matching_literal(query: str) -> list[str]:
    alerts = run([rule(parse(query), max_signals=100)], LITERAL_EVENTS)
    return sorted(a.event_ids[0] for a in alerts)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("user.name: true", ["ev-0000"]),  # the keyword "true", not "TRUE"
        ('user.name: "true"', ["ev-0000"]),
        ("user.name: null", ["ev-0001"]),  # the word, not a missing value
        ("not user.name: *", ["ev-0003"]),
        ("aws.cloudtrail.read_only: true", ["ev-0000"]),
        ('aws.cloudtrail.read_only: "true"', ["ev-0000"]),
        ("aws.cloudtrail.read_only: false", ["ev-0001"]),
        ('aws.cloudtrail.read_only: ""', ["ev-0001"]),  # "" is false for a boolean field
        ("aws.cloudtrail.read_only: TRUE", []),  # not a boolean's text: Elasticsearch refuses it
        ("aws.cloudtrail.read_only: null", []),
        ("not aws.cloudtrail.read_only: *", ["ev-0002", "ev-0003"]),
    ],
)
def test_true_false_and_null_are_plain_values_as_in_kibana(query: str, expected: list[str]) -> None:
    assert matching_literal(query) == expected


# Elasticsearch's range query ("Range query", "Date math and rounding"): a date rounded with
# `/unit` is rounded down to the first millisecond of the unit for `gte` and `lt`, and up to
# its last millisecond for `gt` and `lte`. So `gt now/d` leaves out all of today and `lte now/d`
# takes in all of today; `gte now-1d/d and lt now/d` is yesterday. A date with its time left
# out ("Missing date components") is filled in the same way: `gt 2026-02-28` begins on March 1.
# The clock reads T0, 2026-03-01 12:00 UTC.
DAY_EVENTS = [
    event(0, timedelta(hours=-12, seconds=-1), "Scan"),  # 2026-02-28 23:59:59
    event(1, timedelta(hours=-12), "Scan"),  # 2026-03-01 00:00:00
    event(2, timedelta(hours=-1), "Scan"),  # 2026-03-01 11:00:00
    event(3, timedelta(hours=11, minutes=59, seconds=59, microseconds=999_500), "Scan"),
    event(4, timedelta(hours=12), "Scan"),  # 2026-03-02 00:00:00
]


def matching_day(query: str) -> list[str]:
    alerts = run([rule(parse(query), max_signals=100)], DAY_EVENTS)
    return sorted(a.event_ids[0] for a in alerts)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("@timestamp > now/d", ["ev-0004"]),
        ("@timestamp >= now/d", ["ev-0001", "ev-0002", "ev-0003", "ev-0004"]),
        ("@timestamp < now/d", ["ev-0000"]),
        # up to the day's last millisecond: 23:59:59.9995 is 23:59:59.999 to Elasticsearch
        ("@timestamp <= now/d", ["ev-0000", "ev-0001", "ev-0002", "ev-0003"]),
        ("@timestamp >= now-1d/d and @timestamp < now/d", ["ev-0000"]),
        ("@timestamp > now/M", []),
        ("@timestamp <= now/M", ["ev-0000", "ev-0001", "ev-0002", "ev-0003", "ev-0004"]),
        ("@timestamp: now/d", ["ev-0001", "ev-0002", "ev-0003"]),
        # without rounding, the instant itself
        ("@timestamp > now-1h", ["ev-0003", "ev-0004"]),
        ("@timestamp >= now-1h", ["ev-0002", "ev-0003", "ev-0004"]),
        ('@timestamp > "2026-02-28"', ["ev-0001", "ev-0002", "ev-0003", "ev-0004"]),
        ('@timestamp <= "2026-03-01"', ["ev-0000", "ev-0001", "ev-0002", "ev-0003"]),
        ('@timestamp > "2026-03-01T11:00:00Z"', ["ev-0003", "ev-0004"]),
    ],
)
def test_date_math_rounds_as_elasticsearchs_range_query_does(
    query: str, expected: list[str]
) -> None:
    assert matching_day(query) == expected


# Elasticsearch's `ignore_above` ("ignore_above", mapping reference): a keyword longer than the
# limit is not indexed, so no query on the field matches it, not even `exists`. Elastic's
# CloudTrail mapping sets 8191 on aws.cloudtrail.request_parameters and 1024 on ECS keywords
# such as user_agent.original. Both are written by the caller: an attacker who pads a request
# or a user agent past the limit would hide the call from Elastic's rules. trailhound does not
# copy that on purpose: a long value matches here as a short one does.
PADDED = [
    event(
        0, timedelta(0), "UpdateTable",
        user_agent__original="aws-cli/2.15.0 distrib/kali " + "x" * 1100,
        aws__cloudtrail__request_parameters=(
            "{tableName=orders, deletionProtectionEnabled=false, padding=" + "A" * 9000 + "}"
        ),
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    "query",
    [
        "aws.cloudtrail.request_parameters: *deletionProtectionEnabled=false*",
        "aws.cloudtrail.request_parameters: *",
        "user_agent.original: *kali*",
        "user_agent.original: *",
    ],
)
def test_values_longer_than_elastics_ignore_above_still_match(query: str) -> None:
    alerts = run([rule(parse(query), max_signals=100)], PADDED)
    assert [a.event_ids[0] for a in alerts] == ["ev-0000"]


# Kibana writes `f:{ g: x and h: y }` as Elasticsearch's nested query, which searches fields
# mapped with the nested type ("Kibana Query Language": querying nested fields). Elastic's
# CloudTrail mapping has none: the request and response are flattened fields, whose leaf values
# are indexed as keywords without the object they came from ("Flattened field type"), and which
# take no nested query. So Elastic cannot ask for "the same object" over CloudTrail; trailhound
# reads the group as `f.g: x and f.h: y`, each any value, which is what the flattened field
# answers. Deliberate: a rule then never misses a call because the values sit in two objects.
GROUPED = [
    event(
        0, timedelta(0), "AuthorizeSecurityGroupIngress",
        aws__cloudtrail__flattened__request_parameters=(
            '{"ipPermissions": {"items": ['
            '{"ipProtocol": "-1", "ipRanges": {"items": [{"cidrIp": "10.0.0.0/8"}]}},'
            '{"ipProtocol": "tcp", "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}'
        ),
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "aws.cloudtrail.flattened.request_parameters.ipPermissions.items:"
            '{ ipProtocol: "-1" and ipRanges.items.cidrIp: "0.0.0.0/0" }',
            ["ev-0000"],  # values of two objects, as the flattened field matches them
        ),
        (
            "aws.cloudtrail.flattened.request_parameters.ipPermissions.items:"
            '{ ipProtocol: "udp" and ipRanges.items.cidrIp: "0.0.0.0/0" }',
            [],
        ),
    ],
)
def test_a_nested_group_over_a_flattened_field_reads_each_value_on_its_own(
    query: str, expected: list[str]
) -> None:
    alerts = run([rule(parse(query), max_signals=100)], GROUPED)
    assert [a.event_ids[0] for a in alerts] == expected
