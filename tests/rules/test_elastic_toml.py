"""Elastic detection-rules TOML in and out: Elastic's own files, trailhound's keys, and problems."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgspec import structs

from trailhound.errors import RuleError
from trailhound.rules.elastic import dump_rule, load_rule_text, read_rule_text
from trailhound.rules.kql_ast import Exists, Match
from trailhound.rules.model import (
    Cardinality,
    Condition,
    NewTermsSpec,
    QuerySpec,
    Rule,
    SequenceSpec,
    Suppression,
    ThresholdSpec,
)


def elastic_files(shared_data: Path) -> list[Path]:
    return sorted((shared_data / "elastic-rules").glob("*.toml"))


def load_file(path: Path) -> Rule:
    return load_rule_text(path.read_text(encoding="utf-8"), source=str(path))


def problems(text: str) -> list[RuleError]:
    return list(read_rule_text(text, source="rule.toml").errors)


def line_of(text: str, needle: str) -> int:
    """1-based number of the first line of `text` that contains `needle`."""
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


# --------------------------------------------------------------------------- Elastic's own rules


def test_all_elastic_rules_load_with_their_types(shared_data: Path) -> None:
    rules = [load_file(p) for p in elastic_files(shared_data)]
    kinds = [r.type for r in rules]
    assert len(rules) == 70
    assert (kinds.count("query"), kinds.count("new_terms"), kinds.count("threshold")) == (39, 29, 2)


def test_every_elastic_rule_survives_dump_and_load(shared_data: Path) -> None:
    for path in elastic_files(shared_data):
        rule = load_file(path)
        again = load_rule_text(dump_rule(rule), source=str(path))
        assert again == rule, path.name


def test_writing_an_elastic_rule_keeps_every_key(shared_data: Path) -> None:
    # trailhound leaves out `interval` only when it is Elastic's default of 5m.
    for path in elastic_files(shared_data):
        original = tomllib.loads(path.read_text(encoding="utf-8"))
        written = tomllib.loads(dump_rule(load_file(path)))
        if original["rule"].get("interval") == "5m":
            del original["rule"]["interval"]
        assert written == original, path.name


def test_new_terms_rule_fields(shared_data: Path) -> None:
    rule = load_file(shared_data / "elastic-rules/exfiltration_dynamodb_scan_by_unusual_user.toml")
    assert rule.rule_id == "96b2a03e-003b-11f0-8541-f661ea17fbcd"
    assert rule.name == "AWS DynamoDB Scan by Unusual User"
    assert (rule.severity, rule.risk_score, rule.version) == ("low", 21, 1)
    assert rule.spec == NewTermsSpec(("cloud.account.id", "user.name"), timedelta(days=10))
    assert rule.lookback == timedelta(minutes=6)
    assert rule.interval == timedelta(minutes=5)
    assert rule.timestamp_override == "event.ingested"
    assert rule.index == ("filebeat-*", "logs-aws.cloudtrail-*")
    assert rule.investigation_fields[0] == "@timestamp"
    assert "aws.cloudtrail.request_parameters" in rule.investigation_fields
    assert rule.note.startswith("## Triage and analysis")
    assert rule.setup.startswith("DynamoDB data events must be enabled")
    assert [(t.tactic_id, t.tactic_name) for t in rule.threat] == [
        ("TA0010", "Exfiltration"),
        ("TA0009", "Collection"),
    ]
    assert [t.id for t in rule.threat[1].techniques] == ["T1213", "T1530"]
    assert Match in {type(i) for i in getattr(rule.ast, "items", ())}
    assert rule.extra["metadata"]["creation_date"] == "2025/03/13"
    assert rule.extra["rule"]["license"] == "Elastic License v2"


def test_threshold_rule_with_cardinality_and_subtechniques(shared_data: Path) -> None:
    name = "credential_access_rapid_secret_retrieval_attempts_from_secretsmanager.toml"
    rule = load_file(shared_data / "elastic-rules" / name)
    assert rule.spec == ThresholdSpec(
        fields=("user.id",),
        value=1,
        cardinality=(Cardinality("aws.cloudtrail.request_parameters", 20),),
    )
    technique = rule.threat[0].techniques[0]
    assert (technique.id, [s.id for s in technique.subtechniques]) == ("T1555", ["T1555.006"])
    assert technique.subtechniques[0].reference == "https://attack.mitre.org/techniques/T1555/006/"


def test_lookback_is_the_span_of_from(shared_data: Path) -> None:
    name = "privilege_escalation_bedrock_phantom_user_activity_outside_bedrock.toml"
    assert load_file(shared_data / "elastic-rules" / name).lookback == timedelta(minutes=30)


# --------------------------------------------------------------------------- trailhound's keys

EXTENDED = """\
[metadata]
creation_date = "2026/01/05"
maturity = "production"

