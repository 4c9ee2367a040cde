"""How long a scan's end-of-run work takes: the scan through the library, `Detector.finish` timed.

    python bench/phases.py CORPUS_DIR [WORKERS]

Runs what `trailhound scan CORPUS_DIR/AWSLogs` runs (shipped pack, a fresh state file, WORKERS
processes, 1 by default) in this process, with a timer around `Detector.finish` (deciding every
rule, evidence documents, the ledger), and prints one JSON line: {"finish": s, "scan": s}.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from trailhound.cloudtrail.geo import Enricher
from trailhound.demo import DECOY_RULE
from trailhound.engine.detector import Detector
from trailhound.pipeline.scan import scan
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.rules.parameters import with_values
from trailhound.simulate.world import DECOY_TABLES
from trailhound.sources import open_sources
from trailhound.state.store import Store


def main() -> None:
    root, workers = Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 1
    spent: dict[str, float] = {"finish": 0.0}
    finish = Detector.finish

    def timed_finish(self: Detector, **options: Any) -> Any:
        started = time.perf_counter()
        try:
            return finish(self, **options)
        finally:
            spent["finish"] += time.perf_counter() - started

    Detector.finish = timed_finish  # type: ignore[method-assign]
    rules = [  # as run.py's scans: the simulated company's decoy table named
        with_values(r, {"decoy_tables": DECOY_TABLES}) if r.name == DECOY_RULE else r
        for r in load_rules([shipped_pack_dir()]).rules
    ]
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(Path(folder) / "state.duckdb")
        started = time.perf_counter()
        scan(open_sources([str(root / "AWSLogs")]), rules, store=store,
             enricher=Enricher.create(), workers=workers)  # fmt: skip
        spent["scan"] = time.perf_counter() - started
        store.close()
    print(json.dumps({k: round(v, 3) for k, v in spent.items()}))


if __name__ == "__main__":
    main()
