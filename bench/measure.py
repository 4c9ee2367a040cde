"""Run one command in a fresh process and measure its wall time and peak memory.

The command runs `TIMED_RUNS` times untouched and the fastest run gives the time (this machine
is a virtual one whose neighbours and memory management make one run vary by up to a third);
then once more for the memory, sampled from
/proc every 50 ms over the whole process tree (a scan with workers is several processes): the
peak of the summed proportional set size (PSS: shared pages counted once, split between the
processes sharing them) and the peak resident set of the largest single process (its VmHWM,
what `getrusage` reports for a child).
"""

from __future__ import annotations

import os
import resource
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

_SAMPLE_SECONDS = 0.05
TIMED_RUNS = 3


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_pss_mb: float  # summed over the process tree
    peak_rss_mb: float  # of the largest single process
    returncode: int
    stdout: str
    stderr: str
    # user + sys of the process and every descendant it waited for (a scan's workers, through
    # the fork server): unlike the wall time, this hardly moves with a neighbour's load
    cpu_seconds: float = 0.0


def measure(
    command: Sequence[str],
    *,
    shell: bool = False,
    memory: bool = True,
    prepare: Callable[[], None] | None = None,
) -> Measured:
    """Run `command` `TIMED_RUNS` times untouched, keeping the fastest, then once watched for
    the memory (reading a process's memory map from /proc slows it down: a scan by up to a
    fifth). `prepare` runs before each (a fresh state file for a scan); `memory=False` skips
    the watched run."""
    timed = _fastest(command, shell=shell, prepare=prepare)
    if not memory or timed.returncode not in (0, 1):
        return timed
    if prepare is not None:
        prepare()
    watched = _run(command, shell=shell, watch=True)
    return Measured(
        timed.seconds, watched.peak_pss_mb, watched.peak_rss_mb,
        timed.returncode, timed.stdout, timed.stderr, timed.cpu_seconds,
    )  # fmt: skip


def _fastest(
    command: Sequence[str], *, shell: bool, prepare: Callable[[], None] | None
) -> Measured:
    runs = []
    for _ in range(TIMED_RUNS):
        if prepare is not None:
            prepare()
        run = _run(command, shell=shell, watch=False)
        if run.returncode not in (0, 1):
            return run
        runs.append(run)
    return min(runs, key=lambda r: r.seconds)


def _run(command: Sequence[str], *, shell: bool, watch: bool) -> Measured:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(
        " ".join(command) if shell else list(command),
        shell=shell,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak_pss = 0
    peak_rss: dict[int, int] = {}  # VmHWM, each process's own high-water mark
    while True:
        try:
            out, err = process.communicate(timeout=_SAMPLE_SECONDS if watch else None)
            break
        except subprocess.TimeoutExpired:
            pids = _tree(process.pid)
            for pid in pids:
                peak_rss[pid] = max(peak_rss.get(pid, 0), _field_kb(pid, "status", "VmHWM:"))
            peak_pss = max(peak_pss, sum(_field_kb(p, "smaps_rollup", "Pss:") for p in pids))
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    largest = max(peak_rss.values(), default=0)
    return Measured(seconds, peak_pss / 1024, largest / 1024, process.returncode, out, err, cpu)


def _tree(root: int) -> list[int]:
    found = [root]
    index = 0
    while index < len(found):
        pid = found[index]
        index += 1
        for task in _listdir(f"/proc/{pid}/task"):
            found += [int(c) for c in _read(f"/proc/{pid}/task/{task}/children").split()]
    return found


def _field_kb(pid: int, name: str, field: str) -> int:
    for line in _read(f"/proc/{pid}/{name}").splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    return 0


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""
