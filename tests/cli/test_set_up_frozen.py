"""A scan's set-up (modules, rules, plans) lives as long as its process: in a process of the
command's own (`trailhound.cli.run`) it is taken out of the cyclic collector, which would
otherwise walk all of it once and free nothing; a Python caller of `main`, whose process goes
on, keeps every object collectable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def _frozen_after_scan(logs: Path, out: Path, entry: str) -> int:
    """How many objects the collector had set aside for good when a scan ended, run through
    `entry` (`run` or `main`) in a fresh interpreter."""
    args = ["scan", str(logs), "--no-state", "--quiet", "--format", "jsonl", "--output", str(out)]
    script = (
        "import atexit, gc, sys\nfrom trailhound.cli import main, run\n"
        "atexit.register(lambda: print('frozen', gc.get_freeze_count()))\n"
        f"sys.argv = ['trailhound', *{args!r}]\n"
        f"try:\n    {entry}()\nexcept SystemExit:\n    pass\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.stdout.startswith("frozen"), done.stderr
    return int(done.stdout.split()[-1])


def test_the_command_sets_its_set_up_aside(shared_data: Path, tmp_path: Path) -> None:
    logs = shared_data / "dynamodb-real"
    assert _frozen_after_scan(logs, tmp_path / "alerts.jsonl", "run") > 0
    assert (tmp_path / "alerts.jsonl").read_text()  # and its alerts are written whole


def test_a_python_caller_keeps_every_object_collectable(shared_data: Path, tmp_path: Path) -> None:
    logs = shared_data / "dynamodb-real"
    assert _frozen_after_scan(logs, tmp_path / "alerts.jsonl", "main") == 0
