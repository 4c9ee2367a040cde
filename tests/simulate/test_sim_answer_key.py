"""The answer key covers the whole shipped pack and points at events that were written."""

from __future__ import annotations

import re
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import iptocc
import pytest

from trailhound.rules.loader import shipped_pack_dir
from trailhound.simulate import SimulationResult, simulate
from trailhound.simulate.expected import checks
from trailhound.simulate.facts import Facts
from trailhound.simulate.oracle import (
    BaselineCheck,
    CorrelationCheck,
    NewTermsCheck,
    Oracle,
    QueryCheck,
    SequenceCheck,
    ThresholdCheck,
)

Key = list[dict[str, Any]]
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _pack() -> dict[str, dict[str, Any]]:
    rules = {}
    for path in sorted(shipped_pack_dir().glob("*.toml")):
        rule = tomllib.loads(path.read_text())["rule"]
        rules[rule["name"]] = rule
    return rules


def _seconds(text: str) -> int:
    match = re.fullmatch(r"(?:now-)?(\d+)([smhd])", text)
    assert match, text
    return int(match[1]) * _UNITS[match[2]]


def test_every_rule_of_the_pack_fires_at_least_once(small_key: Key) -> None:
    assert set(_pack()) <= {alert["rule"] for alert in small_key}


def test_the_key_names_only_rules_of_the_pack(small_key: Key) -> None:
    assert {alert["rule"] for alert in small_key} <= set(_pack())


def test_every_first_event_was_written(small_key: Key,
                                       small_records: list[dict[str, Any]]) -> None:
    written = {rec["eventID"] for rec in small_records}
    for alert in small_key:
        assert alert["first_event_id"] in written, alert


def test_alerts_are_unique_by_rule_and_first_event(small_key: Key) -> None:
    identities = [(a["rule"], a["first_event_id"]) for a in small_key]
    assert len(identities) == len(set(identities))
    assert all(a["count"] >= 1 and isinstance(a["key"], dict) for a in small_key)


