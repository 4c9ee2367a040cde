"""trailhound's own rule keys read and written as TOML: `[rule.baseline]`,
`[rule.correlation]`, `[[rule.parameters]]` with a test's `parameters`, and a threshold's item
`count`. Every problem points at its key; what is read is written back unchanged."""

from __future__ import annotations

from datetime import timedelta

import pytest

from trailhound.rules.elastic import dump_rule, load_rule_text, read_rule_text
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.rules.model import BaselineSpec, CorrelationSpec, ItemCount, Rule, ThresholdSpec
from trailhound.rules.parameters import with_values

HEAD = """
[rule]
rule_id = "5b0b3a3e-0000-4000-8000-00000000000{n}"
name = "r{n}"
description = "d"
risk_score = 47
severity = "medium"
language = "kuery"
query = 'event.action: "GetItem"'
"""

BASELINE = (
    HEAD.format(n=1)
    + """type = "baseline"

[rule.baseline]
field = ["cloud.account.id", "user.name"]
window = "1h"
history = "14d"
min_count = 100
factor = 10
deviations = 2.5
min_history = "24h"
count = { field = "aws.dynamodb.operations", values = ["get"] }
"""
)
CORRELATION = (
    HEAD.format(n=2)
    + """type = "correlation"

[rule.correlation]
key = "aws.cloudtrail.resources.arn"
remember = "90d"

[[rule.correlation.facts]]
query = 'event.provider: "kms.amazonaws.com"'
key = "aws.cloudtrail.resources.arn"
value = "aws.dynamodb.table_name"
"""
)
PARAMETERS = (
    HEAD.format(n=3)
    + """type = "query"

[[rule.parameters]]
name = "decoy_tables"
field = "aws.dynamodb.table_name"
values = []

[[tests]]
name = "t"
expect_alerts = 0
parameters = { decoy_tables = ["bait"] }
records = ['{"eventTime": "2026-03-03T00:00:00Z", "eventName": "GetItem"}']
"""
)


def _load(text: str) -> Rule:
    return load_rule_text(text, source="x.toml")


def test_a_baseline_rule_reads_every_key() -> None:
    spec = _load(BASELINE).spec
    assert spec == BaselineSpec(
        fields=("cloud.account.id", "user.name"),
        window=timedelta(hours=1),
        history=timedelta(days=14),
        min_count=100,
        min_history=timedelta(hours=24),
        factor=10.0,
        deviations=2.5,
        count=ItemCount("aws.dynamodb.operations", ("get",)),
    )


def test_a_correlation_rule_reads_its_fact_sources() -> None:
    spec = _load(CORRELATION).spec
    assert isinstance(spec, CorrelationSpec)
    assert (spec.key, spec.remember) == ("aws.cloudtrail.resources.arn", timedelta(days=90))
    assert [(f.key, f.value) for f in spec.facts] == [
        ("aws.cloudtrail.resources.arn", "aws.dynamodb.table_name")
    ]


def test_parameters_and_a_tests_values() -> None:
    rule = _load(PARAMETERS)
    assert rule.unconfigured == ("decoy_tables",) and not rule.runs
    assert rule.tests[0].parameters == {"decoy_tables": ("bait",)}
    chosen = with_values(rule, rule.tests[0].parameters)
    assert chosen.runs and chosen.parameters[0].values == ("bait",)


@pytest.mark.parametrize("text", [BASELINE, CORRELATION, PARAMETERS])
def test_written_back_unchanged(text: str) -> None:
    rule = _load(text)
    assert _load(dump_rule(rule)) == rule


def test_every_shipped_rule_survives_dump_and_load() -> None:
    for rule in load_rules([shipped_pack_dir()]).rules:
        assert load_rule_text(dump_rule(rule), source=rule.source) == rule, rule.name


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("factor = 10\n", ""), None),
        (("factor = 10\ndeviations = 2.5\n", ""), "needs 'factor', 'deviations' or both"),
        (('min_history = "24h"', 'min_history = "30d"'), "min_history must lie between"),
        (("min_count = 100", "min_count = 0"), "min_count must be at least 1"),
        (("factor = 10", "factor = -1"), "factor must be a positive number"),
        (('window = "1h"\n', ""), "missing required key 'window'"),
        (("min_count = 100", "min_counts = 100"), "unknown key 'min_counts'"),
    ],
)
def test_baseline_problems_point_at_their_key(change: tuple[str, str], message: str | None) -> None:
    report = read_rule_text(BASELINE.replace(*change), source="x.toml")
    if message is None:
        assert report.rule is not None
    else:
        assert any(message in str(e) for e in report.errors), [str(e) for e in report.errors]


def test_a_threshold_counts_items_with_count() -> None:
    text = (
        HEAD.format(n=4)
        + """type = "threshold"

[rule.threshold]
field = ["user.name"]
value = 100
window = "10m"
count = { field = "aws.dynamodb.operations", values = ["delete"] }
"""
    )
    spec = _load(text).spec
    assert isinstance(spec, ThresholdSpec)
    assert spec.count == ItemCount("aws.dynamodb.operations", ("delete",))
    empty = text.replace('values = ["delete"]', "values = []")
    errors = read_rule_text(empty, source="x.toml").errors
    assert any("at least one value" in str(e) for e in errors)


def test_baseline_keys_belong_to_baseline_rules() -> None:
    text = BASELINE.replace('type = "baseline"', 'type = "query"')
    errors = [str(e) for e in read_rule_text(text, source="x.toml").errors]
    assert any("rule.baseline belongs to baseline rules, not query rules" in e for e in errors)


def test_two_parameters_may_not_share_a_name() -> None:
    text = PARAMETERS.replace(
        "\n[[tests]]",
        '\n[[rule.parameters]]\nname = "decoy_tables"\nfield = "user.name"\n\n[[tests]]',
    )
    errors = [str(e) for e in read_rule_text(text, source="x.toml").errors]
    assert any("same name" in e for e in errors)
