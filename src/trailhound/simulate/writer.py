"""Delivery as CloudTrail does it: per account and region, a gzip file about every 5 minutes.

Each record waits a delivery delay before it lands in a file: usually a few minutes, often up
to a quarter of an hour, now and then hours. Files are named and laid out as in the S3 bucket
of a trail, `AWSLogs/<account>/CloudTrail/<region>/<YYYY>/<MM>/<DD>/<name>.json.gz`, and
compressed with a fixed mtime so that the same seed gives the same bytes.
"""

from __future__ import annotations

import random
import string
import time
from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import orjson
from isal import igzip

from trailhound.simulate.records import Record

DELIVERY_SECONDS = 300
LATE_SECONDS = 15 * 60  # later than this counts as a late delivery in the statistics
_NAME_CHARS = string.ascii_letters + string.digits


@dataclass(slots=True)
class DeliveryStats:
    files: int = 0
    records: int = 0
    late_records: int = 0  # delivered more than LATE_SECONDS after their event time
    bytes_written: int = 0
    max_records_per_file: int = 0


def delivery_delay(rng: random.Random) -> int:
    """Seconds from event to delivery: 85% within 1-8 minutes, 13% within 8-15, 2% 1-6 hours."""
    u = rng.random()
    if u < 0.85:
        return 60 + int(u / 0.85 * 420)
    if u < 0.98:
        return 480 + int((u - 0.85) / 0.13 * 420)
    return 3600 + int((u - 0.98) / 0.02 * 18000)


def object_key(account: str, region: str, written: int, suffix: str) -> str:
    day = time.strftime("%Y/%m/%d", time.gmtime(written))
    stamp = time.strftime("%Y%m%dT%H%MZ", time.gmtime(written))
    name = f"{account}_CloudTrail_{region}_{stamp}_{suffix}.json.gz"
    return f"AWSLogs/{account}/CloudTrail/{region}/{day}/{name}"


class DeliveryWriter:
    """Collects records into their delivery files and writes each file once it is complete."""

    def __init__(self, out_dir: Path, rng: random.Random, origin: int) -> None:
        self.out_dir = out_dir
        self.rng = rng
        self.origin = origin
        self.stats = DeliveryStats()
        self._pending: dict[int, dict[tuple[str, str], list[Record]]] = defaultdict(dict)
        self._made_dirs: set[Path] = set()
        # Compression and the write itself release the GIL: one thread does them while
        # the caller generates the next slot. A short queue bounds the memory it holds.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trailhound-write")
        self._inflight: list[Future[int]] = []

    def add(self, rec: Record, t: int) -> None:
        delay = delivery_delay(self.rng)
        if delay > LATE_SECONDS:
            self.stats.late_records += 1
        slot = (t + delay - self.origin) // DELIVERY_SECONDS
        stream = (rec["recipientAccountId"], rec["awsRegion"])
        files = self._pending[slot]
        batch = files.get(stream)
        if batch is None:
            files[stream] = [rec]
        else:
            batch.append(rec)

    def flush_before(self, slot: int) -> None:
        """Write every file whose delivery slot is earlier than `slot`: nothing more can join."""
        for due in sorted(s for s in self._pending if s < slot):
            files = self._pending.pop(due)
            written = self.origin + (due + 1) * DELIVERY_SECONDS
            for (account, region), records in sorted(files.items()):
                self._write(account, region, written + self.rng.randrange(60), records)

    def close(self) -> None:
        self.flush_before(2**62)
        for future in self._inflight:
            self.stats.bytes_written += future.result()
        self._inflight.clear()
        self._pool.shutdown()

    def _write(self, account: str, region: str, written: int, records: list[Record]) -> None:
        suffix = "".join(self.rng.choice(_NAME_CHARS) for _ in range(16))
        path = self.out_dir / object_key(account, region, written, suffix)
        if path.parent not in self._made_dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._made_dirs.add(path.parent)
        document = orjson.dumps({"Records": records})
        stats = self.stats
        stats.files += 1
        stats.records += len(records)
        stats.max_records_per_file = max(stats.max_records_per_file, len(records))
        if len(self._inflight) >= 16:
            for future in self._inflight:
                stats.bytes_written += future.result()
            self._inflight.clear()
        self._inflight.append(self._pool.submit(_compress_and_write, path, document))


def _compress_and_write(path: Path, document: bytes) -> int:
    payload = igzip.compress(document, 1, mtime=0)
    path.write_bytes(payload)
    return len(payload)
