"""Options that contradict each other, and exceptions that name nothing, are said out loud
instead of being accepted in silence."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.cli import trailhound
from trailhound.rules.loader import load_rules, shipped_pack_dir

USAGE_ERROR = 2


@pytest.fixture
def logs(shared_data: Path) -> Path:
    return shared_data / "dynamodb-real"




def test_state_and_no_state_together_are_a_usage_error(logs: Path, tmp_path: Path) -> None:
    done = trailhound("scan", logs, "--state", tmp_path / "s.duckdb", "--no-state")
    assert done.returncode == USAGE_ERROR
    assert "--state and --no-state contradict each other" in done.stderr
    assert not (tmp_path / "s.duckdb").exists()


@pytest.mark.parametrize("command", ["scan", "alerts list"])
@pytest.mark.parametrize("since, until", [("2026-03-02", "2026-03-01"), ("now", "now-1d"),
                                          ("2026-03-01T00:00Z", "2026-03-01T00:00Z")])
def test_since_at_or_after_until_is_a_usage_error(
    logs: Path, tmp_path: Path, command: str, since: str, until: str
) -> None:
    args = [logs, "--no-state"] if command == "scan" else ["--state", tmp_path / "s.duckdb"]
    done = trailhound(*command.split(), *args, "--since", since, "--until", until)
    assert done.returncode == USAGE_ERROR, done.stderr
    assert "--since (" in done.stderr and "must be before --until" in done.stderr


def test_a_window_in_the_right_order_is_accepted(logs: Path) -> None:
    done = trailhound("scan", logs, "--no-state", "-q", "--since", "2019-01-01",
                      "--until", "2030-01-01")  # fmt: skip
    assert done.returncode == 1, done.stderr  # the real records make alerts


EXCEPTIONS = """\
[[exceptions]]
description = "the CI deployer"
rules = ["AWS DynamoDB Multiple Table Deleted", "AWS DynamoDB Table Scanned"]
conditions = [
  { field = "user.name", values = ["ci-deployer"] },
  { field = "username", values = ["ci-deployer"] },
  { field = "aws.cloudtrail.flattened.request_parameters.tableName", values = ["t"] },
]

[[exceptions]]
rules = "a0000000-0000-4000-8000-000000000000"
conditions = [{ field = "source.ip", values = ["10.0.0.0/8"], kind = "cidr" }]
"""


def test_an_exceptions_file_naming_a_rule_or_field_that_does_not_exist_is_warned_about(
    logs: Path, tmp_path: Path
) -> None:
    exceptions = tmp_path / "exceptions.toml"
    exceptions.write_text(EXCEPTIONS)
    done = trailhound("scan", logs, "--no-state", "-q", "--exceptions", exceptions)
    assert done.returncode == 1, done.stderr  # warnings: the scan runs
    loaded = len(load_rules([shipped_pack_dir()]).rules)
    assert done.stderr.splitlines() == [
        f"trailhound: warning: {exceptions}:3:1: exception 1 names rule 'AWS DynamoDB "
        f"Multiple Table Deleted', which is not among the {loaded} rules loaded (did you mean "
        "'AWS DynamoDB Multiple Tables Deleted'?); it excuses nothing for it",
        f"trailhound: warning: {exceptions}:4:1: exception 1 tests field 'username', which "
        "no event has",
        f"trailhound: warning: {exceptions}:11:1: exception 2 names rule "
        f"'a0000000-0000-4000-8000-000000000000', which is not among the {loaded} rules loaded; it "
        "excuses nothing for it",
    ]


def test_an_exceptions_file_whose_names_all_exist_says_nothing(
    logs: Path, tmp_path: Path
) -> None:
    exceptions = tmp_path / "exceptions.toml"
    exceptions.write_text(EXCEPTIONS.replace("Table Deleted", "Tables Deleted")
                          .replace('"username"', '"user.id"')
                          .replace("a0000000-0000-4000-8000-000000000000",
                                   "AWS DynamoDB Backup Deleted"))  # fmt: skip
    done = trailhound("scan", logs, "--no-state", "-q", "--exceptions", exceptions)
    assert done.returncode == 1 and done.stderr == ""


def test_a_scan_with_no_rules_is_a_usage_error_naming_the_files_it_skipped(
    logs: Path, tmp_path: Path
) -> None:
    """A folder of saved queries and notes, which `scan --rules` does not read as rules."""
    sigma = tmp_path / "queries"
    (sigma / "cloud").mkdir(parents=True)
    for name in ("cloud/dynamodb_table_deleted.sql", "cloud/dynamodb_scan.sql", "README.md"):
        (sigma / name).write_text("select 1\n")
    done = trailhound("scan", logs, "--no-state", "--rules", sigma)
    assert done.returncode == USAGE_ERROR
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"trailhound: {sigma / 'README.md'}: skipped: not a rule file trailhound reads",
        f"trailhound: {sigma / 'cloud/dynamodb_scan.sql'}: skipped: not a rule file trailhound "
        "reads",
        f"trailhound: {sigma / 'cloud/dynamodb_table_deleted.sql'}: skipped: not a rule file "
        "trailhound reads",
        "trailhound: no rules to run: no rule file found; a scan without rules could find "
        "nothing",
    ]


def test_files_skipped_beside_rules_are_named_and_the_rules_run(
    logs: Path, tmp_path: Path, shared_data: Path
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    shipped = shared_data / "elastic-rules"
    chosen = sorted(p for p in shipped.glob("*.toml") if "dynamodb" in p.name)
    for rule in chosen:
        (rules / rule.name).write_bytes(rule.read_bytes())
    (rules / "notes.txt").write_text("which rules we run, and why\n")
    done = trailhound("scan", logs, "--no-state", "--rules", rules)
    assert done.returncode in (0, 1), done.stderr
    assert f"trailhound: {rules / 'notes.txt'}: skipped: not a rule file trailhound reads" in (
        done.stderr.splitlines()
    )
    assert f"with {len(chosen)} rules" in done.stderr


def test_a_configuration_that_switches_every_rule_off_is_a_usage_error(
    logs: Path, tmp_path: Path
) -> None:
    config = tmp_path / "trailhound.toml"
    config.write_text('[rules]\nenabled = ["AWS DynamoDB Table Scanned"]\n'
                      'disabled = ["AWS DynamoDB Table Scanned"]\n')  # fmt: skip
    done = trailhound("scan", logs, "--no-state", "--config", config)
    assert done.returncode == USAGE_ERROR
    assert "no rules to run: the configuration switches off every rule" in done.stderr
