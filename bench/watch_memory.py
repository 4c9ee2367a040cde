"""Does `trailhound watch` keep its memory flat? A day of deliveries replayed in one watcher.

    python bench/watch_memory.py               # 24 simulated hours, 288 steps (about 2 minutes)
    python bench/watch_memory.py --hours 2     # a check of the harness, proves nothing
    python bench/watch_memory.py --hours 48 --days 4 --events 2000000   # a second day

The corpus is `trailhound.simulate.cached_corpus(bench/.cache, events=1M, days=2)`: about 6
events/s, a trail of four accounts and a few regions. A fresh process (the watcher) then replays
`--hours` of its deliveries in simulated time: every 5 simulated minutes it hard-links the
files delivered in that slot into a watched folder (their file names carry the delivery stamp)
and runs one `trailhound.pipeline.watch.step` over that folder with the shipped pack, a state
file and a JSON-lines output, as `trailhound watch` does, without sleeping. After each step it
records its own memory (RSS and PSS from /proc/self/smaps_rollup, glibc's heap from
mallinfo2, DuckDB's `duckdb_memory()` by tag, Arrow's pool, Python's allocated blocks and
tracked objects, and once an hour Python's arenas and the anonymous mappings), the state
file's size and its tables' rows, and the step's events, alerts and time. The run fails if the
watcher did not read every file delivered, or set any aside.

`--keep` keeps the watched folder, state file and alerts; `--trim` calls glibc's malloc_trim
after each step (not what `watch` does: it tells memory glibc merely keeps from memory in use);
`--no-report` only prints the section.

Writes the section "Watching for 24 hours" of bench/REPORT.md (replacing an earlier one, the
rest of the file is kept) and the per-step figures as CSV in bench/.cache/watch-memory.csv.
"""

from __future__ import annotations

import argparse
import csv
import ctypes
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
SLOT = timedelta(minutes=5)
STEPS_PER_HOUR = 12
SECTION = "## Watching for 24 hours"
_STAMP = re.compile(r"_CloudTrail_[a-z0-9-]+_(\d{8}T\d{4}Z)_")
TABLES = (
    "matches",
    "evidence",
    "terms",
    "clocks",
    "suppression_windows",
    "ledger",
    "outbox",
    "inputs",
)

# "Flat": what a watcher may gain once warmed up (after its second hour) and still run for
# months: less than 1 MB per simulated hour by least squares over the last 20 hours, and less
# than 10% more resident memory in hour 24 than in hour 2.
FLAT_MB_PER_HOUR = 1.0
FLAT_GROWTH = 0.10


