"""A bucket-like layout of a simulated corpus: the same events in many small delivery files.

CloudTrail writes one file per account, region and roughly five minutes, and a quiet account's
files hold a few dozen events. The simulator's files are larger (a few hundred events), so the
per-file costs of a scan hide behind the per-event ones. `bucket_corpus` rewrites a cached
corpus with the same events, cut per account, region and 5-minute slot of event time into files
of 15 to 70 events (sizes drawn with a fixed seed), named and foldered as S3 delivers them. The
answer key and summary are copied: the events, and so the alerts, are the same.

    python bench/bucket.py SOURCE_DIR    # writes SOURCE_DIR's bucket-like copy next to it
"""

from __future__ import annotations

import os
import random
import shutil
import string
import sys
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from isal import igzip, isal_zlib

SMALLEST, LARGEST = 15, 70
_SLOT_SECONDS = 300
_DONE = ".done"


def bucket_corpus(source: Path, *, seed: int = 0) -> Path:
    """The bucket-like copy of the corpus folder `source`, written next to it once."""
    target = source.with_name(f"bucket-{source.name}")
    if (target / _DONE).is_file():
        return target
    scratch = source.with_name(f".bucket-{source.name}.partial-{os.getpid()}")
    shutil.rmtree(scratch, ignore_errors=True)
    files = _rewrite(source / "AWSLogs", scratch / "AWSLogs", random.Random(seed))
    for name in ("answer_key.json", "simulation.json"):
        if (source / name).is_file():
            shutil.copy(source / name, scratch / name)
    summary = orjson.loads((scratch / "simulation.json").read_bytes())
    summary["files"] = files
    (scratch / "simulation.json").write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    (scratch / _DONE).write_text("")
    try:
        scratch.rename(target)
    except OSError:  # another process wrote it first
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def _rewrite(source: Path, target: Path, rng: random.Random) -> int:
    slots: dict[tuple[str, str, int], list[Any]] = defaultdict(list)
    for path in sorted(source.rglob("*.json.gz")):
        account, region = path.relative_to(source).parts[0], path.relative_to(source).parts[2]
        for record in orjson.loads(isal_zlib.decompress(path.read_bytes(), 31))["Records"]:
            slots[account, region, _slot(record["eventTime"])].append(record)
    written = 0
    for (account, region, slot), records in sorted(slots.items()):
        for piece in _pieces(records, rng):
            _write(target, account, region, slot, piece, rng)
            written += 1
    return written


def _slot(event_time: str) -> int:
    moment = datetime.fromisoformat(event_time.replace("Z", "+00:00"))
    return int(moment.timestamp()) // _SLOT_SECONDS * _SLOT_SECONDS


def _pieces(records: list[Any], rng: random.Random) -> Iterator[list[Any]]:
    start = 0
    while start < len(records):
        size = rng.randint(SMALLEST, LARGEST)
        if len(records) - start - size < SMALLEST:  # no runt at the end: it joins this file
            size = len(records) - start
        yield records[start : start + size]
        start += size


def _write(
    target: Path, account: str, region: str, slot: int, records: list[Any], rng: random.Random
) -> None:
    # delivered five minutes after the slot began, as CloudTrail roughly does
    stamp = datetime.fromtimestamp(slot + _SLOT_SECONDS, UTC)
    folder = target / account / "CloudTrail" / region / stamp.strftime("%Y/%m/%d")
    folder.mkdir(parents=True, exist_ok=True)
    suffix = "".join(rng.choices(string.ascii_letters + string.digits, k=16))
    name = f"{account}_CloudTrail_{region}_{stamp:%Y%m%dT%H%MZ}_{suffix}.json.gz"
    data = orjson.dumps({"Records": records})
    (folder / name).write_bytes(igzip.compress(data))


if __name__ == "__main__":
    print(bucket_corpus(Path(sys.argv[1])))
