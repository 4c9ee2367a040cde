"""The workers' idle time in one scan, from `timeline.py --json`: per worker its first task,
its gaps between tasks (each gap of 10 ms or more, when it came, and whether the scanning
process was storing matches then), and the tail (from its last task's end to the other
worker's); and the scanning process's stores.

    python bench/timeline_gaps.py CORPUS_FOLDER [WORKERS] [--runs N]

Runs `timeline.py` with this interpreter (so another checkout's Python times that checkout)
and prints one JSON line per run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

_LARGE = 0.010


def _events(corpus: str, workers: str) -> list[dict[str, Any]]:
    timeline = Path(__file__).with_name("timeline.py")
    done = subprocess.run(
        [sys.executable, str(timeline), corpus, workers, "--json"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def _spans(events: list[dict[str, Any]], start: str, end: str) -> dict[str, list[list[float]]]:
    open_: dict[str, float] = {}
    spans: dict[str, list[list[float]]] = {}
    for e in events:
        if e["what"] == start:
            open_[e["pid"]] = e["t"]
        elif e["what"] == end:
            spans.setdefault(e["pid"], []).append([open_.pop(e["pid"]), e["t"]])
    return spans


def _summary(events: list[dict[str, Any]]) -> dict[str, Any]:
    tasks = _spans(events, "task-start", "task-end")
    stores = [s for spans in _spans(events, "store-start", "store-end").values() for s in spans]
    last_end = max(spans[-1][1] for spans in tasks.values())
    workers = []
    for spans in tasks.values():
        gaps = [(b[0] - a[1], a[1]) for a, b in itertools.pairwise(spans)]
        large = [
            {"at": round(at, 3), "s": round(g, 3),
             "storing": any(s[0] < at + g and s[1] > at for s in stores)}
            for g, at in gaps if g >= _LARGE
        ]  # fmt: skip
        workers.append({
            "tasks": len(spans), "first_task_s": round(spans[0][1] - spans[0][0], 3),
            "gaps_s": round(sum(g for g, _ in gaps), 3), "large": large,
            "tail_s": round(last_end - spans[-1][1], 3),
        })  # fmt: skip
    return {
        "reading": [round(min(s[0][0] for s in tasks.values()), 3), round(last_end, 3)],
        "stores": [[round(a, 3), round(b - a, 3)] for a, b in stores],
        "workers": workers,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus")
    parser.add_argument("workers", nargs="?", default="2")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    for _ in range(args.runs):
        print(json.dumps(_summary(_events(args.corpus, args.workers))), flush=True)


if __name__ == "__main__":
    main()
