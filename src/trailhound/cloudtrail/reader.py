"""Sources in, normalized events out as Arrow record batches: the one reader every command uses.

    report = Report()
    for batch in read_events(open_sources(["logs/"]), enricher=Enricher.create(), report=report):
        ...  # batch: pyarrow.RecordBatch with schema trailhound.cloudtrail.schema.arrow_schema()

Files are read one at a time and records are normalized in batches of about `batch_size`, so
memory holds one file and one batch, never the whole input. Bad input never raises: it is set
aside and told to `report`, with the file, the position and the reason, and reading goes on.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from itertools import accumulate

import msgspec
import numpy as np
import pyarrow as pa
from msgspec import Struct, field

from trailhound import arrow_kernels as kernels
from trailhound.cloudtrail.arrivals import Arrivals, with_arrivals
from trailhound.cloudtrail.ecs import Normalized, normalize
from trailhound.cloudtrail.envelopes import CANNOT_READ, Bad, Found, Limits, Numbered, Skip, split
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.kept import KeptRows, KeptTexts
from trailhound.cloudtrail.partial import joined
from trailhound.cloudtrail.record import Record
from trailhound.cloudtrail.report import Changed, Report, SetAside, Skipped
from trailhound.cloudtrail.skim import Skimmed, Skimmer, picked_columns
from trailhound.cloudtrail.skim_read import (
    FilePicks,
    Picks,
    Read,
    SkimmedFile,
    SkimmedFiles,
    skimmed_reads,
)
from trailhound.cloudtrail.skim_rows import SkimNormalizer, SkimRows
from trailhound.sources import Blob, Source, SourceProblem

DEFAULT_BATCH_SIZE = 16_384
MAX_READ = 32_000
NORMALIZE_BYTES = 1 << 20
"""Free-form JSON (of members over `_LARGE_MEMBER` bytes) one call normalizing decoded records
is given at most. Normalizing parses those members into Python values and keeps them for the
whole call: about twelve times their size (a batch of BatchWriteItem calls with 5 MB of items
held 60 MB)."""
SKIMMED_NORMALIZE_BYTES = 8 << 20
"""The same bound for skimmed rows (of records over `_LARGE_RECORD` bytes). Their large members
are read by compiled code and held as the batch's text already: a call given 3.9 MB of them
(the most of any 1 MB task of the 1M, 4M and bucket corpora) raised a worker's high-water RSS by
nothing, and each call more costs ~1.7 ms however few its rows (at 1 MB, the former 1 MB bound
made 153 calls of 1M's 130 tasks, 122 without it). The bound is for inputs of nothing but
large records."""
_LARGE_MEMBER = 1024  # shorter members are few distinct values, parsed once and remembered
_LARGE_RECORD = 4 * _LARGE_MEMBER
"""A skimmed record this long counts whole towards `SKIMMED_NORMALIZE_BYTES`: most records are
under 2 kB, and one holding a large member is that member's size and a little more."""


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
    for part in read_selected(
        blobs_of(sources, report), enricher=enricher, report=report, batch_size=batch_size,
        limits=limits, clock=clock,
    ):  # fmt: skip
        yield part.batch


class Selected(Struct, frozen=True):
    """One normalized batch and, row for row, the records it was made from."""

    batch: pa.RecordBatch
    records: KeptRows


# Picks the records worth normalizing out of a run read from one blob: their indices, in order.
Select = Callable[[list[Record]], list[int]]
# Normalizes records: the whole mapping by default, or a cheaper one that builds fewer columns.
Normalize = Callable[[Sequence[Record], datetime, Enricher], Normalized]


class Skim(Struct, frozen=True):
    """Records files read through a skimmer: `select` picks skimmed rows (their indices, in
    order), given the rows of all the files skimmed in one call together when the first of
    them is read, and `normalizer` normalizes the kept ones, of which a batch keeps the
    columns it reads. Files the skimmer does not answer for are read the usual way."""

    skimmer: Skimmer
    select: Callable[[Skimmed], list[int]]
    normalizer: SkimNormalizer


def read_selected(
    blobs: Iterable[Blob],
    *,
    enricher: Enricher,
    report: Report,
    select: Select | None = None,
    normalizer: Normalize | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_read: int = MAX_READ,
    limits: Limits | None = None,
    clock: Callable[[], datetime] | None = None,
    skim: Skim | None = None,
) -> Iterator[Selected]:
    """Like `read_events` over blobs, keeping only the records `select` picks (all by default)
    and normalizing them with `normalizer`; each batch comes with the records behind its rows.

    Records `select` leaves out are never normalized and never reported on. A batch also ends
    once `max_read` records were read for it, kept or not. Kept records get their own copies
    of their free-form members, which are otherwise views into their whole file's text: a
    batch then holds what it keeps, not every file it read. With `skim`, the files its skimmer
    reads are selected and normalized through it, and their kept records are their JSON text.
    """
    pending = _Pending(clock or _utc_now)
    normalizers = (normalizer or _normalize_all, None if skim is None else skim.normalizer)
    limits = limits or Limits()
    for read in _reads(blobs, skim, limits):
        if isinstance(read, SkimmedFiles) and _added_at_once(pending, read, skim, batch_size,
                                                            max_read):  # fmt: skip
            report.files_read += len(read.blobs)
            del read  # its files' texts, while the next files are read and held
            continue
        for blob, one in read.each() if isinstance(read, SkimmedFiles) else (read,):
            for found in _read_blob(blob, one, report, limits):
                if isinstance(found, SkimmedFile):
                    assert skim is not None
                    picks = found.picks(skim.select)
                    pending.add_skimmed(blob, found, picks, skim.normalizer.paths)
                else:
                    pending.add(blob, found, None if select is None else select(found.records))
                if pending.size >= batch_size or pending.read >= max_read:
                    yield from _flush(pending, normalizers, enricher, report)
    yield from _flush(pending, normalizers, enricher, report)


def _added_at_once(
    pending: _Pending, files: SkimmedFiles, skim: Skim | None, batch_size: int, max_read: int
) -> bool:
    """Whether the files skimmed together were added to the batch at once: when no file among
    them would have ended it (each is read on its own otherwise)."""
    assert skim is not None
    picks = files.group.picks(skim.select)
    if not pending.room(files, picks, batch_size, max_read):
        return False
    pending.add_files(files, picks, skim.normalizer.paths)
    return True


def blobs_of(sources: Iterable[Source], report: Report) -> Iterator[Blob]:
    """Every blob of every source, in order; a source problem is told to `report`."""
    for source in sources:
        for blob in source.blobs():
            if isinstance(blob, SourceProblem):
                report.set_aside(
                    SetAside(CANNOT_READ, where=blob.name, detail=blob.reason, records=None)
                )
                continue
            yield blob


def _normalize_all(records: Sequence[Record], ingested: datetime, enricher: Enricher) -> Normalized:
    return normalize(records, ingested=ingested, enricher=enricher)


def _reads(
    blobs: Iterable[Blob], skim: Skim | None, limits: Limits
) -> Iterator[tuple[Blob, Read | None] | SkimmedFiles]:
    """Each blob with what the skimmer read of it (None: nothing yet, read it the usual way),
    or files the skimmer read together, as one."""
    if skim is None:
        return ((blob, None) for blob in blobs)
    return skimmed_reads(blobs, skim.skimmer, limits.document)


def _read_blob(
    blob: Blob, read: Read | None, report: Report, limits: Limits
) -> Iterator[Found | SkimmedFile]:
    if isinstance(read, SkimmedFile):
        if len(read.skimmed):
            yield read
        report.files_read += 1
        return
    chunks: Iterable[bytes] = blob.chunks() if read is None else read
    opened = True
    for item in split(chunks, limits=limits):
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


class _Origins(Struct):
    """Where the kept rows of one kind came from, for rejection messages: one entry per
    `Found` or skimmed file, with the index of its first kept row, the blob it came from, the
    positions of its records and which of them were kept (None: all). Not the `Found` itself:
    that would hold on to the records left out until the batch is normalized."""

    starts: list[int] = field(default_factory=list)
    origins: list[tuple[str, Sequence[str], list[int] | None] | _FilesOrigin] = field(
        default_factory=list
    )

    def add(
        self, first: int, name: str, positions: Sequence[str], picked: list[int] | None
    ) -> None:
        self.starts.append(first)
        self.origins.append((name, positions, picked))

    def add_files(self, first: int, files: _FilesOrigin) -> None:
        self.starts.append(first)
        self.origins.append(files)

    def where(self, index: int) -> tuple[str, str]:
        """The blob name and position of the row at `index`."""
        entry = bisect_right(self.starts, index) - 1
        origin, offset = self.origins[entry], index - self.starts[entry]
        if isinstance(origin, _FilesOrigin):
            return origin.where(offset)
        name, positions, picked = origin
        return name, positions[offset if picked is None else picked[offset]]


class _FilesOrigin(Struct, frozen=True):
    """Where the kept rows of files skimmed together came from: the files' names, the row
    each one's records start at (over the files one after another; and their end), and the
    kept rows."""

    names: list[str]
    firsts: list[int]
    picked: list[int]

    def where(self, offset: int) -> tuple[str, str]:
        """The blob name and position of the kept row at `offset`."""
        row = self.picked[offset]
        file = bisect_right(self.firsts, row) - 1
        first, end = self.firsts[file], self.firsts[file + 1]
        return self.names[file], Numbered("record", end - first)[row - first]


class _Pending(Struct):
    """Rows waiting to be normalized, with where each came from: decoded records first, then
    the JSON text of rows from skimmed files (and their skimmed columns)."""

    clock: Callable[[], datetime]
    records: list[Record] = field(default_factory=list)
    record_origins: _Origins = field(default_factory=_Origins)
    spans: KeptTexts = field(default_factory=KeptTexts)
    # the skimmed files the kept rows come from; `taken` indexes their rows as one (a run of
    # them per file or files added: made per row in Python, they cost ~70 ns a kept row), and
    # `paths` are the columns the normalizer reads
    files: list[Skimmed] = field(default_factory=list)
    paths: Sequence[str] = ()
    taken: list[np.ndarray] = field(default_factory=list)
    skimmed_rows: int = 0  # rows of the files in `files`
    span_origins: _Origins = field(default_factory=_Origins)
    read: int = 0  # records read for this batch, kept or not
    cuts: list[int] = field(default_factory=list)  # where to cut the records for the normalizer
    span_cuts: list[int] = field(default_factory=list)  # and the skimmed rows
    heavy: int = 0  # bytes of large members since the last cut
    span_heavy: int = 0
    clocked: datetime | None = None  # the clock's one reading, for the blobs without a time
    record_times: Arrivals = field(default_factory=Arrivals)
    span_times: Arrivals = field(default_factory=Arrivals)

    @property
    def size(self) -> int:
        return len(self.records) + len(self.spans)

    def add(self, blob: Blob, found: Found, picked: list[int] | None) -> None:
        self.read += len(found.records)
        if picked is not None and not picked:
            return
        self.record_origins.add(len(self.records), blob.name, found.positions, picked)
        records = found.records
        kept = (
            records
            if picked is None or len(picked) == len(records)
            else [records[i] for i in picked]
        )
        self.record_times.add(len(kept), self._arrived(blob))
        for record in kept:
            self.heavy += _detach(record)
            self.records.append(record)
            if self.heavy >= NORMALIZE_BYTES:
                self.cuts.append(len(self.records))
                self.heavy = 0

    def add_skimmed(
        self, blob: Blob, file: SkimmedFile, picks: FilePicks, paths: Sequence[str]
    ) -> None:
        """Keeps copies of the picked records' text (a slice of `bytes` is one, so the file's
        text is not held by the batch) and their values at `paths`."""
        skimmed, picked = file.skimmed, picks.rows
        self.read += len(skimmed)
        if not picked:
            return
        self.span_times.add(len(picked), self._arrived(blob))
        whole = len(picked) == len(skimmed)
        self.span_origins.add(len(self.spans), blob.name, file.positions, None if whole else picked)
        first = len(self.spans)
        self.spans.add(picks)
        if picks.picks.longest > _LARGE_RECORD:
            self._weigh(picks.sizes(), first)
        # the kept rows' columns are taken once per batch: a kernel call per file would cost
        # more than the rest of a small file's reading
        self.files.append(skimmed)
        self.paths = paths
        self.taken.append(np.asarray(picked, np.int64) + self.skimmed_rows)
        self.skimmed_rows += len(skimmed)

    def room(self, files: SkimmedFiles, picks: Picks, batch_size: int, max_read: int) -> bool:
        """Whether the files' rows (of which `picks` keeps some) leave this batch short of
        both bounds: then no file among them would have ended it, and they are added at
        once (`add_files`) where they would each have been added (`add_skimmed`)."""
        rows = sum(files.sizes)
        return self.size + len(picks.rows) < batch_size and self.read + rows < max_read

    def add_files(self, files: SkimmedFiles, picks: Picks, paths: Sequence[str]) -> None:
        """`add_skimmed` of each of the files, in one step."""
        sizes = files.sizes
        total = sum(sizes)
        self.read += total
        picked = picks.rows
        if not picked:
            return
        firsts = list(accumulate(sizes, initial=0))
        self._arrived_all(files.blobs, firsts, picked)
        names = [blob.name for blob in files.blobs]
        first = len(self.spans)
        self.span_origins.add_files(first, _FilesOrigin(names, firsts, picked))
        whole = FilePicks(picks, 0, len(picked), picked)
        self.spans.add(whole)
        if picks.longest > _LARGE_RECORD:
            self._weigh(whole.sizes(), first)
        self.files.append(files.group.skimmed)
        self.paths = paths
        self.taken.append(np.asarray(picked, np.int64) + self.skimmed_rows)
        self.skimmed_rows += total

    def _arrived_all(self, blobs: list[Blob], firsts: list[int], picked: list[int]) -> None:
        """The arrival times of the kept rows (`picked`, over files starting at `firsts`)."""
        if all(blob.ingested is None for blob in blobs):
            self.span_times.add(len(picked), self._arrived(blobs[0]))
            return
        low = 0
        for blob, end in zip(blobs, firsts[1:], strict=True):
            high = bisect_left(picked, end, low)
            if high > low:
                self.span_times.add(high - low, self._arrived(blob))
            low = high

    def _weigh(self, sizes: list[int], first: int) -> None:
        """Counts the large records of the spans from `first` on (of these sizes) towards
        `SKIMMED_NORMALIZE_BYTES`, cutting after the record that reaches it."""
        for at, size in enumerate(sizes, first + 1):
            if size > _LARGE_RECORD:
                self.span_heavy += size
                if self.span_heavy >= SKIMMED_NORMALIZE_BYTES:
                    self.span_cuts.append(at)
                    self.span_heavy = 0

    def _arrived(self, blob: Blob) -> datetime:
        """The blob's own time, else the batch's reading time (the clock is read once)."""
        if blob.ingested is not None:
            return blob.ingested
        if self.clocked is None:
            self.clocked = self.clock()
        return self.clocked

    def arrivals(self) -> Arrivals:
        """Each row's arrival time: the records', then the spans'."""
        return Arrivals([*self.record_times.runs, *self.span_times.runs])

    def where(self, index: int) -> tuple[str, str]:
        """The blob name and position of the row at `index` (records first, then spans)."""
        if index < len(self.records):
            return self.record_origins.where(index)
        return self.span_origins.where(index - len(self.records))

    def skim_rows(self) -> SkimRows:
        if not self.files:
            return SkimRows(self.spans.view(), {})
        taken = np.concatenate(self.taken) if self.taken else np.empty(0, np.int64)
        columns = picked_columns(self.files, taken, self.paths)
        return SkimRows(self.spans.view(), columns)

    def clear(self) -> None:
        """Empty again, as a new one (the clock stays)."""
        fresh = _Pending(self.clock)
        for name in self.__struct_fields__:
            setattr(self, name, getattr(fresh, name))


_Normalizers = tuple[Normalize, SkimNormalizer | None]


def _flush(
    pending: _Pending, normalizers: _Normalizers, enricher: Enricher, report: Report
) -> Iterator[Selected]:
    if not pending.size:
        return
    arrivals = pending.arrivals()
    # the normalizers give every row the first row's time; the others are set after
    result = _pending_normalized(pending, normalizers, arrivals.first(), enricher)
    for index, reason in result.rejected:
        name, position = pending.where(index)
        report.set_aside(SetAside(reason, where=name, position=position))
    for index, note in result.notes:
        name, position = pending.where(index)
        report.change(Changed(name, position, note))
    records, texts = pending.records, pending.spans.view()
    pending.clear()
    report.records_normalized += result.batch.num_rows
    behind = _input_rows(result, len(records) + len(texts))
    kept = KeptRows(records, texts, behind)
    batch = result.batch
    if batch.num_rows and not arrivals.single():
        times = arrivals.times()
        batch = with_arrivals(batch, times if behind is None else kernels.take(times, behind))
    if batch.num_rows:
        yield Selected(batch, kept)


def _input_rows(result: Normalized, rows: int) -> list[int] | None:
    """The input row behind each row of the result's batch; None when they are the input's,
    in order."""
    if result.order is not None:
        return result.order
    if not result.rejected:
        return None
    dropped = {i for i, _ in result.rejected}
    return [i for i in range(rows) if i not in dropped]


def _pending_normalized(
    pending: _Pending, normalizers: _Normalizers, ingested: datetime, enricher: Enricher
) -> Normalized:
    """The records, then the skimmed rows, normalized as if in one call."""
    of_records, of_skimmed = normalizers
    records, parts = pending.records, []
    if records:
        result = _normalized(
            len(records), pending.cuts,
            lambda start, stop: of_records(records[start:stop], ingested, enricher),
        )  # fmt: skip
        parts.append((range(len(records)), result))
    if pending.spans:
        assert of_skimmed is not None
        rows = pending.skim_rows()
        result = _normalized(
            len(rows), pending.span_cuts,
            lambda start, stop: of_skimmed(rows.part(start, stop), ingested, enricher),
        )  # fmt: skip
        parts.append((range(len(records), len(records) + len(rows)), result))
    return parts[0][1] if len(parts) == 1 and parts[0][0].start == 0 else joined(parts)


def _detach(record: Record) -> int:
    """Gives `record` its own copies of its free-form members (which were views into its file's
    text); returns how many bytes of its payloads are large members. Spelled out member by
    member: a loop over their names costs four times as much."""
    record.userIdentity = record.userIdentity.copy()
    heavy = 0
    if record.requestParameters:
        record.requestParameters = raw = record.requestParameters.copy()
        heavy += _weight(raw)
    if record.responseElements:
        record.responseElements = raw = record.responseElements.copy()
        heavy += _weight(raw)
    if record.additionalEventData:
        record.additionalEventData = raw = record.additionalEventData.copy()
        heavy += _weight(raw)
    if record.serviceEventDetails:
        record.serviceEventDetails = raw = record.serviceEventDetails.copy()
        heavy += _weight(raw)
    if record.resources:
        record.resources = record.resources.copy()
    if record.tlsDetails:
        record.tlsDetails = record.tlsDetails.copy()
    return heavy


def _weight(raw: msgspec.Raw) -> int:
    size = len(raw)
    return size if size > _LARGE_MEMBER else 0


def _normalized(
    length: int, cuts: list[int], normalize_part: Callable[[int, int], Normalized]
) -> Normalized:
    """`length` rows normalized in parts (start, stop) cut at `cuts`, put together as if in one
    call."""
    if not cuts or cuts == [length]:
        return normalize_part(0, length)
    ends = [*(c for c in cuts if c < length), length]
    spans = [range(start, end) for start, end in zip([0, *ends], ends, strict=False)]
    return joined([(span, normalize_part(span.start, span.stop)) for span in spans])


def _utc_now() -> datetime:
    return datetime.now(UTC)
