"""CPU of the columnar step's operations and tables with the batch and transaction requests read
by the compiled readers (`_requests.c`) against the Python ones, in one process.

    python bench/request_readers.py DIR                # DIR: a corpus folder (holds AWSLogs/)
    python bench/request_readers.py DIR --files 2000 --rounds 5

Runs a scan worker's stage (`Stage.run`, the compiled skimmer and columnar normalization) over
the corpus's first files cut into tasks as a scan cuts them, in alternating rounds: the
registry answering with the Python readers, then with the compiled ones. Prints, per way, the
medians (and bests) of the CPU µs per event read spent in the columnar fillers `_operations`
and `_table_names` (which read the requests), and of the whole stage; and how many arrays of
requests the compiled readers read, and refused (those the Python readers then read).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from trailhound.cloudtrail import columnar, request_readers
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.reader import blobs_of
from trailhound.cloudtrail.report import Report
from trailhound.engine.filtering import FilterPlan
from trailhound.pipeline.pool import cut_into_tasks
from trailhound.pipeline.stage import Stage, StagePlan
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.sources import open_source

TIMED = ("_operations", "_table_names")


class _Spent:
    """CPU seconds in the timed fillers, and the compiled readers' reads and refusals."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.reads: Counter[str] = Counter()

    def timed(self, fill: Callable[..., None]) -> Callable[..., None]:
        def run(*args: Any) -> None:
            started = time.process_time()
            fill(*args)
            self.seconds += time.process_time() - started

        return run

    def counted(self, readers: Mapping[str, Any]) -> dict[str, Any]:
        def count(action: str, texts: pa.Array, positions: np.ndarray) -> Any:
            self.reads[f"{action} arrays"] += 1
            self.reads[f"{action} rows"] += len(positions)
            if request_readers.compiled_only(action, texts, positions) is None:
                self.reads[f"{action} refused"] += 1
            return readers[action](texts, positions)

        return {action: partial(count, action) for action in readers}


def _round(plan: StagePlan, runs: list[list[Any]], compiled: bool) -> tuple[float, float, int]:
    spent = _Spent()
    readers = request_readers.compiled_readers() if compiled else request_readers.PYTHON_READERS
    assert readers is not None, "the _requests extension is not built"
    original = columnar._FILLERS
    columnar._FILLERS = tuple(  # type: ignore[misc]
        (names, spent.timed(fill) if fill.__name__ in TIMED else fill) for names, fill in original
    )
    request_readers.readers = lambda: readers  # type: ignore[assignment]
    try:
        stage = Stage(plan)
        gc.collect()
        started = time.process_time()
        events = sum(out.events for blobs in runs for out in stage.run(blobs, Report()))
        whole = time.process_time() - started
    finally:
        columnar._FILLERS = original  # type: ignore[misc]
    return spent.seconds, whole, events


def _refusals(plan: StagePlan, runs: list[list[Any]]) -> Counter[str]:
    """One more round, the compiled readers' refusals counted (not timed)."""
    spent = _Spent()
    compiled = request_readers.compiled_readers()
    assert compiled is not None
    request_readers.readers = lambda: spent.counted(compiled)  # type: ignore[assignment]
    stage = Stage(plan)
    for blobs in runs:
        for _ in stage.run(blobs, Report()):
            pass
    return spent.reads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rules = load_rules([shipped_pack_dir()]).rules
    blobs = list(blobs_of([open_source(str(args.corpus / "AWSLogs"))], Report()))[: args.files]
    enricher = Enricher.create()
    enricher.warm_up()
    filters = FilterPlan.build(rules, now=datetime.now(UTC))
    plan = StagePlan.build(rules, enricher=enricher, filters=filters, skim="compiled")
    runs = cut_into_tasks(blobs)
    found: dict[bool, list[tuple[float, float, int]]] = {False: [], True: []}
    for _ in range(args.rounds):
        for compiled in (False, True):
            found[compiled].append(_round(plan, runs, compiled))
    events = found[True][0][2]
    print(f"{len(blobs):,} files, {events:,} events, {len(runs)} tasks, {args.rounds} rounds")
    print("| readers | fillers µs/event median (best) | stage µs/event median (best) |")
    print("|---|---:|---:|")
    for compiled, rounds in found.items():
        fillers = [r[0] / events * 1e6 for r in rounds]
        stage = [r[1] / events * 1e6 for r in rounds]
        print(
            f"| {'compiled' if compiled else 'Python'} "
            f"| {statistics.median(fillers):.3f} ({min(fillers):.3f}) "
            f"| {statistics.median(stage):.3f} ({min(stage):.3f}) |"
        )
    print(dict(sorted(_refusals(plan, runs).items())))


if __name__ == "__main__":
    main()
