"""`trailhound config check|show` as a user runs them: messages, exit codes, secrets never shown."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from trailhound.cli import main

WriteConfig = Callable[[str], Path]
LineOf = Callable[[str, str], int]

SECRET = "zz-very-secret-4cd9e1"
SECRET_URL = "https://hooks.example.com/services/T000/B000/zz-secret-path-77a1"
PACK_SIZE = 32
# rules that run as shipped: all but the decoy rule, whose list of decoy tables is empty
RUNNING = PACK_SIZE - 1


def run(*args: str, config_home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "XDG_CONFIG_HOME": str(config_home), **env}
    return subprocess.run(
        [sys.executable, "-m", "trailhound", "config", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
    )


def test_check_says_ok_with_the_rules_that_will_run(
    write_config: WriteConfig, tmp_path: Path
) -> None:
    path = write_config(
        '[rules]\ndisabled = ["AWS DynamoDB Table Scanned"]\n\n'
        '[rules.overrides."AWS DynamoDB Multiple Tables Deleted"]\nthreshold = 8\n'
    )
    done = run("check", "--config", str(path), config_home=tmp_path)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == f"trailhound: {path}: ok ({RUNNING - 1} rules, 0 outputs)\n"


def test_check_lists_every_problem_with_its_place_and_exits_2(
    write_config: WriteConfig, line_of: LineOf, tmp_path: Path
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "broken.toml").write_text('[rule]\nname = "half a rule"\n')
    text = f"""\
[rules]
paths = ["{rules}"]
exceptions = ["exceptions.toml"]

[rules.overrides."AWS DynamoDB Table Scanned"]
threshold = 8
windw = "10m"

[outputs.hook]
url = "{SECRET_URL}"
"""
    path = write_config(text)
    (path.parent / "exceptions.toml").write_text("[[exceptions]]\nconditions = 3\n")
    done = run("check", "--config", str(path), config_home=tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    lines = done.stderr.splitlines()
    assert f"trailhound: {path}:{line_of(text, 'windw')}:1: " in lines[0]
    known = (
        "severity, risk_score, threshold, window, history_window, learning_period, "
        "min_count, factor, deviations, min_history, parameters, "
    )
    assert lines[0].endswith(
        f"windw: unknown key (known: {known}suppression, max_signals, enabled)"
    )
    hook_line = line_of(text, "[outputs.hook]")
    assert lines[1] == (
        f"trailhound: {path}:{hook_line}:1: outputs.hook.type: "
        'needed: the output\'s type, a string such as "webhook"'
    )
    assert any(line.startswith(f"trailhound: {rules / 'broken.toml'}:") for line in lines)
    assert any(line.startswith(f"trailhound: {path.parent / 'exceptions.toml'}:") for line in lines)
    assert SECRET_URL not in done.stderr


def test_no_secret_is_ever_shown_by_check_or_show(
    write_config: WriteConfig, tmp_path: Path
) -> None:
    text = f"""\
[outputs.hook]
type = "webhook"
url = "{SECRET_URL}"

[outputs.oncall]
type = "pagerduty"
routing_key_env = "TH_TEST_SECRET"
min_severity = "urgent"

[outputs.chat]
type = "slack"
token = "{SECRET}"
bogus_option = 1
"""
    path = write_config(text)
    shown = run("show", "--config", str(path), config_home=tmp_path, TH_TEST_SECRET=SECRET)
    checked = run("check", "--config", str(path), config_home=tmp_path, TH_TEST_SECRET=SECRET)
    for done in (shown, checked):
        everything = done.stdout + done.stderr
        assert SECRET not in everything and SECRET_URL not in everything
        assert "zz-" not in everything  # not even a part of one
    assert shown.returncode == 0
    effective = tomllib.loads(shown.stdout)
    assert effective["outputs"]["hook"] == {"type": "webhook", "url": "***"}
    assert effective["outputs"]["oncall"]["routing_key_env"] == "TH_TEST_SECRET"
    assert effective["outputs"]["chat"]["token"] == "***"
    assert checked.returncode == 2


def test_show_without_a_file_says_the_defaults_apply(tmp_path: Path) -> None:
    done = run("show", config_home=tmp_path)
    assert done.returncode == 0, done.stderr
    expected = tmp_path / "trailhound" / "trailhound.toml"
    assert done.stdout.startswith(f"# No configuration file at {expected}: defaults apply.\n")
    effective = tomllib.loads(done.stdout)
    assert effective["rules"]["pack"] is True
    assert effective["rules"]["paths"] == []
    assert effective["state"]["path"].endswith("state.duckdb")


def test_show_prints_the_effective_configuration(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(
        '[rules]\nexceptions = ["exc.toml"]\n\n'
        '[rules.overrides."AWS DynamoDB Scan by Unusual User"]\nhistory_window = "now-720h"\n'
        'suppression = { group_by = ["user.name"], duration = "90m" }\n\n'
        '[state]\npath = "state/th.duckdb"\n'
    )
    (path.parent / "exc.toml").write_text("")
    result = CliRunner().invoke(main, ["config", "show", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"# From {path}.\n")
    effective = tomllib.loads(result.output)
    assert effective["rules"]["exceptions"] == [str(path.parent / "exc.toml")]
    assert effective["rules"]["overrides"] == {
        "AWS DynamoDB Scan by Unusual User": {
            "history_window": "30d",
            "suppression": {"group_by": ["user.name"], "duration": "90m"},
        }
    }
    assert effective["state"] == {"path": str(path.parent / "state" / "th.duckdb")}


def test_show_refuses_a_broken_file(write_config: WriteConfig) -> None:
    path = write_config("[state]\npath = 3\n")
    result = CliRunner().invoke(main, ["config", "show", "--config", str(path)])
    assert result.exit_code == 2
    assert result.stderr == f"trailhound: {path}:2:1: state.path: must be a path\n"


def test_check_counts_the_outputs_it_built(write_config: WriteConfig, fake_output: str) -> None:
    path = write_config(f'[outputs.one]\ntype = "{fake_output}"\ntoken = "{SECRET}"\n')
    result = CliRunner().invoke(main, ["config", "check", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"trailhound: {path}: ok ({RUNNING} rules, 1 output)\n"


def test_check_without_a_file_checks_the_defaults(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["config", "check"])
    assert result.exit_code == 0, result.output
    expected = tmp_path / "xdg-config" / "trailhound" / "trailhound.toml"
    assert result.stdout == (
        f"trailhound: no configuration file at {expected}, defaults apply: "
        f"ok ({RUNNING} rules, 0 outputs)\n"
    )


def test_check_counts_a_rule_once_its_parameters_are_set(write_config: WriteConfig) -> None:
    path = write_config(
        '[rules.overrides."AWS DynamoDB Decoy Table Accessed"]\n'
        'parameters = { decoy_tables = ["payroll-archive"] }\n'
    )
    result = CliRunner().invoke(main, ["config", "check", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"trailhound: {path}: ok ({PACK_SIZE} rules, 0 outputs)\n"