[rule]
rule_id = "5a1e0c1e-8d0f-4a1b-9a53-2b1f3f7c0b01"
name = "Burst of DynamoDB table deletions"
description = "One identity deleted many DynamoDB tables in a short time."
type = "threshold"
language = "kuery"
risk_score = 73
severity = "high"
version = 3
enabled = false
from = "now-15m"
interval = "10m"
max_signals = 50
author = ["trailhound"]
tags = ["Data Source: AWS DynamoDB", "Tactic: Impact"]
investigation_fields = ["user.name", "aws.dynamodb.table_name"]
note = '''
## Triage
Check who deleted the tables and whether backups exist.
'''
query = '''
event.provider: "dynamodb.amazonaws.com" and event.action: "DeleteTable"
'''

[rule.threshold]
field = "user.name"
value = 6
window = "10m"

[[rule.threshold.cardinality]]
field = "aws.dynamodb.table_name"
value = 3

[rule.alert_suppression]
duration = {value = 1, unit = "h"}

[[rule.exceptions]]
description = "Nightly teardown of test tables"
expires = 2026-12-31
conditions = [
    {field = "user.name", values = ["ci-teardown"], kind = "value"},
    {field = "aws.dynamodb.table_name", values = ["test-*"], kind = "wildcard"},
]

[[rule.exceptions]]
conditions = [{field = "source.ip", values = ["10.0.0.0/8", "2001:db8::/32"], kind = "cidr"}]

[[tests]]
name = "six deletions in ten minutes"
expect_alerts = 1
synthetic = true
records = [
    '''
{"eventVersion": "1.08", "eventSource": "dynamodb.amazonaws.com", "eventName": "DeleteTable",
 "eventTime": "2026-01-05T10:00:00Z", "requestParameters": {"tableName": "orders"}}
''',
    '{"eventName": "DeleteTable", "eventTime": "2026-01-05T10:01:00Z"}',
]

[[tests]]
name = "nothing happens"
expect_alerts = 0
records = []
"""


def test_trailhound_keys_are_read() -> None:
    rule = load_rule_text(EXTENDED, source="burst.toml")
    assert rule.spec == ThresholdSpec(
        fields=("user.name",),
        value=6,
        cardinality=(Cardinality("aws.dynamodb.table_name", 3),),
        window=timedelta(minutes=10),
    )
    assert (rule.version, rule.enabled, rule.max_signals) == (3, False, 50)
    assert (rule.lookback, rule.interval) == (timedelta(minutes=15), timedelta(minutes=10))
    # A threshold rule suppresses per threshold group, as in Elastic.
    assert rule.suppression == Suppression(group_by=("user.name",), duration=timedelta(hours=1))
    first, second = rule.exceptions
    assert first.expires == date(2026, 12, 31)
    assert first.description == "Nightly teardown of test tables"
    assert first.conditions[1] == Condition("aws.dynamodb.table_name", ("test-*",), "wildcard")
    assert second.conditions[0].kind == "cidr"
    assert [t.name for t in rule.tests] == ["six deletions in ten minutes", "nothing happens"]
    assert rule.tests[0].synthetic and not rule.tests[1].synthetic
    assert rule.tests[0].records[0]["requestParameters"] == {"tableName": "orders"}
    assert rule.tests[0].records[1]["eventTime"] == "2026-01-05T10:01:00Z"
    assert rule.tests[1].records == ()
    assert rule.source == "burst.toml"


NEW_TERMS_FLAT = """\
[rule]
rule_id = "new-country"
name = "DynamoDB access from a new country"
description = "A user reached DynamoDB from a country not seen for that user."
type = "new_terms"
risk_score = 47
severity = "medium"
query = 'event.provider: "dynamodb.amazonaws.com"'
new_terms_fields = ["user.name", "source.geo.country_iso_code"]
history_window_start = "now-14d"