def main() -> None:
    args = _arguments()
    if args.watcher:
        _watcher(args)
        return
    from trailhound.simulate import cached_corpus

    print(f"corpus of {args.events:,} events over {args.days} days (cached) ...", flush=True)
    root = cached_corpus(args.cache, events=args.events, days=args.days, seed=0)
    summary = json.loads((root / "simulation.json").read_text())
    # hard links need the watched folder on the corpus's file system
    scratch = Path(tempfile.mkdtemp(prefix="watch-memory-", dir=args.cache))
    steps_csv = args.cache / "watch-memory.csv"
    try:
        command = [
            sys.executable, str(Path(__file__).resolve()), "--watcher",
            "--corpus", str(root), "--scratch", str(scratch), "--hours", str(args.hours),
            "--csv", str(steps_csv), *(["--trim"] if args.trim else []),
        ]  # fmt: skip
        print(f"watching {args.hours} simulated hours in one process ...", flush=True)
        began = time.perf_counter()
        run = subprocess.run(command, check=False)
        seconds = time.perf_counter() - began
        if run.returncode != 0:
            raise SystemExit(f"the watcher failed ({run.returncode})")
        rows = _read_csv(steps_csv)
        section = _section(rows, summary, args, seconds)
        if args.out is not None:
            _write_section(args.out, section)
        print(section)
    finally:
        if args.keep:
            print(f"kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=int, default=24, help="simulated hours to watch")
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the corpus")
    parser.add_argument("--days", type=int, default=2, help="days the corpus spans")
    parser.add_argument("--cache", type=Path, default=BENCH / ".cache")
    parser.add_argument("--out", type=Path, default=BENCH / "REPORT.md",
                        help="report to add the section to")  # fmt: skip
    parser.add_argument("--no-report", dest="out", action="store_const", const=None,
                        help="print the section only")  # fmt: skip
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the watched folder, state and alerts (bench/.cache/watch-memory-*)",
    )
    parser.add_argument("--trim", action="store_true",
                        help="call glibc's malloc_trim after each step (not what watch does: "
                        "tells memory glibc keeps from memory in use)")  # fmt: skip
    # the watcher process's own options
    parser.add_argument("--watcher", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--scratch", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args()


# -- the watcher: one long-running process --------------------------------------------------------


def _watcher(args: argparse.Namespace) -> None:
    import gc

    import pyarrow as pa

    from trailhound.cloudtrail.geo import Enricher
    from trailhound.cloudtrail.report import Report
    from trailhound.outputs.files import JsonLinesFile
    from trailhound.pipeline.watch import step
    from trailhound.rules.loader import load_rules, shipped_pack_dir
    from trailhound.sources.folder import open_folder
    from trailhound.state.store import Store

    summary = json.loads((args.corpus / "simulation.json").read_text())
    start = datetime.fromisoformat(summary["start"])
    deliveries = _deliveries(args.corpus / "AWSLogs")
    watched = args.scratch / "watched"
    watched.mkdir()
    state_path = args.scratch / "state.duckdb"
    alerts_path = args.scratch / "alerts.jsonl"

    rules = load_rules([shipped_pack_dir()]).rules
    enricher = Enricher.create()
    outputs = [JsonLinesFile("out", alerts_path)]
    sources = [open_folder(str(watched))]
    malloc = _Malloc()
    rows: list[dict[str, float | int | str]] = [
        {"step": 0, **_memory(), **malloc.info(), "py_blocks": sys.getallocatedblocks()}
    ]
    placed = 0
    for number in range(1, args.hours * STEPS_PER_HOUR + 1):
        now = start + number * SLOT
        files = 0
        while placed < len(deliveries) and deliveries[placed][0] <= now:
            _link(deliveries[placed][1], args.corpus / "AWSLogs", watched)
            placed += 1
            files += 1
        report = Report(on_problem=partial(_problem, number))
        began = time.perf_counter()
        store = Store.open(state_path)  # as `trailhound watch` does, once per step
        done = step(sources, rules, store=store, outputs=outputs, enricher=enricher,
                    report=report, now=now)  # fmt: skip
        seconds = time.perf_counter() - began
        if args.trim:
            malloc.trim()
        row: dict[str, float | int | str] = {
            "step": number,
            "hour": number / STEPS_PER_HOUR,
            "seconds": round(seconds, 4),
            "files": files,
            "files_read": done.scan.report.files_read,
            "events": done.scan.stats.events,
            "alerts": len(done.alerts),
            "delivered": sum(len(d.delivered) for d in done.deliveries),
            "backlog": sum(done.backlog.values()),
            "set_aside": len(report.problems),
        }
        row.update(_memory())
        row.update(malloc.info())
        row["arrow_mb"] = round(pa.total_allocated_bytes() / 2**20, 2)
        row["py_blocks"] = sys.getallocatedblocks()
        row["py_objects"] = len(gc.get_objects())
        row.update(_duckdb(store))
        store.close()
        row["state_mb"] = round(_size(state_path) / 2**20, 3)
        row["wal_mb"] = round(_size(state_path.with_name(state_path.name + ".wal")) / 2**20, 3)
        row["spill_mb"] = round(
            _tree_size(state_path.with_name(state_path.name + ".tmp")) / 2**20, 3
        )
        row["cached"] = _cached(enricher)
        if number % STEPS_PER_HOUR == 0:  # slower: once an hour
            row.update(_pymalloc())
            row.update(_anonymous())
        row["threads"] = len(os.listdir("/proc/self/task"))
        row["fds"] = len(os.listdir("/proc/self/fd"))
        rows.append(row)
        if number % STEPS_PER_HOUR == 0:
            print(
                f"  hour {number // STEPS_PER_HOUR:>2}: rss {row['rss_mb']:.0f} MB, "
                f"pss {row['pss_mb']:.0f} MB, state {row['state_mb']:.1f} MB, "
                f"{row['events']:,} events, {row['seconds']:.2f} s/step",
                flush=True,
            )
    linked, read = placed, sum(int(r.get("files_read", 0)) for r in rows)
    if read != linked or any(r.get("set_aside") for r in rows):
        raise SystemExit(
            f"the watcher read {read} of the {linked} files delivered, or set some "
            "aside (see above): its figures would not be a watcher's"
        )
    with args.csv.open("w", newline="") as file:
        names = list(dict.fromkeys(k for r in rows for k in r))
        writer = csv.DictWriter(file, fieldnames=names)
        writer.writeheader()
        writer.writerows(rows)


def _problem(number: int, problem: object) -> None:
    print(f"  step {number}: {problem}", file=sys.stderr)


def _deliveries(logs: Path) -> list[tuple[datetime, Path]]:
    """Every file with its delivery time (the stamp in its name), in delivery order."""
    found = []
    for path in logs.rglob("*.json.gz"):
        stamp = _STAMP.search(path.name)
        if stamp:
            at = datetime.strptime(stamp[1], "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
            found.append((at, path))
    found.sort()
    return found


def _link(path: Path, logs: Path, watched: Path) -> None:
    """The file at its place under the watched folder (AWSLogs/<account>/CloudTrail/...)."""
    target = watched / "AWSLogs" / path.relative_to(logs)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(path, target)
    except OSError:  # another file system
        shutil.copy2(path, target)


def _memory() -> dict[str, float]:
    """This process's memory (MB) from /proc: resident, proportional, anonymous, and peak."""
    fields = {}
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                fields[parts[0].rstrip(":")] = int(parts[1])
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                fields["VmHWM"] = int(line.split()[1])
    mb = {
        "rss_mb": fields.get("Rss", 0),
        "pss_mb": fields.get("Pss", 0),
        "anon_mb": fields.get("Anonymous", 0),
        "peak_rss_mb": fields.get("VmHWM", 0),
    }
    return {k: round(v / 1024, 2) for k, v in mb.items()}


def _pymalloc() -> dict[str, float]:
    """Python's small-object allocator: its arenas (1 MiB each) and the bytes in use in them,
    from `sys._debugmallocstats()` (which writes to the C stderr)."""
    with tempfile.TemporaryFile("w+") as out:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(out.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        text = out.read()
    arenas = re.search(r"(\d+) arenas \* (\d+) bytes/arena", text)
    used = re.search(r"# bytes in allocated blocks\s*=\s*([\d,]+)", text)
    if not arenas or not used:
        return {}
    return {
        "pymalloc_arenas_mb": round(int(arenas[1]) * int(arenas[2]) / 2**20, 2),
        "pymalloc_used_mb": round(int(used[1].replace(",", "")) / 2**20, 2),
    }


def _anonymous() -> dict[str, float]:
    """Resident anonymous memory by kind of mapping: glibc's main heap ([heap]) and the
    other anonymous mappings, by size (glibc's thread arenas reserve 64 MiB each; Python's
    arenas are 1 MiB; large allocations are their own mapping)."""
    kinds = {"heap": 0, "small": 0, "large": 0}
    kind = None
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split()
            if "-" in head[0] and len(head) >= 5 and ":" in head[3]:  # a mapping's first line
                start, end = (int(x, 16) for x in head[0].split("-"))
                name = head[5] if len(head) > 5 else ""
                if name == "[heap]":
                    kind = "heap"
                elif name == "":
                    kind = "small" if end - start <= 8 << 20 else "large"
                else:
                    kind = None
            elif kind is not None and head[0] == "Anonymous:":
                kinds[kind] += int(head[1])
    return {f"anon_{k}_mb": round(v / 1024, 2) for k, v in kinds.items()}


class _Malloc:
    """glibc's heap (Python's objects past 512 bytes, DuckDB's buffers, numpy...): what it has
    from the system and what of it is in use, via mallinfo2."""

    class _Info(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
            "uordblks", "fordblks", "keepcost",
        )]  # fmt: skip

    def __init__(self) -> None:
        self._libc: ctypes.CDLL | None = None
        try:
            libc = ctypes.CDLL("libc.so.6")
            libc.mallinfo2.restype = self._Info
            self._libc = libc
        except (OSError, AttributeError):  # not glibc, or older than 2.33
            pass

    def trim(self) -> None:
        if self._libc is not None:
            self._libc.malloc_trim(0)

    def info(self) -> dict[str, float]:
        if self._libc is None:
            return {}
        m = self._libc.mallinfo2()
        return {
            "malloc_held_mb": round((m.arena + m.hblkhd) / 2**20, 2),
            "malloc_used_mb": round((m.uordblks + m.hblkhd) / 2**20, 2),
        }


def _duckdb(store: object) -> dict[str, float | int]:
    con = store.con  # type: ignore[attr-defined]
    # fetchall: a result left unfinished (fetchone) would refuse the next step's statements
    tags = con.execute(
        "SELECT tag, memory_usage_bytes, temporary_storage_bytes FROM duckdb_memory()"
    ).fetchall()
    out: dict[str, float | int] = {
        "duckdb_mb": round(sum(m for _, m, _ in tags) / 2**20, 2),
        "duckdb_temp_mb": round(sum(t for _, _, t in tags) / 2**20, 2),
    }
    for tag, used, _ in tags:  # by what holds it: tables' blocks, indexes, ...
        out[f"duckdb_{tag.lower()}_mb"] = round(used / 2**20, 2)
    for table in TABLES:
        out[f"rows_{table}"] = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    blob = con.execute("SELECT coalesce(sum(octet_length(data)), 0) FROM evidence").fetchall()[0]
    out["evidence_mb"] = round(blob[0] / 2**20, 3)
    return out


def _cached(enricher: object) -> int:
    """Entries in trailhound's bounded caches (addresses, user agents, payloads...): they
    fill up over the first hours and should then stay under their caps."""
    from trailhound.cloudtrail import ecs

    count = len(getattr(enricher, "_addresses", ()))
    count += len(getattr(getattr(enricher, "_agents", None), "_cache", ()))
    for name in dir(ecs):
        info = getattr(getattr(ecs, name), "cache_info", None)
        if callable(info):
            count += info().currsize
    return count


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _tree_size(path: Path) -> int:
    if not path.is_dir():
        return 0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# -- the report ---------------------------------------------------------------------------------


def _read_csv(path: Path) -> list[dict[str, float]]:
    with path.open() as file:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(file)]


def _slope(rows: list[dict[str, float]], key: str) -> float:
    """Least-squares slope of `key` per simulated hour."""
    xs = [r["hour"] for r in rows]
    ys = [r[key] for r in rows]
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else 0.0


def _hour_mean(steps: list[dict[str, float]], hour: int, key: str) -> float:
    """The mean of `key` over the steps of simulated hour `hour` (1 = the first)."""
    inside = [r[key] for r in steps if (hour - 1) * 12 < r["step"] <= hour * 12]
    return sum(inside) / len(inside) if inside else float("nan")


def _section(
    rows: list[dict[str, float]],
    summary: dict[str, Any],
    args: argparse.Namespace,
    seconds: float,
) -> str:
    from machine import describe

    start = rows[0]
    steps = [r for r in rows if r["step"] >= 1]
    hours = args.hours
    last = steps[-1]
    at = {int(r["step"]): r for r in steps}
    tail = [r for r in steps if r["hour"] > max(hours - 20, hours / 6)]  # the last 20 hours
    slope_rss, slope_pss = _slope(tail, "rss_mb"), _slope(tail, "pss_mb")
    early, late = _hour_mean(steps, min(2, hours), "rss_mb"), _hour_mean(steps, hours, "rss_mb")
    growth = late / early - 1
    flat = slope_rss < FLAT_MB_PER_HOUR and growth < FLAT_GROWTH
    watch_seconds = sum(r["seconds"] for r in steps)
    events = sum(r["events"] for r in steps)
    machine = dict(describe())
    lines = [
        SECTION,
        "",
        f"Written by `python bench/watch_memory.py` ({machine['date']}, {machine['cores']} "
        f"cores, trailhound {machine['trailhound']}, duckdb {machine['duckdb']}). One "
        f"process replays {hours} simulated hours of deliveries from the corpus "
        f"`cached_corpus(events={args.events:,}, days={args.days})` ({summary['events']:,} "
        f"events, {summary['files']:,} files, about {summary['events'] / args.days / 86400:.1f}"
        " events/s): every simulated 5 minutes it hard-links the files delivered in that slot "
        "into a watched folder and runs one `trailhound.pipeline.watch.step` (shipped pack, "
        "state file, JSON-lines output, `now` = the simulated time), without sleeping. "
        "Memory is read from /proc/self after each step.",
        "",
        f"{len(steps)} steps, {events:,.0f} events, {sum(r['alerts'] for r in steps):,.0f} "
        f"alerts; {watch_seconds:.0f} s in steps ({len(steps) / watch_seconds:.2f} steps/s, "
        f"{events / watch_seconds:,.0f} events/s; the slowest step "
        f"{max(r['seconds'] for r in steps):.2f} s); {seconds:.0f} s for the whole run.",
        "",
        "| after | step | RSS (MB) | PSS (MB) | glibc heap held / used (MB) | DuckDB (MB) | "
        "Python blocks | state file (MB) | s/step (last hour) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| start | 0 | {start['rss_mb']:.0f} | {start['pss_mb']:.0f} | "
        f"{start.get('malloc_held_mb', 0):.0f} / {start.get('malloc_used_mb', 0):.0f} | | "
        f"{start['py_blocks']:,.0f} | | |",
    ]
    for number in (12, 24, 72, 144, 288, 576, 1152):
        r = at.get(number)
        if r is None:
            continue
        label = f"{number // STEPS_PER_HOUR} h"
        hour = [s["seconds"] for s in steps if number - 12 < s["step"] <= number]
        lines.append(
            f"| {label} | {number} | {r['rss_mb']:.0f} | {r['pss_mb']:.0f} | "
            f"{r.get('malloc_held_mb', 0):.0f} / {r.get('malloc_used_mb', 0):.0f} | "
            f"{r['duckdb_mb']:.1f} | {r['py_blocks']:,.0f} | {r['state_mb']:.1f} | "
            f"{sum(hour) / len(hour):.2f} |"
        )
    verdict = "**flat**" if flat else "**not flat**"
    lines += [
        "",
        f"- Slope of RSS over the last {hours - tail[0]['hour'] + 1 / 12:.0f} hours (least "
        f"squares, {len(tail)} steps): **{slope_rss:+.2f} MB per simulated hour** (PSS "
        f"{slope_pss:+.2f}); glibc heap in use {_slope(tail, 'malloc_used_mb'):+.2f}, DuckDB "
        f"{_slope(tail, 'duckdb_mb'):+.2f}, Python blocks {_slope(tail, 'py_blocks'):+,.0f} "
        "per hour.",
        f"- RSS in hour {min(2, hours)} (mean of its steps) {early:.0f} MB, in hour {hours} "
        f"{late:.0f} MB: {growth:+.1%}. Peak RSS of the process {last['peak_rss_mb']:.0f} MB.",
        f"- Verdict: {verdict}. Flat means less than {FLAT_MB_PER_HOUR:.0f} MB per hour over the "
        f"last 20 hours and less than {FLAT_GROWTH:.0%} more resident memory in the last hour "
        "than in hour 2 (at 1 MB/h a watcher gains 0.7 GB a month).",
        f"- State file: {at[min(12, len(steps))]['state_mb']:.1f} MB after the first hour, "
        f"{last['state_mb']:.1f} MB after hour {hours} "
        f"({_slope(tail, 'state_mb'):+.2f} MB per hour over the last 20); WAL "
        f"{last['wal_mb']:.1f} MB, spill folder {last['spill_mb']:.1f} MB; "
        f"{last['threads']:.0f} threads and {last['fds']:.0f} open files at the end.",
        "",
        "Where the memory is, every 4 simulated hours (MB): the process's anonymous "
        "(not file-backed) resident memory; Python's small-object arenas and what is in use "
        "in them; glibc's heap in use (DuckDB allocates there, Python's objects over 512 "
        "bytes too); DuckDB's own count (`duckdb_memory()`), all of it and the state file's "
        "blocks it keeps (`BASE_TABLE`); and the entries of trailhound's bounded caches:",
        "",
        "| hour | RSS | anonymous | Python arenas / in use | glibc in use | DuckDB | "
        "DuckDB table blocks | cache entries |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    marks = list(range(48, len(steps) + 1, 48)) if len(steps) >= 48 else [len(steps)]
    for number in [12, *marks]:
        r = at[number]
        lines.append(
            f"| {r['hour']:.0f} | {r['rss_mb']:.0f} | {r['anon_mb']:.0f} | "
            f"{r.get('pymalloc_arenas_mb', 0):.0f} / {r.get('pymalloc_used_mb', 0):.0f} | "
            f"{r.get('malloc_used_mb', 0):.0f} | {r['duckdb_mb']:.0f} | "
            f"{r.get('duckdb_base_table_mb', 0):.0f} | {r['cached']:,.0f} |"
        )
    lines += [
        "",
        "The state's tables, rows every 4 simulated hours (and the evidence packs' MB):",
        "",
        "| hour | " + " | ".join(TABLES) + " | evidence MB | WAL MB | state file MB |",
        "|---:|" + "---:|" * (len(TABLES) + 3),
    ]
    for number in [12, *marks]:
        r = at[number]
        cells = " | ".join(f"{r[f'rows_{t}']:,.0f}" for t in TABLES)
        lines.append(
            f"| {r['hour']:.0f} | {cells} | {r['evidence_mb']:.1f} | {r['wal_mb']:.1f} | "
            f"{r['state_mb']:.1f} |"
        )
    lines += [
        "",
        f"Rerun: `python bench/watch_memory.py` (about {seconds / 60:.1f} minutes here; "
        "`--hours 2` checks the harness). The per-step "
        "figures are in `bench/.cache/watch-memory.csv`. `bench/run.py` rewrites this file "
        "without this section: run this script after it.",
    ]
    return "\n".join(lines)


def _write_section(path: Path, section: str) -> None:
    """Put `section` in the report in place of an earlier one (up to the next `## `
    heading, so a section written by hand after it stays), or at its end."""
    text = path.read_text() if path.is_file() else ""
    begin = text.find(f"\n{SECTION}\n")
    if begin < 0:
        path.write_text(text.rstrip() + "\n\n" + section.rstrip() + "\n")
        return
    after = text.find("\n## ", begin + len(SECTION) + 2)
    rest = "" if after < 0 else "\n" + text[after:]
    path.write_text(text[:begin].rstrip() + "\n\n" + section.rstrip() + "\n" + rest)


if __name__ == "__main__":
    main()
