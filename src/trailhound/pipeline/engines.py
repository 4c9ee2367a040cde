"""Execution engines: what runs the stage (read, select, normalize, filter) of a scan.

The stage's results (`StageOutput`: matched rows, evidence packs, counts) are the same whatever
runs it, and the scanning process feeds them to the one `Detector` that decides alerts. So an
engine is only "blobs in, stage outputs out, in a stable order", and decisions (windows,
terms, suppression, the ledger, the outbox) are written once and run once, on the state store.

- `duckdb`: this machine, in this process or in `--workers N` processes (`pipeline.pool`),
  each filtering with an embedded DuckDB.
- `spark`: an Apache Spark session (`trailhound.spark`, `pip install 'trailhound[spark]'`).

Adding an engine is one module with a class that has `stage_outputs`, and one line in
`ENGINES`.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from trailhound.errors import ConfigError

if TYPE_CHECKING:
    from trailhound.cloudtrail.report import Report
    from trailhound.pipeline.pool import Crew
    from trailhound.pipeline.stage import StageOutput, StagePlan
    from trailhound.sources import Blob

# The stage (pyarrow, DuckDB and the reader) is imported when an engine runs, not with the
# registry: the scan command starts its workers' fork server before it loads any of it.

AUTO_WORKERS_BYTES = 32 << 20
"""Stored bytes from which `workers=None` reads with one process per core (about 200,000
events of CloudTrail as S3 delivers it: a second or more of work per core)."""

# engine name -> "module:class"; the module is imported only when the engine is asked for, so
# an engine's heavy dependencies (pyspark) never load for the others
ENGINES: dict[str, str] = {
    "duckdb": "trailhound.pipeline.engines:LocalEngine",
    "spark": "trailhound.spark.engine:SparkEngine",
}


class Engine(Protocol):
    def stage_outputs(
        self, blobs: Iterable[Blob], plan: StagePlan, report: Report
    ) -> Iterator[StageOutput]:
        """The stage's outputs over `blobs`, in blob order; problems reach `report` or travel
        in the outputs (`StageOutput.problems`)."""
        ...


def open_engine(name: str, **options: Any) -> Engine:
    """The engine registered as `name`, made with `options` (each engine's own keywords)."""
    target = ENGINES.get(name)
    if target is None:
        raise ConfigError(f"no engine named {name!r} (known: {', '.join(sorted(ENGINES))})")
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"the {name} engine needs {exc.name}, which is not installed: "
            f"pip install 'trailhound[{name}]'"
        ) from None
    made: Engine = getattr(module, class_name)(**options)
    return made


class LocalEngine:
    """The stage on this machine: in this process, or in `workers` processes (None: one per
    core when the input is large enough to repay starting them, `AUTO_WORKERS_BYTES`)."""

    def __init__(self, workers: int | None = 1) -> None:
        self.workers = workers

    def stage_outputs(
        self, blobs: Iterable[Blob], plan: StagePlan, report: Report
    ) -> Iterator[StageOutput]:
        from trailhound.pipeline.pool import stop_server
        from trailhound.pipeline.stage import Stage

        workers = self.workers
        if workers is None or workers > 1:
            listed, crew = _listed(blobs, plan, workers)
            workers = workers or _automatic_workers(listed)
            if workers > 1 and len(listed) > 1 and all(b.portable for b in listed):
                # this process mostly waits for the workers: prepare what evidence will need
                threading.Thread(target=plan.enricher.warm_up, daemon=True).start()
                return _in_workers(crew, listed, plan, workers)
            if crew is not None:
                crew.dismiss()
            stop_server()  # the scan may have started it early, before the input was listed
            blobs = listed
        return Stage(plan).run(blobs, report)


def _listed(
    blobs: Iterable[Blob], plan: StagePlan, workers: int | None
) -> tuple[list[Blob], Crew | None]:
    """The input listed; with a number of workers given and their fork server started (the
    caller expects workers: `workers_likely`), they start first, so that their set-up
    overlaps the listing (9,147 files: 0.07 to 0.13 s) instead of following it. Should the
    input prove to be one blob or standard input, they are let go unused."""
    from trailhound.pipeline.pool import Crew, server_running

    crew = Crew.start(plan, workers) if workers is not None and server_running() else None
    try:
        return list(blobs), crew
    except BaseException:
        if crew is not None:
            crew.dismiss()
        raise


def _in_workers(
    crew: Crew | None, listed: list[Blob], plan: StagePlan, workers: int
) -> Iterator[StageOutput]:
    from trailhound.pipeline.pool import cut_into_tasks, run_in_workers

    if crew is None:
        return run_in_workers(listed, plan, workers)
    return crew.outputs(cut_into_tasks(listed))


def _automatic_workers(blobs: Sequence[Blob]) -> int:
    """One per core for an input worth it; starting workers costs about half a second."""
    stored = sum(b.size or 0 for b in blobs)
    return (os.cpu_count() or 1) if stored >= AUTO_WORKERS_BYTES else 1


def workers_likely(paths: Sequence[str], workers: int | None) -> bool:
    """Whether a scan of `paths` will most likely read with worker processes, known before its
    input is listed, so that their fork server can start at once. Not for one file or
    standard input, which this process reads; else `workers` as given; with None, whether the
    local files and folders among `paths` hold `AUTO_WORKERS_BYTES` (a look that stops there;
    globs and buckets are not looked at). Only a hint: the engine decides on the listed
    input, and ends a server started for nothing."""
    if workers == 1 or not _several(paths):  # one file or standard input: read here
        return False
    if workers is not None:
        return workers > 1
    if (os.cpu_count() or 1) < 2:
        return False
    stored = 0
    for path in paths:
        for size in _sizes(path):
            stored += size
            if stored >= AUTO_WORKERS_BYTES:
                return True
    return False


def _several(paths: Sequence[str]) -> bool:
    """Whether `paths` may name more than one blob (the engine reads one in this process)."""
    return len(paths) > 1 or any(p != "-" and not os.path.isfile(p) for p in paths)


def _sizes(path: str) -> Iterator[int]:
    if os.path.isfile(path):
        yield os.path.getsize(path)
        return
    for folder, _, names in os.walk(path):  # nothing for what is no folder
        for name in names:
            try:
                yield os.stat(os.path.join(folder, name)).st_size
            except OSError:
                continue
