"""Whether a scan will read with workers, guessed before its input is listed (to start their
fork server early): the engine's own rule, from the sizes of the local files."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from trailhound.pipeline import cores, local_engine
from trailhound.pipeline.local_engine import AUTO_WORKERS_BYTES, workers_likely
from trailhound.sources import Blob, open_source


def _sized(path: Path, size: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        out.truncate(size)  # sparse: the size without the bytes
    return path


@pytest.fixture(autouse=True)
def _two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cores, "usable_cores", lambda: 2.0)


def test_a_folder_worth_workers_by_its_files_anywhere_below(tmp_path: Path) -> None:
    half = AUTO_WORKERS_BYTES // 2
    _sized(tmp_path / "a" / "one.json.gz", half)
    assert not workers_likely([str(tmp_path)], None)
    _sized(tmp_path / "b" / "c" / "two.json.gz", half)
    assert workers_likely([str(tmp_path)], None)
    assert workers_likely([str(tmp_path / "a"), str(tmp_path / "b")], None)


def test_a_small_file_and_inputs_not_looked_at_are_not_worth_them(tmp_path: Path) -> None:
    small = _sized(tmp_path / "one.json.gz", 4096)
    for paths in ([str(small)], ["-"], ["s3://bucket/AWSLogs/"], [str(tmp_path / "none*")]):
        # (a glob or a bucket is not looked into: the engine decides once they are listed)
        assert not workers_likely(paths, None)


def test_workers_given_are_taken_as_given_unless_one_file_is_read(tmp_path: Path) -> None:
    big = _sized(tmp_path / "big.json.gz", AUTO_WORKERS_BYTES)
    small = _sized(tmp_path / "small.json.gz", 4096)
    assert workers_likely([str(tmp_path)], 2)
    assert workers_likely([str(small), str(big)], 2)
    assert not workers_likely([str(tmp_path)], 1)
    # the engine reads a single file, or standard input, in this process whatever is asked
    assert not workers_likely([str(big)], 2)
    assert not workers_likely(["-"], 4)


def test_one_core_reads_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _sized(tmp_path / "big.json.gz", AUTO_WORKERS_BYTES)
    monkeypatch.setattr(cores, "usable_cores", lambda: 1.0)
    assert not workers_likely([str(tmp_path)], None)


@pytest.fixture
def one_cpu(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process allowed one CPU of the machine's, as `taskset -c 0` or a container's
    cpuset allows, with the machine's count of CPUs left as it is."""
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("sets the CPUs this process runs on")
    monkeypatch.undo()  # the machine as it is, not the two CPUs the other tests assume
    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(allowed)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, allowed)


def test_a_process_allowed_one_cpu_of_many_reads_alone(tmp_path: Path, one_cpu: None) -> None:
    _sized(tmp_path / "big.json.gz", AUTO_WORKERS_BYTES)
    listed = [b for b in open_source(str(tmp_path)).blobs() if isinstance(b, Blob)]
    assert sum(b.size or 0 for b in listed) >= AUTO_WORKERS_BYTES
    assert not workers_likely([str(tmp_path)], None)
    assert local_engine._automatic_workers(listed) == 1


def test_hidden_files_and_folders_are_not_counted_as_the_listing_skips_them(
    tmp_path: Path,
) -> None:
    # a repository's .git or .venv beside its logs is never read, so it is worth no worker
    _sized(tmp_path / ".cache" / "blob", AUTO_WORKERS_BYTES)
    _sized(tmp_path / ".big.json.gz", AUTO_WORKERS_BYTES)
    _sized(tmp_path / "logs" / "one.json.gz", 4096)
    assert not workers_likely([str(tmp_path)], None)
    _sized(tmp_path / "logs" / "two.json.gz", AUTO_WORKERS_BYTES)
    assert workers_likely([str(tmp_path)], None)
