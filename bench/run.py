"""The benchmark: trailhound scan against parsing the same CloudTrail yourself.

    python bench/run.py            # 1M events, and the 1M/4M scaling run (about 10 minutes)
    python bench/run.py --quick    # 100k events, 400k for scaling: a check, not a result

Writes bench/REPORT.md and prints its table. Every measurement runs in a fresh process, on the
same files, with a warm page cache, twice (time, then memory); see bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bucket import bucket_corpus
from measure import Measured, measure

import trailhound
from report import Report, Row, profile_table, write
from trailhound.demo import DECOY_RULE
from trailhound.simulate import cached_corpus
from trailhound.simulate.world import DECOY_TABLES

BENCH = Path(__file__).resolve().parent
# The rule's question for jq: DeleteTable calls per account ("Multiple Tables Deleted").
JQ_PROGRAM = (
    'reduce (inputs | .Records[] | select(.eventSource == "dynamodb.amazonaws.com" and '
    '.eventName == "DeleteTable") | (.userIdentity.accountId // .recipientAccountId)) '
    "as $a ({}; .[$a] += 1)"
)


@dataclass(frozen=True)
class Corpus:
    root: Path
    listing: Path  # one .json.gz path per line
    files: int
    events: int
    alerts: int  # in the answer key


def main() -> None:
    args = _arguments()
    events = 100_000 if args.quick else args.events
    scaled = events * 4
    scratch = Path(tempfile.mkdtemp(prefix="trailhound-bench-"))
    _compile_bytecode()
    try:
        corpus = _corpus(args.cache, events, scratch)
        report = Report(corpus_events=corpus.events, corpus_files=corpus.files, quick=args.quick)
        report.rows += _parsers(corpus)
        report.rows.append(_jq(corpus, report))
        report.rows += _scans(corpus, args.workers, scratch)
        bucket = _bucket(args.cache, events // 4, scratch)
        label = f"trailhound scan, --workers {args.workers}"
        report.bucket = [
            *_parsers(bucket, only="fast"),
            _scan(bucket, args.workers, scratch, "scan", label),
        ]
        report.bucket_files = (bucket.files, bucket.events)
        report.fixed = _fixed_costs(corpus, args.workers, scratch)
        report.loaded = _under_load(corpus, args.workers, scratch)
        if not args.no_scaling:
            big = _corpus(args.cache, scaled, scratch)
            report.scaling = [
                next(r for r in report.rows if r.key == "scan"),
                _scan(big, args.workers, scratch, "scan", f"scan at {big.events:,} events"),
            ]
        if not args.no_profile:
            report.stages = _stages(corpus)
            report.profile = _profile(corpus, scratch)
        write(report, args.out)
        print(args.out.read_text())
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100k events: a quick check")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--cache", type=Path, default=BENCH / ".cache")
    parser.add_argument("--out", type=Path, default=BENCH / "REPORT.md")
    parser.add_argument("--no-scaling", action="store_true", help="skip the 4x-events run")
    parser.add_argument("--no-profile", action="store_true", help="skip the profiled scan")
    return parser.parse_args()


def _corpus(cache: Path, events: int, scratch: Path) -> Corpus:
    print(f"corpus of {events:,} events (generated once, then cached) ...", flush=True)
    return _listed(cached_corpus(cache, events=events, seed=0), scratch, "simulator")


def _listed(root: Path, scratch: Path, layout: str) -> Corpus:
    files = sorted(str(p) for p in (root / "AWSLogs").rglob("*.json.gz"))
    listing = scratch / f"files-{layout}-{len(files)}.txt"
    listing.write_text("\n".join(files) + "\n")
    summary = json.loads((root / "simulation.json").read_text())
    return Corpus(root, listing, len(files), summary["events"], summary["alerts"])


def _bucket(cache: Path, events: int, scratch: Path) -> Corpus:
    """The corpus of `events` rewritten as a bucket holds it (bench/bucket.py)."""
    print(f"bucket-like corpus of {events:,} events (written once, then cached) ...", flush=True)
    return _listed(bucket_corpus(cached_corpus(cache, events=events, seed=0)), scratch, "bucket")


def _parsers(corpus: Corpus, only: str | None = None) -> list[Row]:
    rows = []
    for key, label, mode in (
        ("inflate", "isal inflate alone, nothing parsed (a floor, not a target)", "inflate"),
        ("stdlib", "stdlib gzip + json.loads, every record", "stdlib"),
        ("fast", "isal + orjson.loads, every record", "fast"),
    ):
        if only is not None and key != only:
            continue
        print(f"measuring: {label} ...", flush=True)
        result = measure([sys.executable, str(BENCH / "baselines.py"), mode, str(corpus.listing)])
        _check(result, label)
        counts = json.loads(result.stdout)
        rows.append(Row(key, label, result, corpus.events, counts["compressed_bytes"]))
    return rows


def _jq(corpus: Corpus, report: Report) -> Row:
    label = "jq: DeleteTable calls per account"
    jq = shutil.which("jq") or _install_jq()
    if jq is None:
        report.notes.append("jq is not installed and could not be installed: row 3 skipped.")
        return Row("jq", label, None, corpus.events, _compressed(corpus))
    print(f"measuring: {label} ...", flush=True)
    command = f"xargs -a {corpus.listing} -d '\\n' cat | gzip -dc | {jq} -c -n '{JQ_PROGRAM}'"
    result = measure(["sh", "-c", command])
    _check(result, label)
    report.notes.append(f"jq's answer: `{result.stdout.strip()}`")
    return Row("jq", label, result, corpus.events, _compressed(corpus))


def _install_jq() -> str | None:
    """jq from the Debian packages, when this user may install them."""
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        return None
    print("installing jq (apt-get) ...", flush=True)
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "jq"]):
        if subprocess.run(command, capture_output=True).returncode != 0:
            return None
    return shutil.which("jq")


def _scans(corpus: Corpus, workers: int, scratch: Path) -> list[Row]:
    rows = [_scan(corpus, workers, scratch, "scan", f"trailhound scan, --workers {workers}")]
    if workers != 1:
        rows.append(_scan(corpus, 1, scratch, "scan1", "trailhound scan, --workers 1"))
    return rows


def _scan(corpus: Corpus, workers: int, scratch: Path, key: str, label: str) -> Row:
    print(f"measuring: {label} ...", flush=True)
    folder = Path(tempfile.mkdtemp(dir=scratch))
    state, alerts = folder / "state.duckdb", folder / "alerts.jsonl"

    def fresh_state() -> None:  # every run starts with no state
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()

    command = [
        sys.executable, "-m", "trailhound", "scan", str(corpus.root / "AWSLogs"),
        "--state", str(state), "--format", "jsonl", "--output", str(alerts),
        "--workers", str(workers), "--quiet", "--config", str(_config(scratch)),
    ]  # fmt: skip
    result = measure(command, prepare=fresh_state)
    if result.returncode not in (0, 1):
        raise SystemExit(f"{label} failed ({result.returncode}):\n{result.stderr}")
    found = sum(1 for _ in alerts.open())
    if found != corpus.alerts:
        raise SystemExit(f"{label}: {found} alerts, the answer key has {corpus.alerts}")
    return Row(key, label, result, corpus.events, _compressed(corpus))


def _config(scratch: Path) -> Path:
    """trailhound.toml naming the simulated company's decoy table, as its user would: the
    answer key counts that rule's alert, and unconfigured it does not run."""
    path = scratch / "trailhound.toml"
    tables = ", ".join(f'"{t}"' for t in DECOY_TABLES)
    path.write_text(
        f'[rules.overrides."{DECOY_RULE}"]\nparameters = {{ decoy_tables = [{tables}] }}\n'
    )
    return path


