"""The wall-clock timeline of one `trailhound scan`: who works when, and who waits.

Runs the scan command in this process (as `python -m trailhound scan ...` would) with clocks
around its steps, and in its workers around their start and each task, then prints, in
seconds since this process started: when the command's imports were done, the rules loaded,
the state opened, the fork server and the pool started, each worker ready, each task run
(which worker, from when to when), each output received, when the workers ran out of work,
the end of the run (`Detector.finish`), delivery and exit; and the idle gaps of each worker.

    python bench/timeline.py CORPUS_FOLDER [WORKERS] [--json]

The scan is the benchmark's (`run.py`): a fresh state file, JSON lines to a file, `--quiet`,
the decoy table's configuration. The clocks cost microseconds per step; the timeline is for
reading, not for timing changes (use `measure.py` and CPU times for that).
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import itertools
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

T0 = time.time()
_LOG = os.environ.get("TRAILHOUND_TIMELINE_LOG", "")


def _mark(what: str, **facts: Any) -> None:
    """One line in the shared log: processes append whole lines, so lines never mix."""
    if not _LOG:
        return
    extra = " ".join(f"{k}={v}" for k, v in facts.items())
    cpu = time.process_time()  # this process's, its threads' included
    line = f"{time.time():.6f} {os.getpid()} {what} {cpu:.6f} {extra}\n".encode()
    fd = os.open(_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def _wrap(owner: Any, name: str, label: str, *, generator: bool = False) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)  # its name too: a pool pickles its functions by name
    def timed(*args: Any, **kwargs: Any) -> Any:
        _mark(f"{label}-start")
        try:
            return original(*args, **kwargs)
        finally:
            _mark(f"{label}-end")

    @functools.wraps(original)
    def timed_items(*args: Any, **kwargs: Any) -> Any:
        _mark(f"{label}-start")
        for item in original(*args, **kwargs):
            _mark(f"{label}-item")
            yield item
        _mark(f"{label}-end")

    setattr(owner, name, timed_items if generator else timed)


def _instrument_workers() -> None:
    """Clocks in the worker code: the fork server imports this module as its main module,
    so the workers it forks have them too."""
    from trailhound.pipeline import pool

    _wrap(pool, "_start", "worker-ready")
    _wrap(pool, "_run", "task")


# module -> (attribute path, label, whether it yields): clocks put in as each module is loaded,
# so that the clocks change nothing of when the command imports what
_PARENT: dict[str, list[tuple[Any, ...]]] = {
    "trailhound.cli.scan_cmd": [("rules_from", "rules"), ("open_store", "open_store"),
                                ("_engine_or_fail", "engine")],
    "trailhound.pipeline.scan": [("scan", "scan")],
    "trailhound.pipeline.deliver": [("deliver", "deliver")],
    "trailhound.engine.detector": [("Detector.__init__", "detector-setup"),
                                   ("Detector._store_pending", "store"),
                                   ("Detector.finish", "finish")],
    "trailhound.pipeline.pool": [("start_server", "server"), ("stop_server", "server-stop"),
                                 ("Crew.outputs", "outputs", True)],
    "multiprocessing.pool": [("Pool.terminate", "pool-end")],
}  # fmt: skip


class _Clocks(importlib.abc.MetaPathFinder):
    """Wraps the `_PARENT` functions of a module right after it is loaded."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name not in _PARENT:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        loader, run = spec.loader, spec.loader.exec_module

        def exec_module(module: Any) -> None:
            run(module)
            for owner_path, label, *generator in _PARENT[name]:
                *outer, attribute = owner_path.split(".")
                owner = functools.reduce(getattr, outer, module)
                _wrap(owner, attribute, label, generator=bool(generator))

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


if _LOG and __name__ != "__main__":  # imported by the fork server
    _instrument_workers()


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    corpus, workers = Path(args[0]).resolve(), (args[1] if len(args) > 1 else "2")
    scratch = Path(os.environ.get("TMPDIR", "/tmp")) / f"timeline-{os.getpid()}"
    scratch.mkdir(parents=True, exist_ok=True)
    log = scratch / "timeline.log"
    os.environ["TRAILHOUND_TIMELINE_LOG"] = str(log)
    global _LOG
    _LOG = str(log)
    config = scratch / "trailhound.toml"
    # run.py's configuration, written by another process: its imports must not warm this one
    here = str(Path(__file__).parent)
    write = (f"import sys; sys.path.insert(0, {here!r}); from pathlib import Path; "
             f"from run import _config; _config(Path({str(scratch)!r}))")  # fmt: skip
    subprocess.run([sys.executable, "-c", write], check=True)
    _mark("cli-start")  # before the clocks, which import the pool module (some versions: heavy)
    # The environment the console script gives its own process (`trailhound.cli.run`), set
    # before anything loads NumPy: with BLAS threads running, a scan cannot fork its workers
    # itself and would be timed with a fork server it does not use.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("MIMALLOC_ALLOW_THP", "0")
    sys.meta_path.insert(0, _Clocks())
    _instrument_workers()
    from trailhound.cli import main as cli

    command = [
        "scan", str(corpus / "AWSLogs"), "--state", str(scratch / "state.duckdb"),
        "--format", "jsonl", "--output", str(scratch / "alerts.jsonl"),
        "--workers", workers, "--quiet", "--config", str(config),
    ]  # fmt: skip
    try:
        cli(command, standalone_mode=False)
    finally:
        _mark("cli-end")
        _report(log, json_out="--json" in sys.argv)


def _report(log: Path, *, json_out: bool) -> None:
    rows = [line.split(" ", 4) for line in log.read_text().splitlines()]
    parent = str(os.getpid())
    events = [(float(t) - T0, pid, what) for t, pid, what, *_ in rows]
    cpu = {(pid, what, float(t) - T0): float(c) for t, pid, what, c, *_ in rows}
    if json_out:
        import json

        print(json.dumps([{"t": round(t, 4), "pid": p, "what": w, "cpu": cpu[p, w, t]}
                          for t, p, w in events]))  # fmt: skip
        return
    tasks: dict[str, list[tuple[float, float]]] = {}
    started: dict[str, float] = {}
    used: dict[str, float] = {}  # CPU seconds of each worker's tasks
    for t, pid, what in events:
        if pid == parent and not what.startswith("outputs-item"):
            print(f"{t:8.3f}  {what}")
        if what == "task-start":
            started[pid] = t
        elif what == "task-end":
            begun = started.pop(pid)
            tasks.setdefault(pid, []).append((begun, t))
            spent = cpu[pid, what, t] - cpu[pid, "task-start", begun]
            used[pid] = used.get(pid, 0.0) + spent
        elif what.startswith("worker-ready"):
            print(f"{t:8.3f}  worker {pid} {what.removeprefix('worker-ready-')}s its set-up")
    received = [t for t, pid, what in events if what == "outputs-item"]
    if received:
        print(f"outputs received: {len(received)}, first {received[0]:.3f}, "
              f"last {received[-1]:.3f}")  # fmt: skip
    for pid, spans in tasks.items():
        busy = sum(b - a for a, b in spans)
        gaps = [b[0] - a[1] for a, b in itertools.pairwise(spans)]
        largest = max(gaps, default=0.0)
        print(f"worker {pid}: {len(spans)} tasks, {spans[0][0]:.3f} to {spans[-1][1]:.3f}, "
              f"busy {busy:.2f} s ({used[pid]:.2f} CPU-s), gaps {sum(gaps):.3f} s "
              f"(largest {largest:.3f})")  # fmt: skip


if __name__ == "__main__":
    main()
