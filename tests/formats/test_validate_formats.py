"""`trailhound rules validate` over a folder of rules in several formats, as a user runs it."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from trailhound.cli import main

SIGMA = """\
title: Trail stopped
id: 0b7d3b8e-6a49-4a8e-9c3b-7f1e3c0a0200
status: {status}
logsource:
    product: aws
    service: cloudtrail
detection:
    selection:
        eventName: StopLogging
    condition: selection
level: high
"""

ELASTIC = """\
[rule]
rule_id = "6f1d2c3b-0000-4000-8000-000000000200"
name = "Reads an entity"
description = "Reads a field CloudTrail documents do not have."
type = "query"
language = "kuery"
risk_score = 21
severity = "low"
query = 'event.action: "AttachRolePolicy" and not host.name: "x"'
"""


def validate(folder: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["rules", "validate", str(folder)])
    return result.exit_code, result.output


def test_sigma_and_elastic_rules_validate_together(tmp_path: Path) -> None:
    (tmp_path / "stopped.yml").write_text(SIGMA.format(status="test"))
    (tmp_path / "old.yaml").write_text(SIGMA.format(status="deprecated").replace("0200", "0201"))
    (tmp_path / "entity.toml").write_text(ELASTIC)
    code, output = validate(tmp_path)
    assert code == 0
    assert output.splitlines()[-1] == "2 rules valid"
    assert "old.yaml" in output and "deprecated: left out" in output
    assert "'Reads an entity' reads fields no CloudTrail event has" in output
    assert "host.name" in output


def test_a_sigma_rule_that_cannot_run_fails_validation_with_its_reason(tmp_path: Path) -> None:
    (tmp_path / "bad.yml").write_text(SIGMA.format(status="test").replace("eventName", "status"))
    code, output = validate(tmp_path)
    assert code == 1
    assert "bad.yml" in output and "field 'status' is not a CloudTrail field" in output


NEW_TERMS_BY_ENTITY = """\
[rule]
rule_id = "6f1d2c3b-0000-4000-8000-000000000201"
name = "New host"
description = "Groups by a host, which CloudTrail events never name."
type = "new_terms"
language = "kuery"
risk_score = 21
severity = "low"
query = 'event.action: "UpdateAssumeRolePolicy"'

[rule.new_terms]
field = "new_terms_fields"
value = ["cloud.account.id", "user.name", "host.id"]
[[rule.new_terms.history_window_start]]
field = "history_window_start"
value = "now-7d"
"""


def test_a_rule_keyed_by_a_field_cloudtrail_never_has_is_named_as_never_firing(
    tmp_path: Path,
) -> None:
    # an event without a value for a new_terms field is no term (as in Elastic), so the rule's
    # query may match and it still never fires: the user must hear that, not only about tests
    (tmp_path / "target.toml").write_text(NEW_TERMS_BY_ENTITY)
    code, output = validate(tmp_path)
    assert code == 0
    assert (
        "'New host' groups events by fields no CloudTrail event has, so it never fires: "
        "host.id"
    ) in output
    assert "tests never match" not in output
