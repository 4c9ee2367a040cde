"""Objects that each carry their own arrival time, as every S3 object does (LastModified):
each event's `event.ingested` is its own object's time, whichever way the files are read
and however many workers read them, and small objects still share a batch."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from msgspec.structs import replace

from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.reader import read_selected
from trailhound.cloudtrail.report import Report
from trailhound.pipeline.scan import scan
from trailhound.pipeline.stage import SKIM_VARIABLE
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.sources import Blob, SourceProblem
from trailhound.sources.files import open_local
from trailhound.state.store import Store

FIRST = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
OBJECTS = 40


def _record(obj: int, n: int) -> dict[str, Any]:
    return {
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "userName": "mallory", "accountId": "111122223333",
                         "arn": "arn:aws:iam::111122223333:user/mallory"},
        "eventTime": f"2026-03-01T10:{obj:02d}:0{n}Z", "eventSource": "dynamodb.amazonaws.com",
        "eventName": "DeleteTable", "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.7",
        "requestParameters": {"tableName": f"T{obj}-{n}"}, "eventID": f"id-{obj}-{n}",
        "eventType": "AwsApiCall", "recipientAccountId": "111122223333",
    }  # fmt: skip


@pytest.fixture(scope="module")
def bucket(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bucket")
    for obj in range(OBJECTS):
        records = [_record(obj, n) for n in range(3)]
        data = gzip.compress(json.dumps({"Records": records}).encode())
        (folder / f"obj-{obj:03d}.json.gz").write_bytes(data)
    return folder


def arrival(name: str) -> datetime:
    """Each object's own time: a minute apart, in name order."""
    return FIRST + timedelta(minutes=int(Path(name).name[4:7]))


@dataclass(frozen=True)
class TimedObjects:
    """A folder read as a bucket is: every object with its own time."""

    folder: Path

    def blobs(self) -> Iterator[Blob | SourceProblem]:
        for blob in open_local(str(self.folder)).blobs():
            yield blob if isinstance(blob, SourceProblem) else replace(
                blob, ingested=arrival(blob.name)
            )  # fmt: skip


def test_objects_with_their_own_times_share_a_batch_and_keep_their_times(bucket: Path) -> None:
    blobs = [b for b in TimedObjects(bucket).blobs() if isinstance(b, Blob)]
    batches = [s.batch for s in read_selected(blobs, enricher=Enricher.create(), report=Report())]
    assert len(batches) == 1  # 40 objects of 3 events: one batch, not one per object
    rows = pa.Table.from_batches(batches).select(["event.id", "event.ingested"]).to_pylist()
    assert len(rows) == OBJECTS * 3
    for row in rows:
        obj = int(row["event.id"].split("-")[1])
        assert row["event.ingested"] == FIRST + timedelta(minutes=obj)


@pytest.mark.parametrize(("way", "workers"), [("off", 1), ("reference", 1), ("compiled", 2)])
def test_every_evidence_document_carries_its_own_object_s_time(
    bucket: Path, way: str, workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SKIM_VARIABLE, way)
    rules = load_rules([shipped_pack_dir()]).rules
    store = Store.open(None)
    try:
        result = scan([TimedObjects(bucket)], rules, store=store, workers=workers)
    finally:
        store.close()
    documents = [doc for alert in result.alerts for doc in alert.evidence]
    assert len({doc["event"]["id"] for doc in documents}) > OBJECTS  # many objects' events
    for doc in documents:
        obj = int(doc["event"]["id"].split("-")[1])
        shown = datetime.fromisoformat(doc["event"]["ingested"].replace("Z", "+00:00"))
        assert shown == FIRST + timedelta(minutes=obj)
