"""CPU per event of the columnar step with the compiled column makers and without them.

    python bench/compiled_columns.py DIR                 # DIR: a corpus folder (holds AWSLogs/)
    python bench/compiled_columns.py DIR --files 2000 --rounds 7

Runs a worker's stage over the corpus's files as a scan cuts them into tasks (`Stage.run` a
task, the compiled skimmer's way), keeping every call of the columnar step
(`columnar.normalized_columns`) with its inputs, then replays the calls in this one process,
with the makers (`cloudtrail.compiled_columns`) and with them off (`disabled()`: Arrow's
kernels, as without the extension), in alternating rounds. Prints the medians and bests in CPU
microseconds per event read and per offered row, and whether both ways made the same batches.
Then the whole stage (`Stage.run` a task, as a scan's worker runs it) with the makers and
without, in alternating rounds: what a worker's CPU per event gains.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from trailhound.cloudtrail import columnar, compiled_columns
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.reader import blobs_of
from trailhound.cloudtrail.report import Report
from trailhound.engine.filtering import FilterPlan
from trailhound.pipeline.pool import cut_into_tasks
from trailhound.pipeline.stage import Stage, StagePlan
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.sources import Blob, open_source


@dataclass
class Call:
    """One call of the columnar step, its inputs made whole (a raw path's column included)."""

    columns: dict[str, pa.Array]
    fields: frozenset[str]
    ingested: datetime
    enricher: Enricher
    wanting: Mapping[str, np.ndarray] | None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--files", type=int, default=2000, help="only the first N files")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds")
    args = parser.parse_args()
    print(measure(args.corpus, args.files, args.rounds))


def measure(corpus: Path, files: int, rounds: int) -> str:
    if not compiled_columns.present():
        return "The compiled column makers are not built here (`pip install -e .`)."
    stage, tasks = _stage(corpus, files)
    calls, events = _calls(stage, tasks)
    rows = sum(len(call.columns["eventName"]) for call in calls)
    same = _same(calls)
    made: list[float] = []
    kernels: list[float] = []
    for _ in range(rounds):
        made.append(_replay(calls))
        with compiled_columns.disabled():
            kernels.append(_replay(calls))
    lines = [
        f"{files:,} files, {events:,} events, {len(calls)} columnar calls, {rows:,} offered "
        f"rows; {rounds} alternating rounds; the same batches both ways: {same}",
        "",
        "| columnar step | median µs/event | best µs/event | median µs/offered row |",
        "|---|---:|---:|---:|",
    ]
    for name, spent in (("kernels (makers off)", kernels), ("compiled makers", made)):
        median = statistics.median(spent)
        lines.append(
            f"| {name} | {median / events * 1e6:.3f} | {min(spent) / events * 1e6:.3f} "
            f"| {median / rows * 1e6:.3f} |"
        )
    return "\n".join([*lines, "", _stage_table(stage, tasks, events, rounds)])


def _stage_table(stage: Stage, tasks: list[list[Blob]], events: int, rounds: int) -> str:
    made: list[float] = []
    kernels: list[float] = []
    for _ in range(rounds):
        made.append(_run(stage, tasks))
        with compiled_columns.disabled():
            kernels.append(_run(stage, tasks))
    lines = [
        "| a worker's stage (`Stage.run` a task) | median µs/event | best µs/event |",
        "|---|---:|---:|",
    ]
    for name, spent in (("kernels (makers off)", kernels), ("compiled makers", made)):
        median = statistics.median(spent)
        lines.append(f"| {name} | {median / events * 1e6:.3f} | {min(spent) / events * 1e6:.3f} |")
    return "\n".join(lines)


def _run(stage: Stage, tasks: list[list[Blob]]) -> float:
    gc.collect()
    started = time.process_time()
    for task in tasks:
        for _ in stage.run(task, Report()):
            pass
    return time.process_time() - started


def _stage(corpus: Path, files: int) -> tuple[Stage, list[list[Blob]]]:
    """A worker's stage on the compiled skimmer, and the first files cut into tasks."""
    rules = load_rules([shipped_pack_dir()]).rules
    blobs = list(blobs_of([open_source(str(corpus / "AWSLogs"))], Report()))[:files]
    enricher = Enricher.create()
    enricher.warm_up()
    filters = FilterPlan.build(rules, now=datetime.now(UTC))
    return Stage(StagePlan.build(rules, enricher=enricher, filters=filters)), cut_into_tasks(blobs)


def _calls(stage: Stage, tasks: list[list[Blob]]) -> tuple[list[Call], int]:
    """The columnar calls of the stage over the tasks, and the events read."""
    skim = stage._skim
    assert skim is not None, "the compiled skimmer is not built here"
    normalizer = skim.normalizer
    real = normalizer._columnar
    assert real is not None
    calls: list[Call] = []
    normalizer._columnar = _keeping(real, calls)
    try:
        events = sum(out.events for task in tasks for out in stage.run(task, Report()))
    finally:
        normalizer._columnar = real
    return calls, events


def _keeping(real: Callable[..., Any], calls: list[Call]) -> Callable[..., Any]:
    def kept(
        columns: Mapping[str, pa.Array],
        fields: frozenset[str],
        ingested: datetime,
        enricher: Enricher,
        wanting: Mapping[str, np.ndarray] | None = None,
    ) -> Any:
        whole = {path: columns[path] for path in columns}
        calls.append(Call(whole, frozenset(fields), ingested, enricher, wanting))
        return real(columns, fields, ingested, enricher, wanting)

    return kept


def _replay(calls: list[Call]) -> float:
    gc.collect()
    started = time.process_time()
    for c in calls:
        columnar.normalized_columns(c.columns, c.fields, c.ingested, c.enricher, c.wanting)
    return time.process_time() - started


def _same(calls: list[Call]) -> bool:
    for c in calls:
        made = columnar.normalized_columns(c.columns, c.fields, c.ingested, c.enricher, c.wanting)
        with compiled_columns.disabled():
            kernels = columnar.normalized_columns(
                c.columns, c.fields, c.ingested, c.enricher, c.wanting
            )
        if (made.done, made.left) != (kernels.done, kernels.left):
            return False
        if not made.batch.equals(kernels.batch):
            return False
    return True


if __name__ == "__main__":
    main()
