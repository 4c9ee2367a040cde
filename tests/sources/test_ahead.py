"""S3 objects fetched ahead of the reader (against a moto server): the reader gets every
object in listing order with its exact bytes, and an object that cannot be read is
unreadable in its own place while the objects around it are read."""

from __future__ import annotations

import gzip
import json

import pytest

from support.moto import s3_client
from trailhound.cloudtrail.report import Report
from trailhound.pipeline.scan import scan
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.sources import Blob, SourceProblem, Unreadable, open_source
from trailhound.sources.ahead import fetched_ahead
from trailhound.state.store import Store

BUCKET = "ahead"
OBJECTS = 30


def _object(n: int) -> bytes:
    record = {
        "eventVersion": "1.08", "eventTime": f"2026-03-01T10:{n:02d}:00Z",
        "eventSource": "dynamodb.amazonaws.com", "eventName": "DeleteTable",
        "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.7",
        "userIdentity": {"type": "IAMUser", "userName": "mallory", "accountId": "111122223333",
                         "arn": "arn:aws:iam::111122223333:user/mallory"},
        "requestParameters": {"tableName": f"T{n}"}, "eventID": f"id-{n}",
        "eventType": "AwsApiCall", "recipientAccountId": "111122223333",
    }  # fmt: skip
    return gzip.compress(json.dumps({"Records": [record]}).encode())


@pytest.fixture
def listed(aws: str) -> list[Blob]:
    """The bucket's objects as listed; then object 07 is deleted and 11 replaced."""
    client = s3_client()
    client.create_bucket(Bucket=BUCKET)
    for n in range(OBJECTS):
        client.put_object(Bucket=BUCKET, Key=f"logs/{n:02d}.json.gz", Body=_object(n))
    blobs = [b for b in open_source(f"s3://{BUCKET}/logs").blobs() if isinstance(b, Blob)]
    client.delete_object(Bucket=BUCKET, Key="logs/07.json.gz")
    client.put_object(Bucket=BUCKET, Key="logs/11.json.gz", Body=_object(99))
    return blobs


def test_objects_come_in_order_with_their_bytes_and_a_broken_one_fails_in_its_place(
    listed: list[Blob],
) -> None:
    assert all(blob.remote for blob in listed)
    came = list(fetched_ahead(listed, ahead=4))
    assert [blob.name for blob in came] == [blob.name for blob in listed]
    for n, blob in enumerate(came):
        if n == 7:
            with pytest.raises(Unreadable, match="no such object"):
                b"".join(blob.chunks())
        elif n == 11:
            with pytest.raises(Unreadable, match="replaced since it was listed"):
                b"".join(blob.chunks())
        else:
            assert b"".join(blob.chunks()) == gzip.decompress(_object(n))


def test_a_scan_reports_the_objects_it_could_not_read_and_alerts_on_the_rest(
    listed: list[Blob],
) -> None:
    class Listed:
        def blobs(self) -> list[Blob | SourceProblem]:
            return list(listed)

    store = Store.open(None)
    try:
        report = Report()
        rules = load_rules([shipped_pack_dir()]).rules
        result = scan([Listed()], rules, store=store, report=report, workers=1)
    finally:
        store.close()
    unreadable = sorted(p.where for p in report.problems)
    assert unreadable == [f"s3://{BUCKET}/logs/07.json.gz", f"s3://{BUCKET}/logs/11.json.gz"]
    assert result.stats.events == OBJECTS - 2
    shown = {doc["event"]["id"] for alert in result.alerts for doc in alert.evidence}
    assert shown and shown <= {f"id-{n}" for n in range(OBJECTS) if n not in (7, 11)}
