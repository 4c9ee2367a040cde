"""The README's Spark walk-through, as a user runs it: `trailhound scan --engine spark` over
the simulator's output gives the alert ids of the default engine, and a second run over the
same `--spark-state` repeats nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from support.corpus import environment
from trailhound.simulate import SimulationResult

pytestmark = pytest.mark.spark


def _scan(arguments: list[str], env: dict[str, str]) -> tuple[int, list[str]]:
    done = subprocess.run(
        [sys.executable, "-m", "trailhound", "scan", *arguments, "--format", "jsonl", "--quiet"],
        env=env, capture_output=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr.decode()[-2000:]
    return done.returncode, sorted(orjson.loads(line)["id"] for line in done.stdout.splitlines())


def test_spark_scans_continue_their_state_and_match_the_default_engine(
    simulated: SimulationResult, tmp_path: Path
) -> None:
    env = environment(tmp_path)
    logs = str(simulated.out_dir)
    spark = ["--engine", "spark", "--spark-master", "local[2]",
             "--spark-state", str(tmp_path / "spark-state")]  # fmt: skip
    _, expected = _scan([logs, "--no-state"], env)
    status, first = _scan([logs, *spark], env)
    assert first == expected and status == 1
    assert _scan([logs, *spark], env) == (0, [])
