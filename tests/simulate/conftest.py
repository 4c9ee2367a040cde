"""A small simulation shared by the simulator's tests: four days, twenty thousand events."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from trailhound.simulate import SimulationResult, read_answer_key, simulate

SMALL_EVENTS = 20_000


@pytest.fixture(scope="session")
def small_events() -> int:
    return SMALL_EVENTS


@pytest.fixture(scope="session")
def small_sim(tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    return simulate(tmp_path_factory.mktemp("sim") / "out", events=SMALL_EVENTS)


@pytest.fixture(scope="session")
def small_files(small_sim: SimulationResult) -> list[tuple[Path, list[dict[str, Any]]]]:
    """Every delivered file with its records, read back the way a consumer would."""
    found = []
    for path in sorted((small_sim.out_dir / "AWSLogs").rglob("*.json.gz")):
        document = json.loads(gzip.decompress(path.read_bytes()))
        found.append((path, document["Records"]))
    return found


@pytest.fixture(scope="session")
def small_records(small_files: list[tuple[Path, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    return [rec for _, records in small_files for rec in records]


@pytest.fixture(scope="session")
def small_key(small_sim: SimulationResult) -> list[dict[str, Any]]:
    return read_answer_key(small_sim.out_dir / "answer_key.json")
