"""`--workers N`: the stage (read, select, normalize, filter) in N processes.

Blobs are cut into tasks of consecutive blobs; each worker runs the stage over whole tasks and
sends back only matched rows, evidence packs and counts. Results come back in task order, so
the scanning process stores matches in the same order whatever the number of workers, and it
alone decides alerts: state stays correct by construction.

Workers start from a fork server that has already imported the stage, never by forking the
scanning process itself: DuckDB's threads and state do not survive a fork.
"""

from __future__ import annotations

import gc
import multiprocessing
from collections.abc import Iterator, Sequence

from trailhound.engine.stage import Stage, StageOutput, StagePlan
from trailhound.sources import Blob

TASK_BLOBS = 48
"""Blobs per task: enough that a task's DuckDB filter runs over a few thousand kept rows, few
enough that the last tasks still spread over the workers."""

# The stage of this worker process, made once by `_start` (a pool initializer has no other way
# to hand state to the tasks it runs).
_stage: Stage | None = None


def run_in_workers(blobs: Sequence[Blob], plan: StagePlan, workers: int) -> Iterator[StageOutput]:
    """The stage's outputs over `blobs`, computed by `workers` processes, in blob order."""
    tasks = [list(blobs[i : i + TASK_BLOBS]) for i in range(0, len(blobs), TASK_BLOBS)]
    context = multiprocessing.get_context("forkserver")
    # the server imports the main module once, so that workers do not each import it again
    context.set_forkserver_preload(["__main__", "trailhound.engine.stage"])
    with context.Pool(workers, initializer=_start, initargs=(plan,)) as pool:
        for outputs in pool.imap(_run, tasks):
            yield from outputs


def _start(plan: StagePlan) -> None:
    global _stage
    _stage = Stage(plan)
    # a worker holds no cycles worth collecting; the collector would only walk its objects
    gc.disable()


def _run(blobs: list[Blob]) -> list[StageOutput]:
    assert _stage is not None, "the pool initializer did not run"
    return list(_stage.run(blobs))
