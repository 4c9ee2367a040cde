"""A worker's cost per task, step by step, at two task sizes: what of it is fixed per task.

    python bench/task_costs.py DIR                    # DIR: a corpus folder (holds AWSLogs/)
    python bench/task_costs.py DIR --sizes 1 4 --part 0 --rounds 2

Cuts the corpus into tasks of each size (MB of stored bytes, as `pool.cut_into_tasks` does) and,
in one process set up as a worker is (`pool._start`: the system's allocator, one arena, no
collector), runs `Stage.run` over every other task (`--part` 0 or 1: the tasks one of two
workers gets), its outputs pickled as a worker sends them. The worker's first task is run
before the clock starts (its first DuckDB statements and the heap's first touches are a
worker's, not a task's). Each step is timed by `process_time` wrappers: normalizing (the
skimmed rows' normalizer calls), the matcher's rows (its DuckDB asks apart), thinning's masks,
the matched table, packing, the output's counts (`Stage._take`) and pickling. Prints per size
and step the CPU ms per task, µs per event read and calls per task; then, from the two sizes,
each step's fixed cost per task (ms) and its cost per event (µs): a straight line through the
two (ms per task against events per task).
"""

from __future__ import annotations

import argparse
import gc
import pickle
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trailhound import heap
from trailhound.arrow_setup import own_process
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.reader import blobs_of
from trailhound.cloudtrail.report import Report
from trailhound.cloudtrail.skim_rows import SkimNormalizer
from trailhound.engine import eligibility, filtering
from trailhound.pipeline import stage
from trailhound.pipeline.pool import cut_into_tasks
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.sources import Blob, open_source

STEPS: tuple[tuple[Any, str, str], ...] = (
    (SkimNormalizer, "__call__", "normalize"),
    (filtering.Matcher, "rows", "matcher rows"),
    (filtering.Matcher, "_ask", "  of which DuckDB asks"),
    (eligibility.Eligibility, "masks_of", "thinning masks"),
    (filtering.Matcher, "table", "matched table"),
    (stage, "_packed", "packing"),
    (stage.Stage, "_take", "output counts"),
)


@dataclass
class Timed:
    """CPU seconds and calls per step, and the tasks and events they came from."""

    tasks: int = 0
    events: int = 0
    whole: float = 0.0
    spent: Counter[str] | None = None
    calls: Counter[str] | None = None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--sizes", type=float, nargs=2, default=(1.0, 4.0))
    parser.add_argument("--part", type=int, choices=(0, 1), default=0)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    plan = _plan()
    blobs = list(blobs_of([open_source(str(args.corpus / "AWSLogs"))], Report()))
    own_process()
    heap.one_arena()
    gc.disable()
    spent: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    for owner, name, label in STEPS:
        _wrap(owner, name, label, spent, calls)
    found: dict[float, Timed] = {}
    for _ in range(args.rounds):  # alternating sizes; each round's figures add up
        for size in args.sizes:
            tasks = cut_into_tasks(blobs, int(size * (1 << 20)))[args.part :: 2]
            timed = found.setdefault(size, Timed(spent=Counter(), calls=Counter()))
            _run(plan, tasks, timed, spent, calls)
    for size, timed in found.items():
        _print(size, timed)
    _print_fit(found[args.sizes[0]], found[args.sizes[1]])


def _plan() -> stage.StagePlan:
    rules = load_rules([shipped_pack_dir()]).rules
    enricher = Enricher.create()
    enricher.warm_up()
    filters = filtering.FilterPlan.build(rules, now=datetime.now(UTC))
    return stage.StagePlan.build(rules, enricher=enricher, filters=filters, skim="compiled")


def _wrap(owner: Any, name: str, label: str, spent: Counter[str], calls: Counter[str]) -> None:
    inner: Callable[..., Any] = getattr(owner, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return inner(*args, **kwargs)
        finally:
            spent[label] += time.process_time() - start
            calls[label] += 1

    setattr(owner, name, timed)


def _run(
    plan: stage.StagePlan, tasks: list[list[Blob]], timed: Timed, spent: Counter[str],
    calls: Counter[str],
) -> None:  # fmt: skip
    """One worker's stage over `tasks` (the first a warm-up), into `timed`."""
    worker = stage.Stage(plan)
    list(worker.run(tasks[0]))
    spent.clear()
    calls.clear()
    start = time.process_time()
    for task in tasks[1:]:
        outputs = list(worker.run(task))
        sent = time.process_time()
        pickle.dumps(outputs, protocol=5)
        spent["pickling"] += time.process_time() - sent
        calls["pickling"] += 1
        timed.events += sum(out.events for out in outputs)
    timed.whole += time.process_time() - start
    timed.tasks += len(tasks) - 1
    assert timed.spent is not None and timed.calls is not None
    timed.spent.update(spent)
    timed.calls.update(calls)


def _print(size: float, timed: Timed) -> None:
    assert timed.spent is not None and timed.calls is not None
    per_task = timed.whole / timed.tasks * 1e3
    print(f"\n{size:g} MB tasks: {timed.tasks} tasks, {timed.events:,} events")
    print("| step | ms a task | µs an event | calls a task |\n|---|---:|---:|---:|")
    print(f"| the stage | {per_task:.3f} | {timed.whole / timed.events * 1e6:.3f} | |")
    for label, seconds in timed.spent.most_common():
        print(
            f"| {label} | {seconds / timed.tasks * 1e3:.3f} | "
            f"{seconds / timed.events * 1e6:.3f} | {timed.calls[label] / timed.tasks:.2f} |"
        )


def _print_fit(small: Timed, large: Timed) -> None:
    """Per step, the line through (events a task, ms a task) at the two sizes."""
    assert small.spent is not None and large.spent is not None
    events = (small.events / small.tasks, large.events / large.tasks)
    print("\n| step | fixed ms a task | µs an event |\n|---|---:|---:|")
    rows = [("the stage", small.whole, large.whole)]
    rows += [(label, small.spent[label], large.spent[label]) for label in small.spent]
    for label, one, other in rows:
        at = (one / small.tasks * 1e3, other / large.tasks * 1e3)
        slope = (at[1] - at[0]) / (events[1] - events[0])
        print(f"| {label} | {at[0] - slope * events[0]:.3f} | {slope * 1e3:.3f} |")


if __name__ == "__main__":
    main()
