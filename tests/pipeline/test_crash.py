"""`trailhound scan` killed at any instant, then run again: the output has each alert once.

What a user relies on: a scan decides, commits its decisions with the outbox in one
transaction, then delivers; so `kill -9` at any moment followed by the same command again
leaves OUT.jsonl with exactly the alerts of an uninterrupted run, each once, on whole lines,
and the state as if the killed step had not run (or had run to its end).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import duckdb
import orjson
import pytest

from support.corpus import (
    MARK,
    comparable,
    environment,
    kill_after,
    read_alerts,
    simulate_day,
    started,
)

NEW_ALERTS, DELIVERY_PENDING, INTERRUPTED = 1, 8, 130
STREAM_CHUNK = 64  # the stream output flushes (and settles) every 64 alerts


def scan_command(logs: Path, state: Path, out: Path | None) -> list[str]:
    """`trailhound scan LOGS` into OUT, or to standard output."""
    command = [sys.executable, "-m", "trailhound", "scan", str(logs), "--state", str(state),
               "-q", "--workers", "1"]  # fmt: skip
    return command if out is None else [*command, "-o", str(out)]


@dataclass(frozen=True)
class Day:
    """A simulated day of CloudTrail and what an uninterrupted scan makes of it."""

    logs: Path
    env: dict[str, str]
    alerts: dict[str, dict[str, Any]]  # id -> the alert, comparable
    order: list[str]  # ids in the order delivered
    seconds: float  # wall time of the whole command

    def scan(self, state: Path, out: Path | None = None) -> list[str]:
        return scan_command(self.logs, state, out)

    def crashing_at(self, point: str, state: Path, out: Path) -> list[str]:
        """The scan, killing itself at `point` (`support.corpus.CRASH_POINTS`)."""
        return [sys.executable, "-m", "support.corpus", point, *self.scan(state, out)[3:]]


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Day:
    home = tmp_path_factory.mktemp("crash")
    env = environment(home)
    logs = simulate_day(home / "sim", env)
    # build the parser cache first, so that the measured run is like the ones killed
    subprocess.run([sys.executable, "-m", "trailhound", "rules", "list"], env=env,
                   check=True, capture_output=True, timeout=60)  # fmt: skip
    out = home / "baseline.jsonl"
    started_at = time.perf_counter()
    done = subprocess.run(scan_command(logs, home / "baseline.duckdb", out), env=env,
                          capture_output=True, timeout=120)  # fmt: skip
    seconds = time.perf_counter() - started_at
    assert done.returncode == NEW_ALERTS, done.stderr.decode()
    alerts = read_alerts(out)
    assert len(alerts) > 100
    return Day(logs, env, {a["id"]: comparable(a) for a in alerts}, [a["id"] for a in alerts],
               seconds)  # fmt: skip


def finish(day: Day, state: Path, out: Path) -> int:
    """Run the scan again until nothing waits for delivery; returns the last exit status."""
    for _ in range(2):
        done = subprocess.run(day.scan(state, out), env=day.env, capture_output=True,
                              timeout=120)  # fmt: skip
        # new alerts or none, maybe some pending; never input set aside, nor a usage error (2)
        assert done.returncode in (0, 1, 8, 9), (done.returncode, done.stderr.decode())
        if not done.returncode & DELIVERY_PENDING:
            return done.returncode
    raise AssertionError(f"alerts still pending after two reruns: {done.stderr.decode()}")


def assert_same_alerts(day: Day, out: Path) -> None:
    """OUT holds each alert of the uninterrupted run exactly once, and nothing else."""
    alerts = read_alerts(out)
    ids = [a["id"] for a in alerts]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    assert not repeated, f"{len(repeated)} alerts written twice"
    assert set(ids) == set(day.alerts), (
        f"missing {len(set(day.alerts) - set(ids))}, unexpected {len(set(ids) - set(day.alerts))}"
    )
    changed = [a["id"] for a in alerts if comparable(a) != day.alerts[a["id"]]]
    assert not changed, f"{len(changed)} alerts differ from the uninterrupted run's"


def size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


Kill = float | str
"""A SIGKILL from outside after this fraction of the uninterrupted run's wall time, or one the
process sends itself at this point of its work (`support.corpus.CRASH_POINTS`)."""


def kill(day: Day, how: Kill, state: Path, out: Path) -> None:
    if isinstance(how, float):
        kill_after(day.scan(state, out), day.env, how * day.seconds)
        return
    killed = subprocess.run(day.crashing_at(how, state, out), env=day.env,
                            capture_output=True, timeout=120)  # fmt: skip
    assert killed.returncode in (-signal.SIGKILL, -signal.SIGALRM), killed.stderr.decode()


# Start-up takes about the first third of the run, reading the next third, deciding most of
# the rest; the commit and delivery take a few milliseconds at about 90% (`CRASH_POINTS` hit
# them every time). At 100% the kill finds the process exiting, or ended: a clean run.
INSTANTS = (0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.88, 0.93, 0.97, 1.0)


@pytest.mark.parametrize("fraction", INSTANTS, ids=lambda f: f"kill-at-{f:.0%}")
def test_a_kill_at_any_instant_then_the_same_command_gives_each_alert_once(
    day: Day, tmp_path: Path, fraction: float
) -> None:
    state, out = tmp_path / "state.duckdb", tmp_path / "out.jsonl"
    kill(day, fraction, state, out)
    finish(day, state, out)
    assert_same_alerts(day, out)


def test_a_kill_while_the_commit_is_written_then_the_same_command_gives_each_alert_once(
    day: Day, tmp_path: Path
) -> None:
    """Killed as soon as DuckDB starts writing the commit to its log: the next run finds the
    commit torn (and drops it) or whole, never half applied."""
    state, out, mark = tmp_path / "state.duckdb", tmp_path / "out.jsonl", tmp_path / "decided"
    wal = state.with_name(state.name + ".wal")
    with started(day.crashing_at("announce-decided", state, out), {**day.env, MARK: str(mark)},
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as scan:  # fmt: skip
        deadline = time.monotonic() + 60
        while not mark.exists():
            assert scan.poll() is None and time.monotonic() < deadline, "no decisions"
            time.sleep(0.001)
        before = size(wal)
        while size(wal) == before and scan.poll() is None:
            pass  # the commit follows within milliseconds: watch closely
        os.kill(scan.pid, signal.SIGKILL)
        assert scan.wait() == -signal.SIGKILL
    finish(day, state, out)
    assert_same_alerts(day, out)


@pytest.mark.parametrize("point", ["committed", "torn-write", "delivered", "mid-checkpoint"])
def test_a_kill_between_the_commit_and_the_exit_then_the_same_command_gives_each_alert_once(
    day: Day, tmp_path: Path, point: str
) -> None:
    state, out = tmp_path / "state.duckdb", tmp_path / "out.jsonl"
    kill(day, point, state, out)
    if point == "torn-write":
        assert not out.read_bytes().endswith(b"\n")  # the rerun starts after half a line
    # the killed run decided the alerts; the rerun emits them (exit 1) unless all were settled
    assert finish(day, state, out) == (0 if point == "mid-checkpoint" else NEW_ALERTS)
    assert_same_alerts(day, out)


def test_two_kills_in_a_row_then_the_same_command_gives_each_alert_once(
    day: Day, tmp_path: Path
) -> None:
    """Killed with half a line written, then killed again once the rest was written and
    fsynced but before the outbox heard of it: the file has everything, the state nothing."""
    state, out = tmp_path / "state.duckdb", tmp_path / "out.jsonl"
    kill(day, "torn-write", state, out)
    kill(day, "delivered", state, out)
    assert read_alerts(out)  # whole lines again
    finish(day, state, out)
    assert_same_alerts(day, out)


def test_a_kill_while_the_state_file_is_created_then_the_same_command_works(
    day: Day, tmp_path: Path
) -> None:
    """DuckDB creates its file before writing its headers: a kill in between must not leave a
    state file that every later run refuses."""
    state, out = tmp_path / "state.duckdb", tmp_path / "out.jsonl"
    kill(day, "creating-state", state, out)
    finish(day, state, out)
    assert_same_alerts(day, out)


def test_an_empty_state_file_left_by_an_older_crash_is_replaced(
    day: Day, tmp_path: Path
) -> None:
    state, out = tmp_path / "state.duckdb", tmp_path / "out.jsonl"
    state.touch()
    finish(day, state, out)
    assert_same_alerts(day, out)


@pytest.fixture(scope="module")
def earlier_state(day: Day, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state file that an uninterrupted scan of one account's logs has filled."""
    state = tmp_path_factory.mktemp("earlier") / "state.duckdb"
    account = sorted(day.logs.iterdir())[0]
    done = subprocess.run(scan_command(account, state, state.with_suffix(".jsonl")),
                          env=day.env, capture_output=True, timeout=120)  # fmt: skip
    assert done.returncode == NEW_ALERTS, done.stderr.decode()
    return state


