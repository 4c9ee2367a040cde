"""Reading blobs through a skimmer that takes many small files in one call changes nothing a
user sees: the same rows, and every problem told for the same file, position and reason, in
the same order, as reading each file the usual way; files the skimmer refuses, files it never
sees and files that stop early are read as they always were."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from trailhound.cloudtrail import skim_read
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.reader import Skim, read_selected
from trailhound.cloudtrail.report import Report
from trailhound.cloudtrail.skim import Skimmed, Skimmer, compiled_skimmer
from trailhound.cloudtrail.skim_rows import SkimNormalizer
from trailhound.sources import Blob
from trailhound.sources.files import open_local

DYNAMODB = "dynamodb.amazonaws.com"


def _record(n: int, **more: Any) -> dict[str, Any]:
    return {
        "eventVersion": "1.08", "eventTime": f"2026-03-01T10:{n % 60:02d}:00Z",
        "eventSource": DYNAMODB, "eventName": "DeleteTable", "awsRegion": "us-east-1",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/m"},
        "requestParameters": {"tableName": f"T{n}"}, "eventID": f"id-{n}",
        "eventType": "AwsApiCall", "recipientAccountId": "111122223333", **more,
    }  # fmt: skip


def _write(path: Path, records: list[Any]) -> None:
    path.write_bytes(gzip.compress(json.dumps({"Records": records}).encode()))


@pytest.fixture
def bucket(tmp_path: Path) -> Path:
    """Many small records files, with files of every other kind among them."""
    n = 0
    for k in range(60):
        _write(tmp_path / f"{k:03d}-good.json.gz", [_record(n + i) for i in range(k % 5)])
        n += k % 5
        if k % 9 == 4:  # the skimmer refuses it (eventTime a number); the usual way tells why
            _write(tmp_path / f"{k:03d}-refused.json.gz", [_record(900 + k), {"eventTime": 4}])
        if k % 13 == 6:  # a record the skimmer reads but normalizing sets aside
            _write(tmp_path / f"{k:03d}-bad-time.json.gz", [_record(800 + k, eventTime="noon")])
        if k % 17 == 8:
            lines = [json.dumps(_record(700 + k)), "{not json"]
            (tmp_path / f"{k:03d}-lines.ndjson").write_text("\n".join(lines))
        if k % 19 == 2:
            whole = gzip.compress(json.dumps({"Records": [_record(600 + k)] * 3}).encode())
            (tmp_path / f"{k:03d}-truncated.json.gz").write_bytes(whole[: len(whole) * 2 // 3])
    pads = skim_read.GROUP_BYTES // 2000 + 10
    big = [_record(5000 + i, responseElements={"pad": "x" * 2000}) for i in range(pads)]
    _write(tmp_path / "030-big.json.gz", big)  # larger than a group: skimmed alone
    return tmp_path


class Counting:
    """The compiled skimmer, counting the texts it was given per call."""

    def __init__(self, skimmer: Skimmer) -> None:
        self.skimmer = skimmer
        self.calls: list[int] = []
        self.selected: list[int] = []  # rows given to each selection

    def __call__(self, text: bytes) -> Skimmed | None:
        self.calls.append(1)
        return self.skimmer(text)

    def many(self, texts: Sequence[bytes]) -> list[Skimmed | None]:
        self.calls.append(len(texts))
        return self.skimmer.many(texts)  # type: ignore[attr-defined, no-any-return]


def _told(
    folder: Path, skimmer: Counting | None, keep: Callable[[str | None], bool] = lambda _: True
) -> dict[str, Any]:
    """What reading `folder` tells, keeping the records whose eventID `keep` admits."""
    normalizer = SkimNormalizer(lambda source, action: frozenset({"event.id", "@timestamp"}))
    skim = None
    if skimmer is not None:

        def select_skimmed(skimmed: Skimmed) -> list[int]:
            ids = skimmed.columns["eventID"].to_pylist()
            skimmer.selected.append(len(ids))
            return [i for i, event_id in enumerate(ids) if keep(event_id)]

        skim = Skim(skimmer, select_skimmed, normalizer)
    report = Report()
    blobs = [b for b in open_local(str(folder)).blobs() if isinstance(b, Blob)]
    parts = read_selected(
        blobs, enricher=Enricher.create(), report=report, skim=skim,
        select=lambda records: [i for i, r in enumerate(records) if keep(r.eventID)],
    )  # fmt: skip
    ids = [i for part in parts for i in part.batch.column("event.id").to_pylist()]
    return {
        "ids": sorted(ids),  # a batch holds decoded records first, then skimmed rows
        "problems": [(p.reason, p.where, p.position, p.detail, p.records) for p in report.problems],
        "skipped": report.skipped,
        "changes": report.changes,
        "read": (report.files_read, report.records_normalized),
    }


def test_many_files_a_call_tell_what_reading_each_the_usual_way_tells(bucket: Path) -> None:
    compiled = compiled_skimmer(sorted({"eventSource", "eventName", "eventTime", "eventID"}))
    if compiled is None:
        pytest.skip("the C extension trailhound.cloudtrail._skim was not built (no compiler?)")
    counting = Counting(compiled)
    usual, skimmed = _told(bucket, None), _told(bucket, counting)
    assert skimmed == usual
    assert len(usual["ids"]) > 150 and len(usual["problems"]) >= 8
    assert max(counting.calls) > 5  # small files in a row went to the skimmer together
    assert 1 in counting.calls  # ... and the large one alone
    assert sum(counting.calls) == 60 + 7 + 5 + 1  # every records file, once


def test_groups_hold_at_most_their_bytes_and_files(bucket: Path) -> None:
    compiled = compiled_skimmer(["eventName"])
    if compiled is None:
        pytest.skip("the C extension trailhound.cloudtrail._skim was not built (no compiler?)")
    counting = Counting(compiled)
    blobs = [b for b in open_local(str(bucket)).blobs() if isinstance(b, Blob)]
    read = list(skim_read.skimmed_blobs(blobs, counting, 1 << 30))
    assert [blob.name for blob, _ in read] == [blob.name for blob in blobs]
    assert max(counting.calls) <= skim_read.GROUP_FILES
    files = [r for _, r in read if isinstance(r, skim_read.SkimmedFile)]
    shared = [
        f for f in files if f.skimmed.block is not None and f.skimmed.block.rows > len(f.skimmed)
    ]
    assert shared and all(len(f.text) <= skim_read.GROUP_BYTES for f in shared)


def test_files_skimmed_together_are_selected_together_and_each_keeps_its_own_rows(
    bucket: Path,
) -> None:
    compiled = compiled_skimmer(sorted({"eventSource", "eventName", "eventTime", "eventID"}))
    if compiled is None:
        pytest.skip("the C extension trailhound.cloudtrail._skim was not built (no compiler?)")

    def every_third(event_id: str | None) -> bool:
        return event_id is not None and int(event_id.removeprefix("id-")) % 3 == 1

    counting = Counting(compiled)
    usual, skimmed = _told(bucket, None, every_third), _told(bucket, counting, every_third)
    assert skimmed == usual
    assert 50 < len(usual["ids"]) < 1000  # a third of the rows, from files all over the groups
    # every row the skimmer answered for was selected once: the good files' 120, the five
    # bad times and the big file's; by call, not by file (54 files hold rows)
    big = skim_read.GROUP_BYTES // 2000 + 10
    assert sum(counting.selected) == 120 + 5 + big
    assert len(counting.selected) <= len(counting.calls) < 54


def _batches(
    blobs: list[Blob], skimmer: Skimmer | None, batch_size: int, max_read: int
) -> list[list[tuple[str, Any]]]:
    """Each batch's rows (event id, arrival time), sorted: a batch holds decoded records
    first, then skimmed rows."""
    normalizer = SkimNormalizer(lambda source, action: frozenset({"event.id", "event.ingested"}))
    skim = None
    if skimmer is not None:
        skim = Skim(skimmer, lambda skimmed: list(range(len(skimmed))), normalizer)
    parts = read_selected(
        blobs, enricher=Enricher.create(), report=Report(), skim=skim, batch_size=batch_size,
        max_read=max_read,
    )  # fmt: skip
    return [
        sorted(
            zip(
                *(p.batch.column(c).to_pylist() for c in ("event.id", "event.ingested")),
                strict=True,
            )
        )
        for p in parts
    ]


@pytest.mark.parametrize(("batch_size", "max_read"), [(7, 1 << 20), (40, 1 << 20), (1000, 25)])
def test_files_read_as_one_end_batches_where_each_file_would(
    bucket: Path, batch_size: int, max_read: int
) -> None:
    """Files skimmed together are added to a batch at once only where no file among them
    would have ended it: the batches are those of reading each file the usual way, and each
    row has its own file's arrival time."""
    compiled = compiled_skimmer(sorted({"eventSource", "eventName", "eventTime", "eventID"}))
    if compiled is None:
        pytest.skip("the C extension trailhound.cloudtrail._skim was not built (no compiler?)")
    found = [b for b in open_local(str(bucket)).blobs() if isinstance(b, Blob)]
    start = datetime(2026, 3, 2, tzinfo=UTC)
    # every third file has no time of its own (the batch's reading time stands for it)
    blobs = [
        b if k % 3 == 0 else msgspec.structs.replace(b, ingested=start + timedelta(minutes=k))
        for k, b in enumerate(found)
    ]
    usual, skimmed = (
        _batches(blobs, None, batch_size, max_read),
        _batches(blobs, compiled, batch_size, max_read),
    )
    assert len(usual) > 3
    assert [[i for i, _ in b] for b in skimmed] == [[i for i, _ in b] for b in usual]

    def own(batches: list[list[tuple[str, Any]]]) -> list[list[datetime | None]]:
        """Each row's arrival time where it is its file's (the reading's clock differs)."""
        return [[t if t < start + timedelta(days=1) else None for _, t in b] for b in batches]

    assert own(skimmed) == own(usual)
    assert any(t is None for b in own(usual) for t in b)


