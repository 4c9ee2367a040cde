"""SQS, against a moto server: the objects that S3 notifications announce are read once, the
messages deleted after the commit; what is not understood stays in the queue, told."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from support.memory_cursor import MemoryCursor
from support.moto import s3_client
from trailhound.sources import Blob, SourceProblem
from trailhound.sources.polling import Poll, open_polled
from trailhound.sources.sqs import Named, NotUnderstood, Queue, objects_named, open_queue

ODD_KEY = "odd keys/a b+c%41=d&e.json.gz"  # S3 sends it as "odd+keys%2Fa+b%2Bc%2541%3Dd%26e..."


def sqs() -> Any:
    import boto3

    return boto3.client("sqs")


@pytest.fixture
def names(aws: str, request: pytest.FixtureRequest) -> Callable[[str], str]:
    """A bucket or queue name of this test's own (moto keeps everything for the session)."""
    test = request.node.name.removeprefix("test_").replace("_", "-")[:40].strip("-")
    return lambda what: f"{what}-{test}"


def make_queue(name: str, visibility: int = 30) -> str:
    attributes = {"VisibilityTimeout": str(visibility)}
    return str(sqs().create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])


def notify(bucket: str, queue_url: str) -> None:
    """S3 notifies the queue of every object created in `bucket` (and sends a test event)."""
    arn = sqs().get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    s3_client().create_bucket(Bucket=bucket)
    s3_client().put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={"QueueConfigurations": [
            {"QueueArn": arn["Attributes"]["QueueArn"], "Events": ["s3:ObjectCreated:*"]}
        ]},
    )  # fmt: skip