def snapshot(state: Path) -> dict[str, list[tuple[Any, ...]]]:
    con = duckdb.connect(str(state), read_only=True)
    try:
        tables = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        assert {"ledger", "outbox", "matches", "suppression_windows"} <= set(tables)
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in tables}
    finally:
        con.close()


@pytest.mark.parametrize("how", ["reading", "decided"], ids=["while-reading", "decided"])
def test_a_scan_killed_before_its_commit_leaves_the_state_as_it_was(
    day: Day, earlier_state: Path, tmp_path: Path, how: Kill
) -> None:
    state, out = tmp_path / "state.duckdb", tmp_path / "out.jsonl"
    state.write_bytes(earlier_state.read_bytes())
    before = snapshot(state)
    assert before["ledger"] and before["terms"] and before["matches"]
    kill(day, how, state, out)
    assert snapshot(state) == before
    assert not out.exists()


def assert_one_line_on_interrupt(stderr: bytes) -> None:
    """What Ctrl-C leaves on the terminal: trailhound's one line, no traceback from any of
    its processes."""
    lines = stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trailhound: interrupted"), lines


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("fraction", [0.25, 0.5, 0.75], ids=lambda f: f"ctrl-c-at-{f:.0%}")
def test_ctrl_c_at_any_instant_says_one_line_exits_130_and_the_same_command_carries_on(
    day: Day, tmp_path: Path, fraction: float, workers: int
) -> None:
    """Ctrl-C at a terminal reaches the whole process group: the scan, the fork server and
    the workers."""
    state, out = tmp_path / "state.duckdb", tmp_path / "out.jsonl"
    command = [*day.scan(state, out)[:-4], "--workers", str(workers), "-o", str(out)]
    with started(command, day.env, stderr=subprocess.PIPE, start_new_session=True) as scan:
        try:
            scan.wait(timeout=fraction * day.seconds)
        except subprocess.TimeoutExpired:
            os.killpg(scan.pid, signal.SIGINT)
        _, stderr = scan.communicate(timeout=60)
    # A process may also end by the signal itself, once its interpreter has begun to shut
    # down and handlers are gone: a shell reports that as 130 too, after the same one line.
    if scan.returncode == -signal.SIGINT and not stderr:
        # ended by the signal while its interpreter shut down, handlers gone: its work was
        # all done, so there was nothing to say
        assert {a["id"] for a in read_alerts(out)} == set(day.alerts)
    elif scan.returncode in (INTERRUPTED, -signal.SIGINT):
        assert_one_line_on_interrupt(stderr)
    else:  # the scan had finished (a slow start of the measured run)
        assert scan.returncode == NEW_ALERTS, stderr.decode()
    finish(day, state, out)
    assert_same_alerts(day, out)


