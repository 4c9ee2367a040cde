"""EQL means here what Elasticsearch documents for it ("EQL syntax reference" and "EQL function
reference" of the Elasticsearch guide): each row states one documented behaviour."""

from __future__ import annotations

from datetime import timedelta

import pytest

from support.events import event, run
from support.rules import rule
from trailhound.errors import RuleError
from trailhound.rules.eql import read_eql

EVENTS = [
    event(
        0,
        timedelta(0),
        "PutItem",
        user__name="alice",
        source__ip="10.1.2.3",
        event__category=["database"],
        event__type=["info"],
        aws__dynamodb__table_name=["orders", "users"],
        aws__cloudtrail__session_credential_from_console=True,
        aws__cloudtrail__request_parameters="{tableName=orders, principal=*, note=a?c}",
        aws__cloudtrail__recipient_account_id="111122223333",
    ),
    event(
        1,
        timedelta(minutes=5),
        "Scan",
        user__name="Bob",
        source__ip="203.0.113.9",
        event__type=["access"],
        aws__cloudtrail__request_parameters="{tableName=users, owner=111122223333}",
        aws__cloudtrail__recipient_account_id="111122223333",
    ),
    event(2, timedelta(minutes=10), "DeleteTable", user__name=None, source__ip="2001:db8::1"),
]


def matching(query: str, **kw: str) -> list[str]:
    alerts = run([rule(read_eql(query, **kw).filter, max_signals=100)], EVENTS)
    return sorted(a.event_ids[0] for a in alerts)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # `==` and `in` compare exactly, letter case included
        ('any where user.name == "alice"', ["ev-0000"]),
        ('any where user.name == "ALICE"', []),
        ('any where user.name in ("bob", "alice")', ["ev-0000"]),
        # `:` and `in~` ignore letter case; `:` takes wildcards, `==` does not
        ('any where user.name : "ALICE"', ["ev-0000"]),
        ('any where user.name in~ ("BOB", "x")', ["ev-0001"]),
        ('any where event.action : "*item"', ["ev-0000"]),
        ('any where event.action == "*Item"', []),
        ('any where event.action : ("scan", "deletetable")', ["ev-0001", "ev-0002"]),
        # `like` is `:` with letter case; `like~` without; `?` is one character
        ('any where event.action like "Put*"', ["ev-0000"]),
        ('any where event.action like "put*"', []),
        ('any where event.action like~ "put*"', ["ev-0000"]),
        ('any where event.action like "Sca?"', ["ev-0001"]),
        # `regex` matches the whole value (Lucene regular expressions are anchored)
        ('any where event.action regex "Put.*"', ["ev-0000"]),
        ('any where event.action regex "ut"', []),
        ('any where event.action regex~ "put.*"', ["ev-0000"]),
        # string functions: case-sensitive unless written with `~`
        ('any where stringContains(user.name, "li")', ["ev-0000"]),
        ('any where stringContains(user.name, "LI")', []),
        ('any where stringContains~(user.name, "LI")', ["ev-0000"]),
        ('any where startsWith(event.action, "Del")', ["ev-0002"]),
        ('any where endsWith~(event.action, "ITEM")', ["ev-0000"]),
        # as in Elasticsearch they run as wildcard patterns: `*` is any text, `\\*` a star
        (
            r'any where stringContains(aws.cloudtrail.request_parameters, "tableName=*s")',
            ["ev-0000", "ev-0001"],
        ),
        (
            r'any where stringContains(aws.cloudtrail.request_parameters, "principal=\\*")',
            ["ev-0000"],
        ),
        # a field as the second argument compares the two fields of the same event
        (
            "any where stringContains(aws.cloudtrail.request_parameters, "
            "aws.cloudtrail.recipient_account_id)",
            ["ev-0001"],
        ),
        ('any where cidrMatch(source.ip, "10.0.0.0/8", "2001:db8::/32")', ["ev-0000", "ev-0002"]),
        # `==` on an ip field is a term query on the address ("IP field type"): any spelling
        ('any where source.ip == "2001:DB8:0::1"', ["ev-0002"]),
        ('any where source.ip == "::ffff:10.1.2.3"', ["ev-0000"]),
        ("any where length(event.action) == 4", ["ev-0001"]),
        ("any where length(event.action) > 7", ["ev-0002"]),
        # arrays: any element; null tests are existence tests
        ('any where aws.dynamodb.table_name == "users"', ["ev-0000"]),
        ("any where user.name == null", ["ev-0002"]),
        ("any where user.name != null", ["ev-0000", "ev-0001"]),
        ('any where user.name != "alice"', ["ev-0001", "ev-0002"]),
        ('any where not user.name == "alice"', ["ev-0001", "ev-0002"]),
        # a boolean field compared with the text Elastic's keyword mapping holds
        ('any where aws.cloudtrail.session_credential_from_console == "true"', ["ev-0000"]),
        # the event category names `event.category`, `any` names none
        ('database where event.action : "*"', ["ev-0000"]),
        ("any where true", ["ev-0000", "ev-0001", "ev-0002"]),
    ],
)
def test_eql_comparisons(query: str, expected: list[str]) -> None:
    assert matching(query) == expected


def test_event_category_override_names_the_category_field() -> None:
    assert matching("info where true", category_field="event.type") == ["ev-0000"]
    assert matching("info where true") == []


def test_a_sequence_becomes_steps_joined_by_its_fields() -> None:
    parsed = read_eql(
        "sequence by user.name, cloud.account.id with maxspan=15m "
        '[any where event.action == "Scan"] [any where event.action : "deletetable"]'
    )
    assert parsed.sequence is not None
    assert parsed.sequence.by == ("user.name", "cloud.account.id")
    assert parsed.sequence.maxspan == timedelta(minutes=15)
    assert len(parsed.sequence.steps) == 2


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('any where x == "a" | head 5', "pipes"),
        ("sequence [any where true] [any where true] until [any where true]", "until"),
        ("sequence [any where true] by a [any where true] by b", "same fields"),
        ('any where substring(x, 1) == "a"', "function substring.. is not supported"),
        ('any where x == "a" and', "invalid EQL syntax"),
    ],
)
def test_what_cannot_run_is_refused_by_name(query: str, message: str) -> None:
    with pytest.raises(RuleError, match=message):
        read_eql(query)


def test_an_eql_syntax_error_points_into_the_rule_file() -> None:
    with pytest.raises(RuleError) as caught:
        read_eql('any where\n  x == "a" and and', where="r.toml", line=7, column=9)
    assert (caught.value.where, caught.value.line) == ("r.toml", 8)
