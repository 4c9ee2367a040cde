"""An S3 object's bytes read through obstore, a Rust client, when it is installed.

boto3's `get_object` costs 1.5 to 2.5 ms of CPU a request in its Python request pipeline; a
trail's bucket holds one object of ~30 events per account, region and five minutes, so that
was ten times the rest of a scan per object. obstore's GET costs 0.3 to 0.5 ms, and waits
with the GIL released, so that the threads fetching objects ahead (`sources/ahead.py`) wait
side by side for real. boto3 still lists, talks to SQS, and reads when obstore is missing.

What a boto3 read guarantees holds here too: boto3's credentials (asked again every few
minutes, so that a refreshed role is used), its endpoint (`AWS_ENDPOINT_URL`, a profile's
`endpoint_url`), the bucket's own region, only the listed version (`If-Match` on its ETag),
a read that breaks off resumed from where it stopped, and failures as OSError(EIO, reason).
"""

from __future__ import annotations

import errno
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from trailhound.sources.aws import aws_errors, client, made_once
from trailhound.sources.object_reads import ResumedRead

if TYPE_CHECKING:
    from obstore import GetOptions
    from obstore.store import S3Store

CREDENTIALS_FOR = timedelta(minutes=5)
"""How long obstore keeps a set of boto3's credentials: botocore refreshes a role's ahead of
their expiry (10 to 15 minutes before), so any set it hands out is good for longer than this."""
_PIECE = 1 << 20  # the response body arrives in pieces of at least this much (but the last)
_AWS_HOST = re.compile(r"s3(\.[a-z0-9-]+)?\.amazonaws\.com")
_S3_ERROR = re.compile(r"<Code>([^<]*)</Code>(?:<Message>([^<]*)</Message>)?")


@dataclass(frozen=True, slots=True)
class Place:
    """Where a bucket's objects are read from: picklable, so that a worker process reads
    from the place found once by the process that listed the bucket."""

    bucket: str
    region: str
    endpoint: str | None  # None: AWS's own endpoint of the region


def usable() -> bool:
    """Whether obstore can be imported in this process."""
    try:
        import obstore  # noqa: F401
    except ImportError:
        return False
    return True


def place_of(bucket: str) -> Place | None:
    """Where to read `bucket`'s objects with obstore, found once per process; None: read them
    with boto3 (obstore missing, no credentials, or a directory bucket, whose sessions only
    boto3 makes)."""
    if bucket.endswith("--x-s3") or not usable():
        return None
    return made_once(("place", bucket), lambda: _found(bucket))


def _found(bucket: str) -> Place | None:
    import boto3

    if boto3.session.Session().get_credentials() is None:
        return None  # boto3's own read fails the same way: let it say so
    s3 = client("s3")
    endpoint = str(s3.meta.endpoint_url)
    custom = None if _AWS_HOST.fullmatch(urlsplit(endpoint).hostname or "") else endpoint
    return Place(bucket, _region(s3, bucket), custom)


def _region(s3: Any, bucket: str) -> str:
    """The bucket's region, as S3 tells it in a header even when it refuses HeadBucket; else
    the configured one (a store outside AWS has no regions)."""
    try:
        response = s3.head_bucket(Bucket=bucket)
    except aws_errors() as exc:
        response = getattr(exc, "response", None) or {}
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    return str(headers.get("x-amz-bucket-region") or s3.meta.region_name or "us-east-1")


def _store(place: Place) -> S3Store:
    return made_once(("store", place), lambda: _new_store(place))


def _new_store(place: Place) -> S3Store:
    import boto3
    from obstore.auth.boto3 import Boto3CredentialProvider
    from obstore.store import S3Store

    credentials = Boto3CredentialProvider(boto3.session.Session(), ttl=CREDENTIALS_FOR)
    return S3Store(
        place.bucket,
        region=place.region,
        endpoint=place.endpoint,
        credential_provider=credentials,
        # botocore's timeouts (60 s to connect, 60 s between two reads, none for the whole)
        # and its standard retries (5 attempts)
        client_options={
            "allow_http": (place.endpoint or "").startswith("http:"),
            "connect_timeout": timedelta(seconds=60),
            "read_timeout": timedelta(seconds=60),
            "timeout": timedelta(hours=1),
        },
        retry_config={"max_retries": 4, "retry_timeout": timedelta(minutes=3)},
    )


class ObjectReader(ResumedRead):
    """Reads one object through obstore; the body arrives in pieces, handed out as asked."""

    def __init__(self, place: Place, key: str, etag: str) -> None:
        super().__init__(key, etag)
        self._place = place
        self._pieces: Iterator[Any] | None = None
        self._left = memoryview(b"")  # what arrived and was not read yet

    def close(self) -> None:
        self._pieces = None  # obstore drops the response, and its connection, with it

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            return b"".join(iter(lambda: self.read(_PIECE), b""))
        while not self._left and not self._done and size:
            self._left = self._next_piece()
        piece, self._left = self._left[:size], self._left[size:]
        return bytes(piece)

    def _next_piece(self) -> memoryview:
        pieces = self._pieces if self._pieces is not None else self._open()
        try:
            piece = next(pieces, None)
        except _broken() as exc:
            self._resume(exc, _said(exc))
            return memoryview(b"")
        if piece is None:
            self._done = True
            self.close()
            return memoryview(b"")
        self._position += len(piece)
        return memoryview(piece)

    def _open(self) -> Iterator[Any]:
        import obstore

        options: GetOptions = {}
        if self._etag:
            options["if_match"] = f'"{self._etag}"'
        if self._position:
            options["range"] = {"offset": self._position}
        try:
            response = obstore.get(_store(self._place), self._key, options=options)
        except _refused() as exc:
            raise OSError(errno.EIO, unreadable(exc)) from exc
        self._pieces = iter(response.stream(min_chunk_size=_PIECE))
        return self._pieces


def _broken() -> tuple[type[Exception], ...]:
    """What obstore raises for a failed request or response body (FileNotFoundError is an
    OSError)."""
    from obstore.exceptions import BaseError

    return (BaseError, OSError)


def _refused() -> tuple[type[Exception], ...]:
    """What a GET raises when it gets no body: obstore's errors, and the ValueError of a
    credential provider whose boto3 session found no credentials."""
    return (*_broken(), ValueError)


def unreadable(exc: Exception) -> str:
    """Why a GET failed, in the words `s3.unreadable` gives for boto3's errors."""
    from obstore.exceptions import PermissionDeniedError, PreconditionError

    if isinstance(exc, FileNotFoundError):
        return "no such object"
    if isinstance(exc, PermissionDeniedError):
        return "access denied (needs s3:GetObject)"
    if isinstance(exc, PreconditionError):
        return "the object was replaced since it was listed"
    return _said(exc)


def _said(exc: Exception) -> str:
    """S3's error code and message when the error carries its answer, else the error's first
    line (obstore's errors go on with the whole request and a debug dump)."""
    text = str(exc)
    found = _S3_ERROR.search(text)
    if found:
        code, message = found[1], found[2] or ""
        return f"{code}: {message}" if message and message != code else code
    return text.split("\n", 1)[0] or type(exc).__name__
