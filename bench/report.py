"""bench/REPORT.md from the measurements of one run."""

from __future__ import annotations

import pstats
from dataclasses import dataclass, field
from pathlib import Path

from machine import describe
from measure import Measured

MB = 1_000_000
OBSTACLES = Path(__file__).resolve().parent / "obstacles.md"  # written by hand, copied in
_PROFILE_ROWS = 14


@dataclass(frozen=True)
class Row:
    key: str  # inflate, stdlib, fast, jq, scan, scan1
    label: str
    result: Measured | None  # None: skipped
    events: int
    compressed_bytes: int

    @property
    def events_per_second(self) -> float:
        return self.events / self.result.seconds if self.result else 0.0

    @property
    def mb_per_second(self) -> float:
        return self.compressed_bytes / MB / self.result.seconds if self.result else 0.0


@dataclass
class Report:
    corpus_events: int
    corpus_files: int
    quick: bool
    rows: list[Row] = field(default_factory=list)
    scaling: list[Row] = field(default_factory=list)  # the scan at N and at 4N events
    profile: str = ""
    stages: str = ""  # bench/stages.py's tables
    notes: list[str] = field(default_factory=list)
    bucket: list[Row] = field(default_factory=list)  # parse-only and scan, bucket-like layout
    bucket_files: tuple[int, int] = (0, 0)  # its files and events
    fixed: list[tuple[str, float]] = field(default_factory=list)  # start-up, end of run
    loaded: Row | None = None  # the scan with another process busy on one core

    def row(self, key: str) -> Row | None:
        return next((r for r in self.rows if r.key == key and r.result), None)


def write(report: Report, path: Path) -> None:
    parts = [
        _header(report),
        _machine(),
        _results(report),
        _ratios(report),
        _scaling(report),
        _bucket(report),
        _fixed(report),
        _targets(report),
    ]
    if OBSTACLES.is_file():
        parts.append(OBSTACLES.read_text())
    if report.stages:
        parts.append(
            "## Where a scan's CPU goes, step by step\n\n"
            "From `python bench/stages.py` on the same corpus: the steps a worker runs, "
            "in one process, timed one by one with the CPU clock.\n\n" + report.stages
        )
    if report.profile:
        parts.append(report.profile)
    if report.notes:
        parts.append("## Notes\n\n" + "\n".join(f"- {n}" for n in report.notes))
    path.write_text("\n\n".join(p.rstrip() for p in parts) + "\n")


def _header(report: Report) -> str:
    first = report.rows[0]
    size = first.compressed_bytes / MB
    quick = " (**--quick: a check, not a result**)" if report.quick else ""
    return (
        f"# Benchmark: `trailhound scan` against parsing the logs yourself{quick}\n\n"
        "Written by `python bench/run.py` (see bench/README.md). Corpus: "
        f"{report.corpus_events:,} simulated CloudTrail events of a realistic mix in "
        f"{report.corpus_files:,} gzip files as AWS delivers them to S3 ({size:.0f} MB "
        "compressed), from `trailhound.simulate.cached_corpus(events=N, seed=0)`. Each row "
        "is the fastest of three fresh processes on the same files with a warm page cache "
        "(one run on this virtual machine varies by up to a third); events/s and MB/s (of "
        "compressed input) count the whole process, start-up included. Memory comes from a "
        "second, watched run (reading /proc slows a process down): the peak of the "
        "proportional set size summed over the process tree (workers included), and the peak "
        "resident set of the largest single process."
    )


def _machine() -> str:
    lines = ["## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {label} | {value} |" for label, value in describe()]
    return "\n".join(lines)


