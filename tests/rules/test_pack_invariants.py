"""Invariants across every rule of the shipped DynamoDB pack.

One test per property a user of the pack relies on: it loads, names and ids are unique, the
detections the user asked for are there with the parameters issue 5 gives them, every ATT&CK
mapping is valid, every rule carries a guide and tests that pass, and every field a rule reads
exists in the normalized schema (a misspelt field would silently never match).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from trailhound.cloudtrail.schema import BY_NAME, flattened_parent
from trailhound.pipeline.rule_tests import run_rule_tests
from trailhound.rules import attack
from trailhound.rules.kql_ast import And, Match, Node, Not, Or, Value, fields
from trailhound.rules.loader import LoadResult, load_rules, shipped_pack_dir
from trailhound.rules.model import (
    BaselineSpec,
    CorrelationSpec,
    NewTermsSpec,
    QuerySpec,
    Rule,
    SequenceSpec,
    Threat,
    ThresholdSpec,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "rules.md"

# The twelve detections the user asked for, under the exact names issue 5 gives them.
REQUIRED = (
    "AWS DynamoDB Backup Deleted",
    "AWS DynamoDB Table Item Deleted",
    "AWS DynamoDB Multiple Tables Deleted",
    "AWS DynamoDB Multiple Tables Created",
    "AWS DynamoDB Deletion Protection Disabled",
    "AWS DynamoDB Table Scanned",
    "AWS DynamoDB Activity From New Country",
    "AWS DynamoDB Table Item Updated",
    "AWS DynamoDB Backups Listed",
    "AWS DynamoDB Multiple Table Update Operations",
    "AWS DynamoDB Scan by Unusual User",
    "AWS DynamoDB Table Exported to S3",
)
SUPPRESSED = (
    "AWS DynamoDB Table Item Deleted",
    "AWS DynamoDB Table Scanned",
    "AWS DynamoDB Table Item Updated",
)
# Rules about refused calls: the only ones allowed to count failures.
FAILURE_RULES = ("AWS DynamoDB Burst of Access Denied Errors",)
# Rules where any touch counts, allowed or refused: a denied probe of a decoy is the signal.
ANY_OUTCOME_RULES = ("AWS DynamoDB Decoy Table Accessed",)
# The ten rules of issue 13, under its exact names, with their types.
ISSUE_13 = {
    "AWS DynamoDB Backup Recovery Point Deleted": "query",
    "AWS Backup Vault Lock or Plan Removed": "query",
    "AWS DynamoDB Decoy Table Accessed": "query",
    "AWS DynamoDB Unusual Read Volume": "baseline",
    "AWS DynamoDB Full Table Read via PartiQL": "query",
    "AWS DynamoDB Mass Item Deletion": "threshold",
    "AWS DynamoDB Table Deleted After Protection Disabled": "sequence",
    "AWS DynamoDB Stream Consumer Added": "new_terms",
    "AWS DynamoDB Tables Listed by Unusual User": "new_terms",
    "AWS DynamoDB Table Key Disabled or Scheduled for Deletion": "correlation",
}

SUCCESS = Match("event.outcome", Value(("success",), quoted=True))
RISK = {"low": 21, "medium": 47, "high": 73, "critical": 99}

# ATT&CK Enterprise: technique -> (name, tactics it belongs to), for the techniques the pack uses.
TECHNIQUES: dict[str, tuple[str, frozenset[str]]] = {
    "T1020": ("Automated Exfiltration", frozenset({"TA0010"})),
    "T1078": ("Valid Accounts", frozenset({"TA0001", "TA0003", "TA0004", "TA0005"})),
    "T1078.004": ("Cloud Accounts", frozenset({"TA0001", "TA0003", "TA0004", "TA0005"})),
    "T1098": ("Account Manipulation", frozenset({"TA0003", "TA0004"})),
    "T1119": ("Automated Collection", frozenset({"TA0009"})),
    "T1213": ("Data from Information Repositories", frozenset({"TA0009"})),
    "T1213.006": ("Databases", frozenset({"TA0009"})),
    "T1485": ("Data Destruction", frozenset({"TA0040"})),
    "T1486": ("Data Encrypted for Impact", frozenset({"TA0040"})),
    "T1490": ("Inhibit System Recovery", frozenset({"TA0040"})),
    "T1505": ("Server Software Component", frozenset({"TA0003"})),
    "T1505.001": ("SQL Stored Procedures", frozenset({"TA0003"})),
    "T1526": ("Cloud Service Discovery", frozenset({"TA0007"})),
    "T1530": ("Data from Cloud Storage", frozenset({"TA0009"})),
    "T1535": ("Unused/Unsupported Cloud Regions", frozenset({"TA0005"})),
    "T1537": ("Transfer Data to Cloud Account", frozenset({"TA0010"})),
    "T1562": ("Impair Defenses", frozenset({"TA0005"})),
    "T1562.001": ("Disable or Modify Tools", frozenset({"TA0005"})),
    "T1565": ("Data Manipulation", frozenset({"TA0040"})),
    "T1565.001": ("Stored Data Manipulation", frozenset({"TA0040"})),
    "T1567": ("Exfiltration Over Web Service", frozenset({"TA0010"})),
    "T1567.002": ("Exfiltration to Cloud Storage", frozenset({"TA0010"})),
    "T1580": ("Cloud Infrastructure Discovery", frozenset({"TA0007"})),
    "T1596": ("Search Open Technical Databases", frozenset({"TA0043"})),
    "T1596.005": ("Scan Databases", frozenset({"TA0043"})),
}

# CloudTrail data events of DynamoDB: off by default, so rules reading them need a setup note.
DATA_ACTIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Scan",
        "Query",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
        "ExecuteStatement",
        "BatchExecuteStatement",
        "ExecuteTransaction",
        "GetRecords",
        "GetShardIterator",
    }
)


@pytest.fixture(scope="module")
def pack() -> LoadResult:
    return load_rules([shipped_pack_dir()])


@pytest.fixture(scope="module")
def rules(pack: LoadResult) -> list[Rule]:
    return pack.rules


@pytest.fixture(scope="module")
def by_name(rules: list[Rule]) -> dict[str, Rule]:
    return {r.name: r for r in rules}


def test_the_pack_loads_without_errors(pack: LoadResult) -> None:
    assert [str(e) for e in pack.errors] == []
    assert len(pack.rules) == pack.files


def test_the_pack_holds_the_twelve_requested_rules_and_twenty_of_our_own(
    by_name: dict[str, Rule],
) -> None:
    assert [n for n in REQUIRED if n not in by_name] == []
    assert len(by_name) == 32
    assert {n: by_name[n].type for n in ISSUE_13 if n in by_name} == ISSUE_13


def test_names_and_rule_ids_are_unique_uuids(rules: list[Rule]) -> None:
    assert len({r.name for r in rules}) == len(rules)
    assert len({r.rule_id for r in rules}) == len(rules)
    assert all(uuid.UUID(r.rule_id).version == 4 for r in rules)


def test_each_file_is_named_after_its_rule(rules: list[Rule]) -> None:
    for rule in rules:
        expected = re.sub(r"[^a-z0-9]+", "_", rule.name.lower()).strip("_") + ".toml"
        assert Path(rule.source).name == expected


def test_version_schedule_and_severity_follow_the_conventions(rules: list[Rule]) -> None:
    for rule in rules:
        assert rule.version == 1, rule.name
        assert rule.language == "kuery", rule.name
        assert (rule.lookback, rule.interval) == (timedelta(minutes=6), timedelta(minutes=5))
        assert rule.risk_score == RISK[rule.severity], rule.name


def test_attack_mappings_are_valid_with_each_technique_under_its_tactic(
    rules: list[Rule],
) -> None:
    problems: list[str] = []
    for rule in rules:
        if not rule.threat:
            problems.append(f"{rule.name}: no ATT&CK mapping")
        for threat in rule.threat:
            problems += _threat_problems(rule.name, threat)
    assert problems == []


def _threat_problems(name: str, threat: Threat) -> list[str]:
    fw, tactic = threat.framework, threat.tactic_id
    found = attack.framework_problems(fw)
    found += attack.tactic_problems(fw, tactic, threat.tactic_name, threat.tactic_reference)
    if not threat.techniques:
        found.append(f"tactic {tactic} has no technique")
    for tech in threat.techniques:
        found += attack.technique_problems(fw, tech.id, tech.reference)
        found += _under_tactic(tech.id, tech.name, tactic)
        for sub in tech.subtechniques:
            found += attack.technique_problems(fw, sub.id, sub.reference, parent=tech.id)
            found += _under_tactic(sub.id, sub.name, tactic)
    return [f"{name}: {p}" for p in found]


def _under_tactic(technique: str, name: str, tactic: str) -> list[str]:
    if technique not in TECHNIQUES:
        return [f"{technique} is not in the test's ATT&CK table; add it with its tactics"]
    known_name, tactics = TECHNIQUES[technique]
    problems = [] if name == known_name else [f"{technique} is {known_name!r}, not {name!r}"]
    if tactic not in tactics:
        problems.append(f"{technique} does not belong to tactic {tactic}")
    return problems


def test_every_rule_has_a_guide_with_triage_false_positives_and_response(
    rules: list[Rule],
) -> None:
    for rule in rules:
        headings = [h.lower() for h in re.findall(r"^#{2,4} (.+)$", rule.note, re.MULTILINE)]
        for section in ("triage", "false positive", "response"):
            assert any(section in h for h in headings), f"{rule.name}: no {section} section"
        assert rule.description.strip() and rule.false_positives and rule.references
        assert rule.investigation_fields, rule.name


def test_every_rule_has_a_positive_and_a_negative_test(rules: list[Rule]) -> None:
    for rule in rules:
        expectations = [t.expect_alerts for t in rule.tests]
        assert any(e > 0 for e in expectations), f"{rule.name}: no positive test"
        assert 0 in expectations, f"{rule.name}: no negative test"
        assert all(t.records for t in rule.tests), rule.name


def test_tests_not_marked_synthetic_hold_only_unchanged_real_records(
    rules: list[Rule], shared_data: Path
) -> None:
    real_path = shared_data / "dynamodb-real" / "dynamodb_records.ndjson"
    real = {_canonical(json.loads(line)) for line in real_path.read_text().splitlines() if line}
    for rule in rules:
        for test in rule.tests:
            originals = [_canonical(r) in real for r in test.records]
            if test.synthetic:
                assert not all(originals), f"{rule.name} / {test.name}: real, not synthetic"
            else:
                assert all(originals), f"{rule.name} / {test.name}: changed, so synthetic"


def _canonical(record: object) -> str:
    return json.dumps(record, sort_keys=True)


def test_the_real_scan_and_delete_item_records_are_positive_tests(
    by_name: dict[str, Rule],
) -> None:
    for name, action in (
        ("AWS DynamoDB Table Scanned", "Scan"),
        ("AWS DynamoDB Table Item Deleted", "DeleteItem"),
    ):
        real_positive = [
            t
            for t in by_name[name].tests
            if not t.synthetic
            and t.expect_alerts > 0
            and any(r.get("eventName") == action for r in t.records)
        ]
        assert real_positive, name


def test_every_embedded_test_passes(rules: list[Rule]) -> None:
    failed = [
        f"{o.rule.name} / {o.test.name}: {o.alerts} alerts, expected "
        f"{o.test.expect_alerts} {list(o.problems)}"
        for o in run_rule_tests(rules)
        if not o.passed
    ]
    assert failed == []


def test_threshold_rules_use_the_issue_parameters(by_name: dict[str, Rule]) -> None:
    expected = {
        "AWS DynamoDB Multiple Tables Deleted": ("cloud.account.id",),
        "AWS DynamoDB Multiple Tables Created": ("cloud.account.id",),
        "AWS DynamoDB Multiple Table Update Operations": (
            "cloud.account.id",
            "aws.dynamodb.table_name",
        ),
    }
    for name, group in expected.items():
        spec = by_name[name].spec
        assert isinstance(spec, ThresholdSpec), name
        assert (spec.fields, spec.value, spec.window) == (group, 6, timedelta(minutes=10))
        assert spec.cardinality == ()


def test_new_terms_rules_use_the_issue_parameters(by_name: dict[str, Rule]) -> None:
    expected = {
        "AWS DynamoDB Scan by Unusual User": (("cloud.account.id", "user.name"), None),
        "AWS DynamoDB Table Exported to S3": (("cloud.account.id", "user.name"), None),
        "AWS DynamoDB Activity From New Country": (
            ("cloud.account.id", "user.name", "source.geo.country_iso_code"),
            timedelta(hours=72),
        ),
    }
    for name, (terms, learning) in expected.items():
        spec = by_name[name].spec
        assert isinstance(spec, NewTermsSpec), name
        assert (spec.fields, spec.history_window) == (terms, timedelta(days=14)), name
        assert spec.learning_period == learning, name


def test_the_other_requested_rules_are_plain_queries(by_name: dict[str, Rule]) -> None:
    for name in (
        "AWS DynamoDB Backup Deleted",
        "AWS DynamoDB Table Item Deleted",
        "AWS DynamoDB Deletion Protection Disabled",
        "AWS DynamoDB Table Scanned",
        "AWS DynamoDB Table Item Updated",
        "AWS DynamoDB Backups Listed",
    ):
        assert isinstance(by_name[name].spec, QuerySpec), name


def test_the_high_volume_rules_suppress_per_account_user_and_table(
    by_name: dict[str, Rule],
) -> None:
    for name in SUPPRESSED:
        sup = by_name[name].suppression
        assert sup is not None, name
        assert sup.group_by == ("cloud.account.id", "user.name", "aws.dynamodb.table_name")
        assert (sup.duration, sup.missing_fields_strategy) == (timedelta(hours=1), "suppress")


def test_rules_count_only_successful_calls(rules: list[Rule]) -> None:
    for rule in rules:
        if rule.name in FAILURE_RULES:
            assert "aws.cloudtrail.error_code" in fields(rule.ast), rule.name
            continue
        for ast in _filters(rule):
            assert SUCCESS in _conjuncts(ast) or rule.name in ANY_OUTCOME_RULES, rule.name


def _filters(rule: Rule) -> list[Node]:
    if isinstance(rule.spec, SequenceSpec):
        return [And((rule.ast, step.ast)) for step in rule.spec.steps]
    if isinstance(rule.spec, CorrelationSpec):
        return [rule.ast, *(fact.ast for fact in rule.spec.facts)]
    return [rule.ast]


def _conjuncts(node: Node) -> tuple[Node, ...]:
    if isinstance(node, And):
        return tuple(c for item in node.items for c in _conjuncts(item))
    return (node,)


def test_rules_reading_data_events_say_how_to_turn_them_on(rules: list[Rule]) -> None:
    for rule in rules:
        reads_data = any(a in DATA_ACTIONS for ast in _filters(rule) for a in _actions(ast))
        says_how = "data event" in rule.setup.lower() and "AWS::DynamoDB::Table" in rule.setup
        assert reads_data == says_how, rule.name


def _actions(node: Node) -> Iterator[str]:
    match node:
        case Match("event.action", value):
            yield value.text
        case And(items) | Or(items):
            for item in items:
                yield from _actions(item)
        case Not(item):
            yield from _actions(item)


def test_every_field_a_rule_reads_exists_in_the_schema(rules: list[Rule]) -> None:
    unknown = [
        f"{rule.name}: {f}"
        for rule in rules
        for f in sorted(_rule_fields(rule))
        if f not in BY_NAME and flattened_parent(f) is None
    ]
    assert unknown == []


def test_fields_named_in_guides_exist_in_the_schema(rules: list[Rule]) -> None:
    # An analyst following a guide looks the fields up; a wrong name sends them nowhere.
    prefixes = ("aws.", "cloud.", "event.", "source.", "user.", "user_agent.")
    unknown = [
        f"{rule.name}: {name}"
        for rule in rules
        for name in re.findall(r"`([^`\s]+)`", rule.note + rule.setup)
        if name.startswith(prefixes) and name not in BY_NAME and flattened_parent(name) is None
    ]
    assert unknown == []


def _rule_fields(rule: Rule) -> set[str]:
    used = set().union(*(fields(ast) for ast in _filters(rule)), fields(rule.ast))
    used |= set(rule.investigation_fields)
    spec = rule.spec
    if isinstance(spec, ThresholdSpec):
        used |= set(spec.fields) | {c.field for c in spec.cardinality}
    elif isinstance(spec, NewTermsSpec):
        used |= set(spec.fields)
    elif isinstance(spec, SequenceSpec):
        used |= set(spec.by)
    elif isinstance(spec, BaselineSpec):
        used |= set(spec.fields) | ({spec.count.field} if spec.count else set())
    elif isinstance(spec, CorrelationSpec):
        used |= {spec.key} | {f for fact in spec.facts for f in (fact.key, fact.value)}
    if isinstance(spec, ThresholdSpec) and spec.count is not None:
        used.add(spec.count.field)
    used |= {p.field for p in rule.parameters}
    if rule.suppression is not None:
        used |= set(rule.suppression.group_by)
    return used


def test_docs_describe_every_rule(rules: list[Rule]) -> None:
    text = DOCS.read_text(encoding="utf-8")
    sections = re.split(r"^## ", text, flags=re.MULTILINE)[1:]
    documented = {s.splitlines()[0].strip(): s for s in sections}
    for rule in rules:
        section = documented.get(rule.name)
        assert section is not None, f"docs/rules.md has no section for {rule.name}"
        for label in ("What", "Why", "ATT&CK", "Data needed", "Tuning"):
            assert f"**{label}:**" in section, f"{rule.name}: no {label} in docs"
        assert rule.rule_id in section, rule.name


def test_the_issue_13_parameters(by_name: dict[str, Rule]) -> None:
    reads = by_name["AWS DynamoDB Unusual Read Volume"].spec
    assert isinstance(reads, BaselineSpec)
    assert (reads.fields, reads.window, reads.history) == (
        ("cloud.account.id", "user.name"),
        timedelta(hours=1),
        timedelta(days=14),
    )
    assert (reads.min_count, reads.factor, reads.min_history) == (100, 10, timedelta(hours=24))
    deletions = by_name["AWS DynamoDB Mass Item Deletion"].spec
    assert isinstance(deletions, ThresholdSpec) and deletions.count is not None
    assert (deletions.value, deletions.window) == (100, timedelta(minutes=10))
    assert deletions.count.values == ("delete",)
    listed = by_name["AWS DynamoDB Tables Listed by Unusual User"].spec
    assert isinstance(listed, NewTermsSpec) and listed.history_window == timedelta(days=30)
    sequence = by_name["AWS DynamoDB Table Deleted After Protection Disabled"].spec
    assert isinstance(sequence, SequenceSpec) and sequence.maxspan == timedelta(hours=1)


def test_the_decoy_rule_ships_unconfigured_and_so_does_not_run(by_name: dict[str, Rule]) -> None:
    decoy = by_name["AWS DynamoDB Decoy Table Accessed"]
    assert decoy.unconfigured == ("decoy_tables",)
    assert not decoy.runs and decoy.enabled
    assert [p.field for p in decoy.parameters] == ["aws.dynamodb.table_name"]


def test_item_rules_test_operations_not_request_text(by_name: dict[str, Rule]) -> None:
    for name in (
        "AWS DynamoDB Table Item Deleted",
        "AWS DynamoDB Table Item Updated",
        "AWS DynamoDB Mass Item Deletion",
    ):
        read = fields(by_name[name].ast)
        assert "aws.dynamodb.operations" in read, name
        assert "aws.cloudtrail.request_parameters" not in read, name