def _profile(corpus: Corpus, scratch: Path) -> str:
    """Where a one-process scan spends its time, from cProfile (slower than the real run)."""
    print("profiling: trailhound scan --workers 1 under cProfile ...", flush=True)
    stats = scratch / "scan.prof"
    command = [
        sys.executable, "-m", "cProfile", "-o", str(stats), "-m", "trailhound", "scan",
        str(corpus.root / "AWSLogs"), "--no-state", "--format", "jsonl",
        "--output", str(scratch / "profiled.jsonl"), "--workers", "1", "--quiet",
    ]  # fmt: skip
    result = measure(command, memory=False)
    if result.returncode not in (0, 1):
        raise SystemExit(f"profiled scan failed:\n{result.stderr}")
    return profile_table(stats)


def _fixed_costs(corpus: Corpus, workers: int, scratch: Path) -> list[tuple[str, float]]:
    """Start-up (a scan of one small file, whole process) and end-of-run work (deciding,
    from bench/phases.py: the scan through the library, its `Detector.finish` timed)."""
    print("measuring: start-up and end-of-run work ...", flush=True)
    small = min(corpus.listing.read_text().split(), key=os.path.getsize)
    tiny = scratch / "tiny"
    tiny.mkdir(exist_ok=True)
    shutil.copy(small, tiny / Path(small).name)
    command = [
        sys.executable, "-m", "trailhound", "scan", str(tiny), "--no-state", "--format",
        "jsonl", "--output", str(scratch / "tiny.jsonl"), "--quiet",
    ]  # fmt: skip
    started = measure(command, memory=False)
    phases = [sys.executable, str(BENCH / "phases.py"), str(corpus.root), str(workers)]
    timed = json.loads(subprocess.run(phases, capture_output=True, text=True, check=True).stdout)
    return [
        ("start-up: `trailhound scan` of one small file, whole process (s)", started.seconds),
        ("the same, its CPU, user + sys (s)", started.cpu_seconds),
        (f"end of run: deciding at {corpus.events:,} events, `Detector.finish` (s)",
         timed["finish"]),
        ("end of run: delivering its alerts to a JSON lines file (s)", timed["deliver"]),
        ("the same scan through the library, all of it (s)", timed["scan"]),
    ]  # fmt: skip


def _under_load(corpus: Corpus, workers: int, scratch: Path) -> Row | None:
    """The scan again while another process keeps one core busy (pinned with taskset)."""
    taskset = shutil.which("taskset")
    if taskset is None:
        return None
    busy = subprocess.Popen([taskset, "-c", "0", sys.executable, "-c", "while True: pass"])
    try:
        label = f"trailhound scan, --workers {workers}, one core busy with another process"
        return _scan(corpus, workers, scratch, "loaded", label)
    finally:
        busy.kill()
        busy.wait()


def _compile_bytecode() -> None:
    """An installed package has its bytecode compiled; an editable checkout may not (with
    PYTHONDONTWRITEBYTECODE set, every run would compile trailhound again, ~0.1 s)."""
    package = Path(trailhound.__file__).parent
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True)


def _stages(corpus: Corpus) -> str:
    """A worker's steps timed one by one (bench/stages.py), in a fresh process."""
    print("timing the steps of a scan one by one ...", flush=True)
    command = [sys.executable, str(BENCH / "stages.py"), str(corpus.root)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"stages.py failed:\n{result.stderr}")
    return result.stdout


def _compressed(corpus: Corpus) -> int:
    return sum(os.path.getsize(p) for p in corpus.listing.read_text().split("\n") if p)


def _check(result: Measured, label: str) -> None:
    if result.returncode != 0:
        raise SystemExit(f"{label} failed ({result.returncode}):\n{result.stderr}")


if __name__ == "__main__":
    main()
