"""Commands are imported only when used, yet `trailhound --help` still lists every one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

from trailhound.cli import main
from trailhound.cli.alerts_cmd import alerts
from trailhound.cli.config_cmd import config
from trailhound.cli.demo_cmd import demo
from trailhound.cli.normalize_cmd import normalize
from trailhound.cli.report_cmd import report
from trailhound.cli.rules_cmd import rules
from trailhound.cli.scan_cmd import scan_command
from trailhound.cli.simulate_cmd import simulate_command
from trailhound.cli.watch_cmd import watch_command

COMMANDS: dict[str, click.Command] = {
    "alerts": alerts,
    "config": config,
    "demo": demo,
    "normalize": normalize,
    "report": report,
    "rules": rules,
    "scan": scan_command,
    "simulate": simulate_command,
    "watch": watch_command,
}

# What a scan has no use for: the simulator, the demo, rich's markdown renderer (rules show), and
# the report's page makers unless --report asks for one.
NOT_FOR_SCAN = ("trailhound.simulate", "trailhound.demo", "rich.markdown", "jinja2", "markdown_it")


def _modules_after(code: str) -> set[str]:
    """The modules loaded in a fresh interpreter once `code` has run."""
    script = f"import sys\n{code}\nprint('\\n'.join(sys.modules))"
    # Without these, rich (and so a progress bar) is only for a terminal, which a pipe is not.
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120,
        env=env,
    )  # fmt: skip
    return set(done.stdout.split())


def test_help_lists_every_command_with_its_short_help() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    listed = dict(
        line.strip().split(maxsplit=1)
        for line in result.output.split("Commands:\n", 1)[1].splitlines()
    )
    assert sorted(listed) == sorted(COMMANDS)
    for name, shown in listed.items():
        # click cuts a long help to the terminal's width and ends it with "..."
        assert COMMANDS[name].get_short_help_str(1000).startswith(shown.removesuffix("...")), name


def test_each_command_runs_by_its_name() -> None:
    for name in COMMANDS:
        result = CliRunner().invoke(main, [name, "--help"])
        assert result.exit_code == 0, result.output
        assert f"Usage: main {name} " in result.output


def test_an_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["scna"])
    assert result.exit_code == 2
    assert "No such command 'scna'" in result.output


def test_importing_the_cli_imports_no_command() -> None:
    loaded = _modules_after("import trailhound.cli")
    assert not {f"trailhound.cli.{m}" for m in ("scan_cmd", "demo_cmd", "simulate_cmd")} & loaded
    assert not set(NOT_FOR_SCAN) & loaded


def test_a_scan_loads_neither_simulator_nor_demo(tmp_path: Path) -> None:
    run = (
        "from trailhound.cli import main\n"
        f"main(['scan', {str(tmp_path)!r}, '--no-state', '-q'], standalone_mode=False)"
    )
    loaded = _modules_after(run)
    assert "trailhound.cli.scan_cmd" in loaded
    assert not set(NOT_FOR_SCAN) & loaded
    # stderr and stdout are pipes here: no progress bar and no table, so no rich at all
    assert "rich.console" not in loaded


def test_a_scan_leaves_pandas_unloaded_yet_importable(tmp_path: Path) -> None:
    # pyarrow imports pandas, where installed, to tell its objects from lists: 0.2 s and 50 MB
    # that a scan, which makes no pandas object, does not pay; a user's pandas still works
    events = tmp_path / "events.json"
    record = {"eventVersion": "1.08", "eventTime": "2026-01-01T00:00:00Z", "eventID": "e1",
              "eventSource": "dynamodb.amazonaws.com", "eventName": "GetItem"}  # fmt: skip
    events.write_text(json.dumps({"Records": [record]}))
    run = (
        "from trailhound.cli import main\n"
        f"main(['scan', {str(events)!r}, '--no-state', '-q'], standalone_mode=False)\n"
        "assert 'pandas' not in sys.modules\n"
        "import importlib.util, pyarrow\n"
        "if importlib.util.find_spec('pandas') is not None:\n"
        "    assert pyarrow.table({'a': [1]}).to_pandas()['a'].tolist() == [1]\n"
    )
    loaded = _modules_after(run)
    assert "trailhound.cli.scan_cmd" in loaded
