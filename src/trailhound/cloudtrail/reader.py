"""Sources in, normalized events out as Arrow record batches: the one reader every command uses.

    report = Report()
    for batch in read_events(open_sources(["logs/"]), enricher=Enricher.create(), report=report):
        ...  # batch: pyarrow.RecordBatch with schema trailhound.cloudtrail.schema.arrow_schema()

Files are read one at a time and records are normalized in batches of about `batch_size`, so
memory holds one file and one batch, never the whole input. Bad input never raises: it is set
aside and told to `report`, with the file, the position and the reason, and reading goes on.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa

from trailhound.cloudtrail.ecs import normalize
from trailhound.cloudtrail.envelopes import CANNOT_READ, Bad, Found, Limits, Skip, split
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.record import Record
from trailhound.cloudtrail.report import Report, SetAside, Skipped
from trailhound.sources import Blob, Source, SourceProblem

DEFAULT_BATCH_SIZE = 16_384


def read_events(
    sources: Iterable[Source],
    *,
    enricher: Enricher,
    report: Report,
    batch_size: int = DEFAULT_BATCH_SIZE,
    limits: Limits | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Iterator[pa.RecordBatch]:
    """Normalized events from every blob of every source, in source order.

    `event.ingested` is the blob's own time when its source has one (an S3 object's), else the
    time the batch was read (`clock`, UTC now by default). A batch holds at least `batch_size`
    records unless it is the last; records from several files share a batch.
    """
    pending = _Pending(clock or _utc_now)
    for source in sources:
        for blob in source.blobs():
            if isinstance(blob, SourceProblem):
                report.set_aside(
                    SetAside(CANNOT_READ, where=blob.name, detail=blob.reason, records=None)
                )
                continue
            if pending.records and blob.ingested != pending.blob_time:
                yield from _flush(pending, enricher, report)
            for found in _read_blob(blob, report, limits or Limits()):
                pending.add(blob, found)
                if len(pending.records) >= batch_size:
                    yield from _flush(pending, enricher, report)
    yield from _flush(pending, enricher, report)


def _read_blob(blob: Blob, report: Report, limits: Limits) -> Iterator[Found]:
    opened = True
    for item in split(blob.chunks(), limits=limits):
        if isinstance(item, Found):
            if item.records:
                yield item
        elif isinstance(item, Bad):
            opened = opened and not (item.reason == CANNOT_READ and item.position is None)
            report.set_aside(_set_aside(blob.name, item))
        elif isinstance(item, Skip):
            report.skip(Skipped(blob.name, item.note, item.position))
    if opened:
        report.files_read += 1


def _set_aside(name: str, bad: Bad) -> SetAside:
    return SetAside(
        bad.reason, where=name, position=bad.position, detail=bad.detail, records=bad.records
    )


@dataclass
class _Pending:
    """Records waiting to be normalized, with where each came from (for rejection messages)."""

    clock: Callable[[], datetime]
    records: list[Record] = field(default_factory=list)
    # one entry per `Found`: the index of its first record, and the blob it came from
    starts: list[int] = field(default_factory=list)
    origins: list[tuple[str, Found]] = field(default_factory=list)
    blob_time: datetime | None = None
    read_at: datetime | None = None

    def add(self, blob: Blob, found: Found) -> None:
        if not self.records:
            self.blob_time = blob.ingested
            self.read_at = blob.ingested or self.clock()
        self.starts.append(len(self.records))
        self.origins.append((blob.name, found))
        self.records.extend(found.records)

    def where(self, index: int) -> tuple[str, str]:
        """The blob name and position of the record at `index`."""
        entry = bisect_right(self.starts, index) - 1
        name, found = self.origins[entry]
        return name, found.positions[index - self.starts[entry]]

    def clear(self) -> None:
        self.records = []
        self.starts = []
        self.origins = []
        self.blob_time = self.read_at = None


def _flush(pending: _Pending, enricher: Enricher, report: Report) -> Iterator[pa.RecordBatch]:
    if not pending.records:
        return
    assert pending.read_at is not None
    result = normalize(pending.records, ingested=pending.read_at, enricher=enricher)
    for index, reason in result.rejected:
        name, position = pending.where(index)
        report.set_aside(SetAside(reason, where=name, position=position))
    pending.clear()
    report.records_normalized += result.batch.num_rows
    if result.batch.num_rows:
        yield result.batch


def _utc_now() -> datetime:
    return datetime.now(UTC)
