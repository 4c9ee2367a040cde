"""CPU per event of a worker's filtering, thinning and packing (`Stage._matches`), replayed.

    python bench/matches_replay.py DIR                 # DIR: a corpus folder (holds AWSLogs/)
    python bench/matches_replay.py DIR --files 2000 --rounds 7 --parts
    python bench/matches_replay.py DIR --profile       # cProfile of one replay, by own time

Runs a worker's stage over the corpus's first files cut into tasks, as a scan does (the
compiled skimmer, the shipped pack, the system memory pool, gc off), keeping every
`Stage._matches` call with its batch and kept records, then replays the calls in rounds on the
same stage (its matcher has seen every combination once, as a worker's has after its first
tasks). Prints the median and best CPU µs per event read of the whole step, and with `--parts`
those of its parts (each timed by a wrapper, so the parts add a little), and a digest of the
outputs (matched rows less `event.ingested`, packs, hits) to compare checkouts by: run this
file with another checkout's Python to time that checkout's step on the same calls.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import pstats
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
from columnar_calls import worker_stage

from trailhound.cloudtrail.kept import KeptRows
from trailhound.cloudtrail.report import Report
from trailhound.engine import eligibility, evidence, filtering
from trailhound.pipeline import stage as stage_module
from trailhound.pipeline.stage import Stage

Call = tuple[pa.RecordBatch, KeptRows]
_LEFT_OUT = "event.ingested"  # the time of the run that made the batch: differs per process

# (owner, name) of the parts timed with --parts; an owner is a module or a class
_PARTS: tuple[tuple[Any, str], ...] = (
    (filtering.Matcher, "rows"),
    (filtering, "_groups"),
    (filtering.Matcher, "_decide"),
    (filtering, "_rows_per_filter"),
    (stage_module._Labels, "matched"),
    (eligibility.Eligibility, "masks_of"),
    (filtering.Matcher, "table"),
    (stage_module, "_packed"),
    (KeptRows, "take"),
    (evidence, "pack"),
)


def kept_calls(stage: Stage, files: list[list[Any]]) -> tuple[list[Call], int]:
    """The stage's `_matches` calls over the tasks, and the events read."""
    calls: list[Call] = []
    real = stage._matches

    def keeping(batch: pa.RecordBatch, records: KeptRows) -> Any:
        calls.append((batch, records))
        return real(batch, records)

    stage._matches = keeping  # type: ignore[method-assign]
    try:
        events = sum(out.events for task in files for out in stage.run(task, Report()))
    finally:
        del stage._matches
    return calls, events


def replay(stage: Stage, calls: list[Call]) -> tuple[float, list[Any]]:
    """CPU seconds of one pass over the calls, and their outputs."""
    outputs = []
    started = time.process_time()
    for batch, records in calls:
        outputs.append(stage._matches(batch, records))
    return time.process_time() - started, outputs


def digest(outputs: list[Any]) -> str:
    """One digest of the step's outputs, less the column that differs per run."""
    sha = hashlib.sha256()
    for matched, pack, hits in outputs:
        if matched is not None:
            kept = matched.drop_columns([c for c in matched.column_names if c == _LEFT_OUT])
            sha.update(str(kept.schema).encode())
            for column in kept.columns:
                sha.update(repr(column.to_pylist()).encode())
        sha.update(pack or b"-")
        sha.update(repr(sorted(hits.items())).encode())
    return sha.hexdigest()[:16]


@contextmanager
def timed_parts(spent: dict[str, float]) -> Iterator[None]:
    """Each part in `_PARTS` adds its CPU seconds to `spent` while inside."""
    saved = [(owner, name, owner.__dict__[name]) for owner, name in _PARTS]
    for owner, name, real in saved:
        setattr(owner, name, _timer(real, f"{getattr(owner, '__name__', owner)}.{name}", spent))
    try:
        yield
    finally:
        for owner, name, real in saved:
            setattr(owner, name, real)


def _timer(real: Any, label: str, spent: dict[str, float]) -> Callable[..., Any]:
    func = real.__func__ if isinstance(real, staticmethod | classmethod) else real

    def run(*args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            return func(*args, **kwargs)
        finally:
            spent[label] += time.process_time() - started

    return staticmethod(run) if isinstance(real, staticmethod) else run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--files", type=int, default=2000, help="only the first N files")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--parts", action="store_true", help="time the step's parts too")
    parser.add_argument("--profile", action="store_true", help="cProfile one replay")
    args = parser.parse_args()
    pa.set_memory_pool(pa.system_memory_pool())  # as a worker (pool._start)
    stage, tasks = worker_stage(args.corpus, args.files)
    gc.disable()
    calls, events = kept_calls(stage, tasks)
    print(f"{args.files:,} files, {events:,} events, {len(calls)} _matches calls")
    _, outputs = replay(stage, calls)  # the matcher's first sight of any combination left
    print(f"digest {digest(outputs)}")
    del outputs
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(replay, stage, calls)
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)
        return
    whole: list[float] = []
    parts: dict[str, list[float]] = defaultdict(list)
    for _ in range(args.rounds):
        spent: dict[str, float] = defaultdict(float)
        with timed_parts(spent) if args.parts else _nothing():
            seconds, outputs = replay(stage, calls)
        del outputs
        whole.append(seconds / events * 1e6)
        for name, part in spent.items():
            parts[name].append(part / events * 1e6)
    print("| step | median µs/event | best µs/event |")
    print("|---|---:|---:|")
    print(f"| (the whole step) | {statistics.median(whole):.4f} | {min(whole):.4f} |")
    for name, times in sorted(parts.items(), key=lambda kv: -statistics.median(kv[1])):
        print(f"| {name} | {statistics.median(times):.4f} | {min(times):.4f} |")


@contextmanager
def _nothing() -> Iterator[None]:
    yield


if __name__ == "__main__":
    main()
