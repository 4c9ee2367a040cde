"""CPU per event of the skimmed rows' normalizing (`SkimNormalizer`), part by part.

    python bench/skim_normalize.py DIR                  # DIR: a corpus folder (holds AWSLogs/)
    python bench/skim_normalize.py DIR --files 2000 --rounds 5 [--profile OUT] [--cut 16]

Runs a worker's stage over the corpus's first files cut into tasks as a scan cuts them, keeping
every call of its `SkimNormalizer` with its rows, then replays the calls in this one process
(each round on fresh columns: `PickedColumns` keeps what it took). Prints, in CPU microseconds
per event read (median and best of the rounds), the whole normalizing and its parts: the
grouping, the columnar call, the columns taken for it (`_Offered`), the unwanted fields nulled,
the rows left decoded. With `--profile` one more replay runs under cProfile into OUT; with
`--cut N` each call keeps only its first N rows, what is left being the fixed cost per call.
With `--against CHECKOUT` it counts the calls whose batch (values, validity, null counts, row
order) or rejections differ from those made by that checkout's `skim_rows.py` and `columnar.py`
(loaded beside these; every other module is this one's), then times both, whole, in
alternating rounds.
"""

from __future__ import annotations

import cProfile
import gc
import importlib.util
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from columnar_calls import replay_parser, worker_stage

from trailhound.cloudtrail import skim_rows
from trailhound.cloudtrail.ecs import Normalized
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.report import Report
from trailhound.cloudtrail.skim import PickedColumns
from trailhound.cloudtrail.skim_rows import SkimNormalizer, SkimRows
from trailhound.pipeline.stage import Stage
from trailhound.sources import Blob


@dataclass
class Kept:
    """One call's inputs, as the skimmer gave them."""

    rows: SkimRows
    ingested: datetime
    enricher: Enricher


def main() -> None:
    parser = replay_parser(__doc__, files=2000, rounds=5)
    parser.add_argument("--profile", type=Path, default=None)
    parser.add_argument(
        "--cut", type=int, default=0, help="each call cut to its first N rows: the fixed cost"
    )
    parser.add_argument(
        "--against",
        type=Path,
        default=None,
        help="a checkout (holding src/): compare its skim_rows and columnar step's parts with "
        "these on every call, then time both",
    )
    args = parser.parse_args()
    stage, tasks = worker_stage(args.corpus, args.files)
    kept, events = _kept(stage, tasks)
    if args.cut:
        kept = [Kept(k.rows.part(0, args.cut), k.ingested, k.enricher) for k in kept]
    normalizer = _normalizer(stage)
    if args.against is not None:
        reference = _reference(normalizer, args.against)
        differing = _differing(normalizer, reference, kept)
        print(f"{len(kept)} calls, {events:,} events; differing from {args.against}'s: {differing}")
        print(_against(normalizer, reference, kept, events, args.rounds))
        return
    parts: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for name, spent in _replay(normalizer, kept).items():
            parts.setdefault(name, []).append(spent)
    per_call = f"(per call: x {events / len(kept):.0f})"
    cut = f", each cut to {args.cut} rows {per_call}" if args.cut else ""
    print(f"{args.files:,} files, {events:,} events, {len(kept)} calls{cut}, {args.rounds} rounds")
    print("| part | median µs/event | best µs/event |\n|---|---:|---:|")
    for name, rounds in parts.items():
        median = statistics.median(rounds) / events * 1e6
        print(f"| {name} | {median:.3f} | {min(rounds) / events * 1e6:.3f} |")
    if args.profile is not None:
        profile = cProfile.Profile()
        profile.enable()
        for k in kept:
            normalizer(_fresh(k.rows), k.ingested, k.enricher)
        profile.disable()
        profile.dump_stats(str(args.profile))


def _against(
    normalizer: SkimNormalizer,
    reference: Callable[..., Normalized],
    kept: list[Kept],
    events: int,
    rounds: int,
) -> str:
    """CPU per event of this normalizer and the reference, in alternating rounds."""
    spent: dict[str, list[float]] = {"this": [], "reference": []}
    for _ in range(rounds):
        for name, call in (("this", normalizer), ("reference", reference)):
            fresh = [(_fresh(k.rows), k.ingested, k.enricher) for k in kept]
            gc.collect()
            started = time.process_time()
            for rows, ingested, enricher in fresh:
                call(rows, ingested, enricher)
            spent[name].append(time.process_time() - started)
    lines = ["| normalizer | median µs/event | best µs/event |", "|---|---:|---:|"]
    for name, times in spent.items():
        median = statistics.median(times) / events * 1e6
        lines.append(f"| {name} | {median:.3f} | {min(times) / events * 1e6:.3f} |")
    return "\n".join(lines)


