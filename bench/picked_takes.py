"""CPU per event of the skimmed rows' normalizing with the picked rows' values taken by compiled
code or by Arrow, in alternating rounds in one process.

    python bench/picked_takes.py DIR                  # DIR: a corpus folder (holds AWSLogs/)
    python bench/picked_takes.py DIR --files 2000 --rounds 12

Keeps a worker's `SkimNormalizer` calls as `skim_normalize.py` does, then replays them in three
ways, their order turned by one each round (the box's load drifts): `arrow` (Arrow's take of the
columns read, grouping by Arrow's dictionary encoding), `taken` (the columns taken by
`compiled_columns.taken`), `taken+grouping` (and the grouping's codes read in place by
`codes_at`). The other compiled makers stay on in all three. Prints the median and best µs per
event read.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pyarrow as pa
from columnar_calls import replay_parser, worker_stage
from skim_normalize import Kept, _fresh, _kept, _normalizer

from trailhound.cloudtrail import skim, skim_rows
from trailhound.cloudtrail.skim_rows import SkimNormalizer, SkimRows

# per way: (the columns taken, the grouping's codes) by compiled code
WAYS = {"arrow": (False, False), "taken": (True, False), "taken+grouping": (True, True)}


def main() -> None:
    parser = replay_parser(__doc__, files=2000, rounds=12)
    args = parser.parse_args()
    stage, tasks = worker_stage(args.corpus, args.files)
    kept, events = _kept(stage, tasks)
    normalizer = _normalizer(stage)
    spent: dict[str, list[float]] = {name: [] for name in WAYS}
    names = list(WAYS)
    for round_ in range(args.rounds):
        turn = round_ % len(names)
        for name in names[turn:] + names[:turn]:
            with _way(*WAYS[name]):
                spent[name].append(_replayed(normalizer, kept))
    print(f"{args.files:,} files, {events:,} events, {len(kept)} calls, {args.rounds} rounds")
    print("| way | median µs/event | best µs/event |\n|---|---:|---:|")
    for name, times in spent.items():
        median, best = statistics.median(times) / events * 1e6, min(times) / events * 1e6
        print(f"| {name} | {median:.3f} | {best:.3f} |")


def _replayed(normalizer: SkimNormalizer, kept: list[Kept]) -> float:
    fresh = [(_fresh(k.rows), k.ingested, k.enricher) for k in kept]
    gc.collect()
    gc.disable()
    try:
        started = time.process_time()
        for rows, ingested, enricher in fresh:
            normalizer(rows, ingested, enricher)
        return time.process_time() - started
    finally:
        gc.enable()


@contextmanager
def _way(taken: bool, grouping: bool) -> Iterator[None]:
    """The modules' seams pointed at Arrow where a flag is off."""
    saved = (skim._taken, skim_rows._codes)
    skim._taken = saved[0] if taken else _arrow_taken
    skim_rows._codes = saved[1] if grouping else _arrow_codes
    try:
        yield
    finally:
        skim._taken, skim_rows._codes = saved


def _arrow_taken(values: pa.Array, at: np.ndarray) -> pa.Array:
    return values.take(pa.array(at))


def _arrow_codes(rows: SkimRows, path: str) -> tuple[list[str | None], np.ndarray]:
    return skim_rows._encoded(rows.columns[path])


if __name__ == "__main__":
    main()
