"""Elastic's rules that read the entity fields, unchanged, on the Stratus Red Team detonations:
they need `entity.target.id` (a new_terms key) and `related.entity` (an exclusion) to mean
what they mean in Elastic."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from support.scanning import scan_files
from trailhound.cli import main
from trailhound.rules.loader import load_rules
from trailhound.rules.model import Rule

ATTACHED = "privilege_escalation_iam_customer_managed_policy_attached_to_role.toml"
TRUST_POLICY = "privilege_escalation_iam_update_assume_role_policy.toml"


def _rule(shared_data: Path, name: str) -> Rule:
    (rule,) = load_rules([shared_data / "elastic-rules" / name]).rules
    return rule


def test_the_trust_policy_rule_fires_once_per_role_it_has_not_seen(
    shared_data: Path, stratus: Path, tmp_path: Path
) -> None:
    (tmp_path / "backdoor.json").write_text(
        (stratus / "aws.persistence.iam-backdoor-role.json").read_text()
    )
    alerts = scan_files([_rule(shared_data, TRUST_POLICY)], tmp_path)
    assert [dict(a.key) for a in alerts] == [
        {
            "cloud.account.id": "751203476945",
            "user.name": "christophe",
            "entity.target.id": "stratus-red-team-backdoor-r-role",
        }
    ]


def test_the_attached_policy_rule_skips_aws_managed_policies_and_keys_by_the_role(
    shared_data: Path, stratus: Path, tmp_path: Path
) -> None:
    records = json.loads((stratus / "aws.persistence.iam-create-backdoor-role.json").read_text())
    (attached,) = [r for r in records if r["eventName"] == "AttachRolePolicy"]
    # synthetic, derived from the real call: the same attachment of a customer-managed policy
    custom = dict(attached, eventID="00000000-0000-4000-8000-00000000c0de")
    custom["requestParameters"] = dict(
        attached["requestParameters"], policyArn="arn:aws:iam::609418236337:policy/backdoor"
    )
    (tmp_path / "calls.json").write_text(json.dumps([attached, custom]))
    alerts = scan_files([_rule(shared_data, ATTACHED)], tmp_path)
    assert [(a.event_ids, dict(a.key)["entity.target.id"]) for a in alerts] == [
        (("00000000-0000-4000-8000-00000000c0de",), "stratus-red-team-malicious-iam-role")
    ]


def test_validate_no_longer_names_elastics_rules_as_reading_fields_cloudtrail_lacks(
    shared_data: Path,
) -> None:
    folder = shared_data / "elastic-rules"
    result = CliRunner().invoke(main, ["rules", "validate", str(folder)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "70 rules valid"
    assert "no CloudTrail event has" not in result.output
