"""`scan --engine`: Spark's options without the Spark engine, or with options that contradict
them, are usage errors said before any work (no JVM starts, no state is touched)."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.cli import trailhound

USAGE_ERROR = 2


@pytest.mark.parametrize(
    "options, said",
    [
        (["--spark-master", "local[2]"], "need --engine spark"),
        (["--spark-state", "{tmp}/st"], "need --engine spark"),
        (["--engine", "spark", "--spark-state", "{tmp}/st", "--no-state"], "--spark-state keeps"),
        (["--engine", "spark", "--spark-state", "{tmp}/st", "--state", "{tmp}/s.duckdb"],
         "--spark-state keeps"),
        (["--engine", "spark", "--workers", "2"], "--workers is for --engine duckdb"),
        (["--engine", "spark", "-"], "not standard input"),
        (["--engine", "hadoop"], "Invalid value for '--engine'"),
    ],
)  # fmt: skip
def test_contradictory_engine_options_are_usage_errors(
    shared_data: Path, tmp_path: Path, options: list[str], said: str
) -> None:
    args = [o.format(tmp=tmp_path) for o in options]
    done = trailhound("scan", shared_data / "dynamodb-real", *args)
    assert done.returncode == USAGE_ERROR, done.stderr
    assert said in done.stderr
    assert not (tmp_path / "st").exists() and not (tmp_path / "s.duckdb").exists()
