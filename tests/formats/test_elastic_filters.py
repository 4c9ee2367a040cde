"""Kibana filters (`[[rule.filters]]`) narrow a rule's query as Elastic applies them: each enabled
filter is ANDed with the query, `negate` turns it into an exclusion, `disabled` drops it
(Kibana's filter objects: `meta.negate`, `meta.disabled`, a query DSL clause)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from support.events import event, run
from trailhound.errors import RuleError
from trailhound.rules.elastic import dump_rule, load_rule_text

RULE = """\
[rule]
rule_id = "6f1d2c3b-0000-4000-8000-000000000300"
name = "Filtered"
description = "A rule with Kibana filters."
type = "query"
language = "kuery"
risk_score = 21
severity = "low"
query = 'event.provider: "dynamodb.amazonaws.com"'
"""

NO_AGENT = """
[[rule.filters]]
[rule.filters.exists]
field = "user_agent.original"
[rule.filters.meta]
negate = true
"""
NOT_BOB = """
[[rule.filters]]
[rule.filters.meta]
negate = true
[rule.filters.query.match_phrase]
"user.name" = "bob"
"""
DISABLED = """
[[rule.filters]]
[rule.filters.meta]
disabled = true
[rule.filters.query.match_phrase]
"user.name" = "nobody"
"""
BOOL = """
[[rule.filters]]
[rule.filters.meta]
negate = false
[rule.filters.query.bool]
should = [{wildcard = {"event.action" = {value = "delete*", case_insensitive = true}}},
          {term = {"event.action" = "Scan"}}]
must_not = [{match_phrase = {"user.name" = {query = "carol"}}}]
"""

EVENTS = [
    event(0, timedelta(0), "DeleteTable", user__name="alice"),
    event(1, timedelta(minutes=1), "DeleteTable", user__name="bob"),
    event(2, timedelta(minutes=2), "Scan", user__name="carol"),
    event(3, timedelta(minutes=3), "PutItem", user__name="dave", user_agent__original="cli"),
]


def matching(filters: str) -> list[str]:
    rule = load_rule_text(RULE + filters, source="r.toml")
    return sorted(a.event_ids[0] for a in run([rule], EVENTS))


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ("", ["ev-0000", "ev-0001", "ev-0002", "ev-0003"]),
        (NO_AGENT, ["ev-0000", "ev-0001", "ev-0002"]),
        (NOT_BOB, ["ev-0000", "ev-0002", "ev-0003"]),
        (NO_AGENT + NOT_BOB, ["ev-0000", "ev-0002"]),
        (DISABLED, ["ev-0000", "ev-0001", "ev-0002", "ev-0003"]),
        (BOOL, ["ev-0000", "ev-0001"]),
    ],
)
def test_filters_narrow_the_query(filters: str, expected: list[str]) -> None:
    assert matching(filters) == expected


def test_a_filter_that_cannot_be_applied_refuses_the_rule() -> None:
    text = RULE + '\n[[rule.filters]]\n[rule.filters.query.geo_distance]\ndistance = "1km"\n'
    with pytest.raises(RuleError, match="geo_distance filters are not supported"):
        load_rule_text(text, source="r.toml")


def test_a_rule_with_filters_is_written_back_with_them() -> None:
    rule = load_rule_text(RULE + NOT_BOB, source="r.toml")
    assert load_rule_text(dump_rule(rule), source="r.toml") == rule
