"""The engine registry: engines by name, and a clear word when one is not installed."""

from __future__ import annotations

import pytest

from trailhound.errors import ConfigError
from trailhound.pipeline import engines
from trailhound.pipeline.engines import open_engine
from trailhound.pipeline.local_engine import LocalEngine


def test_the_default_engine_is_this_machine_with_its_workers() -> None:
    engine = open_engine("duckdb", workers=3)
    assert isinstance(engine, LocalEngine) and engine.workers == 3


def test_an_unknown_engine_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"no engine named 'flink' \(known: duckdb, spark\)"):
        open_engine("flink")


def test_an_engine_whose_package_is_missing_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(engines.ENGINES, "ray", "trailhound_ray_engine.engine:RayEngine")
    with pytest.raises(ConfigError, match=r"pip install 'trailhound\[ray\]'"):
        open_engine("ray")
