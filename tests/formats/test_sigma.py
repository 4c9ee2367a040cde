"""Sigma rules as a user writes them: how their values match (Sigma's specification: values
ignore letter case unless `|cased`, `*` and `?` are wildcards, modifiers), what their metadata
becomes, their correlations, and what is refused and why."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from textwrap import dedent, indent

import pytest

from support.events import event, run
from trailhound.rules.elastic import RuleReport
from trailhound.rules.loader import load_rules
from trailhound.rules.model import SequenceSpec, ThresholdSpec
from trailhound.rules.sigma import read_rules

HEADER = """\
title: Test rule
id: 0b7d3b8e-6a49-4a8e-9c3b-7f1e3c0a0001
status: test
description: A rule for the tests.
logsource:
    product: aws
    service: cloudtrail
"""

EVENTS = [
    event(
        0,
        timedelta(0),
        "PutItem",
        user__name="alice",
        source__address="10.1.2.3",
        source__ip="10.1.2.3",
        user_agent__original="aws-cli/2.15 Python/3.11",
        aws__cloudtrail__user_identity__arn="arn:aws:iam::111122223333:user/alice",
        aws__cloudtrail__flattened__request_parameters=(
            '{"tableName": "orders", "userName": "alice"}'
        ),
    ),
    event(
        1,
        timedelta(minutes=5),
        "Scan",
        user__name="Bob",
        source__address="dynamodb.amazonaws.com",
        aws__cloudtrail__error_code="AccessDenied",
        aws__cloudtrail__flattened__request_parameters='{"tableName": "users", "limit": 25}',
    ),
]


def sigma(detection: str, extra: str = "") -> str:
    return HEADER + extra + "detection:\n" + indent(dedent(detection), "    ")


def matching(detection: str) -> list[str]:
    (report,) = read_rules(sigma(detection), source="r.yml")
    assert report.rule is not None, report.errors
    alerts = run([report.rule], EVENTS)
    return sorted(a.event_ids[0] for a in alerts)


@pytest.mark.parametrize(
    ("detection", "expected"),
    [
        ("sel:\n    eventName: PutItem\ncondition: sel", ["ev-0000"]),
        ("sel:\n    eventName: putitem\ncondition: sel", ["ev-0000"]),  # case ignored
        ("sel:\n    eventName|cased: putitem\ncondition: sel", []),
        ("sel:\n    eventName: 'Sca?'\ncondition: sel", ["ev-0001"]),
        (
            "sel:\n    eventName:\n        - Scan\n        - DeleteTable\ncondition: sel",
            ["ev-0001"],
        ),
        ("sel:\n    userAgent|contains: 'PYTHON/'\ncondition: sel", ["ev-0000"]),
        ("sel:\n    userAgent|startswith: aws-cli\ncondition: sel", ["ev-0000"]),
        ("sel:\n    userIdentity.arn|endswith: ':user/alice'\ncondition: sel", ["ev-0000"]),
        (
            "sel:\n    userAgent|contains|all:\n        - aws-cli\n        - Python\n"
            "condition: sel",
            ["ev-0000"],
        ),
        ("sel:\n    eventName|re: 'Put.t'\ncondition: sel", ["ev-0000"]),  # anywhere in it
        ("sel:\n    eventName|re: '^put'\ncondition: sel", []),
        ("sel:\n    eventName|re|i: '^put'\ncondition: sel", ["ev-0000"]),
        ("sel:\n    sourceIPAddress|cidr: 10.0.0.0/8\ncondition: sel", ["ev-0000"]),
        ("sel:\n    errorCode|exists: true\ncondition: sel", ["ev-0001"]),
        ("sel:\n    errorCode: null\ncondition: sel", ["ev-0000"]),
        ("sel:\n    requestParameters.tableName: Users\ncondition: sel", ["ev-0001"]),
        (
            "sel:\n    requestParameters.userName|fieldref: userIdentity.userName\ncondition: sel",
            ["ev-0000"],
        ),
        (
            "sel_a:\n    eventName: PutItem\nsel_b:\n    eventName: Scan\ncondition: 1 of sel_*",
            ["ev-0000", "ev-0001"],
        ),
        (
            "sel_a:\n    eventName: PutItem\nsel_b:\n    userIdentity.userName: x\n"
            "condition: all of sel_*",
            [],
        ),
        (
            "sel:\n    eventSource: dynamodb.amazonaws.com\nfilter:\n    eventName: Scan\n"
            "condition: sel and not filter",
            ["ev-0000"],
        ),
    ],
)
def test_sigma_values_and_modifiers(detection: str, expected: list[str]) -> None:
    assert matching(detection) == expected


def test_metadata_carries_over() -> None:
    extra = dedent("""\
        references:
            - https://example.com/a
        tags:
            - attack.defense-evasion
            - attack.t1562.008
        falsepositives:
            - An administrator
        level: high
        author: someone
        """)
    (report,) = read_rules(
        sigma("sel:\n    eventName: StopLogging\ncondition: sel", extra), source="r.yml"
    )
    rule = report.rule
    assert rule is not None
    assert (rule.name, rule.rule_id) == ("Test rule", "0b7d3b8e-6a49-4a8e-9c3b-7f1e3c0a0001")
    assert (rule.severity, rule.risk_score) == ("high", 73)
    assert rule.references == ("https://example.com/a",)
    assert rule.false_positives == ("An administrator",)
    (threat,) = rule.threat
    assert (threat.tactic_id, threat.tactic_name) == ("TA0005", "Defense Evasion")
    assert [t.id for t in threat.techniques] == ["T1562"]
    assert [s.id for s in threat.techniques[0].subtechniques] == ["T1562.008"]


def test_a_deprecated_rule_is_left_out_with_a_note() -> None:
    text = sigma("sel:\n    eventName: x\ncondition: sel").replace(
        "status: test", "status: deprecated"
    )
    (report,) = read_rules(text, source="r.yml")
    assert report.rule is None and not report.errors
    assert "deprecated" in report.notes[0].message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            sigma("sel:\n    status: success\ncondition: sel"),
            "field 'status' is not a CloudTrail field",
        ),
        (
            sigma("sel:\n    eventName: x\ncondition: sel").replace(
                "service: cloudtrail", "service: s3"
            ),
            "logsource must be product: aws, service: cloudtrail",
        ),
        (sigma("sel:\n    userAgent|windash: -x\ncondition: sel"), "windash"),
        (sigma("sel:\n    userAgent|cidr: 10.0.0.0/8\ncondition: sel"), "|cidr needs a field"),
        (sigma("sel:\n    - somekeyword\ncondition: sel"), "without a field"),
        (sigma("sel:\n    eventName: x\ncondition: sel | count() > 5"), "pipe syntax"),
        (sigma("sel:\n    requestParameters.limit|gte: 20\ncondition: sel"), "not a number field"),
    ],
)
def test_what_cannot_run_is_refused_with_the_reason(text: str, message: str) -> None:
    (report,) = read_rules(text, source="r.yml")
    assert report.rule is None
    assert message.lower() in str(report.errors[0]).lower()


BASE = (
    HEADER.replace("title: Test rule", "name: {name}\ntitle: {title}").replace("0001", "{n}")
    + "detection:\n    sel:\n        eventName: {action}\n    condition: sel\n"
)


def the(name: str, text: str) -> RuleReport:
    """The report of the rule named `name` among a file's."""
    return next(
        r for r in read_rules(text, source="r.yml") if r.rule is None or r.rule.name == name
    )


