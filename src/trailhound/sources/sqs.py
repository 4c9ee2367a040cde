"""Amazon SQS: `trailhound watch sqs://QUEUE-NAME` or `trailhound watch https://sqs.<region>.
amazonaws.com/<account>/<queue>`: read the S3 objects that the queue's messages announce.

Messages understood, each naming S3 objects:

- S3 event notifications (`Records[].s3.bucket.name`, `.object.key`, URL-encoded as S3 sends
  them: "a b+c" arrives as "a+b%2Bc"); only `ObjectCreated:*` records name something to read;
- EventBridge "Object Created" events from S3 (`detail.bucket.name`, `detail.object.key`; the
  key as it is, or URL-encoded, whichever exists);
- CloudTrail's own SNS notifications of delivered files (`s3Bucket`, `s3ObjectKey`);
- any of these wrapped in an SNS notification (`Type: Notification`, the JSON in `Message`),
  when the subscription does not use raw message delivery.

The S3 test event (`s3:TestEvent`) and S3 events of other kinds name nothing to read: their
messages are deleted. A message that is none of these, or that names an object that cannot be
looked up (missing, access denied), is a SourceProblem and is NOT deleted: it comes back after
the queue's visibility timeout, and the queue's redrive policy (maxReceiveCount) moves it to a
dead-letter queue, where a person can look at it. Without a redrive policy it comes back, and is
reported, until its retention period ends.

The messages of a poll are deleted by `after_commit`, once the step that read their objects is
committed. A message delivered twice, or again after a crash between the commit and the delete,
names objects already consumed with the same ETag: they are not read again, and the message is
deleted. Consumed keys are `<LastModified> <bucket>/<key>`, so that what is older than any
message can be (SQS keeps a message 14 days at most) is forgotten.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote, unquote_plus

import orjson

from trailhound.errors import InputError
from trailhound.sources import Blob, SourceProblem
from trailhound.sources.aws import aws_errors, client, error_code, parallel, reason, require_boto3
from trailhound.sources.polling import Consumed, Cursor, Poll, PolledSource
from trailhound.sources.s3 import object_blob, unreadable, utc

WAIT_SECONDS = 10
"""How long a poll waits for a first message (SQS long polling: at most 20)."""
MAX_MESSAGES = 100  # received at most per poll, ten per request
RETENTION = timedelta(days=15)  # SQS keeps a message 14 days at most; a day more for clocks
_TIME_KEY = "%Y%m%dT%H%M%SZ"
_QUEUE_HOST = re.compile(r"(?:sqs\.([a-z0-9-]+)|([a-z0-9-]+)\.queue)\.amazonaws\.com(?:\.cn)?")


def open_queue(spec: str, *, wait_seconds: int = WAIT_SECONDS,
               max_messages: int = MAX_MESSAGES) -> PolledSource:  # fmt: skip
    """The registered opener for `sqs://QUEUE-NAME` and SQS queue URLs (`trailhound watch`)."""
    require_boto3(spec)
    return Queue(spec, wait_seconds=wait_seconds, max_messages=max_messages)


@dataclass(frozen=True, slots=True)
class Named:
    """An S3 object a message names: its bucket and the keys it may have (tried in order)."""

    bucket: str
    keys: tuple[str, ...]


class NotUnderstood(Exception):
    """A message body that names no S3 object in a form known here; says why, never quoting it."""


@dataclass
class _Message:
    id: str
    receipt: str
    named: list[Named] = field(default_factory=list)
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class _Found:
    """An object looked up with HeadObject: what a blob and a consumed item need."""

    bucket: str
    key: str
    etag: str
    modified: datetime
    size: int | None

    @property
    def consumed_key(self) -> str:
        return f"{self.modified.strftime(_TIME_KEY)} {self.bucket}/{self.key}"


class Queue:
    """An SQS queue of S3 notifications, polled."""

    def __init__(self, spec: str, *, wait_seconds: int = WAIT_SECONDS,
                 max_messages: int = MAX_MESSAGES,
                 clock: Callable[[], datetime] | None = None) -> None:  # fmt: skip
        self._url = None if spec.lower().startswith("sqs://") else spec
        self._queue_name = spec[len("sqs://") :].strip("/") if self._url is None else ""
        if self._url is None and not self._queue_name:
            raise InputError("an SQS source is sqs://QUEUE-NAME or a queue URL", where=spec)
        self._spec = f"sqs://{self._queue_name}" if self._url is None else spec
        self._region = _region_of_url(spec) if self._url else None
        self._wait = wait_seconds
        self._max = max_messages
        self._clock = clock or (lambda: datetime.now(UTC))
        self._failed: list[SourceProblem] = []  # deletes that failed, told by the next poll

    @property
    def name(self) -> str:
        return self._spec

    def poll(self, cursor: Cursor) -> Poll:
        problems: list[Blob | SourceProblem] = list(self._failed)
        self._failed.clear()
        try:
            url = self._queue_url()
            messages = [_parsed(m) for m in self._receive(url)]
        except aws_errors() as exc:
            problems.append(SourceProblem(self.name, f"cannot receive: {reason(exc)}"))
            return Poll(blobs=problems, waiting_for=self._waiting_for())
        return self._poll(cursor, url, messages, problems)

    def _poll(self, cursor: Cursor, url: str, messages: list[_Message],
              problems: list[Blob | SourceProblem]) -> Poll:  # fmt: skip
        named = sorted({n for m in messages for n in m.named}, key=lambda n: (n.bucket, n.keys))
        found = dict(zip(named, parallel(_head, named), strict=True))
        done: list[_Message] = []
        for message in messages:
            reasons = [message.problem] if message.problem else []
            reasons += [f"{_where(n)}: {why}" for n in message.named
                        if isinstance(why := found[n], str)]  # fmt: skip
            if reasons:  # left in the queue: see the module's docstring
                problems.append(SourceProblem(f"{self.name} message {message.id}",
                                              "; ".join(reasons)))  # fmt: skip
            else:
                done.append(message)
        objects = {f.consumed_key: f for m in done for n in m.named
                   if isinstance(f := found[n], _Found)}  # fmt: skip
        read = cursor.versions(list(objects))
        new = sorted((f for k, f in objects.items() if read.get(k) != f.etag),
                     key=lambda f: (f.modified, f.bucket, f.key))  # fmt: skip
        return Poll(
            blobs=[*problems, *(_blob(f) for f in new)],
            consumed=[Consumed(f.consumed_key, f.etag) for f in new],
            forget_before=(self._clock() - RETENTION).strftime(_TIME_KEY),
            after_commit=lambda: self._delete(url, done),
            waiting_for=self._waiting_for(),
        )

    def _queue_url(self) -> str:
        if self._url is None:
            response = client("sqs", self._region).get_queue_url(QueueName=self._queue_name)
            self._url = str(response["QueueUrl"])
        return self._url

    def _receive(self, url: str) -> Iterator[dict[str, Any]]:
        """Up to `max_messages` messages: the first request waits, the next ones take what is
        there until the queue seems empty."""
        wait, left = self._wait, self._max
        while left > 0:
            asked = min(10, left)
            response = client("sqs", self._region).receive_message(
                QueueUrl=url, MaxNumberOfMessages=asked, WaitTimeSeconds=wait)  # fmt: skip
            got = response.get("Messages", [])
            yield from got
            if len(got) < asked:
                return
            wait, left = 0, left - len(got)

    def _delete(self, url: str, messages: list[_Message]) -> None:
        """Delete the messages of a committed step. A message not deleted comes back and is
        skipped then (its objects are consumed), so a failure here is only told, not raised."""
        for start in range(0, len(messages), 10):
            batch = messages[start : start + 10]
            entries = [{"Id": str(i), "ReceiptHandle": m.receipt} for i, m in enumerate(batch)]
            try:
                response = client("sqs", self._region).delete_message_batch(
                    QueueUrl=url, Entries=entries)  # fmt: skip
            except aws_errors() as exc:
                self._failed += [self._not_deleted(m, reason(exc)) for m in batch]
                continue
            for failure in response.get("Failed", []):
                message = batch[int(failure["Id"])]
                why = f"{failure.get('Code', '')}: {failure.get('Message', '')}"
                self._failed.append(self._not_deleted(message, why))

    def _not_deleted(self, message: _Message, why: str) -> SourceProblem:
        return SourceProblem(f"{self.name} message {message.id}",
                             f"read, but cannot be deleted ({why}); it will come back")  # fmt: skip

    def _waiting_for(self) -> str:
        return f"S3 event notifications on {self.name}"


def _region_of_url(url: str) -> str | None:
    """The region in a queue URL (sqs.<region>.amazonaws.com, <region>.queue.amazonaws.com);
    None for another host (a local endpoint), where the configured region applies."""
    host = url.split("://", 1)[-1].split("/", 1)[0].lower()
    match = _QUEUE_HOST.fullmatch(host)
    return (match[1] or match[2]) if match else None


def _parsed(message: dict[str, Any]) -> _Message:
    parsed = _Message(str(message.get("MessageId", "?")), str(message.get("ReceiptHandle", "")))
    try:
        parsed.named = objects_named(message.get("Body"))
    except NotUnderstood as exc:
        parsed.problem = str(exc)
    return parsed


def objects_named(body: object) -> list[Named]:
    """The S3 objects a message body names; [] for a test event or an event of another kind.
    Raises NotUnderstood for anything else. Never quotes the body: it is not ours."""
    if not isinstance(body, str):
        raise NotUnderstood("the message has no body")
    document = _json_object(body)
    if document.get("Type") == "Notification" and isinstance(document.get("Message"), str):
        document = _json_object(document["Message"])  # SNS, without raw message delivery
    if document.get("Event") == "s3:TestEvent":
        return []
    if "Records" in document:
        return _from_s3_event(document["Records"])
    if document.get("source") == "aws.s3" and "detail-type" in document:
        return _from_eventbridge(document)
    if "s3Bucket" in document and "s3ObjectKey" in document:
        return _from_cloudtrail(document)
    raise NotUnderstood("not an S3 event notification, an EventBridge event from S3, "
                         "a CloudTrail notification, nor one of them sent by SNS")  # fmt: skip


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise NotUnderstood("the message is not JSON") from None
    if not isinstance(value, dict):
        raise NotUnderstood("the message is JSON but not an object")
    return value


def _from_s3_event(records: object) -> list[Named]:
    if not isinstance(records, list):
        raise NotUnderstood("an S3 event notification whose Records is not a list")
    named = []
    for record in records:
        event = _text(record, "eventName").removeprefix("s3:")
        if not event.startswith("ObjectCreated:"):
            continue  # removed, restored, tagged...: nothing new to read
        bucket = _text(record, "s3", "bucket", "name")
        # S3 URL-encodes keys in notifications, a space as "+"
        named.append(Named(bucket, (unquote_plus(_text(record, "s3", "object", "key")),)))
    return named


def _from_eventbridge(event: dict[str, Any]) -> list[Named]:
    if event.get("detail-type") != "Object Created":
        return []
    key = _text(event, "detail", "object", "key")
    # documented unencoded, seen encoded: the key as it is first, then decoded
    keys = (key, unquote(key)) if unquote(key) != key else (key,)
    return [Named(_text(event, "detail", "bucket", "name"), keys)]


def _from_cloudtrail(note: dict[str, Any]) -> list[Named]:
    bucket, keys = note["s3Bucket"], note["s3ObjectKey"]
    if not isinstance(bucket, str) or not bucket or not isinstance(keys, list):
        raise NotUnderstood("a CloudTrail notification without s3Bucket or s3ObjectKey")
    if not all(isinstance(k, str) and k for k in keys):
        raise NotUnderstood("a CloudTrail notification with a key that is not text")
    return [Named(bucket, (k,)) for k in keys]


def _text(value: object, *path: str) -> str:
    """The non-empty text at `path` in nested objects, else NotUnderstood naming the path."""
    for step in path:
        value = value.get(step) if isinstance(value, dict) else None
    if not isinstance(value, str) or not value:
        raise NotUnderstood(f"an event without {'.'.join(path)}")
    return value


def _head(named: Named) -> _Found | str:
    """The object a message names, looked up; or why it cannot be."""
    why = ""
    for key in named.keys:
        try:
            head = client("s3").head_object(Bucket=named.bucket, Key=key)
        except aws_errors() as exc:
            why = unreadable(exc)
            if error_code(exc) in ("404", "NoSuchKey"):
                continue  # the next spelling of the key, if any
            return why
        modified = utc(head.get("LastModified")) or datetime.now(UTC)
        etag = str(head.get("ETag", "")).strip('"')
        return _Found(named.bucket, key, etag, modified, head.get("ContentLength"))
    return why


def _blob(found: _Found) -> Blob:
    item = {"Key": found.key, "ETag": found.etag, "LastModified": found.modified,
            "Size": found.size}  # fmt: skip
    return object_blob(found.bucket, item)


def _where(named: Named) -> str:
    return f"s3://{named.bucket}/{named.keys[0]}"
