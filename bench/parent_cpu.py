"""Where the scanning (parent) process spends its CPU: storing matches and the end of the run.

    python bench/parent_cpu.py CORPUS_DIR [WORKERS]

Runs `bench/phases.py` (the scan through the library, shipped pack, fresh state, WORKERS
processes, 2 by default, then delivery to a JSON lines file) with CPU timers (process time:
every thread of the parent, DuckDB's included, not the workers) around the steps of
`Detector.finish`, around storing matches and around delivering,
and prints them as one JSON line with the parent's whole CPU time. On a shared machine compare
two versions by these figures in alternating runs, not by wall time.
"""

from __future__ import annotations

import json
import resource
import runpy
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from like_the_command import cpu_before, set_up

from trailhound.cloudtrail import documents
from trailhound.engine import alert_making, detector, part_making
from trailhound.pipeline import deliver
from trailhound.state import counted, ledger, outbox


def timed(spent: Counter[str], label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn`, adding the process time each call takes to `spent[label]`."""

    def call(*args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[label] += time.process_time() - started

    return call


def _instrument(spent: Counter[str]) -> None:
    for name in ["finish", "_store_pending"]:
        setattr(detector.Detector, name, timed(spent, name, getattr(detector.Detector, name)))
    for name in ["_part", "_raw_records", "_record", "_shared"]:
        made = alert_making.AlertMaker
        setattr(made, name, timed(spent, name, getattr(made, name)))
    places = [(counted, "first_counts"), (ledger, "record"), (documents, "_rebuilt"),
              (part_making, "alerts"), (part_making, "made"),
              (deliver, "deliver"), (outbox, "pending"), (ledger.Batch, "enter")]  # fmt: skip
    for module, name in places:
        setattr(module, name, timed(spent, name, getattr(module, name)))
    evaluators = detector._EVALUATORS  # a benchmark may look inside
    for kind, evaluate in list(evaluators.items()):
        evaluators[kind] = timed(spent, f"decide {kind}", evaluate)
    together = detector._READ_TOGETHER
    for kind, read in list(together.items()):
        together[kind] = _timed_reader(spent, f"decide {kind}", read)


def _timed_reader(spent: Counter[str], label: str, read: Callable[..., Any]) -> Callable[..., Any]:
    """A rule type read together: the read and each rule's decider count as its deciding."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return timed(spent, label, timed(spent, label, read)(*args, **kwargs))

    return call


def run_phases() -> resource.struct_rusage:
    """`phases.py` over this script's CORPUS_DIR [WORKERS] (2 by default), instrumented
    beforehand; then the scanning process's own usage."""
    root = Path(sys.argv[1])
    workers = sys.argv[2] if len(sys.argv) > 2 else "2"
    sys.argv = ["phases.py", str(root), workers]
    runpy.run_path(str(Path(__file__).with_name("phases.py")), run_name="__main__")
    return resource.getrusage(resource.RUSAGE_SELF)


def main() -> None:
    set_up()
    spent: Counter[str] = Counter()
    _instrument(spent)
    usage = run_phases()
    spent["parent"] = usage.ru_utime + usage.ru_stime - cpu_before()
    print(json.dumps({k: round(v, 3) for k, v in spent.most_common()}))


if __name__ == "__main__":
    main()
