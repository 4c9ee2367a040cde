"""`trailhound scan` as a user runs it: rules they wrote, logs over two days, two runs."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from support.cli import trailhound

THRESHOLD_RULE = '''
[rule]
rule_id = "3f0c1c1e-0000-4000-8000-000000000001"
name = "Burst of table deletions"
description = "Six or more DeleteTable calls in one account within ten minutes."
type = "threshold"
language = "kuery"
query = 'event.provider: "dynamodb.amazonaws.com" and event.action: "DeleteTable"'
risk_score = 73
severity = "high"

[rule.threshold]
field = ["cloud.account.id"]
value = 6
window = "10m"
'''

NEW_TERMS_RULE = '''
[rule]
rule_id = "3f0c1c1e-0000-4000-8000-000000000002"
name = "First Scan by a user"
description = "A user scans a DynamoDB table for the first time in 14 days."
type = "new_terms"
language = "kuery"
query = 'event.provider: "dynamodb.amazonaws.com" and event.action: "Scan"'
risk_score = 21
severity = "low"

[rule.new_terms]
field = "new_terms_fields"
value = ["cloud.account.id", "user.name"]
[[rule.new_terms.history_window_start]]
field = "history_window_start"
value = "now-14d"
'''

DAY1 = datetime(2026, 5, 1, 23, 50, tzinfo=UTC)


def record(n: int, at: datetime, action: str, user: str) -> dict[str, Any]:
    """A synthetic CloudTrail record in the shape of the real DynamoDB ones."""
    return {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser", "principalId": "AIDAEXAMPLE", "accountId": "111122223333",
            "arn": f"arn:aws:iam::111122223333:user/{user}", "userName": user,
        },
        "eventTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "dynamodb.amazonaws.com",
        "eventName": action,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.10",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": {"tableName": f"table-{n}"},
        "responseElements": None,
        "eventID": f"00000000-0000-4000-8000-{n:012d}",
        "eventType": "AwsApiCall",
        "recipientAccountId": "111122223333",
    }  # fmt: skip


def write_day(folder: Path, records: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True)
    path = folder / "111122223333_CloudTrail_us-east-1_part.json.gz"
    path.write_bytes(gzip.compress(json.dumps({"Records": records}).encode()))
    return folder




@pytest.fixture
def user_rules(tmp_path: Path) -> Path:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "burst.toml").write_text(THRESHOLD_RULE)
    (rules / "first_scan.toml").write_text(NEW_TERMS_RULE)
    return rules


def test_two_days_in_two_runs_give_each_alert_once(tmp_path: Path, user_rules: Path) -> None:
    minute = timedelta(minutes=1)
    # Eight deletions from 23:50 to 00:04 straddle midnight: the burst is split over two days.
    deletions = [record(i, DAY1 + i * 2 * minute, "DeleteTable", "alice") for i in range(8)]
    day1 = [*deletions[:5], record(20, DAY1, "Scan", "alice")]
    day2 = [*deletions[5:], record(21, DAY1 + 30 * minute, "Scan", "alice"),
            record(22, DAY1 + 40 * minute, "Scan", "bob")]  # fmt: skip
    first = write_day(tmp_path / "day1", day1)
    second = write_day(tmp_path / "day2", day2)
    state = tmp_path / "state.duckdb"
    common = ("--rules", user_rules, "--state", state, "--format", "jsonl")

    run1 = trailhound("scan", first, *common)
    assert run1.returncode == 1, run1.stderr
    alerts1 = [json.loads(line) for line in run1.stdout.splitlines()]
    assert [(a["rule"]["name"], a["key"]) for a in alerts1] == [
        ("First Scan by a user", {"cloud.account.id": "111122223333", "user.name": "alice"})
    ]

    run2 = trailhound("scan", second, *common)
    assert run2.returncode == 1, run2.stderr
    alerts2 = [json.loads(line) for line in run2.stdout.splitlines()]
    assert sorted(a["rule"]["name"] for a in alerts2) == ["Burst of table deletions",
                                                          "First Scan by a user"]  # fmt: skip
    burst = next(a for a in alerts2 if a["rule"]["type"] == "threshold")
    assert burst["count"] == 6
    assert burst["event"]["start"] == "2026-05-01T23:50:00.000Z"

    again = trailhound("scan", tmp_path / "day1", tmp_path / "day2", *common)
    assert again.returncode == 0, again.stderr
    assert again.stdout == ""
    assert "events already counted" in again.stderr


def test_a_scan_without_state_alerts_as_one_with_a_new_state_file(
    tmp_path: Path, user_rules: Path
) -> None:
    """`--no-state` keeps its decided rows until the run ends (nothing reads them later), where
    a state file has them trimmed: the alerts are the same either way."""
    minute = timedelta(minutes=1)
    days = [record(i, DAY1 + i * 2 * minute, "DeleteTable", "alice") for i in range(8)]
    days += [record(20, DAY1, "Scan", "alice"), record(22, DAY1 + 40 * minute, "Scan", "bob")]
    both = write_day(tmp_path / "both", days)
    common = ("--rules", user_rules, "--format", "jsonl")

    def alerts(*kept: object) -> list[dict[str, Any]]:
        run = trailhound("scan", both, *common, *kept)
        assert run.returncode == 1, run.stderr
        found = [_unclocked(json.loads(line)) for line in run.stdout.splitlines()]
        return sorted(found, key=lambda a: str(a["id"]))

    kept = alerts("--state", tmp_path / "state.duckdb")
    assert len(kept) == 3  # the burst, and each user's first scan
    assert alerts("--no-state") == kept


def _unclocked(value: Any) -> Any:
    """An alert without its `ingested` times, which are each run's own clock."""
    if isinstance(value, dict):
        clocks = ("ingested", "event.ingested")
        return {k: _unclocked(v) for k, v in value.items() if k not in clocks}
    if isinstance(value, list):
        return [_unclocked(v) for v in value]
    return value

