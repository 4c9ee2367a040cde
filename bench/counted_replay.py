"""A worker's counting per output (`Stage._take`), replayed: the compiled count against Arrow's.

    python bench/counted_replay.py bench/.cache/<corpus folder> [--files N] [--rounds R]

Runs a worker's stage (set up as `pool._start` sets a worker up) over the corpus's first N
files cut into tasks, keeping the columns each output's `Counted` was given; then counts them
again and again, in alternating rounds, both ways: `Counted.compiled` (one compiled pass) and
the reference (`Stage._counts`: joining the columns, Arrow's parsing of the times, filtering,
coding and grouping). Prints the CPU µs per event of each way (best of R) and checks that both
give the same counts in the same order.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Mapping

import pyarrow as pa
from columnar_calls import replay_parser, worker_stage

from trailhound import heap
from trailhound.pipeline.coverage import Counted, Counts
from trailhound.pipeline.stage import Stage
from trailhound.sources import Blob

Parts = list[Mapping[str, pa.Array]]


def main() -> None:
    args = replay_parser(__doc__, files=2000, rounds=7).parse_args()
    heap.one_arena()  # as `pool._start` sets a worker up
    pa.set_memory_pool(pa.system_memory_pool())
    stage, tasks = worker_stage(args.corpus, args.files)
    outputs, events = _kept(stage, tasks)
    ways: dict[str, Callable[[Counted], Counts | None]] = {
        "compiled": Counted.compiled,
        "reference": stage._counts,
    }
    _check(outputs, ways)
    spent: dict[str, list[float]] = {name: [] for name in ways}
    gc.disable()  # as in a worker
    for _ in range(args.rounds):
        for name, way in ways.items():
            spent[name].append(_timed(outputs, way))
    print(f"{args.files:,} files, {events:,} events, {len(outputs)} outputs counted, "
          f"best of {args.rounds} alternating rounds:")  # fmt: skip
    for name, seconds in spent.items():
        print(f"{name:10s} {min(seconds) / events * 1e6:6.3f} µs an event "
              f"({min(seconds) * 1e3:.1f} ms)")  # fmt: skip


def _kept(stage: Stage, tasks: list[list[Blob]]) -> tuple[list[Parts], int]:
    """The columns each output's `Counted` was given, and the events read."""
    outputs: list[Parts] = []
    real = Counted.add

    def add(self: Counted, columns: Mapping[str, pa.Array]) -> None:
        if not self._chunks["eventTime"]:
            outputs.append([])
        outputs[-1].append(columns)
        real(self, columns)

    Counted.add = add  # type: ignore[method-assign]
    try:
        events = sum(out.events for task in tasks for out in stage.run(task))
    finally:
        Counted.add = real  # type: ignore[method-assign]
    return outputs, events


def _counted(parts: Parts) -> Counted:
    counted = Counted()
    for columns in parts:
        counted.add(columns)
    return counted


def _timed(outputs: list[Parts], way: Callable[[Counted], Counts | None]) -> float:
    """The CPU seconds of counting every output's columns, added as the stage adds them."""
    counted = [_counted(parts) for parts in outputs]
    started = time.process_time()
    for one in counted:
        way(one)
    return time.process_time() - started


def _check(outputs: list[Parts], ways: Mapping[str, Callable[[Counted], Counts | None]]) -> None:
    for parts in outputs:
        made = [way(_counted(parts)) for way in ways.values()]
        assert all(m is not None for m in made), "a time the compiled count leaves to Arrow"
        keyed = [[list(getattr(m, n).items()) for n in ("times", "dynamodb", "places")]
                 + [m.latest] for m in made if m is not None]  # fmt: skip
        assert keyed[0] == keyed[1], "the two ways count differently"


if __name__ == "__main__":
    main()
