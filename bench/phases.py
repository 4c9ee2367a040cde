"""How long a scan's end-of-run work takes: the scan through the library, then delivery.

    python bench/phases.py CORPUS_DIR [WORKERS]

Runs what `trailhound scan CORPUS_DIR/AWSLogs --format jsonl --output FILE` runs (shipped pack,
a fresh state file, WORKERS processes, 1 by default) in this process, with timers around
`Detector.finish` (deciding every rule, evidence documents, the ledger) and around delivering
the alerts to the JSON lines file, and prints one JSON line of seconds: wall time of `finish`,
`deliver` and the whole `scan`, and the CPU time (`*_cpu`, this process's threads) of the first
two, which is what to compare on a shared machine.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from like_the_command import set_up

from trailhound.cloudtrail.geo import Enricher
from trailhound.demo import DECOY_RULE
from trailhound.engine.detector import Detector
from trailhound.outputs.files import JsonLinesFile
from trailhound.pipeline.deliver import deliver
from trailhound.pipeline.scan import scan
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.rules.parameters import with_values
from trailhound.simulate.world import DECOY_TABLES
from trailhound.sources import open_sources
from trailhound.state.store import Store


def main() -> None:
    set_up()
    root, workers = Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 1
    spent: dict[str, float] = {"finish": 0.0, "finish_cpu": 0.0}
    finish = Detector.finish

    def timed_finish(self: Detector, **options: Any) -> Any:
        started, cpu = time.perf_counter(), time.process_time()
        try:
            return finish(self, **options)
        finally:
            spent["finish"] += time.perf_counter() - started
            spent["finish_cpu"] += time.process_time() - cpu

    Detector.finish = timed_finish  # type: ignore[method-assign]
    rules = [  # as run.py's scans: the simulated company's decoy table named
        with_values(r, {"decoy_tables": DECOY_TABLES}) if r.name == DECOY_RULE else r
        for r in load_rules([shipped_pack_dir()]).rules
    ]
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(Path(folder) / "state.duckdb")
        output = JsonLinesFile("cli", Path(folder) / "alerts.jsonl")
        started = time.perf_counter()
        scan(open_sources([str(root / "AWSLogs")]), rules, store=store,
             enricher=Enricher.create(), workers=workers, outputs=[output])  # fmt: skip
        spent["scan"] = time.perf_counter() - started
        started, cpu = time.perf_counter(), time.process_time()
        deliver(store, [output])
        spent["deliver"] = time.perf_counter() - started
        spent["deliver_cpu"] = time.process_time() - cpu
        store.close()
    print(json.dumps({k: round(v, 3) for k, v in spent.items()}))


if __name__ == "__main__":
    main()
