"""Listings through a pipe, as a script reads them: tables whole at any width, and JSON lines
that do not depend on the terminal at all."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from support.cli import trailhound as run_cli
from trailhound.rules.loader import load_rules, shipped_pack_dir


def trailhound(*args: str | Path) -> subprocess.CompletedProcess[str]:
    # COLUMNS as a narrow terminal would set it: through a pipe it must not matter
    return run_cli(*args, env={**os.environ, "COLUMNS": "60"})


def test_rules_list_through_a_pipe_shows_every_rule_whole_on_one_line() -> None:
    done = trailhound("rules", "list")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for rule in load_rules([shipped_pack_dir()]).rules:
        rows = [line for line in lines if rule.rule_id in line]
        assert len(rows) == 1, f"{rule.rule_id} is not whole on one line"
        assert rule.name in rows[0]


def test_rules_list_as_json_lines() -> None:
    done = trailhound("rules", "list", "--format", "jsonl")
    assert done.returncode == 0, done.stderr
    listed = [json.loads(line) for line in done.stdout.splitlines()]
    by_name = {r["name"]: r for r in listed}
    assert len(listed) == len(by_name) == len(load_rules([shipped_pack_dir()]).rules)
    assert by_name["AWS DynamoDB Multiple Tables Deleted"] == {
        "rule_id": by_name["AWS DynamoDB Multiple Tables Deleted"]["rule_id"],
        "name": "AWS DynamoDB Multiple Tables Deleted",
        "type": "threshold",
        "severity": "high",
        "risk_score": 73,
        "enabled": True,
        "techniques": ["T1490", "T1485"],
        "file": str(shipped_pack_dir() / "aws_dynamodb_multiple_tables_deleted.toml"),
    }


def test_alerts_list_as_a_table_through_a_pipe_keeps_each_alert_on_one_line(
    shared_data: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state.duckdb"
    scanned = trailhound("scan", shared_data / "dynamodb-real", "--state", state, "-q",
                         "-o", tmp_path / "alerts.jsonl")  # fmt: skip
    assert scanned.returncode == 1, scanned.stderr
    alerts = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    done = trailhound("alerts", "list", "--state", state, "--format", "table")
    assert done.returncode == 0, done.stderr
    for alert in alerts:
        rows = [line for line in done.stdout.splitlines() if alert["id"][:12] in line]
        assert len(rows) == 1 and alert["rule"]["name"] in rows[0]