def test_real_scan_and_delete_item_records_raise_the_shipped_rules(
    shared_data: Path, tmp_path: Path
) -> None:
    result = trailhound(
        "scan", shared_data / "dynamodb-real", "--no-state", "--format", "json", "-q"
    )
    assert result.returncode == 1, result.stderr
    names = {a["rule"]["name"] for a in json.loads(result.stdout)}
    assert {"AWS DynamoDB Table Scanned", "AWS DynamoDB Table Item Deleted"} <= names


def test_scan_of_management_events_only_names_the_blind_rules(tmp_path: Path) -> None:
    folder = write_day(tmp_path / "logs", [record(1, DAY1, "DeleteTable", "alice")])
    result = trailhound("scan", folder, "--no-state", "--format", "jsonl")
    assert "no data events" in result.stderr
    assert "AWS DynamoDB Table Scanned" in result.stderr
    assert "Data events" in result.stderr


def test_bad_rule_file_is_a_usage_error_with_its_location(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(THRESHOLD_RULE.replace("value = 6", "value = 0"))
    result = trailhound("scan", tmp_path, "--rules", bad, "--no-state")
    assert result.returncode == 2
    assert f"{bad}:" in result.stderr and "value" in result.stderr


def test_a_scan_without_alerts_says_so(tmp_path: Path) -> None:
    folder = write_day(tmp_path / "logs", [record(1, DAY1, "DescribeTable", "alice")])
    result = trailhound("scan", folder, "--no-state", "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    assert "no new alerts" in result.stderr
    assert "0 new alerts" not in result.stderr


def test_scan_names_once_the_rule_that_reads_a_field_cloudtrail_never_has(tmp_path: Path) -> None:
    # A rule may read a field another index holds (host.name, from an endpoint agent);
    # over CloudTrail alone the test is always false, and the user hears it from scan too,
    # not only from `rules validate`.
    rules = tmp_path / "rules"
    rules.mkdir()
    deletions = 'event.action: "DeleteTable"'
    absent = THRESHOLD_RULE.replace(deletions, f"{deletions} and host.name: x").replace(
        "Burst of table deletions", "Reads an entity"
    )
    (rules / "entity.toml").write_text(absent)
    (rules / "first_scan.toml").write_text(NEW_TERMS_RULE)
    folder = write_day(tmp_path / "logs", [record(1, DAY1, "DeleteTable", "alice")])
    result = trailhound("scan", folder, "--rules", rules, "--no-state", "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    warning = "rule 'Reads an entity' reads fields no CloudTrail event has"
    assert result.stderr.count(warning) == 1
    assert "host.name" in result.stderr
    assert "'First Scan by a user' reads fields" not in result.stderr
