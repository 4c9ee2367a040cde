"""Worker processes (`--workers N`): the outputs come back in blob order whatever finishes
first, a worker that dies ends the scan with an error instead of leaving it waiting, one
with no task left ends then, not with the run, and the workers read on while the caller is
busy with an output (storing it), up to a bound."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from isal import igzip

from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.reader import blobs_of
from trailhound.cloudtrail.report import Report
from trailhound.engine.filtering import FilterPlan
from trailhound.pipeline import pool
from trailhound.pipeline.pool import run_in_workers
from trailhound.pipeline.stage import Stage, StageOutput, StagePlan
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.simulate import simulate
from trailhound.sources import Blob
from trailhound.sources.files import open_local

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Blob]:
    out = tmp_path_factory.mktemp("corpus")
    simulate(out, days=1, seed=11, events=6_000)
    return list(blobs_of([open_local(str(out))], Report()))


@pytest.fixture(scope="module")
def plan() -> StagePlan:
    rules = load_rules([shipped_pack_dir()]).rules
    filters = FilterPlan.build(rules, now=datetime.now(UTC))
    return StagePlan.build(rules, enricher=Enricher.create(), filters=filters)


def _descendants() -> set[int]:
    """The processes below this one (the fork server and the workers it started)."""
    found: set[int] = set()
    parents = [os.getpid()]
    while parents:
        pid = parents.pop()
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                children = {int(c) for c in (task / "children").read_text().split()}
            except OSError:  # it ended meanwhile
                continue
            parents += children - found
            found |= children
    return found


def _summary(outputs: Iterable[StageOutput]) -> list[tuple[int, list[str], bytes | None]]:
    return [
        (o.events, [] if o.matched is None else o.matched.column("event.id").to_pylist(), o.records)
        for o in outputs
    ]


def test_the_outputs_come_in_blob_order_whichever_worker_is_first(
    corpus: list[Blob], plan: StagePlan
) -> None:
    # a task per file, so that the two workers finish them in any order
    assert len(corpus) > 8
    one = _summary(run_in_workers(corpus, plan, 1, task_bytes=1))
    two = _summary(run_in_workers(corpus, plan, 2, task_bytes=1))
    assert two == one
    alone = _summary(Stage(plan).run(corpus, Report()))
    assert sum(events for events, _, _ in one) == sum(events for events, _, _ in alone) > 6_000
    assert sum(len(ids) for _, ids, _ in one) > 0


def test_a_worker_that_dies_ends_the_scan_with_an_error_and_leaves_no_process(
    corpus: list[Blob], plan: StagePlan
) -> None:
    before = _descendants()
    outputs = run_in_workers(corpus, plan, 2, task_bytes=1)
    next(outputs)
    for pid in _descendants() - before:  # the fork server and both workers
        os.kill(pid, signal.SIGKILL)
    with pytest.raises(RuntimeError, match="worker process ended unexpectedly"):
        list(outputs)
    assert _descendants() <= before


def test_a_worker_with_no_task_left_ends_before_the_run_does(
    corpus: list[Blob], plan: StagePlan
) -> None:
    """Its memory is given back while the scanning process still stores the last outputs
    (and then decides), not only once it has asked for the end of the outputs."""
    count = len(list(run_in_workers(corpus, plan, 2, task_bytes=1)))
    before = _descendants()
    outputs = run_in_workers(corpus, plan, 2, task_bytes=1)
    taken = [next(outputs)]
    started = _descendants() - before  # the fork server, both workers and their helper
    assert len(started) == 4
    taken += [next(outputs) for _ in range(count - 1)]  # every output, the run not yet over
    deadline = time.monotonic() + 30
    while len(_running(started)) > 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_running(started)) == 2  # the fork server and the helper, ended with the run
    assert sum(o.events for o in taken) > 6_000
    assert list(outputs) == []


def test_the_workers_read_on_while_the_caller_holds_an_output(
    corpus: list[Blob], plan: StagePlan
) -> None:
    """A caller storing what it took does not stall them: with fewer tasks than they may run
    ahead, they finish every task and end before the caller asks for a second output."""
    task_bytes = sum(b.size or 0 for b in corpus) // 10  # about ten tasks
    assert 4 < len(pool.cut_into_tasks(corpus, task_bytes)) <= 2 * pool._LEAD
    alone = _summary(run_in_workers(corpus, plan, 1, task_bytes=task_bytes))
    before = _descendants()
    outputs = run_in_workers(corpus, plan, 2, task_bytes=task_bytes)
    taken = [next(outputs)]
    started = _descendants() - before  # the fork server, both workers and their helper
    assert len(started) == 4
    deadline = time.monotonic() + 60
    while len(_running(started)) > 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_running(started)) == 2  # the fork server and the helper, ended with the run
    assert _summary([*taken, *outputs]) == alone


def test_outputs_come_whole_and_in_order_when_the_workers_wait_for_room(
    corpus: list[Blob], plan: StagePlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workers may run ahead of the caller by `_LEAD` tasks each: with one, each must
    wait for the caller to take an answer before its next task, and none is lost."""
    monkeypatch.setattr(pool, "_LEAD", 1)
    one = _summary(run_in_workers(corpus, plan, 1, task_bytes=1))
    slow = []
    for output in run_in_workers(corpus, plan, 2, task_bytes=1):
        slow.append(output)
        time.sleep(0.01)  # the caller storing: the workers fill what room they have
    assert _summary(slow) == one


def _running(pids: set[int]) -> set[int]:
    """Those of `pids` that still run (a zombie, ended and not yet waited for, does not)."""
    running = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            running.add(pid)
    return running


def test_tasks_of_small_files_hold_about_as_many_events_as_of_large_ones(
    corpus: list[Blob], tmp_path: Path
) -> None:
    """The same records written as files of ~27 events (a bucket of many small files) and of
    ~170 are cut into tasks of about as many events each: a task's fixed cost of normalizing
    and filtering falls on as many events whatever the layout."""
    records = [r for blob in corpus for r in _records(blob)]
    per_task = {}
    for per_file in (27, 170):
        out = tmp_path / str(per_file)
        out.mkdir()
        for k in range(0, len(records), per_file):
            document = b'{"Records":[' + b",".join(records[k : k + per_file]) + b"]}"
            (out / f"{k:08d}.json.gz").write_bytes(igzip.compress(document, 1, mtime=0))
        blobs = list(blobs_of([open_local(str(out))], Report()))
        task_bytes = sum(b.size or 0 for b in blobs) // 8
        tasks = pool.cut_into_tasks(blobs, task_bytes)
        events = [sum(len(_records(b)) for b in task) for task in tasks[:-1]]  # the last: a rest
        per_task[per_file] = sum(events) / len(events)
    # counted whole, the small files' tasks held 0.88 as many here (~0.75 on the benchmark's
    # layouts); not many more either, which would raise a worker's memory
    assert 0.95 < per_task[27] / per_task[170] < 1.3


def _records(blob: Blob) -> list[bytes]:
    text = b"".join(blob.chunks())
    return [msgspec.json.encode(r) for r in msgspec.json.decode(text).get("Records") or []]
