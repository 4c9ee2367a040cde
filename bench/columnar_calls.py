"""A worker's stage over a corpus's first files, and its columnar calls kept for replaying.

The benchmarks of the columnar normalize step (`compiled_columns.py`, `fillers.py`,
`skim_normalize.py`) run a worker's stage as a scan does (the compiled skimmer, the shipped
pack, 1 MB tasks) and replay what it asked of the step.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from trailhound.cloudtrail import columnar
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.reader import blobs_of
from trailhound.cloudtrail.report import Report
from trailhound.engine.filtering import FilterPlan
from trailhound.pipeline.pool import cut_into_tasks
from trailhound.pipeline.stage import Stage, StagePlan
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.sources import Blob, open_source


@dataclass
class Call:
    """One call of the columnar step, with its inputs."""

    columns: Mapping[str, pa.Array]
    fields: frozenset[str]
    ingested: datetime
    enricher: Enricher
    wanting: Mapping[str, np.ndarray] | None

    def replay(self) -> columnar.Columnar:
        return columnar.normalized_columns(
            self.columns, self.fields, self.ingested, self.enricher, self.wanting
        )


def replay_parser(doc: str | None, *, files: int, rounds: int) -> argparse.ArgumentParser:
    """The arguments every benchmark that replays a worker's stage takes (the corpus, its first
    N files, the rounds), with the description from its docstring; a caller may add more."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--files", type=int, default=files, help="only the first N files")
    parser.add_argument("--rounds", type=int, default=rounds)
    return parser


def worker_stage(corpus: Path, files: int) -> tuple[Stage, list[list[Blob]]]:
    """A worker's stage on the compiled skimmer, and the first files cut into tasks."""
    blobs = list(blobs_of([open_source(str(corpus / "AWSLogs"))], Report()))[:files]
    return shipped_stage(), cut_into_tasks(blobs)


def shipped_stage() -> Stage:
    """A worker's stage for the shipped pack, on the compiled skimmer (unless the environment
    turns it off, as for a scan)."""
    rules = load_rules([shipped_pack_dir()]).rules
    enricher = Enricher.create()
    enricher.warm_up()
    filters = FilterPlan.build(rules, now=datetime.now(UTC))
    return Stage(StagePlan.build(rules, enricher=enricher, filters=filters))


def kept_calls(stage: Stage, tasks: list[list[Blob]], *, whole: bool) -> tuple[list[Call], int]:
    """The stage's columnar calls over the tasks, and the events read. `whole` keeps each
    call's columns as a dict of whole arrays (a raw path's included); otherwise the skimmer's
    own columns object is kept, so that a replay reads raw members in place or takes them at
    some rows, as a scan does."""
    skim = stage._skim
    assert skim is not None, "the compiled skimmer is not built here"
    normalizer = skim.normalizer
    real = normalizer._columnar
    assert real is not None
    calls: list[Call] = []
    normalizer._columnar = _keeping(real, calls, whole)
    try:
        events = sum(out.events for task in tasks for out in stage.run(task, Report()))
    finally:
        normalizer._columnar = real
    return calls, events


def _keeping(real: Callable[..., Any], calls: list[Call], whole: bool) -> Callable[..., Any]:
    def kept(
        columns: Mapping[str, pa.Array],
        fields: frozenset[str],
        ingested: datetime,
        enricher: Enricher,
        wanting: Mapping[str, np.ndarray] | None = None,
    ) -> Any:
        held = {path: columns[path] for path in columns} if whole else columns
        calls.append(Call(held, frozenset(fields), ingested, enricher, wanting))
        return real(columns, fields, ingested, enricher, wanting)

    return kept
