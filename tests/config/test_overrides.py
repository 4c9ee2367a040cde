"""Overrides, `enabled` and `disabled` applied to the shipped rules, and their mistakes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from trailhound.config import Config, ConfigProblems, load_config
from trailhound.errors import ConfigError
from trailhound.rules.model import BaselineSpec, NewTermsSpec, Rule, Suppression, ThresholdSpec

WriteConfig = Callable[[str], Path]
LineOf = Callable[[str, str], int]

DELETED = "AWS DynamoDB Multiple Tables Deleted"  # threshold: cloud.account.id, 6 in 10m
SCANNED = "AWS DynamoDB Table Scanned"  # query, suppressed by account, user, table for 1h
UNUSUAL_SCAN = "AWS DynamoDB Scan by Unusual User"  # new_terms, 14 days of history
BACKUP_DELETED = "AWS DynamoDB Backup Deleted"  # query without suppression
SEQUENCE = "AWS DynamoDB Backups Deleted Then Table Deleted"


def by_name(rules: list[Rule]) -> dict[str, Rule]:
    return {rule.name: rule for rule in rules}


def applied(write_config: WriteConfig, text: str, rules: list[Rule]) -> dict[str, Rule]:
    return by_name(load_config(write_config(text)).apply(rules))


def apply_problems(write_config: WriteConfig, text: str, rules: list[Rule]) -> list[ConfigError]:
    config = load_config(write_config(text))
    with pytest.raises(ConfigProblems) as caught:
        config.apply(rules)
    return [p for p in caught.value.problems if isinstance(p, ConfigError)]


def test_the_shipped_rules_are_as_these_tests_assume(pack_rules: list[Rule]) -> None:
    rules = by_name(pack_rules)
    assert rules[DELETED].spec == ThresholdSpec(
        ("cloud.account.id",), 6, window=timedelta(minutes=10)
    )
    assert rules[SCANNED].type == "query" and rules[SCANNED].suppression is not None
    assert isinstance(rules[UNUSUAL_SCAN].spec, NewTermsSpec)
    assert rules[BACKUP_DELETED].type == "query" and rules[BACKUP_DELETED].suppression is None
    assert rules[SEQUENCE].type == "sequence"


def test_an_override_changes_a_threshold_rule_and_nothing_else(
    write_config: WriteConfig, pack_rules: list[Rule]
) -> None:
    text = f"""
[rules.overrides."{DELETED}"]
severity = "critical"
risk_score = 90
threshold = 8
window = "15m"
max_signals = 200
suppression = {{ duration = "30m" }}
"""
    rules = applied(write_config, text, pack_rules)
    rule = rules[DELETED]
    assert rule.spec == ThresholdSpec(("cloud.account.id",), 8, window=timedelta(minutes=15))
    assert (rule.severity, rule.risk_score, rule.max_signals) == ("critical", 90, 200)
    # A threshold rule suppresses per threshold group, as in Elastic.
    assert rule.suppression == Suppression(("cloud.account.id",), timedelta(minutes=30))
    original = by_name(pack_rules)[DELETED]
    assert original.spec.value == 6 and original.severity == "high"  # type: ignore[union-attr]
    unchanged = [r for r in pack_rules if r.name != DELETED]
    assert [rules[r.name] for r in unchanged] == unchanged


def test_an_override_by_rule_id_changes_a_new_terms_rule(
    write_config: WriteConfig, pack_rules: list[Rule]
) -> None:
    rule_id = by_name(pack_rules)[UNUSUAL_SCAN].rule_id
    text = f'[rules.overrides."{rule_id}"]\nhistory_window = "30d"\nlearning_period = "2d"\n'
    spec = applied(write_config, text, pack_rules)[UNUSUAL_SCAN].spec
    assert isinstance(spec, NewTermsSpec)
    assert (spec.history_window, spec.learning_period) == (timedelta(days=30), timedelta(days=2))


def test_suppression_overrides_keep_what_they_leave_out(
    write_config: WriteConfig, pack_rules: list[Rule]
) -> None:
    text = f"""
[rules.overrides."{SCANNED}"]
suppression = {{ duration = "4h" }}

[rules.overrides."{BACKUP_DELETED}"]
suppression = {{ group_by = ["user.name"], missing_fields = "doNotSuppress" }}

[rules.overrides."{UNUSUAL_SCAN}"]
suppression = false
"""
    rules = applied(write_config, text, pack_rules)
    own = by_name(pack_rules)[SCANNED].suppression
    assert own is not None
    assert rules[SCANNED].suppression == Suppression(own.group_by, timedelta(hours=4))
    assert rules[BACKUP_DELETED].suppression == Suppression(("user.name",), None, "doNotSuppress")
    assert rules[UNUSUAL_SCAN].suppression is None


def test_disabled_and_enabled_switch_rules_off_by_name_or_rule_id(
    write_config: WriteConfig, pack_rules: list[Rule]
) -> None:
    scanned_id = by_name(pack_rules)[SCANNED].rule_id
    text = f"""
[rules]
enabled = ["{DELETED}", "{scanned_id}", "{BACKUP_DELETED}"]
disabled = ["{BACKUP_DELETED}"]

[rules.overrides."{SEQUENCE}"]
enabled = true
"""
    rules = load_config(write_config(text)).apply(pack_rules)
    assert len(rules) == len(pack_rules)  # switched off, not dropped
    running = {r.name for r in rules if r.enabled}
    assert running == {DELETED, SCANNED, SEQUENCE}


def test_an_empty_config_changes_nothing(pack_rules: list[Rule]) -> None:
    assert Config().apply(pack_rules) == pack_rules


def test_a_key_that_does_not_fit_the_rule_type_is_an_error_at_its_line(
    write_config: WriteConfig, line_of: LineOf, pack_rules: list[Rule]
) -> None:
    text = f"""