def correlated(correlation: str) -> str:
    rules = [
        BASE.format(
            name="backups_deleted", title="Backup deleted", n="0002", action="DeleteBackup"
        ),
        BASE.format(name="table_deleted", title="Table deleted", n="0003", action="DeleteTable"),
    ]
    return "\n---\n".join([*rules, dedent(correlation)])


def test_event_count_is_a_threshold_over_the_rules_it_names() -> None:
    text = correlated("""\
        title: Many deletions
        id: 0b7d3b8e-6a49-4a8e-9c3b-7f1e3c0a0009
        correlation:
            type: event_count
            rules:
                - backups_deleted
                - table_deleted
            group-by:
                - userIdentity.arn
            timespan: 10m
            condition:
                gt: 2
        """)
    reports = read_rules(text, source="r.yml")
    assert [r.rule.name for r in reports if r.rule] == [
        "Many deletions"
    ]  # the others: generate false
    spec = reports[0].rule.spec if reports[0].rule else None
    assert spec == ThresholdSpec(
        fields=("aws.cloudtrail.user_identity.arn",), value=3, window=timedelta(minutes=10)
    )
    arn = "arn:aws:iam::111122223333:user/alice"
    rows = [
        event(
            i,
            timedelta(minutes=i),
            "DeleteTable" if i % 2 else "DeleteBackup",
            aws__cloudtrail__user_identity__arn=arn,
        )
        for i in range(3)
    ]
    assert reports[0].rule is not None and len(run([reports[0].rule], rows)) == 1
    assert run([reports[0].rule], rows[:2]) == []


def test_value_count_counts_distinct_values() -> None:
    text = correlated("""\
        title: Tables of many users
        correlation:
            type: value_count
            rules: table_deleted
            group-by: awsRegion
            timespan: 1h
            condition:
                field: userIdentity.userName
                gte: 2
        """)
    report = the("Tables of many users", text)
    assert report.rule is not None and isinstance(report.rule.spec, ThresholdSpec)
    assert report.rule.spec.cardinality[0].field == "user.name"
    rows = [
        event(0, timedelta(0), cloud__region="eu-west-1"),
        event(1, timedelta(minutes=1), user__name="bob", cloud__region="eu-west-1"),
    ]
    assert len(run([report.rule], rows)) == 1
    same_user = event(2, timedelta(minutes=2), cloud__region="eu-west-1")
    assert run([report.rule], [rows[0], same_user]) == []