def _reference(normalizer: SkimNormalizer, checkout: Path) -> Callable[..., Normalized]:
    """The checkout's `SkimNormalizer` and columnar step (its own files, under other module
    names; the other modules are these), set up as `normalizer` is."""
    modules = checkout / "src" / "trailhound" / "cloudtrail"
    rows = _load("reference_skim_rows", modules / "skim_rows.py")
    steps = _load("reference_columnar", modules / "columnar.py")
    reference = object.__new__(rows.SkimNormalizer)
    reference.__dict__.update(normalizer.__dict__)
    reference._cache, reference._paths = {}, {}
    reference._columnar = steps.normalized_columns
    call: Callable[..., Normalized] = reference
    return call


def _load(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # a dataclass looks its module up
    spec.loader.exec_module(module)
    return module


def _differing(
    normalizer: SkimNormalizer, reference: Callable[..., Normalized], kept: list[Kept]
) -> int:
    """How many calls make another batch (values, validity, null counts, row order) or other
    rejections than the reference."""
    differing = 0
    for k in kept:
        made = normalizer(_fresh(k.rows), k.ingested, k.enricher)
        expected = reference(_fresh(k.rows), k.ingested, k.enricher)
        same = made.batch.equals(expected.batch) and made.rejected == expected.rejected
        for ours, theirs in zip(made.batch.columns, expected.batch.columns, strict=True):
            same = same and ours.null_count == theirs.null_count
            same = same and ours.is_valid().equals(theirs.is_valid())
        differing += not same
    return differing


def _normalizer(stage: Stage) -> SkimNormalizer:
    skim = stage._skim
    assert skim is not None, "the compiled skimmer is not built here"
    return skim.normalizer


def _kept(stage: Stage, tasks: list[list[Blob]]) -> tuple[list[Kept], int]:
    kept: list[Kept] = []
    real = SkimNormalizer.__call__

    def keeping(
        self: SkimNormalizer, rows: SkimRows, ingested: datetime, enricher: Enricher
    ) -> Any:
        kept.append(Kept(_fresh(rows), ingested, enricher))
        return real(self, rows, ingested, enricher)

    SkimNormalizer.__call__ = keeping  # type: ignore[method-assign]
    try:
        events = sum(out.events for task in tasks for out in stage.run(task, Report()))
    finally:
        SkimNormalizer.__call__ = real  # type: ignore[method-assign]
    return kept, events


def _fresh(rows: SkimRows) -> SkimRows:
    """The rows again, their columns not taken yet."""
    columns = rows.columns
    if isinstance(columns, PickedColumns):
        columns = PickedColumns(columns._values, columns._row, columns._stride, columns._runs)
    return SkimRows(rows.spans, columns)


def _replay(normalizer: SkimNormalizer, kept: list[Kept]) -> dict[str, float]:
    fresh = [(_fresh(k.rows), k.ingested, k.enricher) for k in kept]
    spent = {"whole": 0.0}
    with _timed(spent):
        gc.collect()
        started = time.process_time()
        for rows, ingested, enricher in fresh:
            normalizer(rows, ingested, enricher)
        spent["whole"] = time.process_time() - started
    return spent


@contextmanager
def _timed(spent: dict[str, float]) -> Iterator[None]:
    """The parts' CPU summed into `spent` while the normalizer runs."""
    targets: list[tuple[Any, str, str]] = [
        (SkimNormalizer, "_groups", "grouping"),
        (SkimNormalizer, "_columnar_rows", "columnar call with its columns"),
        (skim_rows, "_Offered", "columns taken (_Offered)"),
        (skim_rows, "_unwanted_nulled", "unwanted nulled"),
        (SkimNormalizer, "_decoded", "rows left decoded"),
    ]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in targets]
    for owner, name, label in targets:
        setattr(owner, name, _clock(getattr(owner, name), spent, label))
    try:
        yield
    finally:
        for owner, name, real in saved:
            setattr(owner, name, real)


def _clock(real: Callable[..., Any], spent: dict[str, float], label: str) -> Callable[..., Any]:
    spent.setdefault(label, 0.0)

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            return real(*args, **kwargs)
        finally:
            spent[label] += time.process_time() - started

    return timed


if __name__ == "__main__":
    main()
