"""`--spark-state`: the state as Parquet generations, committed by a pointer written last."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from conformance.records import delivery, record
from support.rules import action, rule
from trailhound.errors import StateError, StateInUse
from trailhound.pipeline.scan import ScanResult, scan
from trailhound.rules.model import Rule
from trailhound.sources import open_sources
from trailhound.spark import state as spark_state
from trailhound.spark.state import CURRENT, StateFolder

DELETED = rule(action("DeleteTable"))


def _scan(folder: Path, logs: Path, rules: list[Rule], commit: bool = True) -> ScanResult:
    opened = StateFolder.open(folder)
    try:
        result = scan(open_sources([str(logs)]), rules, store=opened.store)
        if commit:
            opened.commit()
        return result
    finally:
        opened.close()


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    delivery(tmp_path / "logs", "one", [record(0, timedelta(0))])
    return tmp_path / "logs"


def test_a_committed_run_is_continued_by_the_next(tmp_path: Path, logs: Path) -> None:
    folder = tmp_path / "state"
    assert len(_scan(folder, logs, [DELETED]).alerts) == 1
    again = _scan(folder, logs, [DELETED])
    assert again.alerts == [] and again.stats.repeated == 1
    assert (folder / CURRENT).read_text().strip() == "gen-000002"
    assert sorted(p.name for p in folder.glob("gen-*")) == ["gen-000001", "gen-000002"]


def test_an_uncommitted_run_leaves_the_state_as_it_was(tmp_path: Path, logs: Path) -> None:
    folder = tmp_path / "state"
    _scan(folder, tmp_path / "nothing-here", [DELETED])
    assert len(_scan(folder, logs, [DELETED], commit=False).alerts) == 1
    assert len(_scan(folder, logs, [DELETED]).alerts) == 1  # decided again: never committed


@pytest.mark.parametrize("step", [1, 2])
def test_a_crash_inside_a_commit_keeps_the_previous_generation(
    tmp_path: Path, logs: Path, step: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed before the generation is renamed into place (1), or before CURRENT is (2)."""
    folder = tmp_path / "state"
    _scan(folder, tmp_path / "nothing-here", [DELETED])
    monkeypatch.setattr(spark_state.os, "replace", _failing_at(step))
    with pytest.raises(OSError, match="crash"):
        _scan(folder, logs, [DELETED])
    monkeypatch.undo()
    assert (folder / CURRENT).read_text().strip() == "gen-000001"
    assert len(_scan(folder, logs, [DELETED]).alerts) == 1  # the crashed run counted for nothing


def _failing_at(step: int) -> Callable[[str | Path, str | Path], None]:
    calls: list[int] = []
    real = os.replace

    def replace(source: str | Path, target: str | Path) -> None:
        calls.append(1)
        if len(calls) == step:
            raise OSError("crash")
        real(source, target)

    return replace


def test_a_folder_in_use_is_refused(tmp_path: Path) -> None:
    first = StateFolder.open(tmp_path / "state")
    try:
        with pytest.raises(StateInUse, match="in use"):
            StateFolder.open(tmp_path / "state")
    finally:
        first.close()
    StateFolder.open(tmp_path / "state").close()  # free again once closed


def test_a_pointer_to_no_generation_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    (folder / CURRENT).write_text("gen-000009\n")
    with pytest.raises(StateError, match="names no generation") as caught:
        StateFolder.open(folder)
    assert caught.value.where == str(folder)