def test_temporal_ordered_is_a_sequence_and_temporal_is_refused() -> None:
    text = correlated("""\
        title: Backups then table
        correlation:
            type: temporal_ordered
            rules:
                - backups_deleted
                - table_deleted
            group-by: userIdentity.arn
            timespan: 1h
        """)
    (report,) = read_rules(text, source="r.yml")
    assert report.rule is not None and isinstance(report.rule.spec, SequenceSpec)
    assert [s.query for s in report.rule.spec.steps] == ["Backup deleted", "Table deleted"]
    (refused,) = read_rules(text.replace("temporal_ordered", "temporal"), source="r.yml")
    assert refused.rule is None and "write it as temporal_ordered" in str(refused.errors[0])


def test_a_count_below_a_value_cannot_be_a_threshold() -> None:
    text = correlated("""\
        title: Few deletions
        correlation:
            type: event_count
            rules: table_deleted
            timespan: 1h
            condition:
                lt: 2
        """)
    report = the("Few deletions", text)
    assert report.rule is None and "cannot be a threshold" in str(report.errors[0])


def test_a_folder_of_elastic_and_sigma_rules_loads_both(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(sigma("sel:\n    eventName: x\ncondition: sel"))
    (tmp_path / "notes.md").write_text("not a rule")
    result = load_rules([tmp_path])
    assert [r.language for r in result.rules] == ["sigma"] and result.ok


SIGMAHQ = os.environ.get("TRAILHOUND_SIGMAHQ")  # a checkout of SigmaHQ/sigma, if you have one


@pytest.mark.skipif(not SIGMAHQ, reason="set TRAILHOUND_SIGMAHQ to a SigmaHQ/sigma checkout")
def test_every_sigmahq_aws_rule_loads_or_is_refused_with_a_reason() -> None:
    folder = Path(str(SIGMAHQ)) / "rules" / "cloud" / "aws"
    result = load_rules([folder])
    files = len(list(folder.rglob("*.yml")))
    assert len(result.rules) + len({e.where for e in result.errors}) + len(result.notes) == files
    assert all(e.message for e in result.errors)


CROSS_FILE_CORRELATION = """\
title: Backups and tables deleted
id: 0b7d3b8e-6a49-4a8e-9c3b-7f1e3c0a0010
correlation:
    type: event_count
    rules:
        - backups_deleted
        - 0b7d3b8e-6a49-4a8e-9c3b-7f1e3c0a0003
    group-by:
        - userIdentity.arn
    timespan: 10m
    condition:
        gte: 2
"""


def _deletion_rules(folder: Path) -> None:
    folder.mkdir()
    (folder / "backups.yml").write_text(
        BASE.format(name="backups_deleted", title="Backup deleted", n="0002", action="DeleteBackup")
    )
    (folder / "tables.yml").write_text(
        BASE.format(name="table_deleted", title="Table deleted", n="0003", action="DeleteTable")
    )


def test_a_correlation_names_rules_of_other_files_loaded_with_it(tmp_path: Path) -> None:
    # as `sigma convert` reads the files it is given: one collection, references by name or id
    _deletion_rules(tmp_path / "base")
    (tmp_path / "correlations").mkdir()
    (tmp_path / "correlations" / "deletions.yml").write_text(CROSS_FILE_CORRELATION)
    result = load_rules([tmp_path / "base", tmp_path / "correlations"])
    assert result.ok, result.errors
    (rule,) = result.rules  # the rules it names have generate: false, as Sigma means
    assert rule.name == "Backups and tables deleted"
    assert rule.source == str(tmp_path / "correlations" / "deletions.yml")
    arn = "arn:aws:iam::111122223333:user/alice"
    rows = [
        event(0, timedelta(0), "DeleteBackup", aws__cloudtrail__user_identity__arn=arn),
        event(1, timedelta(minutes=3), "DeleteTable", aws__cloudtrail__user_identity__arn=arn),
    ]
    assert [a.count for a in run([rule], rows)] == [2]
    assert run([rule], rows[:1]) == []


def test_a_correlation_naming_a_rule_no_loaded_file_has_is_refused_in_its_own_file(
    tmp_path: Path,
) -> None:
    _deletion_rules(tmp_path / "base")
    lost = CROSS_FILE_CORRELATION.replace("backups_deleted", "snapshots_deleted")
    (tmp_path / "deletions.yml").write_text(lost)
    result = load_rules([tmp_path / "base", tmp_path / "deletions.yml"])
    (error,) = result.errors
    assert error.where == str(tmp_path / "deletions.yml")
    assert "'Backups and tables deleted'" in str(error) and "snapshots_deleted" in str(error)
    # nothing disabled the rules of the other files, so they run on their own
    assert sorted(r.name for r in result.rules) == ["Backup deleted", "Table deleted"]


def test_a_correlation_loaded_without_the_files_of_its_rules_says_which_is_missing(
    tmp_path: Path,
) -> None:
    (tmp_path / "deletions.yml").write_text(CROSS_FILE_CORRELATION)
    result = load_rules([tmp_path])
    assert result.rules == []
    assert "backups_deleted" in str(result.errors[0])
