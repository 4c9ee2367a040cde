"""Who copies and allocates in a scan worker: libc's copies and heap calls, and the kernel's
time, each put on the first caller that is neither libc, the kernel nor CPython's own.

    python bench/worker_copies.py bench/.cache/<corpus folder>               # every task
    python bench/worker_copies.py bench/.cache/<corpus folder> --every 2     # one worker's half

Runs `Stage.run` over the corpus's tasks (as a scan cuts them) in one thread of a process set up
as a worker (the command's variables, Arrow on the C heap, one glibc arena, the threshold for
mapped blocks), under `perf record --call-graph dwarf`, sampling only while the tasks run. A
sample whose innermost frame is `memcpy`/`memmove`, one of glibc's heap calls or the kernel is
counted under its caller: `_PyBytes_Resize` (a `bytes` grown by copying), `ConcatenateBuffers`
(Arrow's `concat_arrays`), `spans_joined` (the picked records' text), and so on; CPU seconds
are samples over the frequency. Needs `perf` and symbols for libc; a thread's stack is unwound
only while it is in the thread this script starts (the main thread's were cut short here).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

from like_the_command import set_up

_CONTROL = "TRAILHOUND_BENCH_PERF_CONTROL"
_FRAME = re.compile(r"^\s+([0-9a-f]+) (.*) \((.*)\)$")
_COPIES = ("__memcpy_", "__memmove_")
_HEAP = (
    "__libc_malloc",
    "__libc_free",
    "__libc_realloc",
    "__libc_calloc",
    "_int_malloc",
    "_int_free",
    "_int_realloc",
    "_mid_memalign",
    "tcache_",
    "malloc_consolidate",
    "sysmalloc",
    "unlink_chunk",
    "systrim",
)  # glibc's own names, not CPython's (pymalloc) nor Arrow's
# frames passed over on the way out to a caller: the interpreter's own calling and allocating
_PLUMBING = re.compile(
    r"^(_?PyEval|_?PyObject_|_?PyMem_|_?Py_|_PyFunction|PyVectorcall|method_vectorcall|gen_|"
    r"PyGen|slot_tp|cfunction|do_call_core|pymalloc|object_vacall|_PyFrame)"
)


def main() -> None:
    set_up()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--every", type=int, default=1, help="every n-th task (2: a worker's)")
    parser.add_argument("--frequency", type=int, default=999, help="perf samples a second")
    parser.add_argument("--top", type=int, default=12, help="callers shown per kind")
    args = parser.parse_args()
    if _CONTROL in os.environ:
        _work(args.corpus, args.every, os.environ[_CONTROL])
        return
    with tempfile.TemporaryDirectory() as folder:
        stacks = _recorded(Path(folder), args.frequency)
    _print(_attributed(stacks), args.frequency, args.top)


def _recorded(folder: Path, frequency: int) -> str:
    """`perf script` of this script run again under `perf record`, sampling its tasks only."""
    control, data = folder / "control", folder / "perf.data"
    os.mkfifo(control)
    record = [
        "perf", "record", "-D", "-1", f"--control=fifo:{control}", "-F", str(frequency),
        "--call-graph", "dwarf,32768", "-o", str(data), sys.executable, *sys.orig_argv[1:],
    ]  # fmt: skip
    subprocess.run(record, check=True, env={**os.environ, _CONTROL: str(control)})
    script = ["perf", "script", "-i", str(data), "-F", "ip,sym,dso"]
    return subprocess.run(script, check=True, capture_output=True, text=True).stdout


def _work(corpus: Path, every: int, control: str) -> None:
    """The tasks through one stage in a thread, perf sampling from their start."""
    from trailhound import heap
    from trailhound.cloudtrail.geo import Enricher
    from trailhound.cloudtrail.reader import blobs_of
    from trailhound.cloudtrail.report import Report
    from trailhound.engine.filtering import FilterPlan
    from trailhound.pipeline.pool import cut_into_tasks
    from trailhound.pipeline.stage import Stage, StagePlan
    from trailhound.rules.loader import load_rules, shipped_pack_dir
    from trailhound.sources import open_source

    heap.one_arena()
    rules = load_rules([shipped_pack_dir()]).rules
    enricher = Enricher.create()
    enricher.warm_up()
    filters = FilterPlan.build(rules, now=datetime.now(UTC))
    stage = Stage(StagePlan.build(rules, enricher=enricher, filters=filters))
    blobs = list(blobs_of([open_source(str(corpus / "AWSLogs"))], Report()))
    tasks = cut_into_tasks(blobs)[::every]

    def run() -> None:
        with open(control, "w") as perf:
            perf.write("enable\n")
        for task in tasks:
            for _ in stage.run(task):
                pass

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()


def _attributed(stacks: str) -> dict[str, Counter[str]]:
    """Per kind (copy, heap, kernel), samples by caller; "all" counts every sample."""
    found: dict[str, Counter[str]] = defaultdict(Counter)
    for sample in stacks.split("\n\n"):
        frames = [m.groups() for line in sample.splitlines() if (m := _FRAME.match(line))]
        if not frames:
            continue
        found["all"]["all"] += 1
        # perf shows the functions inlined at an address first, then the one holding them
        leaf = [(symbol, library) for ip, symbol, library in frames if ip == frames[0][0]]
        kind = _kind(leaf)
        if kind is not None:
            found[kind][_caller([(s, lib) for _, s, lib in frames[len(leaf) :]])] += 1
    return found


def _kind(leaf: list[tuple[str, str]]) -> str | None:
    # glibc's string and heap functions often come as inlined frames alone: known by name
    library = next((lib for _, lib in leaf if lib != "inlined"), "inlined")
    if "kernel" in library:
        return "kernel"
    if "libc" not in library and library != "inlined":
        return None
    symbols = " ".join(symbol for symbol, _ in leaf)
    if any(name in symbols for name in _COPIES):
        return "copy"
    return "heap" if any(name in symbols for name in _HEAP) else None


def _caller(frames: list[tuple[str, str]]) -> str:
    for symbol, library in frames:
        inner = "libc" in library or "kernel" in library or "ld-linux" in library
        if inner or (library == "inlined" and symbol.startswith("_")):
            continue
        if Path(library).name.startswith("libpython") and _PLUMBING.match(symbol):
            continue
        return f"{symbol[:70]} [{Path(library).name[:24]}]"
    return "(not unwound)"


def _print(found: dict[str, Counter[str]], frequency: int, top: int) -> None:
    total = found["all"]["all"]
    print(f"{total} samples, {total / frequency:.2f} CPU-s")
    for kind in ("copy", "heap", "kernel"):
        callers = found.get(kind, Counter())
        count = sum(callers.values())
        print(f"\n{kind}: {count / frequency:.3f} CPU-s ({100 * count / max(total, 1):.1f}%)")
        for caller, n in callers.most_common(top):
            print(f"  {n / frequency:7.3f}  {caller}")


if __name__ == "__main__":
    main()
