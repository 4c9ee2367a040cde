"""Where a scan's memory is at its peak: the process tree's PSS over time, process by process.

    python bench/tree_memory.py bench/.cache/<corpus folder> [--workers 2] [--runs 2]

Runs the benchmark's scan (`run.py`'s command and decoy `trailhound.toml`, a fresh state file)
in a fresh process and samples /proc every 50 ms, as `measure.py` does: each process's PSS
(from smaps_rollup) and resident high-water mark. Prints, per run, the tree's peak PSS, when
it came (seconds after the start, and how long before the end), what each process held then
(the scanning process, each worker, the fork server if any), the peaks of the reading (workers
alive) and of the end (after them), each process's own peak, the CPU time
of the whole tree, and the alerts against the corpus's answer key. `measure.py` gives the
report's one figure; this one says whose it is.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from measure import _field_kb, _tree
from run import _config

_SAMPLE_SECONDS = 0.05


def main() -> None:
    args = _arguments()
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as scratch:
            found = watch(args.corpus, args.workers, Path(scratch))
            timeline = found.pop("timeline")
            print(json.dumps({"run": run, **found}), flush=True)
            if args.timeline:
                print("\n".join(timeline))


def watch(corpus: Path, workers: int, scratch: Path) -> dict[str, object]:
    alerts = scratch / "alerts.jsonl"
    command = [
        sys.executable, "-m", "trailhound", "scan", str(corpus / "AWSLogs"),
        "--state", str(scratch / "state.duckdb"), "--format", "jsonl", "--output", str(alerts),
        "--workers", str(workers), "--quiet", "--config", str(_config(scratch)),
    ]  # fmt: skip
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    roles: dict[int, str] = {process.pid: "scan"}
    peak_tree, peak_at, at_peak = 0, 0.0, {}
    own_peak: dict[int, int] = {}
    timeline: list[tuple[float, dict[int, int]]] = []
    while (usage := _reaped(process)) is None:
        sample = {}
        for pid in _tree(process.pid):
            roles.setdefault(pid, _role(pid, process.pid))
            sample[pid] = _field_kb(pid, "smaps_rollup", "Pss:")
            own_peak[pid] = max(own_peak.get(pid, 0), _field_kb(pid, "status", "VmHWM:"))
        timeline.append((time.perf_counter() - started, sample))
        if sum(sample.values()) > peak_tree:
            peak_tree, peak_at, at_peak = sum(sample.values()), time.perf_counter(), sample
        time.sleep(_SAMPLE_SECONDS)
    ended = time.perf_counter()
    err = process.stderr.read().decode() if process.stderr else ""
    if process.returncode not in (0, 1):
        raise SystemExit(f"the scan failed ({process.returncode}):\n{err}")
    expected = len(json.loads((corpus / "answer_key.json").read_text())["alerts"])
    found = sum(1 for _ in alerts.open()) if alerts.exists() else 0
    shutil.rmtree(scratch, ignore_errors=True)
    return {
        "seconds": round(ended - started, 2),
        "peak_pss_mb": round(peak_tree / 1024),
        **_phase_peaks(timeline, roles),
        "peak_at_s": round(peak_at - started, 2),
        "before_end_s": round(ended - peak_at, 2),
        "at_peak_pss_mb": {roles[p]: round(kb / 1024) for p, kb in at_peak.items()},
        "own_peak_rss_mb": {roles[p]: round(kb / 1024) for p, kb in own_peak.items()},
        "tree_cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "alerts": found,
        "timeline": _thinned(timeline, roles),
        "answer_key": expected,
    }


def _phase_peaks(
    timeline: list[tuple[float, dict[int, int]]], roles: dict[int, str]
) -> dict[str, int]:
    """The tree's peak while a worker was alive (the reading) and after the last one ended
    (the end of the run, the scanning process alone), MB: either can be the run's peak, so a
    change to one phase shows in its own figure even where the other sets the run's."""
    reading = end = 0
    workers_seen = False
    for _, sample in timeline:
        total = sum(sample.values())
        if any(roles[p].startswith("worker") for p in sample):
            workers_seen = True
            reading = max(reading, total)
        elif workers_seen:
            end = max(end, total)
    return {"reading_peak_mb": round(reading / 1024), "end_peak_mb": round(end / 1024)}


def _reaped(process: subprocess.Popen[bytes]) -> resource.struct_rusage | None:
    """Once the scan has ended, its CPU time with that of the processes under it that were
    waited for (the fork server, and through it the workers); else None."""
    pid, status, usage = os.wait4(process.pid, os.WNOHANG)
    if pid == 0:
        return None
    process.returncode = os.waitstatus_to_exitcode(status)
    return usage


def _thinned(timeline: list[tuple[float, dict[int, int]]], roles: dict[int, str]) -> list[str]:
    """One sample in ten: seconds, the tree's PSS, then each process's (MB)."""
    return [
        f"{at:.1f}s {sum(s.values()) // 1024} = "
        + " ".join(f"{roles[p].split('-')[0]}:{kb // 1024}" for p, kb in s.items())
        for at, s in timeline[::10]
    ]


def _role(pid: int, scan: int) -> str:
    """The workers are forked from the scanning process (so their command line is its own),
    or, where it cannot fork them, from the fork server, one of its children beside the
    resource tracker."""
    try:
        parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        own = Path(f"/proc/{scan}/cmdline").read_bytes()
    except (OSError, ValueError, IndexError):
        return f"gone-{pid}"
    if parent != scan or cmdline == own:
        return f"worker-{pid}"
    return f"{'forkserver' if b'forkserver' in cmdline else 'other'}-{pid}"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--timeline", action="store_true", help="print the samples too")
    return parser.parse_args()


if __name__ == "__main__":
    main()