def _results(report: Report) -> str:
    lines = [
        "## Results",
        "",
        "| # | what | seconds | events/s | MB/s | peak memory (MB) | largest process (MB) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    numbers = {"inflate": "0", "stdlib": "1", "fast": "2", "jq": "3", "scan": "4", "scan1": "4'"}
    for row in report.rows:
        n = numbers.get(row.key, "")
        if row.result is None:
            lines.append(f"| {n} | {row.label} | skipped | | | | |")
            continue
        r = row.result
        lines.append(
            f"| {n} | {row.label} | {r.seconds:.2f} | {row.events_per_second:,.0f} | "
            f"{row.mb_per_second:.1f} | {r.peak_pss_mb:.0f} | {r.peak_rss_mb:.0f} |"
        )
    return "\n".join(lines)


def _ratios(report: Report) -> str:
    lines = ["## Ratios (scan throughput over each way of reading)", ""]
    for scan_key in ("scan", "scan1"):
        scan = report.row(scan_key)
        if scan is None:
            continue
        parts = []
        for key, name in (("stdlib", "(1) stdlib"), ("fast", "(2) isal+orjson"), ("jq", "(3) jq")):
            other = report.row(key)
            if other is not None:
                parts.append(f"{scan.events_per_second / other.events_per_second:.2f}x {name}")
        lines.append(f"- {scan.label}: " + ", ".join(parts))
    return "\n".join(lines)


def _scaling(report: Report) -> str:
    if len(report.scaling) < 2:
        return "## Scaling\n\nNot run (--no-scaling)."
    small, big = report.scaling
    assert small.result is not None and big.result is not None
    time_ratio = big.result.seconds / small.result.seconds
    memory_ratio = big.result.peak_pss_mb / small.result.peak_pss_mb
    lines = [
        "## Scaling (same scan, 4x the events)",
        "",
        "| events | seconds | events/s | peak memory (MB) | largest process (MB) |",
        "|---:|---:|---:|---:|---:|",
    ]
    lines += [_measured(f"{row.events:,}", row) for row in report.scaling]
    lines += [
        "",
        f"Time ratio {time_ratio:.2f} (linear: about {big.events / small.events:.0f}); "
        f"peak memory ratio {memory_ratio:.2f} (flat: about 1).",
    ]
    return "\n".join(lines)


def _measured(first: str, row: Row) -> str:
    """A table row: `first`, then the run's seconds, events/s and peak memories."""
    assert row.result is not None
    return (
        f"| {first} | {row.result.seconds:.2f} | {row.events_per_second:,.0f} | "
        f"{row.result.peak_pss_mb:.0f} | {row.result.peak_rss_mb:.0f} |"
    )


def _bucket(report: Report) -> str:
    if len(report.bucket) < 2 or not all(r.result for r in report.bucket):
        return "## Bucket-like layout\n\nNot measured."
    files, events = report.bucket_files
    parse, scan = report.bucket
    lines = [
        "## Bucket-like layout",
        "",
        f"The corpus of {events:,} events rewritten by `bench/bucket.py` as S3 holds a trail: "
        f"one file per account, region and 5 minutes of event time, cut into files of 15 to 70 "
        f"events ({files:,} files, {events / files:.0f} events per file on average; quiet "
        "slots make smaller ones).",
        "",
        "| what | seconds | events/s | peak memory (MB) | largest process (MB) |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [_measured(row.label, row) for row in report.bucket]
    ratio = scan.events_per_second / parse.events_per_second
    lines += ["", f"Scan over isal+orjson parse-only on this layout: {ratio:.2f}x."]
    return "\n".join(lines)


def _fixed(report: Report) -> str:
    lines = ["## Fixed costs, and a scan under load", ""]
    lines += [f"- {label}: {seconds:.2f}" for label, seconds in report.fixed]
    quiet, loaded = report.row("scan"), report.loaded
    if quiet and quiet.result and loaded and loaded.result:
        slower = loaded.result.seconds / quiet.result.seconds
        lines.append(
            f"- {loaded.label}: {loaded.result.seconds:.2f} s, {slower:.2f}x the quiet run's "
            f"time ({loaded.events_per_second:,.0f} events/s)"
        )
    return "\n".join(lines)


def _targets(report: Report) -> str:
    scan, fast, stdlib, jq = (report.row(k) for k in ("scan", "fast", "stdlib", "jq"))
    checks: list[tuple[str, float | None, float]] = []
    if scan is not None:
        for other, name, goal in ((fast, "(2)", 2.5), (stdlib, "(1)", 4.0), (jq, "jq", 10.0)):
            ratio = scan.events_per_second / other.events_per_second if other else None
            checks.append((f"scan at least {goal}x {name}", ratio, goal))
    lines = [
        "## Targets",
        "",
        "The scan is row 4 (as many workers as cores). The targets are the issue's.",
        "",
        "| target | measured | met |",
        "|---|---:|---|",
    ]
    for text, value, goal in checks:
        shown = f"{value:.2f}x" if value is not None else "n/a"
        lines.append(f"| {text} | {shown} | {_met(value is not None and value >= goal)} |")
    if len(report.bucket) == 2 and all(r.result for r in report.bucket):
        ratio = report.bucket[1].events_per_second / report.bucket[0].events_per_second
        lines.append(f"| bucket-like layout: scan at least 2.5x (2) | {ratio:.2f}x | "
                     f"{_met(ratio >= 2.5)} |")  # fmt: skip
    if len(report.scaling) == 2:
        small, big = (r.result for r in report.scaling)
        assert small is not None and big is not None
        if fast is not None:
            ratio = report.scaling[1].events_per_second / fast.events_per_second
            lines.append(f"| scan at 4x events at least 3.0x (2) | {ratio:.2f}x | "
                         f"{_met(ratio >= 3.0)} |")  # fmt: skip
        ratio = big.peak_pss_mb / small.peak_pss_mb
        lines.append(f"| memory at 4x events at most 1.3x | {ratio:.2f}x | {_met(ratio <= 1.3)} |")
        lines.append(
            f"| memory at 4x events under 400 MB | {big.peak_pss_mb:.0f} MB | "
            f"{_met(big.peak_pss_mb < 400)} |"
        )
    return "\n".join(lines + _floor(report))


def _floor(report: Report) -> list[str]:
    """What the 2.5x target leaves once every byte is inflated, which no scan can skip."""
    fast, inflate = report.row("fast"), report.row("inflate")
    if fast is None or inflate is None or fast.result is None or inflate.result is None:
        return []
    budget = fast.result.seconds / 2.5
    return [
        "",
        f"At 2.5x (2) a scan of this corpus has {budget:.2f} s in all; inflating its files "
        f"alone (row 0, one process) takes {inflate.result.seconds:.2f} s, "
        f"{inflate.result.seconds / budget:.0%} of that budget on one core.",
    ]


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def profile_table(stats_path: Path) -> str:
    """The functions of a profiled scan with the largest share, cumulative and own time."""
    stats = pstats.Stats(str(stats_path))
    entries = stats.stats  # type: ignore[attr-defined]
    total = max(ct for (_, _, _, ct, _) in entries.values())

    def name(func: tuple[str, int, str]) -> str:
        path, line, function = func
        short = path.split("site-packages/")[-1].split("src/")[-1]
        return f"`{function}` ({short}:{line})"

    def top(index: int, only_ours: bool) -> list[str]:
        ranked = sorted(entries.items(), key=lambda kv: kv[1][index], reverse=True)
        out = []
        for func, values in ranked:
            if only_ours and "trailhound" not in func[0]:
                continue
            out.append(f"| {100 * values[index] / total:.1f}% | {name(func)} |")
            if len(out) == _PROFILE_ROWS:
                break
        return out

    return "\n".join(
        [
            "## Where a one-process scan spends its time",
            "",
            "From `python -m cProfile -m trailhound scan --workers 1` on the same corpus "
            "(the profiler slows Python code down, so shares matter, not seconds).",
            "",
            "| cumulative | function |",
            "|---:|---|",
            *top(3, only_ours=True),
            "",
            "| own time | function |",
            "|---:|---|",
            *top(2, only_ours=False),
        ]
    )
