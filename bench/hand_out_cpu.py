"""Where the hand-out thread of the scanning process (`pool._HandOut`) spends its CPU.

    python bench/hand_out_cpu.py CORPUS_DIR [WORKERS]

Runs `bench/phases.py` (the scan through the library, as `receive_cpu.py` does) with clocks of
the thread's own CPU (`time.thread_time`, so not the main thread's, nor DuckDB's) around each of
its steps: listing the input and cutting it into tasks (`tasks_of`), giving a task (pickling
and sending it, `_give`), waiting on the workers' pipes (`wait`), and receiving an answer
(`Connection.recv`: of which reading its bytes off the pipe, `_recv_bytes`, and rebuilding the
matches from their Arrow stream, `StageOutput.__setstate__`; the rest is unpickling). Prints one
JSON line: each step's CPU-s and how many times it ran, and the thread's whole CPU.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from like_the_command import set_up
from parent_cpu import run_phases  # a script beside this one

_THREAD = "hand-out"
Spent = defaultdict[str, float]  # CPU-s (and calls) by step


def _timed(spent: Spent, name: str, call: Callable[..., Any]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name != _THREAD:
            return call(*args, **kwargs)
        started = time.thread_time()
        try:
            return call(*args, **kwargs)
        finally:
            spent[name] += time.thread_time() - started
            spent[f"{name} (calls)"] += 1  # a count, as a float

    return timed


def _timed_items(spent: Spent, name: str, make: Callable[..., Any]) -> Callable[..., Any]:
    def items(*args: Any, **kwargs: Any) -> Iterator[Any]:
        produced = make(*args, **kwargs)
        while True:
            started = time.thread_time()
            try:
                item = next(produced)
            except StopIteration:
                return
            finally:
                spent[name] += time.thread_time() - started
            yield item

    return items


def _instrument(spent: defaultdict[str, float]) -> None:
    from multiprocessing import connection

    from trailhound.pipeline import pool, stage

    pool.wait = _timed(spent, "wait", connection.wait)  # type: ignore[attr-defined]
    pool._give = _timed(spent, "give", pool._give)
    pool.tasks_of = _timed_items(spent, "listing and cutting", pool.tasks_of)
    receiver = connection.Connection
    receiver.recv = _timed(spent, "receive", receiver.recv)  # type: ignore[method-assign]
    receiver._recv_bytes = _timed(spent, "receive: bytes", receiver._recv_bytes)  # type: ignore[attr-defined]
    output = stage.StageOutput
    output.__setstate__ = _timed(spent, "receive: matches", output.__setstate__)  # type: ignore[method-assign]
    serve = pool._HandOut._serve

    def serve_timed(self: Any) -> None:
        started = time.thread_time()
        try:
            serve(self)
        finally:
            spent["the thread, all"] = time.thread_time() - started

    pool._HandOut._serve = serve_timed  # type: ignore[method-assign]


def main() -> None:
    set_up()
    spent: Spent = defaultdict(float)
    _instrument(spent)
    run_phases()
    print(json.dumps({k: round(v, 4) for k, v in sorted(spent.items())}))


if __name__ == "__main__":
    main()
