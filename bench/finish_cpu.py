"""The end of a scan alone (`Detector.finish`), timed again and again on one saved state.

    python bench/finish_cpu.py prepare CORPUS_DIR SNAPSHOT_DIR [WORKERS]
    python bench/finish_cpu.py run SNAPSHOT_DIR [RUNS] [HELPERS]

`prepare` scans the corpus as `bench/phases.py` does (shipped pack, fresh state, WORKERS
processes, 2 by default) but stops before deciding: the matches and evidence packs are stored
and committed, and the state file is saved in SNAPSHOT_DIR. `run` then copies that state and
decides it, RUNS times (each in a fresh process, as a scan decides once per process, with its
first-call costs), and prints for each run one JSON line: the CPU time (this process, DuckDB's
threads included) of `finish` and of its steps, as `bench/parent_cpu.py` names them (a step's
figure counts every thread busy while it runs: DuckDB decides beside the making of alerts), the
wall time of `finish` (`finish_wall`: it uses both cores), of the
commit alone, and of making the detector (loading the rules, compiling their filters: a scan
does it at its start; `finish+commit` counts it too, as it always has), the
process's peak resident memory (through the commit), the number of alerts, a digest of every
alert's id and the MD5 of its JSON
as the ledger holds it and one of what the state keeps for the next run: neither may change
when only the speed of the end of a scan does.

HELPERS (0 by default; 1) keeps the helper a crew of workers forks beside them, from this
process before it opens the state, as the scan command's is, so that `finish` makes parts of
the alerts on it (`Crew.begin([])`, then `Crew.outputs(keep=True)`); its CPU from the start
of `finish` to its end is `helpers_cpu` (it is started a second before, so that its start is
not counted). The helper is used however busy the machine is (a scan uses it only if a core
was idle while it decided, `cores.spare`), so `finish_wall` with it means something only on
a quiet machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from like_the_command import set_up

from trailhound.arrow_setup import probe_without_pandas
from trailhound.cloudtrail.documents import rebuilt_documents
from trailhound.cloudtrail.geo import Enricher
from trailhound.collector import paused
from trailhound.demo import DECOY_RULE
from trailhound.engine.detector import Detector
from trailhound.outputs.files import JsonLinesFile
from trailhound.pipeline import cores
from trailhound.pipeline.pool import Crew
from trailhound.pipeline.scan import router, scan, stage_plan
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.rules.model import Rule
from trailhound.rules.parameters import with_values
from trailhound.simulate.world import DECOY_TABLES
from trailhound.sources import open_sources
from trailhound.state.store import Store

_STATE = "state.duckdb"
# what a run leaves for the next (besides the ledger), which must not change either
_KEPT = [
    "SELECT rule_id, seq FROM matches ORDER BY seq",
    "SELECT * FROM suppression_windows ORDER BY ALL",
    "SELECT * FROM terms ORDER BY ALL",
    "SELECT * FROM clocks ORDER BY ALL",
    "SELECT * FROM facts ORDER BY ALL",
    "SELECT * FROM baseline_windows ORDER BY ALL",
    "SELECT * FROM baseline_events ORDER BY ALL",
    "SELECT * FROM counted ORDER BY ALL",
    "SELECT chunk FROM evidence ORDER BY chunk",
]


def _rules() -> list[Rule]:
    return [  # as run.py's scans: the simulated company's decoy table named
        with_values(r, {"decoy_tables": DECOY_TABLES}) if r.name == DECOY_RULE else r
        for r in load_rules([shipped_pack_dir()]).rules
    ]


def prepare(root: Path, snapshot: Path, workers: int) -> None:
    def store_only(self: Detector, **_: Any) -> list[Any]:
        self._store_pending()
        self.store.set_meta("max_event_time", str(self._latest))
        self.store.set_meta("next_seq", str(self._next_seq))
        return []

    Detector.finish = store_only  # type: ignore[method-assign]
    snapshot.mkdir(parents=True, exist_ok=True)
    store = Store.open(snapshot / _STATE)
    scan(open_sources([str(root / "AWSLogs")]), _rules(), store=store,
         enricher=Enricher.create(), workers=workers)  # fmt: skip
    store.close()


def _helpers(count: int) -> Crew | None:
    """A crew (one worker, given nothing) whose helper is kept for the end of a run, ready;
    None for none."""
    if count < 1:
        return None
    plan = stage_plan(_rules(), enricher=Enricher.create(), now=datetime.now(UTC))
    # used however busy the machine: a scan asks whether a core was idle while it decided
    # (`cores.spare`); here the helper's path is what is timed
    cores.spare = lambda since: True
    crew = Crew.start(plan, 1, fork_here=True)
    crew.begin([])
    for _ in crew.outputs(keep=True):
        pass
    time.sleep(1.0)  # their set-up (a stage each) done, as a scan's workers' is by its end
    return crew


class _HelperClock:
    """The CPU seconds the crew's helper has used (from /proc), read last just before it is
    ended: `Crew.make_parts` ends it once the parts are in, inside `finish`."""

    def __init__(self, crew: Crew | None) -> None:
        self.seconds = 0.0
        self._team = None if crew is None else crew._team
        if self._team is not None:
            end = self._team.end_helper

            def reading_then_ending() -> None:
                self.read()
                end()

            self._team.end_helper = reading_then_ending  # type: ignore[method-assign]
        self.read()

    def read(self) -> None:
        helper = None if self._team is None else self._team.helper
        if helper is not None:
            stat = Path(f"/proc/{helper.process.pid}/stat").read_text().rsplit(")", 1)[1]
            fields = stat.split()
            self.seconds = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_once(snapshot: Path, helpers: int = 0) -> dict[str, Any]:
    sys.path.insert(0, str(Path(__file__).parent))
    from parent_cpu import _instrument  # a sibling script, not a package

    spent: Counter[str] = Counter()
    _instrument(spent)
    crew = _helpers(helpers)
    with tempfile.TemporaryDirectory() as folder:
        shutil.copy(snapshot / _STATE, Path(folder) / _STATE)
        store = Store.open(Path(folder) / _STATE)
        output = JsonLinesFile("cli", Path(folder) / "alerts.jsonl")
        started = time.process_time()
        with store.transaction(), paused():
            detector = Detector(
                _rules(), store, to_documents=rebuilt_documents(Enricher.create()),
                route=router([output]), keep_evidence=False,
            )  # fmt: skip
            made = time.process_time()  # a scan makes its detector at its start, not its end
            began, clock = time.perf_counter(), _HelperClock(crew)
            helped = clock.seconds
            alerts = detector.finish(helpers=crew)
            finished = time.process_time()
            wall = time.perf_counter() - began
            clock.read()  # (a helper that made no parts is still running)
            helped = clock.seconds - helped
            if crew is not None:
                crew.release()
        ended = time.process_time()
        spent["finish+commit"] = ended - started  # as before, for comparing with older runs
        spent["detector made"] = made - started
        spent["commit"] = ended - finished
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # before the digest
        # each alert's digest made by DuckDB: sorting 120 MB of alerts at 4M did not fit the
        # store's memory limit, and holding them as Python strings raised the peak measured
        rows = store.con.execute(
            "SELECT alert_id, md5(coalesce(encode(alert), packed)) FROM ledger ORDER BY alert_id"
        ).fetchall()
        kept = [store.con.execute(sql).fetchall() for sql in _KEPT]
        store.close()
    digest = hashlib.sha256()
    for ident, text in rows:
        digest.update(f"{ident}\0{text}\0".encode())
    state = hashlib.sha256(repr(kept).encode())
    result: dict[str, Any] = {k: round(v, 3) for k, v in spent.most_common()}
    result["finish_wall"] = round(wall, 3)
    result["helpers_cpu"] = round(helped, 3)
    result["peak_rss_mb"] = peak
    result["alerts"] = len(alerts)
    result["digest"] = digest.hexdigest()[:16]
    result["state_digest"] = state.hexdigest()[:16]
    return result


def main() -> None:
    set_up()
    if sys.argv[1] == "prepare":
        workers = int(sys.argv[4]) if len(sys.argv) > 4 else 2
        prepare(Path(sys.argv[2]), Path(sys.argv[3]), workers)
    elif sys.argv[1] == "once":
        probe_without_pandas()  # as the command does
        helpers = int(sys.argv[3]) if len(sys.argv) > 3 else 0
        print(json.dumps(run_once(Path(sys.argv[2]), helpers)))
    else:
        runs = int(sys.argv[3]) if len(sys.argv) > 3 else 1
        helpers = sys.argv[4] if len(sys.argv) > 4 else "0"
        for _ in range(runs):
            subprocess.run([sys.executable, __file__, "once", sys.argv[2], helpers], check=True)


if __name__ == "__main__":
    main()
