"""Execution engines: what runs the stage (read, select, normalize, filter) of a scan.

The stage's results (`StageOutput`: matched rows, evidence packs, counts) are the same whatever
runs it, and the scanning process feeds them to the one `Detector` that decides alerts. So an
engine is only "blobs in, stage outputs out, in a stable order", and decisions (windows,
terms, suppression, the ledger, the outbox) are written once and run once, on the state store.

- `duckdb`: this machine, in this process or in `--workers N` processes
  (`pipeline.local_engine`, `pipeline.pool`), each filtering with an embedded DuckDB.
- `spark`: an Apache Spark session (`trailhound.spark`, `pip install 'trailhound[spark]'`).

Adding an engine is one module with a class that has `stage_outputs`, and one line in
`ENGINES`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from trailhound.errors import ConfigError

if TYPE_CHECKING:
    from trailhound.cloudtrail.report import Report
    from trailhound.pipeline.stage import StageOutput, StagePlan
    from trailhound.sources import Blob

# engine name -> "module:class"; the module is imported only when the engine is asked for, so
# an engine's heavy dependencies (pyspark) never load for the others
ENGINES: dict[str, str] = {
    "duckdb": "trailhound.pipeline.local_engine:LocalEngine",
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
