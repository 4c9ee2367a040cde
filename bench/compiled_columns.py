"""CPU per event of the columnar step with the compiled column makers and without them.

    python bench/compiled_columns.py DIR                 # DIR: a corpus folder (holds AWSLogs/)
    python bench/compiled_columns.py DIR --files 2000 --rounds 7

Runs a worker's stage over the corpus's files as a scan cuts them into tasks (`Stage.run` a
task, the compiled skimmer's way), keeping every call of the columnar step
(`columnar.normalized_columns`) with its inputs, then replays the calls in this one process,
with the makers (`cloudtrail.compiled_columns`) and with them off
(`extensions.off("_columns")`: Arrow's kernels, as without the extension), in alternating
rounds. Prints the medians and bests in CPU
microseconds per event read and per offered row, and whether both ways made the same batches.
Then the whole stage (`Stage.run` a task, as a scan's worker runs it) with the makers and
without, in alternating rounds: what a worker's CPU per event gains.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from pathlib import Path

from columnar_calls import Call, kept_calls, worker_stage

from trailhound.cloudtrail import compiled_columns, extensions
from trailhound.cloudtrail.report import Report
from trailhound.pipeline.stage import Stage
from trailhound.sources import Blob


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
    stage, tasks = worker_stage(corpus, files)
    calls, events = kept_calls(stage, tasks, whole=True)
    rows = sum(len(call.columns["eventName"]) for call in calls)
    same = _same(calls)
    made: list[float] = []
    kernels: list[float] = []
    for _ in range(rounds):
        made.append(_replay(calls))
        with extensions.off("_columns"):
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
        with extensions.off("_columns"):
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


def _replay(calls: list[Call]) -> float:
    gc.collect()
    started = time.process_time()
    for call in calls:
        call.replay()
    return time.process_time() - started


def _same(calls: list[Call]) -> bool:
    for call in calls:
        made = call.replay()
        with extensions.off("_columns"):
            kernels = call.replay()
        if (made.done, made.left) != (kernels.done, kernels.left):
            return False
        if not made.batch.equals(kernels.batch):
            return False
    return True


if __name__ == "__main__":
    main()
