"""Generate a corpus once and reuse it: what the benchmark calls before it measures.

A corpus is keyed by its options and by a fingerprint of what decides its bytes (this
package's source, the compressor and the country data), so a change to the generator makes a
new corpus instead of silently reusing an old one. A corpus is written under a temporary name
and renamed into place when complete; a crashed run leaves nothing that looks finished.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from importlib import metadata
from pathlib import Path

import orjson

from trailhound.simulate.generate import DEFAULT_DAYS, simulate

DONE = "simulation.json"


def fingerprint() -> str:
    digest = hashlib.sha256()
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    for package in ("isal", "iptocc", "orjson"):
        digest.update(f"{package}={metadata.version(package)}".encode())
    return digest.hexdigest()[:12]


def cached_corpus(cache_dir: Path, *, events: int, seed: int = 0,
                  days: int = DEFAULT_DAYS) -> Path:
    """The folder of a simulation with these options, generated into `cache_dir` if missing.

    The folder holds `AWSLogs/...` and `answer_key.json`, as `simulate` writes them, and
    `simulation.json` with what the run reported.
    """
    name = f"events{events}-days{days}-seed{seed}-{fingerprint()}"
    target = cache_dir / name
    if (target / DONE).is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    scratch = cache_dir / f".{name}.partial-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    result = simulate(scratch, days=days, seed=seed, events=events)
    summary = {
        "events": result.events, "dynamodb_events": result.dynamodb_events,
        "files": result.files, "bytes": result.bytes_written, "days": days, "seed": seed,
        "start": result.start.isoformat(), "alerts": len(result.alerts),
        "seconds": round(result.seconds, 3),
    }
    (scratch / DONE).write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    try:
        scratch.rename(target)
    except OSError:  # another process finished the same corpus first
        shutil.rmtree(scratch, ignore_errors=True)
    return target
