"""A skimmed-rows normalizer call's fixed cost, and its cost per row, by replaying real calls.

    python bench/normalizer_calls.py DIR                   # DIR: a corpus folder (holds AWSLogs/)
    python bench/normalizer_calls.py DIR --tasks 6 --pieces 1 8 64 --profile 16

Runs a worker's stage (set up as a worker is) over the first `--tasks` 1 MB tasks of one
worker's half, keeping each `SkimNormalizer` call's rows; then replays every kept call with its
rows cut into 1, 8, 64 (`--pieces`) equal parts, each part its own call, `--rounds` times.
Prints per cut the CPU ms a call and µs a row; the line through them gives the fixed ms a call.
With `--profile K`, cProfile of the replay cut into K parts: Python calls per normalizer call,
and the functions called most per normalizer call.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trailhound import heap
from trailhound.arrow_setup import own_process
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.reader import blobs_of
from trailhound.cloudtrail.report import Report
from trailhound.cloudtrail.skim_rows import SkimNormalizer, SkimRows
from trailhound.engine import filtering
from trailhound.pipeline import stage
from trailhound.pipeline.pool import cut_into_tasks
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.sources import open_source

Call = tuple[SkimNormalizer, SkimRows, datetime, Enricher]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--tasks", type=int, default=6)
    parser.add_argument("--pieces", type=int, nargs="+", default=(1, 8, 64))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", type=int, default=0)
    args = parser.parse_args()
    calls = _kept_calls(args.corpus, args.tasks)
    rows = sum(len(c[1]) for c in calls)
    print(f"{len(calls)} calls kept, {rows:,} rows")
    _replay(calls, 1)  # warm: first calls fill the caches a worker keeps for its life
    found = {}
    for pieces in args.pieces:
        best = min(_replay(calls, pieces) for _ in range(args.rounds))
        made = len(calls) * pieces
        found[pieces] = (best, made)
        print(f"cut {pieces:>4}: {made:>5} calls, {best / made * 1e3:.3f} ms a call, "
              f"{best / rows * 1e6:.2f} µs a row, {best:.3f} s")  # fmt: skip
    small, large = min(found), max(found)
    if small != large:
        (t0, c0), (t1, c1) = found[small], found[large]
        fixed = (t1 - t0) / (c1 - c0)
        rest = (t0 - fixed * c0) / rows
        print(f"fixed {fixed * 1e3:.3f} ms a call, rest {rest * 1e6:.2f} µs a row")
    if args.profile:
        _profiled(calls, args.profile)


def _kept_calls(corpus: Path, tasks: int) -> list[Call]:
    rules = load_rules([shipped_pack_dir()]).rules
    enricher = Enricher.create()
    enricher.warm_up()
    filters = filtering.FilterPlan.build(rules, now=datetime.now(UTC))
    plan = stage.StagePlan.build(rules, enricher=enricher, filters=filters, skim="compiled")
    blobs = list(blobs_of([open_source(str(corpus / "AWSLogs"))], Report()))
    own_process()
    heap.one_arena()
    gc.disable()
    kept: list[Call] = []
    inner = SkimNormalizer.__call__

    def keeping(self: SkimNormalizer, rows: SkimRows, ingested: datetime, enricher: Any) -> Any:
        kept.append((self, rows, ingested, enricher))
        return inner(self, rows, ingested, enricher)

    SkimNormalizer.__call__ = keeping  # type: ignore[method-assign]
    try:
        worker = stage.Stage(plan)
        for task in cut_into_tasks(blobs, 1 << 20)[0::2][:tasks]:
            list(worker.run(task))
    finally:
        SkimNormalizer.__call__ = inner  # type: ignore[method-assign]
    return kept


def _replay(calls: list[Call], pieces: int) -> float:
    cut = [(n, rows.part(k * len(rows) // pieces, (k + 1) * len(rows) // pieces), i, e)
           for n, rows, i, e in calls for k in range(pieces)]  # fmt: skip
    start = time.process_time()
    for normalizer, rows, ingested, enricher in cut:
        if len(rows):
            normalizer(rows, ingested, enricher)
    return time.process_time() - start


def _profiled(calls: list[Call], pieces: int) -> None:
    profile = cProfile.Profile()
    profile.enable()
    _replay(calls, pieces)
    profile.disable()
    stats = pstats.Stats(profile)
    made = len(calls) * pieces
    entries: Any = stats.stats  # type: ignore[attr-defined]
    total = sum(primitive for primitive, *_ in entries.values())
    print(f"\nprofile, cut {pieces}: {total / made:.0f} Python calls a normalizer call")
    rows = sorted(entries.items(), key=lambda item: -item[1][0])[:45]
    print("| calls a call | own µs a call | with callees µs | function |\n|---:|---:|---:|---|")
    for (path, line, name), (prim, _, own, cum, _) in rows:
        where = f"{Path(path).name}:{line} {name}" if line else name
        print(f"| {prim / made:.1f} | {own / made * 1e6:.1f} | {cum / made * 1e6:.1f} | {where} |")


if __name__ == "__main__":
    main()
