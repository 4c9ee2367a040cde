"""The benchmark's start-up scan, old and new checkouts in alternating runs.

    python bench/start_up_pairs.py OLD_PYTHON NEW_PYTHON FILE_OR_FOLDER [PAIRS] [--state]

Each pair runs `python -m trailhound scan FILE_OR_FOLDER --no-state --format jsonl --output F
--quiet` (as `run.py`'s `_fixed_costs` does) once with each interpreter, the order swapped
from one pair to the next, and takes each process's wall time and its CPU (user + sys, by
`wait4`); `--state` gives each run a new state file instead. It prints the medians and the
bests of both, how many pairs the new one took less CPU in, and the load before and after:
on a shared machine only many alternating pairs, compared by CPU, say which is cheaper.
Run `python -m compileall` over both checkouts first, and one scan each to fill the rule
caches, or the first pairs pay for both.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path


def main() -> None:
    args = _arguments()
    pythons = {"old": args.old, "new": args.new}
    walls: dict[str, list[float]] = {name: [] for name in pythons}
    cpus: dict[str, list[float]] = {name: [] for name in pythons}
    print("load before:", _load())
    with tempfile.TemporaryDirectory() as scratch:
        for pair in range(args.pairs):
            order = ("old", "new") if pair % 2 == 0 else ("new", "old")
            for name in order:
                wall, cpu = _run(pythons[name], args.input, Path(scratch) / name, args.state)
                walls[name].append(wall)
                cpus[name].append(cpu)
    print("load after:", _load())
    for name in pythons:
        print(f"{name}: wall median {statistics.median(walls[name]):.3f} best "
              f"{min(walls[name]):.3f}; CPU median {statistics.median(cpus[name]):.3f} best "
              f"{min(cpus[name]):.3f} s")  # fmt: skip
    lower = sum(n < o for n, o in zip(cpus["new"], cpus["old"], strict=True))
    print(f"new took less CPU in {lower} of {args.pairs} pairs")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old", help="the old checkout's python")
    parser.add_argument("new", help="the new checkout's python")
    parser.add_argument("input", type=Path, help="the small file (or its folder) to scan")
    parser.add_argument("pairs", type=int, nargs="?", default=20)
    parser.add_argument("--state", action="store_true", help="a new state file each run")
    return parser.parse_args()


def _run(python: str, source: Path, scratch: Path, state: bool) -> tuple[float, float]:
    """One start-up scan: its wall time and its process's user + sys CPU (seconds)."""
    scratch.mkdir(exist_ok=True)
    for left in scratch.iterdir():  # each run's state file is a new one
        left.unlink()
    kept = ["--state", str(scratch / "state.duckdb")] if state else ["--no-state"]
    command = [python, "-m", "trailhound", "scan", str(source), *kept, "--format", "jsonl",
               "--output", str(scratch / "alerts.jsonl"), "--quiet"]  # fmt: skip
    started = time.perf_counter()
    process = subprocess.Popen(command)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) not in (0, 1):  # 1: new alerts
        raise SystemExit(f"{' '.join(command)} failed")
    return wall, usage.ru_utime + usage.ru_stime


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


if __name__ == "__main__":
    main()
