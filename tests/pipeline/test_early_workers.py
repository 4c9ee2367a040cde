"""Workers started before the input is listed (`--workers N` with the fork server already
running): the outputs are those of workers started after it, and when the input proves to
be a single file the workers started for it end with the listing, not with the process."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.reader import blobs_of
from trailhound.cloudtrail.report import Report
from trailhound.engine.filtering import FilterPlan
from trailhound.pipeline.engines import LocalEngine
from trailhound.pipeline.pool import run_in_workers, server_running, start_server
from trailhound.pipeline.stage import StageOutput, StagePlan
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.simulate import simulate
from trailhound.sources.files import open_local

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    simulate(out, days=1, seed=5, events=4_000)
    return out


@pytest.fixture(scope="module")
def plan() -> StagePlan:
    rules = load_rules([shipped_pack_dir()]).rules
    filters = FilterPlan.build(rules, now=datetime(2026, 1, 1, tzinfo=UTC))
    return StagePlan.build(rules, enricher=Enricher.create(), filters=filters)


def _children() -> set[int]:
    return {
        int(pid)
        for task in Path(f"/proc/{os.getpid()}/task").iterdir()
        for pid in (task / "children").read_text().split()
    }


def _outputs(path: Path, plan: StagePlan, workers: int) -> list[tuple[int, list[str]]]:
    blobs = blobs_of([open_local(str(path))], Report())
    found: list[StageOutput] = list(LocalEngine(workers).stage_outputs(blobs, plan, Report()))
    return [
        (o.events, [] if o.matched is None else o.matched.column("event.id").to_pylist())
        for o in found
    ]


def test_workers_started_before_the_listing_give_what_workers_started_after_it_give(
    folder: Path, plan: StagePlan
) -> None:
    listed = list(blobs_of([open_local(str(folder))], Report()))
    after = [
        (o.events, [] if o.matched is None else o.matched.column("event.id").to_pylist())
        for o in run_in_workers(listed, plan, 2)
    ]
    start_server()
    assert server_running()
    before = _outputs(folder, plan, 2)
    assert before == after and len(after) > 1 and any(ids for _, ids in after)
    assert not server_running()  # the scan's end let the server go


def test_a_single_file_lets_the_early_workers_go_and_reads_it_here(
    folder: Path, plan: StagePlan
) -> None:
    one = max((p for p in folder.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    alone = _outputs(one, plan, 1)
    before = _children()
    start_server()
    assert _outputs(one, plan, 2) == alone
    assert not server_running()
    assert _children() <= before  # neither the server nor its workers outlive the listing