def waiting(queue_url: str) -> int:
    """Messages in the queue, received or not."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    found = sqs().get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
    return sum(int(found[n]) for n in names)


def objects(poll: Poll) -> list[str]:
    return sorted(b.name for b in poll.blobs if isinstance(b, Blob))


def problems(poll: Poll) -> list[SourceProblem]:
    return [b for b in poll.blobs if isinstance(b, SourceProblem)]


def delivery(cloudtrail_day: Path) -> bytes:
    return next(cloudtrail_day.rglob("*.json.gz")).read_bytes()


def test_notified_objects_are_read_and_their_messages_deleted_after_the_commit(
    names: Callable[[str], str], cloudtrail_day: Path
) -> None:
    bucket, url = names("b"), make_queue(names("q"))
    notify(bucket, url)  # the test event is now in the queue
    keys = ["AWSLogs/1/a.json.gz", "AWSLogs/2/b.json.gz", ODD_KEY]
    for key in keys:
        s3_client().put_object(Bucket=bucket, Key=key, Body=delivery(cloudtrail_day))
    source = open_polled(f"sqs://{names('q')}")
    assert isinstance(source, Queue) and source.name == f"sqs://{names('q')}"
    cursor = MemoryCursor()
    poll = open_queue(f"sqs://{names('q')}", wait_seconds=1).poll(cursor)
    assert problems(poll) == []
    assert objects(poll) == sorted(f"s3://{bucket}/{k}" for k in keys)
    etags = {k: s3_client().head_object(Bucket=bucket, Key=k)["ETag"].strip('"') for k in keys}
    assert sorted(c.key.split(" ", 1)[1] for c in poll.consumed) == sorted(
        f"{bucket}/{k}" for k in keys
    )
    assert {c.key.split("/", 1)[1]: c.version for c in poll.consumed} == etags
    odd = next(b for b in poll.blobs if isinstance(b, Blob) and b.name.endswith(ODD_KEY))
    assert b"".join(odd.chunks()) == gzip.decompress(delivery(cloudtrail_day))
    assert waiting(url) == 4  # received, not deleted: the step is not committed yet
    cursor.commit(poll)
    assert waiting(url) == 0  # the test event's message too


def test_a_message_delivered_again_after_the_commit_does_not_read_its_object_again(
    names: Callable[[str], str], cloudtrail_day: Path
) -> None:
    bucket, url = names("b"), make_queue(names("q"), visibility=1)
    notify(bucket, url)
    s3_client().put_object(Bucket=bucket, Key="AWSLogs/x.json.gz", Body=delivery(cloudtrail_day))
    source, cursor = open_queue(url, wait_seconds=1), MemoryCursor()
    first = source.poll(cursor)
    assert objects(first) == [f"s3://{bucket}/AWSLogs/x.json.gz"]
    time.sleep(1.2)  # not committed: the message comes back and the object is read
    again = source.poll(cursor)
    assert objects(again) == objects(first)
    cursor.commit(again, after=False)  # a crash between the commit and the delete
    time.sleep(1.2)
    last = source.poll(cursor)
    assert (objects(last), last.consumed) == ([], [])
    cursor.commit(last)
    assert waiting(url) == 0


def test_eventbridge_sns_and_cloudtrail_messages_are_understood(
    names: Callable[[str], str], cloudtrail_day: Path
) -> None:
    bucket, url = names("b"), make_queue(names("q"))
    s3_client().create_bucket(Bucket=bucket)
    keys = ["from eventbridge/a b+c.json.gz", "from-sns/x.json.gz", "from-cloudtrail/y.json.gz"]
    for key in keys:
        s3_client().put_object(Bucket=bucket, Key=key, Body=delivery(cloudtrail_day))
    s3_event = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                             "s3": {"bucket": {"name": bucket},
                                    "object": {"key": "from-sns/x.json.gz"}}}]}  # fmt: skip
    bodies = [
        {"version": "0", "detail-type": "Object Created", "source": "aws.s3",
         "detail": {"bucket": {"name": bucket}, "object": {"key": keys[0]}}},
        {"Type": "Notification", "TopicArn": "arn:aws:sns:us-east-1:1:t",
         "Message": json.dumps(s3_event)},
        {"Type": "Notification", "Message": json.dumps(
            {"s3Bucket": bucket, "s3ObjectKey": ["from-cloudtrail/y.json.gz"]})},
        {"detail-type": "Object Deleted", "source": "aws.s3",
         "detail": {"bucket": {"name": bucket}, "object": {"key": "gone"}}},
    ]  # fmt: skip
    for body in bodies:
        sqs().send_message(QueueUrl=url, MessageBody=json.dumps(body))
    cursor = MemoryCursor()
    poll = open_queue(url, wait_seconds=1).poll(cursor)
    assert problems(poll) == []
    assert objects(poll) == sorted(f"s3://{bucket}/{k}" for k in keys)
    cursor.commit(poll)
    assert waiting(url) == 0


def test_a_message_not_understood_or_naming_no_object_is_a_problem_and_stays(
    names: Callable[[str], str], cloudtrail_day: Path
) -> None:
    bucket, url = names("b"), make_queue(names("q"), visibility=1)
    s3_client().create_bucket(Bucket=bucket)
    s3_client().put_object(Bucket=bucket, Key="fine.json.gz", Body=delivery(cloudtrail_day))
    record = {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": bucket}}}
    bodies = [
        "\x1b[31mnot json",
        "[1, 2]",
        json.dumps({"Records": [record]}),  # no object key
        json.dumps({"Records": [{**record, "s3": {"bucket": {"name": bucket},
                                                  "object": {"key": "missing.json.gz"}}}]}),
        json.dumps({"Records": [{**record, "s3": {"bucket": {"name": bucket},
                                                  "object": {"key": "fine.json.gz"}}}]}),
    ]  # fmt: skip
    ids = [sqs().send_message(QueueUrl=url, MessageBody=b)["MessageId"] for b in bodies]
    cursor = MemoryCursor()
    poll = open_queue(url, wait_seconds=1).poll(cursor)
    assert objects(poll) == [f"s3://{bucket}/fine.json.gz"]
    found = {p.name.rsplit(" ", 1)[1]: p.reason for p in problems(poll)}
    assert found == {
        ids[0]: "the message is not JSON",
        ids[1]: "the message is JSON but not an object",
        ids[2]: "an event without s3.object.key",
        ids[3]: f"s3://{bucket}/missing.json.gz: no such object",
    }
    assert all(p.name.startswith(f"{url} message ") for p in problems(poll))
    cursor.commit(poll)
    assert waiting(url) == 4  # left for the redrive policy
    time.sleep(1.1)
    assert len(problems(open_queue(url, wait_seconds=1).poll(cursor))) == 4  # and told again


def test_a_queue_that_does_not_exist_is_a_problem(aws: str) -> None:
    poll = open_queue("sqs://no-such-queue", wait_seconds=0).poll(MemoryCursor())
    [problem] = problems(poll)
    assert problem.name == "sqs://no-such-queue" and problem.reason.startswith("cannot receive")
    assert poll.consumed == [] and "no-such-queue" in poll.waiting_for


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ('{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}', []),
        ('{"Records":[{"eventName":"ObjectRemoved:Delete","s3":{}}]}', []),
        ('{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},'
         '"object":{"key":"a+b%2Bc%2Fd"}}}]}', [Named("b", ("a b+c/d",))]),
        ('{"source":"aws.s3","detail-type":"Object Created","detail":{"bucket":{"name":"b"},'
         '"object":{"key":"a%20b"}}}', [Named("b", ("a%20b", "a b"))]),
        ('{"s3Bucket":"b","s3ObjectKey":["k1","k2"]}', [Named("b", ("k1",)), Named("b", ("k2",))]),
    ],
)  # fmt: skip
def test_what_a_message_names(body: str, named: list[Named]) -> None:
    assert objects_named(body) == named


@pytest.mark.parametrize(
    "body", ['{"s3Bucket":"b","s3ObjectKey":"k"}', '{"Records":{}}', '{"Type":"Notification",'
             '"Message":"{}"}', '"text"', "", None])  # fmt: skip
def test_what_a_message_does_not_name(body: str | None) -> None:
    with pytest.raises(NotUnderstood):
        objects_named(body)
