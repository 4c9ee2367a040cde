"""Workers forked from the scan command's own process, before it opens the state: the process
tree has no fork server, the alerts are those of one worker, no worker outlives a scan killed
with kill -9, and a worker killed ends the scan with an error. A process running another
thread gets its workers from the fork server instead, with the same outputs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from support.corpus import comparable, environment, read_alerts, simulate_day, started
from trailhound.cli.exits import INTERRUPTED, STATE_IN_USE
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.reader import blobs_of
from trailhound.cloudtrail.report import Report
from trailhound.engine.filtering import FilterPlan
from trailhound.pipeline import cores
from trailhound.pipeline.local_engine import LocalEngine
from trailhound.pipeline.pool import run_in_workers, server_running
from trailhound.pipeline.stage import StageOutput, StagePlan
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.simulate import simulate
from trailhound.sources.files import open_local
from trailhound.state.store import Store

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc")


class Day:
    """A simulated day of CloudTrail and the environment its scans run in."""

    def __init__(self, home: Path) -> None:
        self.env = environment(home)
        self.logs = simulate_day(home / "sim", self.env)

    def scan(self, folder: Path, workers: int) -> list[str]:
        return [sys.executable, "-m", "trailhound", "scan", str(self.logs), "-q",
                "--state", str(folder / "state.duckdb"), "-o", str(folder / "out.jsonl"),
                "--workers", str(workers)]  # fmt: skip


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Day:
    return Day(tmp_path_factory.mktemp("forked"))


def _session(leader: int) -> dict[int, tuple[int, str]]:
    """The running processes of the session `leader` began: pid -> (parent pid, command)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state, parent, _, session = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:4]
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):  # it ended meanwhile
            continue
        if int(session) == leader and state != "Z":
            found[int(entry.name)] = (int(parent), command)
    return found


def _left(leader: int, patience: float = 30.0) -> dict[int, tuple[int, str]]:
    """The processes of the session `leader` began still running once `patience` seconds
    have passed or none is left. A process the scan ended (or that ends on its own once the
    scan's end of its pipe closes) may still be tearing down as the scan exits, reparented
    and its command line already empty: ending is not left behind, and a process truly left
    (a stopped helper, a worker waiting for ever) is still there when the time is up."""
    deadline = time.monotonic() + patience
    while (found := _session(leader)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def _alerts(out: Path) -> dict[str, dict[str, Any]]:
    return {a["id"]: comparable(a) for a in read_alerts(out)}


def test_a_scan_forks_its_workers_itself_and_gives_the_alerts_of_one_worker(
    day: Day, tmp_path: Path
) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(), two.mkdir()
    done = subprocess.run(day.scan(one, 1), env=day.env, capture_output=True, timeout=120)
    assert done.returncode == 1, done.stderr.decode()
    seen: dict[int, tuple[int, str]] = {}
    with started(day.scan(two, 2), day.env, start_new_session=True) as scan:
        while scan.poll() is None:
            seen |= _session(scan.pid)
            time.sleep(0.005)
    assert scan.returncode == 1
    assert not [c for _, c in seen.values() if "forkserver" in c]
    # both workers and the helper that makes alerts beside the scanning process at the end
    assert len(_children(seen, scan.pid)) == 2 + cores.may_help()
    assert _alerts(two / "out.jsonl") == _alerts(one / "out.jsonl") != {}


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="sets the CPUs a scan runs on")
def test_a_scan_allowed_one_cpu_forks_no_helper_and_gives_the_same_alerts(
    day: Day, tmp_path: Path
) -> None:
    """A helper could never be used with one CPU (it would only take turns with the scanning
    process), so none is forked: a small box keeps its memory."""
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(), two.mkdir()
    subprocess.run(day.scan(one, 2), env=day.env, capture_output=True, timeout=120)
    seen: dict[int, tuple[int, str]] = {}
    cpu = min(os.sched_getaffinity(0))
    with started(day.scan(two, 2), day.env, start_new_session=True,
                 preexec_fn=lambda: os.sched_setaffinity(0, {cpu})) as scan:  # fmt: skip
        while scan.poll() is None:
            seen |= _session(scan.pid)
            time.sleep(0.005)
    assert scan.returncode == 1
    assert len(_children(seen, scan.pid)) == 2  # the two workers alone
    assert _alerts(two / "out.jsonl") == _alerts(one / "out.jsonl") != {}


def _children(seen: dict[int, tuple[int, str]], parent: int) -> list[int]:
    return [p for p, (of, _) in seen.items() if of == parent]


