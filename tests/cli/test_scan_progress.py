"""The scan's progress display: on a terminal, the share of the input's bytes read and the
time left; nothing at all when stderr is a pipe (a log file must not fill with bars)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cli.test_scan_cmd import record, write_day
from support.cli import trailhound


def _logs(folder: Path, days: int = 3) -> Path:
    start = datetime(2025, 3, 1, 9, tzinfo=UTC)
    for day in range(days):
        at = start + timedelta(days=day)
        records = [record(i, at + timedelta(seconds=i), "GetItem", "app") for i in range(50)]
        write_day(folder / f"day{day}", records)
    return folder


def _on_a_terminal(*args: str | Path) -> tuple[int, str]:
    """Runs trailhound with stderr on a pseudo-terminal; its exit status and what it drew."""
    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    process = subprocess.Popen(
        [sys.executable, "-m", "trailhound", *map(str, args)],
        stdout=subprocess.DEVNULL, stderr=follower, env={**env, "COLUMNS": "120"},
    )  # fmt: skip
    os.close(follower)
    drawn = bytearray()
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process is done with it
            break
        if not chunk:
            break
        drawn += chunk
    os.close(leader)
    return process.wait(timeout=120), drawn.decode(errors="replace")


def test_a_terminal_sees_the_share_of_bytes_read_and_the_time_left(tmp_path: Path) -> None:
    status, drawn = _on_a_terminal("scan", _logs(tmp_path / "logs"), "--no-state")
    assert status in (0, 1), drawn
    assert "100%" in drawn
    assert "left" in drawn
    assert "150 events" in drawn


def test_a_pipe_gets_no_progress(tmp_path: Path) -> None:
    result = trailhound("scan", _logs(tmp_path / "logs"), "--no-state")
    assert result.returncode in (0, 1), result.stderr
    assert "%" not in result.stderr
    assert "left" not in result.stderr