[rules.overrides."{SCANNED}"]
threshold = 8

[rules.overrides."{DELETED}"]
history_window = "30d"
suppression = {{ group_by = ["user.name"] }}

[rules.overrides."{SEQUENCE}"]
suppression = {{ duration = "1h" }}

[rules.overrides."{BACKUP_DELETED}"]
suppression = {{ duration = "1h" }}
"""
    found = [(e.line, e.message) for e in apply_problems(write_config, text, pack_rules)]
    assert found == [
        (
            line_of(text, "threshold = 8"),
            f'rules.overrides."{SCANNED}".threshold: only threshold rules take threshold; '
            "this is a query rule",
        ),
        (
            line_of(text, "history_window"),
            f'rules.overrides."{DELETED}".history_window: only new_terms and baseline rules take '
            "history_window; this is a threshold rule",
        ),
        (
            line_of(text, 'group_by = ["user.name"]'),
            f'rules.overrides."{DELETED}".suppression.group_by: a threshold rule suppresses '
            "per threshold group; give it only duration",
        ),
        (
            line_of(text, f"{SEQUENCE}") + 1,
            f'rules.overrides."{SEQUENCE}".suppression: sequence rules have no suppression',
        ),
        (
            line_of(text, f"{BACKUP_DELETED}") + 1,
            f'rules.overrides."{BACKUP_DELETED}".suppression: needs group_by: '
            "the rule has no suppression of its own to change",
        ),
    ]


def test_a_name_that_matches_no_rule_is_an_error_with_a_suggestion(
    write_config: WriteConfig, line_of: LineOf, pack_rules: list[Rule]
) -> None:
    deleted_id = by_name(pack_rules)[DELETED].rule_id
    text = f"""
[rules]
disabled = ["AWS DynamoDB Table Scaned"]

[rules.overrides."No Such Rule"]
severity = "low"

[rules.overrides."{DELETED}"]
severity = "low"

[rules.overrides."{deleted_id}"]
severity = "medium"
"""
    path = write_config(text)
    problems = apply_problems(write_config, text, pack_rules)
    assert [str(e) for e in problems] == [
        f"{path}:{line_of(text, 'disabled')}:1: rules.disabled[1]: no loaded rule has the name "
        f'or rule_id "AWS DynamoDB Table Scaned" (did you mean "{SCANNED}"?)',
        f"{path}:{line_of(text, 'No Such Rule')}:1: "
        'rules.overrides."No Such Rule": no loaded rule has the name or rule_id "No Such Rule"',
        f"{path}:{line_of(text, deleted_id)}:1: rules.overrides.{deleted_id}: "
        f"names the same rule as the override {DELETED!r}",
    ]


DECOY = "AWS DynamoDB Decoy Table Accessed"
READS = "AWS DynamoDB Unusual Read Volume"


def test_parameters_configure_the_decoy_rule_without_copying_it(
    write_config: WriteConfig, pack_rules: list[Rule]
) -> None:
    assert not by_name(pack_rules)[DECOY].runs
    text = f'[rules.overrides."{DECOY}"]\nparameters = {{ decoy_tables = ["payroll-*"] }}\n'
    decoy = applied(write_config, text, pack_rules)[DECOY]
    assert decoy.runs and decoy.parameters[0].values == ("payroll-*",)
    assert decoy.query == by_name(pack_rules)[DECOY].query


def test_a_parameter_the_rule_lacks_is_an_error(
    write_config: WriteConfig, line_of: LineOf, pack_rules: list[Rule]
) -> None:
    text = f'[rules.overrides."{DECOY}"]\nparameters = {{ decoys = ["x"] }}\n'
    problems = [(e.line, e.message) for e in apply_problems(write_config, text, pack_rules)]
    assert problems == [
        (
            line_of(text, "parameters"),
            f'rules.overrides."{DECOY}".parameters.decoys: the rule has no parameter '
            "'decoys' (its parameters: decoy_tables)",
        )
    ]


def test_a_baseline_rule_takes_its_bar_from_the_configuration(
    write_config: WriteConfig, pack_rules: list[Rule]
) -> None:
    text = (
        f'[rules.overrides."{READS}"]\nmin_count = 500\nfactor = 20\ndeviations = 3\n'
        'min_history = "3d"\nwindow = "30m"\nhistory_window = "30d"\n'
    )
    spec = applied(write_config, text, pack_rules)[READS].spec
    assert isinstance(spec, BaselineSpec)
    assert (spec.min_count, spec.factor, spec.deviations) == (500, 20.0, 3.0)
    assert (spec.min_history, spec.window, spec.history) == (
        timedelta(days=3),
        timedelta(minutes=30),
        timedelta(days=30),
    )


def test_baseline_keys_on_another_type_are_errors(
    write_config: WriteConfig, pack_rules: list[Rule]
) -> None:
    text = f'[rules.overrides."{SCANNED}"]\nmin_count = 5\n'
    messages = [e.message for e in apply_problems(write_config, text, pack_rules)]
    assert messages == [
        f'rules.overrides."{SCANNED}".min_count: only baseline rules take min_count; '
        "this is a query rule"
    ]
    with pytest.raises(ConfigProblems, match="factor: must be a positive number, not 0"):
        load_config(write_config(f'[rules.overrides."{READS}"]\nfactor = 0\n'))
