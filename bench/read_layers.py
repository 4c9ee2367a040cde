"""A worker's cost per file, layer by layer: what a file costs beyond its records.

    python bench/read_layers.py bench/.cache/<corpus folder> [--files N] [--rounds R]

Runs, in this one process and as a worker sets itself up (the system's allocator for Arrow, one
arena), over the corpus's first N files cut into tasks as a scan cuts them, and prints the CPU
µs per file and per event of each layer (best of R rounds after one more, layer by layer):

- `inflate`: each file opened, read and inflated by bare calls (`os.read`, one ISA-L call):
  no scan reads a file for less;
- `skim`: the same, and the texts skimmed in the reader's groups by the compiled skimmer;
- `reading`: the stage's own reading of the tasks (`read_selected` through its skimmer:
  holding, skimming, selecting and counting, the picked rows' text and columns), every batch
  dropped where it would be normalized;
- `stage`: `Stage.run` per task, each output pickled as a worker sends it.

`reading` less `skim` is the Python a file costs around the compiled steps. The layers are
CPU-bound and allocate alike in both checkouts: to compare two, run this with each one's
interpreter in turn, several times, and compare the medians.
"""

from __future__ import annotations

import argparse
import gc
import os
import pickle
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
from isal import isal_zlib

from trailhound import heap
from trailhound.cloudtrail import reader
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.reader import blobs_of, read_selected
from trailhound.cloudtrail.report import Report
from trailhound.cloudtrail.skim import skimmed_all
from trailhound.cloudtrail.skim_read import GROUP_BYTES, GROUP_FILES
from trailhound.engine.filtering import FilterPlan
from trailhound.pipeline.pool import cut_into_tasks
from trailhound.pipeline.stage import Stage, StagePlan
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.sources import Blob, open_source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--files", type=int, default=4000, help="the first N files")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    heap.one_arena()  # as `pool._start` sets a worker up
    pa.set_memory_pool(pa.system_memory_pool())
    blobs = list(blobs_of([open_source(str(args.corpus / "AWSLogs"))], Report()))[: args.files]
    stage, reading = _stage(), _stage()  # reading counts what it selects in its stage
    tasks = cut_into_tasks(blobs)
    layers: dict[str, Callable[[], int]] = {
        "inflate": lambda: _inflated(blobs, None),
        "skim": lambda: _inflated(blobs, stage),
        "reading": lambda: _reading(reading, tasks),
        "stage": lambda: _staged(stage, tasks),
    }
    spent: dict[str, list[float]] = {name: [] for name in layers}
    events = 0
    gc.disable()  # as in a worker
    for name, layer in layers.items():  # each layer's rounds in a row: one layer's heap
        layer()  # left behind would make the next one's allocations cost more
        for _ in range(args.rounds):
            started = time.process_time()
            events = layer() or events
            spent[name].append(time.process_time() - started)
    print(f"{len(blobs):,} files, {events:,} events, {len(tasks)} tasks, best of {args.rounds}:")
    for name, seconds in spent.items():
        file, event = min(seconds) / len(blobs) * 1e6, min(seconds) / events * 1e6
        print(f"{name:8s} {file:8.2f} µs a file {event:6.2f} µs an event")


def _stage() -> Stage:
    rules = load_rules([shipped_pack_dir()]).rules
    filters = FilterPlan.build(rules, now=datetime.now(UTC))
    enricher = Enricher.create()
    enricher.warm_up()
    return Stage(StagePlan.build(rules, enricher=enricher, filters=filters, skim="compiled"))


def _inflated(blobs: list[Blob], stage: Stage | None) -> int:
    """Every file read and inflated by bare calls; with a stage, skimmed in the reader's
    groups too. No events counted."""
    skim = None if stage is None else stage._skim
    group: list[bytes] = []
    size = 0
    for blob in blobs:
        text = _bare_text(blob)
        if skim is not None and (len(group) >= GROUP_FILES or size + len(text) > GROUP_BYTES):
            skimmed_all(skim.skimmer, group)
            group, size = [], 0
        group.append(text)
        size += len(text)
    if skim is not None and group:
        skimmed_all(skim.skimmer, group)
    return 0


def _bare_text(blob: Blob) -> bytes:
    handle = os.open(blob.name, os.O_RDONLY)
    try:
        data = os.read(handle, (blob.size or 0) + 1)
    finally:
        os.close(handle)
    inflater = isal_zlib.decompressobj(wbits=31)
    return inflater.decompress(data, int.from_bytes(data[-4:], "little"))  # type: ignore[no-any-return]


def _reading(stage: Stage, tasks: list[list[Blob]]) -> int:
    """The stage's reading of every task, each batch's picked columns taken and the batch
    dropped where it would be normalized."""
    assert stage._skim is not None
    real = reader._flush
    reader._flush = _dropped  # type: ignore[assignment]
    try:
        for task in tasks:
            for _ in read_selected(task, enricher=stage.plan.enricher, report=Report(),
                                   skim=stage._skim):  # fmt: skip
                pass
    finally:
        reader._flush = real
    return 0


def _dropped(pending: Any, *_: Any) -> Iterator[Any]:
    if pending.size:
        pending.skim_rows()  # the picked rows' columns, as normalizing takes them
    pending.clear()
    return iter(())


def _staged(stage: Stage, tasks: list[list[Blob]]) -> int:
    events = 0
    for task in tasks:
        for out in stage.run(task):
            events += out.events
            pickle.dumps(out)
    return events


if __name__ == "__main__":
    main()
