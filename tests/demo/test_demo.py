"""`trailhound demo`: every answer-key alert is reported, with its count, and no other."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from trailhound.cli import main
from trailhound.demo import run_demo


def test_demo_reports_exactly_the_answer_key(tmp_path: Path) -> None:
    result = run_demo(tmp_path, days=4, seed=7)
    assert result.missing == []
    assert result.unexpected == []
    assert result.miscounted == []
    rules_that_fired = {a.rule.name for a in result.scan.alerts}
    assert rules_that_fired == {r.name for r in result.rules}  # every rule of the pack


def test_demo_command_says_so_and_exits_zero(tmp_path: Path) -> None:
    outcome = CliRunner().invoke(main, ["demo", "--keep", str(tmp_path / "demo")])
    assert outcome.exit_code == 0, outcome.output
    assert "alerts of the answer key were found" in outcome.output
