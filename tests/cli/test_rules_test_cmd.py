"""`trailhound rules test`: the shipped pack passes; a user's own broken test is reported."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from trailhound.cli import main

RULE = '''
[rule]
rule_id = "6a1e0b8e-0000-4000-8000-000000000003"
name = "Table deleted"
description = "A DynamoDB table was deleted."
type = "query"
language = "kuery"
query = 'event.action: "DeleteTable" and event.outcome: "success"'
risk_score = 47
severity = "medium"

[[tests]]
name = "a deletion"
expect_alerts = {expect}
synthetic = true
records = [\'\'\'{{"eventVersion": "1.08", "eventTime": "2026-01-01T00:00:00Z",
"eventSource": "dynamodb.amazonaws.com", "eventName": "DeleteTable", "awsRegion": "us-east-1",
"eventID": "11111111-2222-4333-8444-555555555555",
"userIdentity": {{"type": "IAMUser", "accountId": "111122223333", "userName": "alice"}},
"requestParameters": {{"tableName": "orders"}}}}\'\'\']
'''


def test_shipped_pack_tests_pass() -> None:
    result = CliRunner().invoke(main, ["rules", "test"])
    assert result.exit_code == 0, result.output
    assert " 0 failed" in result.output


def test_a_users_rule_tests_run_and_failures_are_named(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.toml", tmp_path / "bad" / "bad.toml"
    bad.parent.mkdir()
    good.write_text(RULE.format(expect=1))
    bad.write_text(RULE.format(expect=2).replace("6a1e0b8e", "7b2f1c9f").replace(
        'name = "Table deleted"', 'name = "Table deleted twice"'))  # fmt: skip
    ok = CliRunner().invoke(main, ["rules", "test", str(good)])
    assert ok.exit_code == 0 and "1 passed, 0 failed" in ok.output
    failed = CliRunner().invoke(main, ["rules", "test", str(bad)])
    assert failed.exit_code == 1
    assert "FAIL Table deleted twice / a deletion: expected 2 alerts, got 1" in failed.output