def test_ctrl_c_before_the_commit_leaves_the_state_as_it_was(
    day: Day, earlier_state: Path, tmp_path: Path
) -> None:
    state, out = tmp_path / "state.duckdb", tmp_path / "out.jsonl"
    state.write_bytes(earlier_state.read_bytes())
    before = snapshot(state)
    interrupted = subprocess.run(day.crashing_at("interrupt-decided", state, out),
                                 env=day.env, capture_output=True, timeout=120)  # fmt: skip
    assert interrupted.returncode == INTERRUPTED, interrupted.stderr.decode()
    assert_one_line_on_interrupt(interrupted.stderr)
    assert snapshot(state) == before
    assert not out.exists()


def read_line(stream: IO[bytes]) -> bytes:
    line = stream.readline()
    assert line.endswith(b"\n"), "the scan ended its output early"
    return line


def drain(stream: IO[bytes]) -> list[str]:
    """The ids of the whole lines still in a pipe whose writer is gone."""
    return [orjson.loads(line)["id"] for line in stream.read().splitlines(keepends=True)
            if line.endswith(b"\n")]  # fmt: skip


def test_standard_output_killed_mid_chunk_repeats_only_that_chunk(day: Day, tmp_path: Path) -> None:
    """A reader that took one line when the scan died: nothing was settled (the chunk was not
    all flushed), so the rerun prints every alert again; those the reader saw before are the
    in-flight chunk's, no more."""
    state, out = tmp_path / "state.duckdb", tmp_path / "rerun.jsonl"
    with started(day.scan(state), day.env, stdout=subprocess.PIPE,
                 stderr=subprocess.DEVNULL) as scan:  # fmt: skip
        assert scan.stdout is not None
        seen = [orjson.loads(read_line(scan.stdout))["id"]]
        os.kill(scan.pid, signal.SIGKILL)
        scan.wait()
        seen += drain(scan.stdout)
    assert seen == day.order[: len(seen)] and len(seen) < STREAM_CHUNK
    with out.open("wb") as file:
        rerun = subprocess.run(day.scan(state), env=day.env, stdout=file,
                               stderr=subprocess.PIPE, timeout=120)  # fmt: skip
    assert rerun.returncode == NEW_ALERTS, rerun.stderr.decode()  # decided by the killed run
    assert_same_alerts(day, out)


