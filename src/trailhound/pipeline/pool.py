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
import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from multiprocessing import forkserver
from typing import TYPE_CHECKING

from trailhound.arrow_setup import probe_without_pandas

if TYPE_CHECKING:
    from trailhound.pipeline.stage import Stage, StageOutput, StagePlan
    from trailhound.sources import Blob

# The stage and pyarrow are imported by the workers (the fork server preloads them), not with
# this module: the scan command starts the fork server before its own imports.

TASK_BYTES = 1 << 20
"""Stored (compressed) bytes per task, about 7,000 events: enough that the filter runs over a
couple of thousand kept rows at a time, few enough that the last tasks still spread over the
workers and a worker holds little at once (a worker keeps a task's outputs until it is done:
with 3 MB tasks each worker peaked 25 to 35 MB higher, for no CPU saved)."""
_UNKNOWN_SIZE = 64 << 10  # what a blob of unknown size counts for

# The stage of this worker process, made once by `_start` (a pool initializer has no other way
# to hand state to the tasks it runs).
_stage: Stage | None = None


def start_server() -> None:
    """Start the fork server now, so that its imports overlap with the caller's own work."""
    context = multiprocessing.get_context("forkserver")
    # the server imports the main module once, so that workers do not each import it again
    context.set_forkserver_preload(["__main__", "trailhound.pipeline.stage"])
    with _ctrl_c_ignored():
        forkserver.ensure_running()


@contextmanager
def _ctrl_c_ignored() -> Iterator[None]:
    """SIGINT ignored while the fork server starts: it inherits that, so a Ctrl-C at the
    terminal, which reaches the whole process group, leaves the server (and the workers it
    forks) to the scanning process, instead of interrupting its imports with a traceback."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; nor does it get SIGINT then
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def _ctrl_c_deferred() -> Iterator[None]:
    """A SIGINT that arrives inside the block raises KeyboardInterrupt once it is over."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda number, frame: received.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


def run_in_workers(blobs: Sequence[Blob], plan: StagePlan, workers: int) -> Iterator[StageOutput]:
    """The stage's outputs over `blobs`, computed by `workers` processes, in blob order."""
    tasks = cut_into_tasks(blobs)
    start_server()
    context = multiprocessing.get_context("forkserver")
    # Pool() ends the workers it started when an Exception cuts it short, not on Ctrl-C's
    # KeyboardInterrupt: they would outlive the scan and fail loudly. So Ctrl-C waits for it.
    with _ctrl_c_deferred():
        pool = context.Pool(workers, initializer=_start, initargs=(plan,))
    try:
        with pool:
            for outputs in pool.imap(_run, tasks):
                yield from outputs
    finally:
        stop_server()


def stop_server() -> None:
    """End the fork server: once the workers are done it only holds memory (its imports,
    60 to 90 MB) through the end of the run, when the scanning process needs the most. The
    next pool starts another."""
    server = getattr(forkserver, "_forkserver", None)
    stop = getattr(server, "_stop", None)  # CPython's own, which its tests use
    if stop is not None:
        stop()


def cut_into_tasks(blobs: Sequence[Blob], task_bytes: int = TASK_BYTES) -> list[list[Blob]]:
    """Consecutive blobs, cut into tasks of about `task_bytes` stored bytes each."""
    tasks: list[list[Blob]] = [[]]
    size = 0
    for blob in blobs:
        if size >= task_bytes:
            tasks.append([])
            size = 0
        tasks[-1].append(blob)
        size += _UNKNOWN_SIZE if blob.size is None else blob.size
    return [t for t in tasks if t]


def _start(plan: StagePlan) -> None:
    global _stage
    # Ctrl-C reaches every process of the terminal's group: the scanning process alone
    # answers it (it ends the pool), so a worker neither prints a traceback nor dies mid-task
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import pyarrow as pa

    from trailhound.pipeline.stage import Stage

    probe_without_pandas()
    # Arrow's own allocator keeps what a task freed for later; the system's gives it back
    pa.set_memory_pool(pa.system_memory_pool())
    _stage = Stage(plan)
    # a worker holds no cycles worth collecting; the collector would only walk its objects
    gc.disable()


def _run(blobs: list[Blob]) -> list[StageOutput]:
    assert _stage is not None, "the pool initializer did not run"
    # No malloc_trim between tasks: the next task needs the same memory again, and handing it
    # back made the workers fault it in anew, a sixth of their time, for no lower peak.
    return list(_stage.run(blobs))
