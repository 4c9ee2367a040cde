"""Run one command in a fresh process and measure its wall time and peak memory.

Memory is sampled from /proc over the whole process tree (a scan with workers is several
processes): the peak of the summed proportional set size (PSS: shared pages counted once, split
between the processes sharing them; read every 0.2 s, as reading it costs the measured
processes time) and the peak resident set of the largest single process (its VmHWM, what
`getrusage` reports for a child).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_SAMPLE_SECONDS = 0.05
_PSS_EVERY = 4  # PSS is costly to read: sampling it every 50 ms slowed a scan by a tenth


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_pss_mb: float  # summed over the process tree
    peak_rss_mb: float  # of the largest single process
    returncode: int
    stdout: str
    stderr: str


def measure(command: Sequence[str], *, cwd: Path | None = None, shell: bool = False) -> Measured:
    """Run `command` to completion; its output is captured, never shown."""
    started = time.perf_counter()
    process = subprocess.Popen(
        " ".join(command) if shell else list(command),
        cwd=cwd,
        shell=shell,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak_pss = 0
    peak_rss: dict[int, int] = {}  # VmHWM, each process's own high-water mark
    samples = 0
    while True:
        try:
            out, err = process.communicate(timeout=_SAMPLE_SECONDS)
            break
        except subprocess.TimeoutExpired:
            samples += 1
            pids = _tree(process.pid)
            for pid in pids:
                peak_rss[pid] = max(peak_rss.get(pid, 0), _field_kb(pid, "status", "VmHWM:"))
            if samples % _PSS_EVERY == 0:  # the kernel walks every mapping for this
                peak_pss = max(peak_pss, sum(_field_kb(p, "smaps_rollup", "Pss:") for p in pids))
    seconds = time.perf_counter() - started
    largest = max(peak_rss.values(), default=0)
    return Measured(seconds, peak_pss / 1024, largest / 1024, process.returncode, out, err)


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