[rule.investigation_fields]
field_names = ["source.ip"]

[rule.alert_suppression]
group_by = ["user.name"]
duration = {value = 30, unit = "m"}
missing_fields_strategy = "doNotSuppress"
"""


def test_new_terms_in_kibanas_flat_layout_and_learning_period() -> None:
    rule = load_rule_text(NEW_TERMS_FLAT, source="x.toml")
    assert rule.spec == NewTermsSpec(
        ("user.name", "source.geo.country_iso_code"), timedelta(days=14)
    )
    assert rule.language == "kuery"
    assert rule.investigation_fields == ("source.ip",)
    assert rule.suppression == Suppression(("user.name",), timedelta(minutes=30), "doNotSuppress")
    with_table = NEW_TERMS_FLAT.replace('"now-14d"', '"now-14d"\n\n[rule.extra_table]\nx = 1')
    assert load_rule_text(with_table, source="x.toml").extra["rule"]["extra_table"] == {"x": 1}


def test_learning_period_is_written_in_the_new_terms_table() -> None:
    rule = load_rule_text(NEW_TERMS_FLAT, source="x.toml")
    assert isinstance(rule.spec, NewTermsSpec)
    learning = replace(rule, spec=structs.replace(rule.spec, learning_period=timedelta(hours=72)))
    written = tomllib.loads(dump_rule(learning))["rule"]["new_terms"]
    assert written["learning_period"] == "3d"
    assert written["value"] == ["user.name", "source.geo.country_iso_code"]
    assert load_rule_text(dump_rule(learning), source="x.toml") == learning


SEQUENCE = """\
[rule]
rule_id = "seq-1"
name = "Backups removed, then table deleted"
description = "Point-in-time recovery was turned off and the table deleted soon after."
type = "sequence"
risk_score = 90
severity = "critical"

[rule.sequence]
by = ["user.name", "aws.dynamodb.table_name"]
maxspan = "1h"

[[rule.sequence.steps]]
query = 'event.action: "UpdateContinuousBackups"'

[[rule.sequence.steps]]
query = '''
event.action: "DeleteTable"
'''
"""


def test_sequence_rules_parse_each_step() -> None:
    rule = load_rule_text(SEQUENCE, source="seq.toml")
    assert isinstance(rule.spec, SequenceSpec)
    assert rule.spec.by == ("user.name", "aws.dynamodb.table_name")
    assert rule.spec.maxspan == timedelta(hours=1)
    assert [type(s.ast) for s in rule.spec.steps] == [Match, Match]
    assert rule.query == ""
    assert isinstance(rule.ast, Exists)  # no shared filter: every event qualifies


@pytest.mark.parametrize("text", [EXTENDED, NEW_TERMS_FLAT, SEQUENCE])
def test_rules_with_trailhound_keys_survive_dump_and_load(text: str) -> None:
    rule = load_rule_text(text, source="r.toml")
    assert load_rule_text(dump_rule(rule), source="r.toml") == rule


def test_dumped_text_is_elastic_toml_with_readable_strings() -> None:
    written = dump_rule(load_rule_text(EXTENDED, source="r.toml"))
    doc = tomllib.loads(written)
    assert doc["rule"]["threshold"]["field"] == ["user.name"]
    assert doc["rule"]["investigation_fields"] == {
        "field_names": ["user.name", "aws.dynamodb.table_name"]
    }
    assert doc["rule"]["alert_suppression"] == {"duration": {"value": 1, "unit": "h"}}
    assert doc["tests"][0]["synthetic"] is True
    assert "query = '''\nevent.provider:" in written
    assert "note = '''\n## Triage\n" in written
    assert "records = [\n    '''\n{" in written


TOML_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text()
    | st.dates()
    | st.times()
    | st.datetimes(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


def _without_none(value: Any) -> Any:
    # TOML has no null; a model never holds one in its extra keys.
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value if v is not None]
    return value


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.text(),
    description=st.text().filter(lambda s: s.strip() != ""),
    tags=st.lists(st.text(), max_size=3),
    meta=st.dictionaries(st.text(), TOML_VALUES, max_size=4),
)
def test_any_text_and_any_extra_key_survive_dump_and_load(
    text: str, description: str, tags: list[str], meta: dict[str, Any]
) -> None:
    rule = load_rule_text(NEW_TERMS_FLAT, source="r.toml")
    changed = replace(
        rule,
        note=text,
        setup=text[::-1],
        description=description,
        tags=tuple(tags),
        false_positives=(text,),
        extra={"metadata": _without_none(meta), "rule": {"meta": _without_none(meta)}},
    )
    assert load_rule_text(dump_rule(changed), source="r.toml") == changed


# --------------------------------------------------------------------------- problems

BASE = """\
[metadata]
creation_date = "2026/01/05"

