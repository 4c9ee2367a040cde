"""The rule languages on real CloudTrail: the Stratus Red Team detonations in shared data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support.scanning import scan_files
from trailhound.rules.elastic import load_rule_text
from trailhound.rules.loader import load_rules
from trailhound.rules.sigma import read_rules

EQL_RULE = """\
[rule]
rule_id = "{rule_id}"
name = "{name}"
description = "A snapshot was shared with another account (test rule)."
type = "eql"
language = "eql"
event_category_override = "event.type"
risk_score = 47
severity = "medium"
query = '''
info where event.provider == "{provider}" and event.outcome == "success"
  and event.action in ({actions})
  and stringContains(aws.cloudtrail.request_parameters, "{shared}")
'''
"""


def eql_rule(name: str, provider: str, actions: str, shared: str, n: int) -> str:
    rule_id = f"6f1d2c3b-0000-4000-8000-00000000000{n}"
    return EQL_RULE.format(
        rule_id=rule_id, name=name, provider=provider, actions=actions, shared=shared
    )


def test_eql_rules_catch_the_snapshots_shared_in_the_detonations(stratus: Path) -> None:
    ebs = eql_rule(
        "EBS snapshot shared",
        "ec2.amazonaws.com",
        '"ModifySnapshotAttribute"',
        "createVolumePermission={add=",
        1,
    )
    rds = eql_rule(
        "RDS snapshot shared",
        "rds.amazonaws.com",
        '"ModifyDBSnapshotAttribute", "ModifyDBClusterSnapshotAttribute"',
        "valuesToAdd=[*]",
        2,
    )
    rules = [load_rule_text(text, source=f"{n}.toml") for n, text in enumerate((ebs, rds))]
    alerts = scan_files(rules, stratus)
    assert sorted(a.rule.name for a in alerts) == ["EBS snapshot shared", "RDS snapshot shared"]


SIGMA_FLOW_LOGS = """\
title: VPC flow logs deleted
id: 0b7d3b8e-6a49-4a8e-9c3b-7f1e3c0a0100
status: test
description: Flow logs of a VPC were deleted.
logsource:
    product: aws
    service: cloudtrail
detection:
    selection:
        eventSource: ec2.amazonaws.com
        eventName: DeleteFlowLogs
    filter_failed:
        errorCode|exists: true
    condition: selection and not filter_failed
level: high
"""


def test_a_sigma_rule_and_an_elastic_rule_for_one_behaviour_raise_the_same_alerts(
    shared_data: Path, stratus: Path
) -> None:
    elastic_file = shared_data / "elastic-rules" / "defense_evasion_ec2_flow_log_deletion.toml"
    elastic = load_rules([elastic_file]).rules
    (sigma,) = read_rules(SIGMA_FLOW_LOGS, source="flow.yml")
    assert sigma.rule is not None
    by_elastic = scan_files(elastic, stratus)
    by_sigma = scan_files([sigma.rule], stratus)
    assert by_elastic  # the detonation deletes flow logs
    assert [a.event_ids for a in by_sigma] == [a.event_ids for a in by_elastic]


DETECTION_RULES = os.environ.get("TRAILHOUND_DETECTION_RULES")  # elastic/detection-rules checkout


@pytest.mark.skipif(
    not DETECTION_RULES, reason="set TRAILHOUND_DETECTION_RULES to a detection-rules checkout"
)
def test_every_kql_and_eql_rule_of_elastics_aws_folder_loads(stratus: Path) -> None:
    folder = Path(str(DETECTION_RULES)) / "rules" / "integrations" / "aws"
    result = load_rules([folder])
    refused = {e.where: e.message for e in result.errors}
    assert all(m.startswith(("ES|QL rules", "machine learning rules")) for m in refused.values())
    eql = [r for r in result.rules if r.language == "eql"]
    assert len(eql) == 27
    names = {a.rule.name for a in scan_files(eql, stratus)}
    assert {
        "AWS EC2 EBS Snapshot Shared or Made Public",
        "AWS RDS DB Snapshot Shared with Another Account",
    } <= names
