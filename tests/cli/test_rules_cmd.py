"""`trailhound rules validate|list|show` as a user runs them."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from trailhound.cli import main

MARKUP_RULE = """\
[rule]
rule_id = "[red]id[/red]"
name = "[bold]Loud[/bold] rule"
description = "Shows [link=http://x]text[/link] as it is written."
type = "query"
risk_score = 21
severity = "low"
query = 'event.action: "DeleteTable"'
note = '''
## Look at [italic]this[/italic]
Check the caller.
'''
"""


def run(*args: str) -> Result:
    return CliRunner(env={"COLUMNS": "250"}).invoke(main, ["rules", *args])


@pytest.fixture
def elastic_rules(shared_data: Path) -> str:
    return str(shared_data / "elastic-rules")


def test_validate_reports_elastics_70_rules_valid(elastic_rules: str) -> None:
    result = run("validate", elastic_rules)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "70 rules valid"


def test_validate_lists_every_problem_with_its_location(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(MARKUP_RULE.replace("risk_score = 21", "risk_score = 500").replace("low", "x"))
    good = tmp_path / "good.toml"
    good.write_text(MARKUP_RULE.replace("[red]id[/red]", "other").replace("Loud", "Quiet"))
    result = run("validate", str(tmp_path), str(tmp_path / "nowhere"))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == f"{tmp_path / 'nowhere'}: no such rule file or directory"
    assert lines[1].startswith(f"{bad}:6:1: risk_score must be between 0 and 100")
    assert lines[2].startswith(f"{bad}:7:1: severity must be one of")
    assert lines[-1] == "1 rule valid, 3 problems in 2 files"


def test_validate_defaults_to_the_shipped_rules() -> None:
    result = run("validate")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].endswith("valid")


def test_list_shows_a_row_per_rule_with_attack_ids(elastic_rules: str) -> None:
    result = run("list", elastic_rules)
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "Secrets Retrieval" in line)
    for cell in ("threshold", "medium", "47", "185c782e-f86a-11ee-9d9f-f661ea17fbce"):
        assert cell in row
    assert "T1555, T1555.006, T1213, T1213.006" in row
    assert sum("new_terms" in line for line in result.output.splitlines()) == 29


def test_show_finds_a_rule_by_id_or_name_and_prints_its_guide(elastic_rules: str) -> None:
    by_id = run("show", "96b2a03e-003b-11f0-8541-f661ea17fbcd", "--rules", elastic_rules)
    by_name = run("show", "AWS DynamoDB Scan by Unusual User", "--rules", elastic_rules)
    assert by_id.exit_code == 0, by_id.output
    assert by_id.output == by_name.output
    out = by_id.output
    assert "new cloud.account.id + user.name within 10d" in out
    assert "Investigating AWS DynamoDB Scan by Unusual User" in out  # from the guide
    assert "T1530 Data from Cloud Storage" in out
    assert 'event.action: "Scan"' in out


def test_show_an_unknown_rule_fails(elastic_rules: str) -> None:
    result = run("show", "no such rule", "--rules", elastic_rules)
    assert result.exit_code == 1
    assert "no rule with id or name 'no such rule'" in result.output


def test_rule_text_is_never_read_as_markup(tmp_path: Path) -> None:
    (tmp_path / "r.toml").write_text(MARKUP_RULE)
    listed = run("list", str(tmp_path))
    assert "[bold]Loud[/bold] rule" in listed.output
    assert "[red]id[/red]" in listed.output
    shown = run("show", "[red]id[/red]", "--rules", str(tmp_path))
    assert shown.exit_code == 0, shown.output
    assert "[bold]Loud[/bold] rule" in shown.output
    assert "Shows [link=http://x]text[/link] as it is written." in shown.output
    assert "[italic]this[/italic]" in shown.output


def test_list_says_which_shipped_rule_is_not_configured() -> None:
    result = run("list")
    assert result.exit_code == 0
    assert "AWS DynamoDB Decoy Table Accessed is not configured and does not run" in result.stderr
    assert "decoy_tables" in result.stderr
    assert "AWS DynamoDB Unusual Read Volume" in result.stdout
