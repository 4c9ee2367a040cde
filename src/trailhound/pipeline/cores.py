"""The CPUs a scan may use (its affinity, and the CPU quota of its cgroup and those above it):
how many workers it starts when left to choose, whether it starts the helper for the end of a
run, and whether that helper has a core to spare, by how idle the machine was lately."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import suppress
from pathlib import Path

SPARE_CORES = 0.5
"""Idle CPU (cores, over the whole machine) from the end of the reading to the making of the
alerts (storing the last answers, deciding: ~0.4 s at 1M events), below which the helper is not
used: beside other busy processes a third of ours takes the scanning process's core from it
rather than an idle one (at 1M events on a busy host, `finish` 1.28 s of wall with the helper
against 1.21 without, its CPU 1.11 against 1.25)."""

HELPED_CORES = 2.0
"""CPUs this process must be allowed, at least, to use the helper: with one, the helper only
takes turns with the scanning process (deciding keeps one busy), however idle the machine."""

CpuTimes = tuple[int, int]  # the machine's idle and total CPU time (clock ticks)


def spare(since: CpuTimes | None) -> bool:
    """Whether a helper may be used (`may_help`) and the machine had `SPARE_CORES` idle
    since `since` (`cpu_times`)."""
    return may_help() and idle_cores(since) >= SPARE_CORES


def may_help() -> bool:
    """Whether a helper could ever be used here: this process may use `HELPED_CORES`, and
    there are pidfds (not so where it is not Linux: a helper from the fork server could not
    then be ended for certain once the server is gone). Where not, none is forked (a small
    box's one CPU, a watcher's every step)."""
    return hasattr(os, "pidfd_open") and usable_cores() >= HELPED_CORES


def worker_cores() -> int:
    """How many workers a scan left to choose starts for a large input: one per CPU it may use
    (at least one), not one per CPU of the host: a container allowed one CPU on a large host
    would otherwise start dozens, each with its own memory."""
    return max(1, int(usable_cores()))


def usable_cores() -> float:
    """The CPUs this process may run on and its cgroups let it use."""
    return capacity(_affinity(), _cpu_maxes(Path("/sys/fs/cgroup"), _cgroup()))


def capacity(cpus: int, cpu_maxes: Iterable[str]) -> float:
    """`cpus` (those the process may run on), fewer if a cgroup v2 `cpu.max` text ("QUOTA
    PERIOD" in microseconds, QUOTA "max" for no limit) of its cgroup or of one above it allows
    less CPU time per period: the tightest one holds."""
    quotas = [q for text in cpu_maxes if (q := _quota(text)) is not None]
    return min([float(cpus), *quotas])


def _quota(cpu_max: str) -> float | None:
    """The CPUs a `cpu.max` text allows; None for no limit or a text not of that form."""
    fields = cpu_max.split()
    if len(fields) != 2 or not all(f.isdigit() for f in fields):
        return None  # "max 100000" (no limit), or not a text this reading knows
    quota, period = int(fields[0]), int(fields[1])
    return quota / period if quota > 0 and period > 0 else None


def _affinity() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux: every CPU
        return os.cpu_count() or 1


def _cpu_maxes(mount: Path, cgroup: str) -> Iterator[str]:
    """The `cpu.max` texts (cgroup v2) of the cgroup at `cgroup` under `mount` and of each
    cgroup above it up to the mount's root: a parent's quota (a systemd slice, a pod around
    its container) binds its children too, and the root is a container's own cgroup seen
    through its namespace. None where there are none (cgroup v1, not Linux). A path that
    leaves the namespace ("/../..") is read as its root."""
    below = [part for part in cgroup.split("/") if part]
    if ".." in below:
        below = []
    for depth in range(len(below), -1, -1):
        text = _text(mount.joinpath(*below[:depth], "cpu.max"))
        if text is not None:
            yield text


def _text(path: Path) -> str | None:
    with suppress(OSError), open(path, encoding="ascii") as text:
        return text.read()
    return None


def _cgroup() -> str:
    """This process's cgroup v2 path ("0::PATH" in /proc/self/cgroup), "" if none is known."""
    with suppress(OSError), open("/proc/self/cgroup", encoding="utf-8") as lines:
        for line in lines:
            if line.startswith("0::"):
                return line[3:].strip().rstrip("/")
    return ""


def cpu_times() -> CpuTimes | None:
    """The machine's idle and total CPU time so far (clock ticks, from /proc/stat), or None
    where it cannot be read."""
    try:
        with open("/proc/stat", "rb") as stat:
            ticks = [int(t) for t in stat.readline().split()[1:9]]  # user .. steal
    except (OSError, ValueError):
        return None
    return ticks[3] + ticks[4], sum(ticks)  # idle and waiting for I/O; all


def idle_cores(since: CpuTimes | None) -> float:
    """The machine's cores idle on average since `since` (`cpu_times`); none where unknown
    (no /proc/stat, or no tick since): a helper beside a busy machine costs more than it gives."""
    cores = os.cpu_count() or 1
    now = cpu_times()
    if since is None or now is None or now[1] <= since[1]:
        return 0.0
    return cores * (now[0] - since[0]) / (now[1] - since[1])
