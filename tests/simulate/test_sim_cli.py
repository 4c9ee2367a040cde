"""`trailhound simulate` on the command line, and the cached corpus the benchmark uses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from trailhound.cli.simulate_cmd import simulate_command
from trailhound.simulate import cached_corpus, read_answer_key


def test_the_command_writes_a_trail_and_its_key(tmp_path: Path) -> None:
    out = tmp_path / "trail"
    result = CliRunner().invoke(
        simulate_command, ["--out", str(out), "--days", "1", "--events", "2000", "--seed", "7"]
    )
    assert result.exit_code == 0, result.output
    assert "answer key" in result.output
    assert any((out / "AWSLogs").rglob("*.json.gz"))
    assert isinstance(read_answer_key(out / "answer_key.json"), list)


def test_a_scan_of_the_simulators_folder_reads_the_logs_and_skips_the_answer_key(
    tmp_path: Path,
) -> None:
    out = tmp_path / "trail"
    args = ["simulate", "--out", str(out), "--days", "1", "--events", "2000", "--quiet"]
    subprocess.run([sys.executable, "-m", "trailhound", *args], check=True, timeout=120)
    done = subprocess.run([sys.executable, "-m", "trailhound", "scan", str(out), "--no-state"],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 1, done.stderr  # alerts, and no input set aside (+4)
    notes = [line for line in done.stderr.splitlines() if "answer_key.json" in line]
    assert notes == [
        f"trailhound: {out / 'answer_key.json'}: skipped: the answer key of trailhound simulate"
    ]
    assert "not CloudTrail" not in done.stderr


def test_the_command_refuses_a_folder_that_holds_a_simulation(tmp_path: Path) -> None:
    out = tmp_path / "trail"
    args = ["--out", str(out), "--days", "1", "--events", "500", "--quiet"]
    assert CliRunner().invoke(simulate_command, args).exit_code == 0
    again = CliRunner().invoke(simulate_command, args)
    assert again.exit_code == 2
    assert "already holds a simulation" in again.output


def test_the_command_refuses_zero_days(tmp_path: Path) -> None:
    result = CliRunner().invoke(simulate_command, ["--out", str(tmp_path), "--days", "0"])
    assert result.exit_code == 2


def test_a_cached_corpus_is_generated_once(tmp_path: Path) -> None:
    first = cached_corpus(tmp_path, events=2000, days=1)
    stamp = (first / "answer_key.json").stat().st_mtime_ns
    second = cached_corpus(tmp_path, events=2000, days=1)
    assert second == first
    assert (second / "answer_key.json").stat().st_mtime_ns == stamp
    summary = json.loads((first / "simulation.json").read_text())
    assert summary["events"] > 0
    assert [p.name for p in tmp_path.iterdir()] == [first.name]