def test_new_country_alerts_only_after_the_learning_period(
    small_sim: SimulationResult, small_key: Key, small_records: list[dict[str, Any]]
) -> None:
    when = {rec["eventID"]: rec["eventTime"] for rec in small_records}
    alerts = [a for a in small_key if a["rule"] == "AWS DynamoDB Activity From New Country"]
    learned = (small_sim.start + timedelta(hours=72)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert {a["key"]["source.geo.country_iso_code"] for a in alerts} == {"RO", "NL"}
    assert all(when[a["first_event_id"]] > learned for a in alerts)


def test_twelve_tables_created_in_a_burst_make_two_alerts(small_key: Key) -> None:
    created = [a for a in small_key if a["rule"] == "AWS DynamoDB Multiple Tables Created"]
    assert [a["count"] for a in created] == [6, 6]


def test_noisy_rules_fire_on_background_by_design(small_key: Key) -> None:
    # suppression shapes them: one alert per account, user and table per hour
    for rule in ("AWS DynamoDB Table Item Updated", "AWS DynamoDB Table Scanned",
                 "AWS DynamoDB Table Item Deleted"):
        alerts = [a for a in small_key if a["rule"] == rule]
        assert len(alerts) > 10
        assert any(a["count"] > 1 for a in alerts)
        assert set(alerts[0]["key"]) == {"cloud.account.id", "user.name",
                                         "aws.dynamodb.table_name"}


@pytest.mark.parametrize("check", checks(), ids=lambda c: c.name)
def test_oracle_states_each_rule_as_the_pack_does(check: Any) -> None:
    rule = _pack()[check.name]
    kind = {QueryCheck: "query", ThresholdCheck: "threshold", NewTermsCheck: "new_terms",
            SequenceCheck: "sequence", BaselineCheck: "baseline",
            CorrelationCheck: "correlation"}[type(check)]
    assert rule["type"] == kind
    if isinstance(check, BaselineCheck):
        _same_baseline(check, rule["baseline"])
        return
    if isinstance(check, CorrelationCheck):
        correlation = rule["correlation"]
        assert correlation["key"] == check.key_field
        assert _seconds(correlation["remember"]) == check.remember
        assert {f["value"] for f in correlation["facts"]} == {check.value_field}
        return
    if isinstance(check, QueryCheck):
        suppression = rule.get("alert_suppression")
        if suppression is None:
            assert check.group is None
        else:
            duration = suppression["duration"]
            assert tuple(suppression["group_by"]) == check.group_fields
            assert check.duration == duration["value"] * _UNITS[duration["unit"]]
    elif isinstance(check, ThresholdCheck):
        threshold = rule["threshold"]
        assert tuple(threshold["field"]) == check.group_fields
        assert threshold["value"] == check.value
        assert _seconds(threshold["window"]) == check.window
        count = threshold.get("count")
        assert check.count == (None if count is None else (count["field"], tuple(count["values"])))
        cardinality = [(c["field"], c["value"]) for c in threshold.get("cardinality", [])]
        expected = [(check.distinct_field, check.distinct_value)] if check.distinct else []
        assert cardinality == expected
    elif isinstance(check, NewTermsCheck):
        terms = rule["new_terms"]
        assert tuple(terms["value"]) == check.fields
        assert _seconds(terms["history_window_start"][0]["value"]) == check.history
        learning = terms.get("learning_period")
        assert (None if learning is None else _seconds(learning)) == check.learning
    else:
        assert isinstance(check, SequenceCheck)
        sequence = rule["sequence"]
        assert tuple(sequence["by"]) == check.by_fields
        assert _seconds(sequence["maxspan"]) == check.maxspan
        assert len(sequence["steps"]) == len(check.steps)


def _same_baseline(check: BaselineCheck, baseline: dict[str, Any]) -> None:
    assert tuple(baseline["field"]) == check.group_fields
    assert _seconds(baseline["window"]) == check.window
    assert _seconds(baseline["history"]) == check.history
    assert _seconds(baseline["min_history"]) == check.min_history
    assert (baseline["min_count"], baseline.get("factor"), baseline.get("deviations")) == (
        check.min_count, check.factor, check.deviations)


def test_the_intrusion_fires_each_new_rule_on_its_own_step(small_key: Key) -> None:
    """Issue 13's rules fire on the attack, not on the company's ordinary work."""
    once = ("AWS DynamoDB Unusual Read Volume", "AWS DynamoDB Mass Item Deletion",
            "AWS DynamoDB Table Key Disabled or Scheduled for Deletion",
            "AWS DynamoDB Backup Recovery Point Deleted", "AWS DynamoDB Decoy Table Accessed",
            "AWS DynamoDB Full Table Read via PartiQL")
    for rule in once:
        assert len([a for a in small_key if a["rule"] == rule]) == 1, rule
    reads = next(a for a in small_key if a["rule"] == "AWS DynamoDB Unusual Read Volume")
    assert reads["key"]["user.name"] == "reporting-svc"
    deletion = next(a for a in small_key if a["rule"] == "AWS DynamoDB Mass Item Deletion")
    assert (deletion["count"], deletion["key"]["aws.dynamodb.table_name"]) == (100, "customers")
    key = next(a for a in small_key
               if a["rule"] == "AWS DynamoDB Table Key Disabled or Scheduled for Deletion")
    assert {"orders", "customers"} <= set(key["key"]["aws.dynamodb.table_name"].split(", "))


def _country(address: str) -> str | None:
    try:
        return iptocc.country_code(address)
    except ValueError:
        return None


def _replayed(records: list[dict[str, Any]], *, ids_backwards: bool) -> list[tuple[Any, ...]]:
    """The checks' alerts over the written trail, no call refused, calls of one second
    taken in event-id order or its reverse: two engines' conventions for a tie."""
    facts = [Facts(r, int(datetime.fromisoformat(r["eventTime"]).timestamp()), _country)
             for r in records]
    facts.sort(key=lambda f: f.event_id, reverse=ids_backwards)
    facts.sort(key=lambda f: f.t)
    oracle = Oracle(checks())
    for f in facts:
        for check in oracle.interested(f.source, f.action):
            if check.matches(f):
                check.commit(f)
    return sorted((a.rule, a.first_event_id, a.count) for a in oracle.alerts())


def test_the_key_holds_whatever_order_calls_of_one_second_are_taken_in(
        small_key: Key, small_records: list[dict[str, Any]]) -> None:
    expected = sorted((a["rule"], a["first_event_id"], a["count"]) for a in small_key)
    assert _replayed(small_records, ids_backwards=False) == expected
    assert _replayed(small_records, ids_backwards=True) == expected


def test_one_check_per_rule_file() -> None:
    assert len(list(shipped_pack_dir().glob("*.toml"))) == len(checks())


def test_a_run_that_starts_at_noon_still_waits_out_the_learning_period(tmp_path: Path) -> None:
    start = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
    result = simulate(tmp_path / "noon", days=4, events=5000, start=start)
    rules = {a.rule for a in result.alerts}
    assert "AWS DynamoDB Activity From New Country" in rules
    assert len(rules) == len(checks())


def test_a_short_run_has_no_alert_of_the_rules_still_learning(tmp_path: Path) -> None:
    # the intrusion comes on the second night: the new-country rule is in its 72-hour learning
    # period, and the leaked user has read on one morning only, less than the read-volume
    # baseline's 24-hour warm-up before the night
    result = simulate(tmp_path / "short", days=2, events=3000)
    rules = {a.rule for a in result.alerts}
    learning = {"AWS DynamoDB Activity From New Country", "AWS DynamoDB Unusual Read Volume"}
    assert not rules & learning
    assert len(rules) == len(checks()) - len(learning)
