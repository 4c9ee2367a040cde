"""A worker's stage in threads of one process: how much of its work holds the GIL.

    python bench/stage_threads.py CORPUS_DIR [--threads 1 2] [--rounds 2]

Cuts the corpus into a scan's tasks (`pool.cut_into_tasks`) and runs `Stage.run` over them
(the shipped pack, the compiled skimmer when built) in N threads of this process, each thread
with a stage of its own taking the next task, as the workers would if they were threads. It
prints, per run, the wall time, the process's CPU time and each thread's (`thread_time`).
Were the stage's work mostly outside the GIL (inflating, the skimmer), two threads would take
about half the wall of one for the same CPU; the gap between that and what they take is the
work that holds the GIL (and what waiting for it costs). Runs alternate between the thread
counts given.
"""

from __future__ import annotations

import argparse
import gc
import queue
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from like_the_command import set_up

from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.reader import blobs_of
from trailhound.cloudtrail.report import Report
from trailhound.engine.filtering import FilterPlan
from trailhound.pipeline.pool import cut_into_tasks
from trailhound.pipeline.stage import Stage, StagePlan
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.sources import Blob, open_source


def main() -> None:
    set_up()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    plan, tasks = _plan_and_tasks(args.corpus)
    print(f"{sum(len(t) for t in tasks):,} files in {len(tasks)} tasks")
    for _ in range(args.rounds):
        for threads in args.threads:
            print(_run(plan, tasks, threads))


def _plan_and_tasks(corpus: Path) -> tuple[StagePlan, list[list[Blob]]]:
    rules = load_rules([shipped_pack_dir()]).rules
    enricher = Enricher.create()
    enricher.warm_up()
    filters = FilterPlan.build(rules, now=datetime.now(UTC))
    plan = StagePlan.build(rules, enricher=enricher, filters=filters)
    blobs = list(blobs_of([open_source(str(corpus / "AWSLogs"))], Report()))
    return plan, cut_into_tasks(blobs)


def _run(plan: StagePlan, tasks: list[list[Blob]], threads: int) -> str:
    waiting: queue.SimpleQueue[list[Blob]] = queue.SimpleQueue()
    for task in tasks:
        waiting.put(task)
    stages = [Stage(plan) for _ in range(threads)]  # made before the clocks start
    events = [0] * threads
    cpu = [0.0] * threads

    def work(at: int) -> None:
        started = time.thread_time()
        while True:
            try:
                task = waiting.get_nowait()
            except queue.Empty:
                break
            events[at] += sum(out.events for out in stages[at].run(task))
        cpu[at] = time.thread_time() - started

    gc.collect()
    wall, process = time.perf_counter(), time.process_time()
    running = [threading.Thread(target=work, args=(at,)) for at in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()
    wall, process = time.perf_counter() - wall, time.process_time() - process
    each = ", ".join(f"{c:.2f}" for c in cpu)
    return (
        f"threads {threads}: {sum(events):,} events, wall {wall:.2f} s, "
        f"CPU {process:.2f} s (threads {each})"
    )


if __name__ == "__main__":
    main()
