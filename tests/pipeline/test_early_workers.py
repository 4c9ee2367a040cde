"""Workers started before the input is listed (`--workers N` with the fork server already
running): the outputs are those of workers started after it, and when the input proves to
be a single file the workers started for it end with the listing, not with the process. Workers
handed their tasks before the caller takes the answers (`LocalEngine.begin`, as the command does
before it opens its state) give the same outputs, or end when the caller fails first."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from msgspec.structs import replace

from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.reader import blobs_of
from trailhound.cloudtrail.report import Report
from trailhound.engine.filtering import FilterPlan
from trailhound.pipeline import cores
from trailhound.pipeline.local_engine import LocalEngine
from trailhound.pipeline.pool import run_in_workers, server_running, start_server
from trailhound.pipeline.scan import scan
from trailhound.pipeline.stage import StageOutput, StagePlan
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.simulate import simulate
from trailhound.sources import Blob
from trailhound.sources.files import open_local
from trailhound.state.store import Store

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    simulate(out, days=1, seed=5, events=8_000)  # two tasks: 1.5 MB a file's own bytes aside
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
    return _seen(LocalEngine(workers).stage_outputs(blobs, plan, Report()))


def _seen(outputs: Iterable[StageOutput]) -> list[tuple[int, list[str]]]:
    """What outputs say: per output, the events read and the matched rows' event ids."""
    return [
        (o.events, [] if o.matched is None else o.matched.column("event.id").to_pylist())
        for o in outputs
    ]


def test_workers_started_before_the_listing_give_what_workers_started_after_it_give(
    folder: Path, plan: StagePlan
) -> None:
    listed = list(blobs_of([open_local(str(folder))], Report()))
    after = _seen(run_in_workers(listed, plan, 2))
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


class _OneUnportable:
    """The folder's files, the middle one as standard input is: no other process may read it."""

    def __init__(self, folder: Path) -> None:
        self.listed = list(blobs_of([open_local(str(folder))], Report()))

    def blobs(self) -> Iterator[Blob]:
        middle = len(self.listed) // 2
        for n, blob in enumerate(self.listed):
            # an opener no pickle carries, as standard input's: a worker handed it would fail
            unpicklable = replace(blob, portable=False, opener=lambda o=blob.opener: o())
            yield unpicklable if n == middle else blob


def _alerts(folder: Path, engine: LocalEngine) -> list[tuple[str, str]]:
    rules = load_rules([shipped_pack_dir()]).rules
    store = Store.open(None)
    try:
        found = scan([_OneUnportable(folder)], rules, store=store, engine=engine,
                     now=datetime(2026, 1, 1, tzinfo=UTC))  # fmt: skip
    finally:
        store.close()
    return sorted((a.id, a.rule.name) for a in found.alerts)


def test_a_blob_only_this_process_can_read_amid_listed_files_gives_the_same_alerts(
    folder: Path,
) -> None:
    alone = _alerts(folder, LocalEngine(1))
    start_server()
    assert _alerts(folder, LocalEngine(2)) == alone and alone
    assert not server_running()


def test_workers_started_for_a_scan_that_never_reads_end_when_dismissed(
    plan: StagePlan,
) -> None:
    before = _children()
    start_server()
    engine = LocalEngine(2)
    engine.start(plan)
    assert _children() > before  # the fork server and its workers
    engine.dismiss()
    assert not server_running()
    assert _children() <= before


def test_workers_guessed_for_an_input_that_lists_small_are_let_go_before_any_task(
    folder: Path, plan: StagePlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `trailhound scan` without --workers starts one per core on a guess (`workers_likely`)
    # before its input is listed; the listed input, a few MB, is not worth them: it is read
    # here, as an unguessed scan would read it, and the workers end without a task
    monkeypatch.setattr(cores, "usable_cores", lambda: 2.0)
    alone = _outputs(folder, plan, 1)
    before = _children()
    engine = LocalEngine(None)
    engine.start(plan, before_duckdb=True)
    assert _children() > before
    blobs = blobs_of([open_local(str(folder))], Report())
    guessed = _seen(engine.stage_outputs(blobs, plan, Report()))
    assert guessed == alone and any(ids for _, ids in alone)
    assert _children() <= before


def test_workers_given_their_tasks_before_the_caller_is_ready_give_the_same_outputs(
    folder: Path, plan: StagePlan
) -> None:
    # the scan command hands out the first tasks before it opens its state; the answers
    # wait for `stage_outputs`, whose own blobs are not listed again
    listed = list(blobs_of([open_local(str(folder))], Report()))
    after = _seen(run_in_workers(listed, plan, 2))
    before = _children()
    engine = _begun(folder, plan)
    unread = blobs_of([_NeverListed()], Report())
    begun = _seen(engine.stage_outputs(unread, plan, Report()))
    assert begun == after and len(after) > 1 and any(ids for _, ids in after)
    assert _children() <= before


def test_workers_given_their_tasks_end_when_the_caller_fails_before_taking_answers(
    folder: Path, plan: StagePlan
) -> None:
    before = _children()
    engine = _begun(folder, plan)
    assert _children() > before
    engine.dismiss()  # as the command does when its state cannot be opened
    assert _children() <= before


def _begun(folder: Path, plan: StagePlan) -> LocalEngine:
    """Two workers started for `plan` and given `folder`'s files, as the command does before
    it opens its state."""
    engine = LocalEngine(2)
    engine.start(plan, before_duckdb=True)
    engine.begin(blobs_of([open_local(str(folder))], Report()))
    return engine


class _NeverListed:
    def blobs(self) -> Iterator[Blob]:
        raise AssertionError("the input was listed a second time")


def test_workers_given_tasks_for_another_plan_end_with_the_error(
    folder: Path, plan: StagePlan
) -> None:
    before = _children()
    engine = _begun(folder, plan)
    other = replace(plan)  # equal, but not the plan the workers were started for
    with pytest.raises(ValueError, match="another plan"):
        engine.stage_outputs(blobs_of([_NeverListed()], Report()), other, Report())
    assert _children() <= before


def test_a_scan_counting_bytes_refuses_workers_that_listed_the_input_already(
    folder: Path, plan: StagePlan, tmp_path: Path
) -> None:
    # the progress of bytes needs the input listed by the scan; listing it twice would
    # report each unreadable file twice
    before = _children()
    engine = _begun(folder, plan)
    rules = load_rules([shipped_pack_dir()]).rules
    store = Store.open(tmp_path / "state.duckdb")
    try:
        with pytest.raises(ValueError, match="on_bytes"):
            scan([open_local(str(folder))], rules, store=store, engine=engine, plan=plan,
                 on_bytes=lambda done, total: None)  # fmt: skip
        assert _children() <= before
    finally:
        engine.dismiss()  # nothing, unless the scan left them running
        store.close()