def test_files_the_skimmer_answers_together_come_as_one(bucket: Path) -> None:
    compiled = compiled_skimmer(["eventName"])
    if compiled is None:
        pytest.skip("the C extension trailhound.cloudtrail._skim was not built (no compiler?)")
    blobs = [b for b in open_local(str(bucket)).blobs() if isinstance(b, Blob)]
    reads = list(skim_read.skimmed_reads(blobs, compiled, 1 << 30))
    together = [r for r in reads if isinstance(r, skim_read.SkimmedFiles)]
    assert together and all(len(r.blobs) > 1 for r in together)
    each = [
        pair for r in reads for pair in (r.each() if isinstance(r, skim_read.SkimmedFiles) else [r])
    ]
    assert [b.name for b, _ in each] == [b.name for b in blobs]
    for files in together:
        assert sum(files.sizes) == len(files.group.skimmed)


def test_rows_set_aside_from_files_read_as_one_are_told_at_their_own_file(
    tmp_path: Path,
) -> None:
    """Files the skimmer answers together are read as one: a record that normalizing sets
    aside is still told at its own file and position."""
    compiled = compiled_skimmer(sorted({"eventSource", "eventName", "eventTime", "eventID"}))
    if compiled is None:
        pytest.skip("the C extension trailhound.cloudtrail._skim was not built (no compiler?)")
    n = 0
    for k in range(12):
        records = [_record(n + i) for i in range(k % 4 + 1)]
        if k % 3 == 1:
            records.insert(k % 2, _record(800 + k, eventTime="noon"))
        _write(tmp_path / f"{k:03d}.json.gz", records)
        n += len(records)

    def odd(event_id: str | None) -> bool:
        return event_id is not None and int(event_id.removeprefix("id-")) % 2 == 1

    for keep in (lambda _: True, odd):
        counting = Counting(compiled)
        usual, skimmed = _told(tmp_path, None, keep), _told(tmp_path, counting, keep)
        assert skimmed == usual
        assert counting.calls == [12]  # read as one
    assert len(usual["problems"]) == 2  # the odd ids of the four bad times