def test_a_scan_killed_with_kill_9_leaves_no_worker_running(day: Day, tmp_path: Path) -> None:
    with started(day.scan(tmp_path, 2), day.env, start_new_session=True,
                 stderr=subprocess.DEVNULL) as scan:  # fmt: skip
        deadline = time.monotonic() + 60
        while len(_session(scan.pid)) < 3:  # the scan and its two workers
            assert scan.poll() is None and time.monotonic() < deadline, "no workers started"
            time.sleep(0.005)
        time.sleep(0.3)  # the workers at their tasks
        os.kill(scan.pid, signal.SIGKILL)
        scan.wait()
    assert _left(scan.pid) == {}


def test_a_worker_killed_ends_the_scan_with_an_error_and_leaves_no_process(
    day: Day, tmp_path: Path
) -> None:
    with started(day.scan(tmp_path, 2), day.env, start_new_session=True,
                 stderr=subprocess.PIPE) as scan:  # fmt: skip
        deadline = time.monotonic() + 60
        while len(workers := [p for p, (parent, _) in _session(scan.pid).items()
                              if parent == scan.pid]) < 2:  # fmt: skip
            assert scan.poll() is None and time.monotonic() < deadline, "no workers started"
            time.sleep(0.005)
        os.kill(workers[0], signal.SIGKILL)
        _, stderr = scan.communicate(timeout=120)
    assert scan.returncode == 70  # did not finish: an internal error
    assert "worker process ended unexpectedly" in stderr.decode()
    assert _left(scan.pid) == {}


def test_a_scan_whose_state_is_in_use_fails_cleanly_though_its_workers_had_tasks(
    day: Day, tmp_path: Path
) -> None:
    # the workers are handed their first tasks before the state opens: a state file another
    # process holds still ends the scan with its own status, and no worker reads on
    state = tmp_path / "state.duckdb"
    Store.open(state).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(state)], stdout=subprocess.PIPE, stdin=subprocess.PIPE
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        seen: dict[int, tuple[int, str]] = {}
        with started(day.scan(tmp_path, 2), day.env, start_new_session=True,
                     stderr=subprocess.PIPE) as scan:  # fmt: skip
            while scan.poll() is None:
                seen |= _session(scan.pid)
                time.sleep(0.005)
            assert scan.stderr is not None
            stderr = scan.stderr.read().decode()
    finally:
        holder.communicate(b"", timeout=60)
    assert scan.returncode == STATE_IN_USE, stderr
    assert "in use by another trailhound" in stderr
    # both workers and the helper kept for the end of the run
    assert len(_children(seen, scan.pid)) == 2 + cores.may_help()
    assert _left(scan.pid) == {}
    assert not (tmp_path / "out.jsonl").exists()


_HOLD = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])  # DuckDB locks the file against other processes
print("held", flush=True)
sys.stdin.read()
con.close()
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    simulate(out, days=1, seed=7, events=8_000)  # two tasks: 1.5 MB a file's own bytes aside
    return out


def _summary(outputs: Iterable[StageOutput]) -> list[tuple[int, list[str]]]:
    return [
        (o.events, [] if o.matched is None else o.matched.column("event.id").to_pylist())
        for o in outputs
    ]


def test_a_process_running_another_thread_gets_its_workers_from_the_fork_server(
    folder: Path,
) -> None:
    rules = load_rules([shipped_pack_dir()]).rules
    filters = FilterPlan.build(rules, now=datetime(2026, 1, 1, tzinfo=UTC))
    plan = StagePlan.build(rules, enricher=Enricher.create(), filters=filters)
    listed = list(blobs_of([open_local(str(folder))], Report()))
    after = _summary(run_in_workers(listed, plan, 2))
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)  # a thread a fork would not copy
    thread.start()
    try:
        engine = LocalEngine(2)
        engine.start(plan, before_duckdb=True)
        assert server_running()
        blobs = blobs_of([open_local(str(folder))], Report())
        assert _summary(engine.stage_outputs(blobs, plan, Report())) == after
    finally:
        stop.set()
        thread.join()
    assert len(after) > 1 and any(ids for _, ids in after)
    assert not server_running()


@pytest.mark.parametrize("point", ["interrupt-making", "interrupt-making-served"])
def test_ctrl_c_while_the_helper_makes_parts_is_one_line_and_leaves_no_process(
    day: Day, tmp_path: Path, point: str
) -> None:
    """The end of a run beside its helper, interrupted: the scan says its one line, decides
    nothing (its transaction rolled back) and leaves no helper behind, whether the helper
    was forked here or by the fork server (then stopped, so that it would not end itself)."""
    command = day.scan(tmp_path, 2)
    command[1:3] = ["-m", "support.corpus", point]
    with started(command, day.env, start_new_session=True, stderr=subprocess.PIPE) as scan:
        _, stderr = scan.communicate(timeout=120)
    lines = stderr.decode().splitlines()
    assert scan.returncode == INTERRUPTED, lines
    assert len(lines) == 1 and lines[0].startswith("trailhound: interrupted"), lines
    assert _left(scan.pid) == {}
    assert not (tmp_path / "out.jsonl").exists()