[rule]
rule_id = "0f4b9b1e-3c1a-4d53-9d1e-7a0f2f3c1d11"
name = "DynamoDB table deleted"
description = "A DynamoDB table was deleted."
type = "query"
language = "kuery"
risk_score = 47
severity = "medium"
from = "now-9m"
query = '''
event.provider: "dynamodb.amazonaws.com" and event.action: "DeleteTable"
'''

[[rule.threat]]
framework = "MITRE ATT&CK"

[[rule.threat.technique]]
id = "T1485"
name = "Data Destruction"
reference = "https://attack.mitre.org/techniques/T1485/"

[rule.threat.tactic]
id = "TA0040"
name = "Impact"
reference = "https://attack.mitre.org/tactics/TA0040/"
"""


def test_the_base_rule_is_valid() -> None:
    rule = load_rule_text(BASE, source="rule.toml")
    assert (rule.spec, rule.lookback) == (QuerySpec(), timedelta(minutes=9))


@pytest.mark.parametrize(
    ("old", "new", "message", "at"),
    [
        ('severity = "medium"', 'severity = "severe"', "severity must be one of", "severity"),
        ("risk_score = 47", "risk_score = 101", "between 0 and 100", "risk_score"),
        ("risk_score = 47", 'risk_score = "47"', "risk_score must be a whole number", "risk_score"),
        ('rule_id = "0f4b9b1e-3c1a-4d53-9d1e-7a0f2f3c1d11"', "", "'rule_id'", "[rule]"),
        ('type = "query"', "", "missing required key 'type'", "[rule]"),
        ('from = "now-9m"', 'from = "now+9m"', "must point before now", "from ="),
        ('from = "now-9m"', 'from = "9 minutes"', "not relative date math", "from ="),
        ('name = "Impact"', 'name = "Exfiltration"', "named 'Impact'", 'name = "Exfiltration"'),
        (
            'id = "TA0040"\nname = "Impact"\nreference = "https://attack.mitre.org/tactics/TA0040/"',
            'id = "TA0099"\nname = "Impact"\nreference = "https://attack.mitre.org/tactics/TA0099/"',
            "not an ATT&CK Enterprise tactic",
            'id = "TA0099"',
        ),
        ('id = "T1485"', 'id = "1485"', "not a technique id", 'id = "1485"'),
        ('"MITRE ATT&CK"', '"MITRE ATTACK"', "unknown threat framework", "framework"),
        ('type = "query"', 'type = "esql"', "ES|QL rules are not supported", "type ="),
        ('type = "query"', 'type = "eql"', 'EQL rules are written type = "eql"', "language"),
        ('type = "query"', 'type = "machine_learning"', "machine learning rules are not", "type ="),
        ('type = "query"', 'type = "threat_match"', "indicator match (threat_match)", "type ="),
        ('language = "kuery"', 'language = "lucene"', "unsupported query language", "language"),
        ('language = "kuery"', "enabled = 1", "enabled must be true or false", "enabled"),
        ('language = "kuery"', "max_signals = 0", "max_signals must be at least 1", "max_signals"),
        ('language = "kuery"', 'interval = "5"', "not a duration", "interval"),
        ('language = "kuery"', "tags = 1", "tags must be a list of strings", "tags"),
        ('"DeleteTable"\n', '"DeleteTable" and (\n', "", "DeleteTable"),
        (
            '/techniques/T1485/"\n',
            '/techniques/T1485/"\n\n[[rule.threat.technique.subtechnique]]\n'
            'id = "T1490.001"\nname = "x"\n',
            "does not belong to technique T1485",
            'id = "T1490.001"',
        ),
        (
            '/techniques/T1485/"',
            '/techniques/T1486/"',
            "does not point to T1485",
            "techniques/T1486/",
        ),
        ("[rule]\n", "[rule]\nnew_terms_fields = []\n", "belongs to new_terms rules", "new_terms"),
    ],
)
def test_problems_are_reported_at_their_line(old: str, new: str, message: str, at: str) -> None:
    assert old in BASE
    text = BASE.replace(old, new, 1)
    found = problems(text)
    assert len(found) == 1, found
    assert message in found[0].message
    assert (found[0].where, found[0].line) == ("rule.toml", line_of(text, at))


def test_a_query_syntax_error_points_into_the_query() -> None:
    text = BASE.replace('"DeleteTable"\n', '"DeleteTable" and (\n')
    (error,) = problems(text)
    assert error.line == line_of(text, '"DeleteTable" and (')
    assert error.column is not None and error.column > 1


def test_a_single_line_query_error_has_the_files_column() -> None:
    text = BASE.replace("query = '''\n", "query = \"a: (b or\" \nx = '''\n")
    (error,) = problems(text)
    assert error.line == line_of(text, "query =")
    assert error.column == len('query = "a: (b or') + 1


def test_every_problem_in_a_file_is_reported_in_line_order() -> None:
    text = (
        BASE.replace("risk_score = 47", "risk_score = -1")
        .replace('severity = "medium"', 'severity = "urgent"')
        .replace('name = "Impact"', 'name = "Effect"')
    )
    found = problems(text)
    assert [e.line for e in found] == [
        line_of(text, "risk_score"),
        line_of(text, "severity"),
        line_of(text, 'name = "Effect"'),
    ]


def test_invalid_toml_names_line_and_column() -> None:
    (error,) = problems(BASE.replace('severity = "medium"', 'severity = "medium'))
    assert error.message.startswith("not valid TOML")
    assert (error.line, error.column) == (line_of(BASE, "severity"), len('severity = "medium') + 1)


def test_load_rule_text_raises_the_first_problem() -> None:
    with pytest.raises(RuleError) as raised:
        load_rule_text(BASE.replace("risk_score = 47", "risk_score = 500"), source="a/b.toml")
    assert str(raised.value).startswith(f"a/b.toml:{line_of(BASE, 'risk_score')}:")


def test_a_file_without_a_rule_table_is_refused() -> None:
    (error,) = problems('[metadata]\ncreation_date = "2026/01/05"\n')
    assert "[rule]" in error.message


THRESHOLD = EXTENDED


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("value = 6", "value = 0", "threshold value must be at least 1"),
        ("value = 3", "value = 0", "cardinality value must be at least 1"),
        ('window = "10m"', 'window = "10"', "not a duration"),
        ('window = "10m"', 'windw = "10m"', "unknown key 'windw'"),
        ('field = "user.name"', 'field = ["a", "b", "c", "d", "e", "f"]', "at most 5 fields"),
        ('maturity = "production"', 'min_stack_version = "8.18.0"', ""),
        ('kind = "cidr"', 'kind = "regex"', "kind must be value, wildcard or cidr"),
        ('"10.0.0.0/8"', '"10.0.0.0/33"', "10.0.0.0/33"),
        ("expires = 2026-12-31", "expires = 2026-12-31T00:00:00", "expires must be a date"),
        ("expires = 2026-12-31", 'expires = "next year"', "expires"),
        ('values = ["ci-teardown"], ', "", "a condition needs values"),
        ("expect_alerts = 0", "expect_alerts = -1", "must not be negative"),
        ("records = []", "records = ['{\"a\": 1']", "record 1 is not JSON"),
        ("records = []", "records = ['[1, 2]']", "record 1 must be a JSON object"),
        ("records = []", "records = [{a = 1}]", "records must be a list of strings"),
        ("synthetic = true", 'synthetic = "yes"', "synthetic must be true or false"),
        ('duration = {value = 1, unit = "h"}', 'duration = {value = 1, unit = "y"}', "unit"),
        ("[rule.alert_suppression]", "[rule.alert_suppression]\ngroup_by = ['x']", "unknown key"),
    ],
)
def test_problems_in_trailhound_keys(old: str, new: str, message: str) -> None:
    assert old in THRESHOLD
    found = problems(THRESHOLD.replace(old, new, 1))
    if old.startswith("maturity"):
        assert found == []  # a declared stack before 9.2 allows 3 fields; one is fine
        capped = THRESHOLD.replace(old, new).replace(
            'field = "user.name"', 'field = ["a", "b", "c", "d"]', 1
        )
        found = problems(capped)
        message = "at most 3 fields"
    assert len(found) == 1, found
    assert message in found[0].message


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('["user.name", "source.geo.country_iso_code"]', '["a", "b", "c", "d"]', "1 to 3 fields"),
        ('["user.name", "source.geo.country_iso_code"]', "[]", "1 to 3 fields"),
        ('history_window_start = "now-14d"', "", "'history_window_start'"),
        ('"now-14d"', '"now-14d/d"', "rounding"),
        ('group_by = ["user.name"]', 'group_by = ["a", "b", "c", "d"]', "group_by needs 1 to 3"),
        ('"doNotSuppress"', '"drop"', "missing_fields_strategy must be"),
        ("value = 30,", "value = 0,", "whole number >= 1"),
        (
            'history_window_start = "now-14d"',
            'history_window_start = "now-14d"\n[rule.new_terms]\nfield = "new_terms_fields"',
            "not both",
        ),
    ],
)
def test_problems_in_new_terms_rules(old: str, new: str, message: str) -> None:
    assert old in NEW_TERMS_FLAT
    found = problems(NEW_TERMS_FLAT.replace(old, new, 1))
    assert len(found) >= 1, found
    assert message in found[0].message


def test_new_terms_table_layout_problems() -> None:
    table = (
        '[rule.new_terms]\nfield = "terms"\nvalue = ["user.name"]\n'
        "[[rule.new_terms.history_window_start]]\n"
        'field = "history_window_start"\nvalue = "now-1y"\n'
    )
    text = NEW_TERMS_FLAT.replace(
        'new_terms_fields = ["user.name", "source.geo.country_iso_code"]\n'
        'history_window_start = "now-14d"\n',
        "",
    ).replace("[rule.investigation_fields]", table + "\n[rule.investigation_fields]")
    messages = [e.message for e in problems(text)]
    assert len(messages) == 2
    assert "new_terms_fields" in messages[0]
    assert "months and years" in messages[1]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('maxspan = "1h"', 'maxspan = "soon"', "not a duration"),
        ('maxspan = "1h"', "", "'maxspan'"),
        ("query = 'event.action: \"UpdateContinuousBackups\"'", "query = 'a: (b'", ""),
        (
            "[[rule.sequence.steps]]\nquery = '''\nevent.action: \"DeleteTable\"\n'''\n",
            "",
            "at least 2 steps",
        ),
    ],
)
def test_problems_in_sequence_rules(old: str, new: str, message: str) -> None:
    assert old in SEQUENCE
    text = SEQUENCE.replace(old, new, 1)
    found = problems(text)
    assert len(found) == 1, found
    assert message in found[0].message
    if "a: (b" in text:
        assert found[0].line == line_of(text, "a: (b")