def a_commit_within(seconds: float, wal: Path) -> bool:
    """Whether DuckDB's write-ahead log grows (a transaction commits) within `seconds`."""
    committed, deadline = size(wal), time.monotonic() + seconds
    while size(wal) == committed and time.monotonic() < deadline:
        time.sleep(0.01)
    return size(wal) != committed


def test_standard_output_killed_after_a_chunk_settled_does_not_repeat_it(
    day: Day, tmp_path: Path
) -> None:
    """The reader took the first chunk whole, then stalled; once that chunk is settled in the
    state, a kill and a rerun print only what the reader had not received: at most the next
    chunk, in flight in the pipe, comes twice."""
    state, out = tmp_path / "state.duckdb", tmp_path / "rerun.jsonl"
    wal = state.with_name(state.name + ".wal")
    with started(day.scan(state), day.env, stdout=subprocess.PIPE,
                 stderr=subprocess.DEVNULL) as scan:  # fmt: skip
        assert scan.stdout is not None
        first = [orjson.loads(read_line(scan.stdout))["id"] for _ in range(STREAM_CHUNK)]
        # delivery settles what was delivered within a quarter of a second
        assert a_commit_within(5, wal), "the first chunk was not settled"
        os.kill(scan.pid, signal.SIGKILL)
        scan.wait()
        in_flight = drain(scan.stdout)
    assert first == day.order[:STREAM_CHUNK]
    assert in_flight == day.order[STREAM_CHUNK : STREAM_CHUNK + len(in_flight)]
    with out.open("wb") as file:
        rerun = subprocess.run(day.scan(state), env=day.env, stdout=file,
                               stderr=subprocess.PIPE, timeout=120)  # fmt: skip
    assert rerun.returncode == NEW_ALERTS, rerun.stderr.decode()
    again = [a["id"] for a in read_alerts(out)]
    assert again == day.order[STREAM_CHUNK:]
