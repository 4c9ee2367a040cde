"""`trailhound watch` over a folder as CloudTrail fills it: steps give the alerts of one scan,
none twice, also when a step is killed, stopped by SIGTERM, or a file grows.

The simulated day delivers 2% of its records one to six hours late, so the tests that compare
steps with one scan allow six hours of lateness: with less, a record later than the allowed
lateness is judged after what came before it, as it must be.
"""

from __future__ import annotations

import itertools
import json
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from support.corpus import comparable, environment, read_alerts, simulate_day, started

LATENESS = "6h"
NEW_ALERTS = 1


class Day:
    """A simulated day's files in delivery order, and one scan's alerts over all of them."""

    def __init__(self, folder: Path) -> None:
        self.env = environment(folder)
        self.logs = simulate_day(folder / "sim", self.env)
        # the stamp in a CloudTrail file name is its delivery time
        self.files = sorted(self.logs.rglob("*.json.gz"), key=lambda p: p.name.split("_")[3])
        done = subprocess.run(
            [sys.executable, "-m", "trailhound", "scan", str(self.logs), "--no-state", "-q",
             "--format", "jsonl"],
            env=self.env, capture_output=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == NEW_ALERTS, done.stderr.decode()
        self.alerts = {a["id"]: comparable(a) for a in map(json.loads, done.stdout.splitlines())}

    def deliver(self, files: Sequence[Path], into: Path) -> None:
        """Copy files into the watched folder as a trail delivers them: whole, then renamed."""
        for file in files:
            target = into / file.relative_to(self.logs)
            target.parent.mkdir(parents=True, exist_ok=True)
            hidden = target.with_name("." + target.name)
            shutil.copyfile(file, hidden)
            hidden.rename(target)


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Day:
    return Day(tmp_path_factory.mktemp("watched-day"))


def watch_once(day: Day, folder: Path, state: Path, out: Path, *extra: str) -> int:
    done = subprocess.run(
        [sys.executable, "-m", "trailhound", "watch", str(folder), "--once", "--state", str(state),
         "-o", str(out), "--lateness", LATENESS, "-q", *extra],
        env=day.env, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode in (0, NEW_ALERTS), done.stderr.decode()
    return done.returncode


def assert_one_scan(day: Day, out: Path) -> None:
    assert_same(read_alerts(out), day.alerts)


def assert_same(alerts: list[dict[str, Any]], scanned: dict[str, dict[str, Any]]) -> None:
    """The same alerts as one scan, none twice, alike in all but one thing: an alert sent
    while its suppression window was still open counts what had been folded in by then."""
    counted = Counter(a["id"] for a in alerts)
    assert [i for i, n in counted.items() if n > 1] == []
    got = {a["id"]: comparable(a) for a in alerts}
    assert set(got) == set(scanned)
    for ident, alert in got.items():
        expected = scanned[ident]
        assert {**alert, "count": 0} == {**expected, "count": 0}
        assert alert["count"] == expected["count"] or (
            alert["rule"]["type"] == "query" and alert["count"] < expected["count"]
        )


@pytest.mark.parametrize("cuts", [(0.5,), (0.2, 0.45, 0.9)], ids=["two-steps", "four-steps"])
def test_steps_over_a_folder_give_the_alerts_of_one_scan(
    day: Day, tmp_path: Path, cuts: tuple[float, ...]
) -> None:
    folder, state, out = tmp_path / "trail", tmp_path / "state.duckdb", tmp_path / "out.jsonl"
    bounds = [0, *(int(c * len(day.files)) for c in cuts), len(day.files)]
    for start, end in itertools.pairwise(bounds):
        day.deliver(day.files[start:end], folder)
        watch_once(day, folder, state, out)
    # the last step found files; the last six hours wait for late records until a step
    # finds nothing new and the wall clock says they are past waiting for
    assert len(read_alerts(out)) < len(day.alerts)
    watch_once(day, folder, state, out)
    assert_one_scan(day, out)
    assert watch_once(day, folder, state, out) == 0  # nothing read or sent twice


@pytest.mark.parametrize("point", ["decided", "watch-read", "watch-committed", "delivered"])
def test_a_step_killed_at_any_point_loses_and_repeats_nothing(
    day: Day, tmp_path: Path, point: str
) -> None:
    folder, state, out = tmp_path / "trail", tmp_path / "state.duckdb", tmp_path / "out.jsonl"
    half = len(day.files) // 2
    day.deliver(day.files[:half], folder)
    watch_once(day, folder, state, out)
    day.deliver(day.files[half:], folder)
    killed = subprocess.run(
        [sys.executable, "-m", "support.corpus", point, "watch", str(folder), "--once",
         "--state", str(state), "-o", str(out), "--lateness", LATENESS, "-q"],
        env=day.env, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()
    watch_once(day, folder, state, out)
    watch_once(day, folder, state, out)
    assert_one_scan(day, out)


def test_sigterm_finishes_the_step_and_the_next_start_goes_on(day: Day, tmp_path: Path) -> None:
    folder, state, out = tmp_path / "trail", tmp_path / "state.duckdb", tmp_path / "out.jsonl"
    day.deliver(day.files, folder)
    command = [sys.executable, "-m", "trailhound", "watch", str(folder), "--interval", "1h",
               "--state", str(state), "-o", str(out), "--lateness", LATENESS]  # fmt: skip
    with started(command, day.env, stderr=subprocess.PIPE) as watcher:
        assert watcher.stderr is not None
        line = watcher.stderr.readline().decode()
        assert line.startswith("trailhound: step "), line
        watcher.send_signal(signal.SIGTERM)
        assert watcher.wait(timeout=30) == 0
        rest = watcher.stderr.read().decode()
    assert "Traceback" not in rest
    watch_once(day, folder, state, out)  # nothing new: decides what waited
    assert_one_scan(day, out)


def test_a_file_that_grows_is_read_from_where_the_last_step_stopped(
    day: Day, tmp_path: Path
) -> None:
    """NDJSON appended to, as a log shipper writes it: each record read once, and a line not
    yet complete waits for the step that finds it whole."""
    records = _records(day.files[:40])
    assert len(records) > 200
    folder, state, out = tmp_path / "trail", tmp_path / "state.duckdb", tmp_path / "out.jsonl"
    folder.mkdir()
    log = folder / "trail.ndjson"
    lines = [json.dumps(r) + "\n" for r in records]
    third = len(lines) // 3
    log.write_text("".join(lines[:third]) + lines[third][:25], encoding="utf-8")
    watch_once(day, folder, state, out)
    with log.open("a", encoding="utf-8") as file:
        file.write(lines[third][25:] + "".join(lines[third + 1 :]))
    watch_once(day, folder, state, out)
    watch_once(day, folder, state, out)
    whole = tmp_path / "whole.ndjson"
    whole.write_text("".join(lines), encoding="utf-8")
    scan = subprocess.run(
        [sys.executable, "-m", "trailhound", "scan", str(whole), "--no-state", "-q",
         "--format", "jsonl"],
        env=day.env, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    expected = {a["id"]: comparable(a) for a in map(json.loads, scan.stdout.splitlines())}
    assert len(expected) > 3
    assert_same(read_alerts(out), expected)


def _records(files: Sequence[Path]) -> list[dict[str, Any]]:
    import gzip

    found: list[dict[str, Any]] = []
    for file in files:
        found += json.loads(gzip.decompress(file.read_bytes()))["Records"]
    return found


def test_watch_names_what_it_cannot_follow(day: Day, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "trailhound", "watch", "ftp://example/logs", "--once"],
        env=day.env, capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "cannot follow ftp://" in done.stderr.decode()
    assert "Traceback" not in done.stderr.decode()
