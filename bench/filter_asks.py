"""What a worker's matcher spends asking DuckDB about the rules' filters.

    python bench/filter_asks.py CORPUS_DIR [FILES]

Runs a worker's stage (`Stage.run`, the compiled skimmer, the shipped pack) over the corpus's
tasks in this one process, as one worker would run them all, and prints one JSON line: the
number of asks (`Matcher._ask`, one per batch with combinations no filter remembers), the
filters asked in them, the groups asked about, and the process time of the asks, first and the
rest; and the process time of all the matcher's answering of new groups (`Matcher._evaluate`:
the asks and the filters answered in Python, engine/plain_filters.py). The filters are rendered
before the stage starts, as a worker receives them (their DuckDB text ready), so the time is
DuckDB's and ours, not sqlglot's. The matcher's memory warms up in a few tasks, so the figure
is nearly the same for any corpus: a fixed cost per process, paid again by each worker.
Compare two versions in alternating runs (this script runs either version's trailhound).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.reader import blobs_of
from trailhound.cloudtrail.report import Report
from trailhound.engine.filtering import FilterPlan, Matcher
from trailhound.pipeline.pool import cut_into_tasks
from trailhound.pipeline.stage import Stage, StagePlan
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.sources import open_source


def main() -> None:
    corpus = Path(sys.argv[1])
    files = int(sys.argv[2]) if len(sys.argv) > 2 else None
    print(json.dumps(measure(corpus, files)))


def measure(corpus: Path, files: int | None) -> dict[str, Any]:
    rules = load_rules([shipped_pack_dir()]).rules
    blobs = list(blobs_of([open_source(str(corpus / "AWSLogs"))], Report()))[:files]
    enricher = Enricher.create()
    enricher.warm_up()
    filters = FilterPlan.build(rules, now=datetime.now(UTC))
    for rule_filter in filters.filters:
        rule_filter.where  # noqa: B018 -- rendered now, as a worker receives it
    plan = StagePlan.build(rules, enricher=enricher, filters=filters, skim="compiled")
    asks: list[dict[str, Any]] = []
    evaluated: list[float] = []
    original, original_evaluate = Matcher._ask, Matcher._evaluate
    Matcher._ask = _counted(original, asks)  # type: ignore[method-assign]
    Matcher._evaluate = _timed(original_evaluate, evaluated)  # type: ignore[method-assign]
    try:
        stage = Stage(plan)
        events = sum(
            out.events for run in cut_into_tasks(blobs) for out in stage.run(run, Report())
        )
    finally:
        Matcher._ask = original  # type: ignore[method-assign]
        Matcher._evaluate = original_evaluate  # type: ignore[method-assign]
    spent = [a["cpu_ms"] for a in asks]
    return {
        "files": len(blobs), "events": events, "asks": len(asks),
        "filters_asked": sum(a["filters"] for a in asks),
        "groups": sum(a["groups"] for a in asks),
        "ask_cpu_ms": round(sum(spent), 1),
        "first_ms": round(spent[0], 1) if spent else 0.0,
        "rest_ms": round(sum(spent[1:]), 1),
        "evaluate_cpu_ms": round(sum(evaluated), 1),
    }  # fmt: skip


def _counted(ask: Callable[..., None], asks: list[dict[str, Any]]) -> Callable[..., None]:
    """`Matcher._ask`, recording each call's filters, groups and process time."""

    def counted(matcher: Matcher, values: Any, asked: dict[int, Any], passed: Any) -> None:
        started = time.process_time()
        ask(matcher, values, asked, passed)
        cpu_ms = (time.process_time() - started) * 1000
        asks.append({"filters": len(asked), "groups": values.num_rows, "cpu_ms": cpu_ms})

    return counted


def _timed(evaluate: Callable[..., Any], spent: list[float]) -> Callable[..., Any]:
    """`Matcher._evaluate`, adding each call's process time (ms) to `spent`."""

    def timed(matcher: Matcher, *args: Any) -> Any:
        started = time.process_time()
        try:
            return evaluate(matcher, *args)
        finally:
            spent.append((time.process_time() - started) * 1000)

    return timed


if __name__ == "__main__":
    main()
