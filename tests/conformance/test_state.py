"""State across runs, on every engine: a second run over the same input repeats nothing, and
an input cut into runs gives the alerts of one run (DESIGN 3.3)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from conformance.conftest import Runner
from trailhound.pipeline.scan import ScanResult
from trailhound.rules.model import Rule
from trailhound.simulate import SimulationResult
from trailhound.state.store import Store


def test_a_second_run_over_one_state_repeats_nothing(
    engine: Runner, simulated: SimulationResult, pack: list[Rule], tmp_path: Path
) -> None:
    path = tmp_path / "state.duckdb"
    first = _scan_with(engine, path, [simulated.out_dir], pack)
    second = _scan_with(engine, path, [simulated.out_dir], pack)
    assert first.alerts and second.alerts == []
    assert second.stats.events == first.stats.events


def test_cutting_the_input_into_runs_gives_the_same_alerts(
    engine: Runner, simulated: SimulationResult, pack: list[Rule], simulated_ids: list[str],
    tmp_path: Path,
) -> None:  # fmt: skip
    files = sorted(p for p in simulated.out_dir.rglob("*.json.gz"))
    cut = len(files) // 2
    early, late = files[:cut], files[cut:]
    random.Random(15).shuffle(early)  # the order of files within a run does not matter
    random.Random(16).shuffle(late)
    path = tmp_path / "state.duckdb"
    found = _scan_with(engine, path, early, pack, final=False).alerts
    found += _scan_with(engine, path, late, pack).alerts
    assert sorted(a.id for a in found) == simulated_ids


def _scan_with(engine: Runner, path: Path, paths: list[Path], rules: list[Rule],
               **options: Any) -> ScanResult:  # fmt: skip
    store = Store.open(path)
    try:
        return engine.scan(paths, rules, store, **options)
    finally:
        store.close()
