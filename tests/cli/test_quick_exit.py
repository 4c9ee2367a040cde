"""A scan's process ends without the interpreter's teardown once its state and outputs are
closed (`trailhound.cli.run`): what it wrote must be whole, its state committed, and a
profiler or tracer watching it must still get to write what it gathered."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from support.cli import trailhound

ALERTS = 1  # the exit status's flag for "alerts found"


def _scan(logs: Path, state: Path) -> subprocess.CompletedProcess[str]:
    return trailhound("scan", logs, "--state", state, "--format", "jsonl", "--quiet")


def test_alerts_written_to_a_pipe_are_whole_and_the_state_is_committed(
    shared_data: Path, tmp_path: Path
) -> None:
    logs, state = shared_data / "dynamodb-real", tmp_path / "state.duckdb"
    first = _scan(logs, state)
    alerts = [json.loads(line) for line in first.stdout.splitlines()]
    assert first.returncode & ALERTS and alerts, first.stderr
    assert len({a["id"] for a in alerts}) == len(alerts)
    again = _scan(logs, state)  # the first run's alerts were committed: none is new
    assert again.returncode == 0 and again.stdout == "", again.stderr


def test_a_scan_under_cprofile_leaves_its_profile(shared_data: Path, tmp_path: Path) -> None:
    profile = tmp_path / "scan.prof"
    done = subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "trailhound", "scan",
         str(shared_data / "dynamodb-real"), "--no-state", "--format", "jsonl", "--quiet"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.stdout.strip(), done.stderr  # cProfile keeps the exit status to itself
    assert profile.stat().st_size > 0
