"""CPU per event of each filler of the columnar step, on a worker's calls replayed.

    python bench/fillers.py DIR                 # DIR: a corpus folder (holds AWSLogs/)
    python bench/fillers.py DIR --files 2000 --rounds 5

Runs a worker's stage over the corpus's first files cut into tasks, as a scan does, keeping
every call of the columnar step with the columns the skimmer gave it (so that the raw members
are read in place or taken at some rows, as in a scan), then replays the calls in rounds, each
filler timed by `process_time`. Prints per filler the median and best CPU µs per event read,
and the whole step's. The cached inputs (an encoding, the batch requests read, the resources)
count in the first filler asking for them, as in a scan.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from columnar_calls import Call, kept_calls, replay_parser, worker_stage

from trailhound.cloudtrail import columnar


def main() -> None:
    parser = replay_parser(__doc__, files=2000, rounds=5)
    args = parser.parse_args()
    stage, tasks = worker_stage(args.corpus, args.files)
    calls, events = kept_calls(stage, tasks, whole=False)
    spent: dict[str, list[float]] = defaultdict(list)
    for _ in range(args.rounds):
        for name, seconds in _round(calls).items():
            spent[name].append(seconds / events * 1e6)
    print(f"{args.files:,} files, {events:,} events, {len(calls)} columnar calls")
    print("| filler | median µs/event | best µs/event |")
    print("|---|---:|---:|")
    for name, times in sorted(spent.items(), key=lambda kv: -statistics.median(kv[1])):
        print(f"| {name} | {statistics.median(times):.4f} | {min(times):.4f} |")


def _round(calls: list[Call]) -> dict[str, float]:
    """CPU seconds per filler, and the whole step's, over one replay of the calls."""
    spent: dict[str, float] = defaultdict(float)

    def timed(fill: Callable[..., None]) -> Callable[..., None]:
        def run(*args: Any) -> None:
            started = time.process_time()
            fill(*args)
            spent[fill.__name__] += time.process_time() - started

        return run

    original = columnar._FILLERS
    columnar._FILLERS = tuple((names, timed(fill)) for names, fill in original)  # type: ignore[misc]
    try:
        gc.collect()
        started = time.process_time()
        for call in calls:
            call.replay()
        spent["(the whole step)"] = time.process_time() - started
    finally:
        columnar._FILLERS = original  # type: ignore[misc]
    return spent


if __name__ == "__main__":
    main()
