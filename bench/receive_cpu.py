"""Where the scanning process spends its CPU while the workers read: receiving and storing.

    python bench/receive_cpu.py CORPUS_DIR [WORKERS]

Runs `bench/phases.py` (the scan through the library, shipped pack, fresh state, WORKERS
processes, 2 by default) with CPU timers (process time: every thread of the scanning process,
DuckDB's included; not the workers) around the parts of the receive loop: taking the next
output from the workers (waiting, receiving, unpickling; the first includes starting them),
`Detector.add_matches` and, inside it, storing matches (`_store_pending`, of which the
duplicate check `counted.first_counts`). `receiving` is the parent's CPU from the first output
asked for to the start of `Detector.finish`, `main thread` the main thread's share of it, and
`thread X` the CPU of each other thread (the most seen while it lived; "python" are DuckDB's,
over the whole run). Prints one JSON line; on a shared machine compare versions by these
figures in alternating runs.
"""

from __future__ import annotations

import json
import os
import resource
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from like_the_command import cpu_before, set_up
from parent_cpu import run_phases, timed  # a script beside this one

from trailhound.cloudtrail.geo import Enricher
from trailhound.engine import detector
from trailhound.pipeline import local_engine
from trailhound.state import counted


def _threads() -> dict[str, float]:
    """CPU seconds of each thread of this process but the main one, by what it runs (Linux):
    a Python thread by its target's name, one of DuckDB's as "python"."""
    names = {t.native_id: _runs(t) for t in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK")
    found: Counter[str] = Counter()
    for task in Path("/proc/self/task").iterdir():
        tid = int(task.name)
        if tid == threading.main_thread().native_id:
            continue
        fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        name = names.get(tid) or (task / "comm").read_text().strip()
        found[f"thread {name}"] += (int(fields[11]) + int(fields[12])) / tick
    return found


def _runs(thread: threading.Thread) -> str:
    target = getattr(thread, "_target", None)  # a benchmark may look inside
    return str(getattr(target, "__name__", thread.name))


def _instrument(spent: Counter[str]) -> None:
    for name in ["add_matches", "_store_pending", "finish"]:
        setattr(detector.Detector, name, timed(spent, name, getattr(detector.Detector, name)))
    counted.first_counts = timed(spent, "first_counts", counted.first_counts)
    Enricher.warm_up = timed(spent, "warm_up (a thread)", Enricher.warm_up)  # type: ignore[method-assign]
    finish = detector.Detector.finish
    outputs = local_engine.LocalEngine.stage_outputs

    def finish_marked(self: Any, **options: Any) -> Any:
        spent["receiving"] = time.process_time() - spent["receiving"]
        spent["main thread"] = time.thread_time() - spent["main thread"]
        for name, cpu in _threads().items():
            spent[name] = max(spent[name], cpu)
        return finish(self, **options)

    def stage_outputs(self: Any, *args: Any) -> Iterator[Any]:
        spent["receiving"] = time.process_time()
        spent["main thread"] = time.thread_time()
        produced = outputs(self, *args)
        while True:
            started = time.process_time()
            try:
                out = next(produced)
            except StopIteration:
                return
            finally:
                label = "next output" if spent["outputs"] else "first output"
                spent[label] += time.process_time() - started
            spent["outputs"] += 1
            for name, cpu in _threads().items():
                spent[name] = max(spent[name], cpu)
            yield out

    detector.Detector.finish = finish_marked  # type: ignore[method-assign]
    local_engine.LocalEngine.stage_outputs = stage_outputs  # type: ignore[method-assign]


def main() -> None:
    set_up()
    spent: Counter[str] = Counter()
    _instrument(spent)
    usage = run_phases()
    spent["parent"] = usage.ru_utime + usage.ru_stime - cpu_before()
    spent["peak_rss_mb"] = usage.ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the workers, once reaped
    spent["children"] = children.ru_utime + children.ru_stime
    print(json.dumps({k: round(v, 3) for k, v in spent.most_common()}))


if __name__ == "__main__":
    main()
