"""Spark local mode against the DuckDB engine, on the benchmark corpus.

    python bench/spark.py                  # 1M events: about 10 minutes on 2 cores
    python bench/spark.py --runs 1         # one timed run each instead of three

Each row is `trailhound scan` in a fresh process (`measure.py`: the fastest of the timed runs
for the time, one more watched for the memory of the whole process tree, the JVM and Spark's
Python workers included): DuckDB with one worker per core, Spark on `local[*]`, and Spark over
one small file (its start-up: the JVM, the session, the executors' first imports). Then, in
this process, how many matched rows (and bytes) the executors send back to the driver: the
part of the input that the one decision code on the driver sees. Writes bench/SPARK.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import measure
from measure import Measured

from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.reader import blobs_of
from trailhound.cloudtrail.report import Report
from trailhound.engine.filtering import FilterPlan
from trailhound.pipeline.stage import StagePlan
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.simulate import cached_corpus
from trailhound.sources import open_sources

BENCH = Path(__file__).resolve().parent
MB = 1 << 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=measure.TIMED_RUNS)
    parser.add_argument("--cache", type=Path, default=BENCH / ".cache")
    parser.add_argument("--out", type=Path, default=BENCH / "SPARK.md")
    args = parser.parse_args()
    measure.TIMED_RUNS = args.runs
    logs = cached_corpus(args.cache, events=args.events, seed=0) / "AWSLogs"
    small = min(logs.rglob("*.json.gz"), key=lambda p: p.stat().st_size)
    cores = os.cpu_count() or 1
    rows = [
        ("DuckDB engine, --workers " + str(cores), _scan([str(logs), "--workers", str(cores)])),
        ("Spark engine, local[*]", _scan([str(logs), "--engine", "spark"])),
        ("Spark engine, one small file (start-up)", _scan([str(small), "--engine", "spark"])),
    ]
    back = _sent_back(logs)
    text = _report(args.events, cores, rows, back)
    args.out.write_text(text)
    print(text)


def _scan(arguments: list[str]) -> Measured:
    print("measuring: trailhound scan " + " ".join(arguments[1:]), "...", flush=True)
    folder = Path(tempfile.mkdtemp(prefix="trailhound-bench-spark-"))

    def fresh() -> None:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()

    command = [sys.executable, "-m", "trailhound", "scan", *arguments, "--state",
               str(folder / "state.duckdb"), "--format", "jsonl", "--output",
               str(folder / "alerts.jsonl"),
               "--quiet"]  # fmt: skip
    try:
        result = measure.measure(command, prepare=fresh)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if result.returncode not in (0, 1):
        raise SystemExit(f"failed ({result.returncode}):\n{result.stderr}")
    return result


def _sent_back(logs: Path) -> tuple[int, int, int, float]:
    """(events read, matched rows the driver received, their pickled bytes, seconds)."""
    import pickle

    from trailhound.spark.engine import SparkEngine

    print("counting what the executors send back to the driver ...", flush=True)
    rules = load_rules([shipped_pack_dir()]).rules
    enricher = Enricher.create()
    filters = FilterPlan.build(rules, now=datetime.now(UTC))
    plan = StagePlan.build(rules, enricher=enricher, filters=filters)
    report = Report()
    started = time.perf_counter()
    events = rows = size = 0
    for out in SparkEngine().stage_outputs(blobs_of(open_sources([str(logs)]), report), plan,
                                           report):  # fmt: skip
        events += out.events
        size += len(pickle.dumps(out))
        rows += 0 if out.matched is None else out.matched.num_rows
    return events, rows, size, time.perf_counter() - started


def _report(events: int, cores: int, rows: list[tuple[str, Measured]],
            back: tuple[int, int, int, float]) -> str:  # fmt: skip
    lines = [
        "# Spark local mode against the DuckDB engine",
        "",
        f"`python bench/spark.py`: {events:,} simulated events (`bench/.cache`), the shipped "
        f"pack, {cores} cores, {datetime.now(UTC):%Y-%m-%d}. Wall time of a whole `trailhound "
        "scan` process (fastest of the timed runs); memory summed over the process tree "
        "(PSS; the JVM and Spark's Python workers included) and of its largest process (RSS).",
        "",
        "| run | seconds | events/s | peak memory, tree (MB) | largest process (MB) |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, m in rows:
        rate = f"{events / m.seconds:,.0f}" if "start-up" not in label else "-"
        lines.append(f"| {label} | {m.seconds:.1f} | {rate} | {m.peak_pss_mb:,.0f} | "
                     f"{m.peak_rss_mb:,.0f} |")  # fmt: skip
    read, matched, size, seconds = back
    lines += [
        "",
        f"Sent back to the driver: {matched:,} matched rows for {read:,} events read "
        f"({matched / max(read, 1):.1%}), {size / MB:.1f} MB pickled with their evidence "
        f"packs and counts (measured in-process in {seconds:.0f} s, session start included).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
