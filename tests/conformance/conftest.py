"""One conformance suite, run against every engine (as ibis runs one suite per backend).

Every test that takes the `engine` fixture runs once per engine. Spark's runs carry the
`spark` marker (`pytest -m 'not spark'` leaves them out locally; CI runs them); they share
one local Spark session for the whole test session. Known gaps are declared in `gaps.py`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from conformance.gaps import GAPS
from trailhound.demo import DECOY_RULE
from trailhound.pipeline.engines import Engine
from trailhound.pipeline.scan import ScanResult, scan
from trailhound.pipeline.stage import SKIM_VARIABLE
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.rules.model import Rule
from trailhound.rules.parameters import with_values
from trailhound.simulate import SimulationResult, simulate
from trailhound.simulate.world import DECOY_TABLES
from trailhound.sources import open_sources
from trailhound.state.store import Store

NOW = datetime(2026, 12, 1, tzinfo=UTC)
# duckdb-skim: this machine, reading records files through the skimmer (the plain-Python one,
# which answers as the compiled one must) instead of decoding every record
ENGINES = ["duckdb", "duckdb-skim", pytest.param("spark", marks=pytest.mark.spark)]


@dataclass
class Runner:
    """Scans with one engine (`engine` None: this machine, one process), its stages reading
    records files through the skimmer `skim` names (`off`: never)."""

    name: str
    engine: Engine | None
    skim: str = "off"

    def scan(
        self, paths: Sequence[Path], rules: Sequence[Rule], store: Store | None = None,
        **options: Any,
    ) -> ScanResult:  # fmt: skip
        return self.scan_specs([str(p) for p in paths], rules, store, **options)

    def scan_specs(
        self, specs: Sequence[str], rules: Sequence[Rule], store: Store | None = None,
        **options: Any,
    ) -> ScanResult:  # fmt: skip
        """As `scan`, of what the user would type: paths, `s3://` URLs."""
        options.setdefault("now", NOW)
        with _skimming(self.skim):
            return scan(
                open_sources(specs), rules, store=store or Store.open(None), engine=self.engine,
                **options,
            )  # fmt: skip


@contextmanager
def _skimming(name: str) -> Iterator[None]:
    before = os.environ.get(SKIM_VARIABLE)
    os.environ[SKIM_VARIABLE] = name
    try:
        yield
    finally:
        if before is None:
            del os.environ[SKIM_VARIABLE]
        else:
            os.environ[SKIM_VARIABLE] = before


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    from trailhound.spark.session import spark_session

    session = spark_session("local[2]")
    session.conf.set("spark.sql.shuffle.partitions", "2")
    yield session
    session.stop()


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Runner:
    if request.param == "spark":
        from trailhound.spark.engine import SparkEngine

        return Runner("spark", SparkEngine(request.getfixturevalue("spark")))
    if request.param == "duckdb-skim":
        return Runner("duckdb-skim", None, skim="reference")
    return Runner("duckdb", None)


@pytest.fixture(scope="session")
def reference() -> Runner:
    """The engine the others are compared with."""
    return Runner("duckdb", None)


@pytest.fixture(scope="session")
def pack() -> list[Rule]:
    return [
        with_values(r, {"decoy_tables": DECOY_TABLES}) if r.name == DECOY_RULE else r
        for r in load_rules([shipped_pack_dir()]).rules
    ]


@pytest.fixture(scope="session")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    return simulate(tmp_path_factory.mktemp("simulated") / "cloudtrail", days=1, seed=0)


@pytest.fixture(scope="session")
def simulated_ids(reference: Runner, simulated: SimulationResult, pack: list[Rule]) -> list[str]:
    return sorted(a.id for a in reference.scan([simulated.out_dir], pack).alerts)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        name = getattr(item, "originalname", item.name)
        if callspec is None or "engine" not in callspec.params:
            continue
        reason = GAPS.get((name, callspec.params["engine"]))
        if reason is not None:
            item.add_marker(pytest.mark.xfail(strict=True, reason=reason))
