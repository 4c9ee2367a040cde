"""Amazon S3 (or an S3-compatible store): `trailhound scan s3://bucket/prefix` and
`trailhound watch s3://bucket/prefix`.

Scan reads every object under the prefix, in key order, whatever its name: the reader tells
CloudTrail from the rest by content (digest and Insights files are skipped there, as for local
files). `s3://bucket/logs` stands for the object `logs` and the folder `logs/`, not `logs-old/`.

Watch follows CloudTrail's own layout and nothing else under the prefix:

    <prefix>/AWSLogs/[<org-id>/]<account>/CloudTrail/<region>/YYYY/MM/DD/
        <account>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<unique>.json.gz

Listing a whole trail every poll would cost a request per thousand files ever delivered, so each
poll finds the accounts and regions with delimiter listings, then lists each region folder only
from a start derived from the newest file read there (its mark), less `margin` of key time:
CloudTrail delivers files out of order by minutes, and a late file (whose key sorts before the
newest one read) must still be found. What was read in that overlap is skipped by its ETag,
which the pipeline records. Such a key's time decides its order (the key names the account and
region of its folder, the folder the day of the time), so "before this time" is "before this
key" in every region folder.

Consumed keys start with the file's time (`20250602T0140Z AWSLogs/.../x.json.gz`) so that one
`forget_before` time can drop what no later poll lists again in any region. A region that goes
quiet would hold that time back for all others, so no start is ever more than `horizon` behind
the newest file of the whole trail: a region whose delivery lags the others by more than that
loses the files that arrive later still. Objects named otherwise (digest, Insights, anything a
person put there) are not watched.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, BinaryIO, cast

from trailhound.errors import InputError
from trailhound.sources import Blob, Source, SourceProblem
from trailhound.sources.aws import (
    aws_errors,
    client,
    error_code,
    parallel,
    reason,
    require_boto3,
)
from trailhound.sources.object_reads import ResumedRead
from trailhound.sources.polling import Consumed, Cursor, Poll, PolledSource
from trailhound.sources.s3_objects import ObjectReader, Place, place_of, usable

MARGIN = timedelta(hours=1)
"""How late (in key time, behind the newest file read in its region) a file may arrive and
still be read. CloudTrail's own lateness is minutes."""
HORIZON = timedelta(days=1)
"""How far behind the newest file of the whole trail a region's listing may start."""
NEWEST = "newest"  # the mark holding the time of the newest file read in the whole trail
_STAMP = "%Y%m%dT%H%MZ"
_ACCOUNT = re.compile(r"\d{12}")
_ORG = re.compile(r"o-[a-z0-9]{10,32}")
_STAMP_IN_NAME = re.compile(r"_(\d{8}T\d{4}Z)_")


def open_s3(spec: str) -> Source:
    """The registered opener for `s3://bucket/prefix` (`trailhound scan`)."""
    require_boto3(spec)
    bucket, prefix = parse_spec(spec)
    return S3Prefix(bucket, prefix)


def open_polled_s3(spec: str, *, margin: timedelta = MARGIN,
                   horizon: timedelta = HORIZON) -> PolledSource:  # fmt: skip
    """The registered opener for `trailhound watch s3://bucket/prefix`."""
    require_boto3(spec)
    bucket, prefix = parse_spec(spec)
    if prefix and not prefix.endswith("/"):
        prefix += "/"  # a trail is a folder
    return S3Trail(bucket, prefix, margin=margin, horizon=horizon)


def parse_spec(spec: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` -> ("bucket", "some/prefix")."""
    rest = spec[len("s3://") :] if spec[:5].lower() == "s3://" else spec
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise InputError("an S3 source is s3://BUCKET or s3://BUCKET/PREFIX", where=spec)
    return bucket, prefix


# -- scan: every object under a prefix ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class S3Prefix:
    bucket: str
    prefix: str

    @property
    def name(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def blobs(self) -> Iterator[Blob | SourceProblem]:
        found = False
        try:
            for item in self._objects():
                found = True
                yield object_blob(self.bucket, item)
        except aws_errors() as exc:
            yield SourceProblem(self.name, f"cannot list the objects: {reason(exc)}")
            return
        if not found:
            yield SourceProblem(self.name, "no object under this prefix")

    def _objects(self) -> Iterator[dict[str, Any]]:
        listed = (o for o in _listing(self.bucket, self.prefix) if _under(o["Key"], self.prefix))
        # general purpose buckets list in UTF-8 byte order, which is str order; directory
        # buckets (S3 Express One Zone, named *--x-s3) list in no order
        if self.bucket.endswith("--x-s3"):
            return iter(sorted(listed, key=lambda o: str(o["Key"])))
        return listed


def _under(key: str, prefix: str) -> bool:
    if key.endswith("/"):
        return False  # a folder marker made by a console, no content
    if not prefix or prefix.endswith("/"):
        return True
    return key == prefix or key.startswith(prefix + "/")


def _listing(bucket: str, prefix: str, start_after: str | None = None) -> Iterator[dict[str, Any]]:
    params: dict[str, str] = {"Bucket": bucket, "Prefix": prefix}
    if start_after:
        params["StartAfter"] = start_after
    for page in client("s3").get_paginator("list_objects_v2").paginate(**params):
        yield from page.get("Contents", [])


def object_blob(bucket: str, item: dict[str, Any]) -> Blob:
    """The blob of one listed object (`Key`, `ETag`, `LastModified`, `Size` as S3 lists them)."""
    etag = plain_etag(item.get("ETag"))
    return Blob(
        f"s3://{bucket}/{item['Key']}",
        partial(open_object, bucket, item["Key"], etag, place_of(bucket)),
        ingested=utc(item.get("LastModified")),
        portable=True,
        size=item.get("Size"),
        remote=True,
    )


def plain_etag(etag: object) -> str:
    """An ETag without the quotes S3 puts around it in listings and headers."""
    return str(etag or "").strip('"')


def utc(when: object) -> datetime | None:
    return when.astimezone(UTC) if isinstance(when, datetime) else None


# -- reading one object ---------------------------------------------------------------------


def open_object(bucket: str, key: str, etag: str = "",
                place: Place | None = None) -> AbstractContextManager[BinaryIO]:  # fmt: skip
    """A stream of the object's bytes; picklable as a partial, for worker processes.

    With `etag`, only that version is read: an object replaced since it was listed fails to
    open (its new version is another input, found by the next listing), and a read resumed
    after a broken connection never joins two versions. With `place` (`s3_objects.place_of`)
    obstore reads it, else boto3.
    """
    if place is not None and usable():
        return cast(AbstractContextManager[BinaryIO], ObjectReader(place, key, etag))
    return cast(AbstractContextManager[BinaryIO], _ObjectStream(bucket, key, etag))


class _ObjectStream(ResumedRead):
    """Reads an object; AWS errors become OSError, which the reader reports as unreadable."""

    def __init__(self, bucket: str, key: str, etag: str) -> None:
        super().__init__(key, etag)
        self._bucket = bucket
        self._body: Any = None

    def close(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None

    def read(self, size: int = -1) -> bytes:
        while not self._done:
            body = self._body if self._body is not None else self._open()
            try:
                data: bytes = body.read(size if size >= 0 else None)
            except _broken() as exc:
                self._resume(exc, reason(exc))
                continue
            if not data and size != 0:
                self._done = True
                self.close()
            self._position += len(data)
            return data
        return b""

    def _open(self) -> Any:
        params = {"Bucket": self._bucket, "Key": self._key}
        if self._etag:
            params["IfMatch"] = f'"{self._etag}"'
        if self._position:
            params["Range"] = f"bytes={self._position}-"
        try:
            self._body = client("s3").get_object(**params)["Body"]
        except aws_errors() as exc:
            raise OSError(errno.EIO, unreadable(exc)) from exc
        return self._body


def _broken() -> tuple[type[Exception], ...]:
    """What a read of a response body raises when the connection fails midway."""
    from botocore.exceptions import BotoCoreError
    from urllib3.exceptions import HTTPError

    return (BotoCoreError, HTTPError, OSError)


def unreadable(exc: Exception) -> str:
    """Why GetObject or HeadObject failed, in a few words."""
    code = error_code(exc)
    if code in ("NoSuchKey", "404"):
        return "no such object"
    if code in ("AccessDenied", "403"):
        return "access denied (needs s3:GetObject)"
    if code in ("PreconditionFailed", "412"):
        return "the object was replaced since it was listed"
    return reason(exc)


# -- watch: CloudTrail's layout, listed from a mark ------------------------------------------


# Levels of CloudTrail's layout below the prefix: what the folders at each level are named, and
# the level of the folders below it.
_LOGS, _ORG_LEVEL, _ACCOUNT_LEVEL, _TRAIL, _REGION = "logs", "org", "account", "trail", "region"
_LAYOUT_HINT = "AWSLogs/[<org-id>/]<account>/CloudTrail/<region>/"


def _below(level: str, name: str) -> str | None:
    """The level of folder `name` found in a folder of `level`; None: not part of the layout."""
    if level == _LOGS:
        return _ORG_LEVEL if _ORG.fullmatch(name) else _below(_ORG_LEVEL, name)
    if level == _ORG_LEVEL:
        return _ACCOUNT_LEVEL if _ACCOUNT.fullmatch(name) else None
    if level == _ACCOUNT_LEVEL:
        return _TRAIL if name == "CloudTrail" else None  # not CloudTrail-Digest, -Insight
    if level == _TRAIL:
        return _REGION if name and name.isascii() else None
    return None


def _layout_start(spec: str, prefix: str) -> tuple[str, str, str]:
    """(base, folder, level): where the layout starts (the keys of marks and consumed items
    are relative to base) and the folder `prefix` names in it; a prefix may point inside the
    layout, e.g. at one account (`.../AWSLogs/123456789012/`)."""
    parts = prefix.split("/")[:-1]
    if "AWSLogs" not in parts:
        return prefix, prefix + "AWSLogs/", _LOGS
    at = len(parts) - 1 - parts[::-1].index("AWSLogs")
    base = "".join(p + "/" for p in parts[:at])
    level: str | None = _LOGS
    for name in parts[at + 1 :]:
        level = _below(level, name) if level else None
    if level is None:
        raise InputError(f"trailhound watch follows CloudTrail's layout ({_LAYOUT_HINT}); "
                         "this prefix is not a folder of it", where=spec)  # fmt: skip
    return base, prefix, level


@dataclass(frozen=True, slots=True)
class _Delivery:
    """One CloudTrail log file found in a region folder."""

    key: str
    stamp: str  # its time, YYYYMMDDTHHMMZ, from its name
    item: dict[str, Any]  # as listed


@dataclass
class _Listing:
    """What one poll found in one region folder."""

    folder: str
    mark: str | None  # the newest file read there, as the state had it
    deliveries: list[_Delivery] = field(default_factory=list)
    problem: SourceProblem | None = None


class S3Trail:
    """A CloudTrail trail's S3 folder, polled (`trailhound watch s3://...`)."""

    def __init__(self, bucket: str, prefix: str, *, margin: timedelta = MARGIN,
                 horizon: timedelta = HORIZON) -> None:  # fmt: skip
        self.bucket, self.prefix = bucket, prefix
        self.margin, self.horizon = margin, horizon
        self._base, self._start, self._level = _layout_start(self.name, prefix)
        self._folders: list[str] = []  # the region folders found by the last discovery

    @property
    def name(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def poll(self, cursor: Cursor) -> Poll:
        problems: list[Blob | SourceProblem] = []
        try:
            self._folders = self._discover()
        except aws_errors() as exc:  # keep following the folders found before
            problems.append(SourceProblem(self.name, f"cannot list the trail: {reason(exc)}"))
        # the cursor reads the state: in this thread, before the listings run in others
        marks = {f: cursor.mark(self._mark(f)) for f in self._folders}
        newest = cursor.mark(NEWEST)
        listings = parallel(lambda f: self._list(f, marks[f], newest), self._folders)
        problems += [listing.problem for listing in listings if listing.problem]
        return self._poll(cursor, listings, newest, problems)

    def _poll(self, cursor: Cursor, listings: list[_Listing], newest: str | None,
              problems: list[Blob | SourceProblem]) -> Poll:  # fmt: skip
        found = [d for listing in listings for d in listing.deliveries]
        read = cursor.versions([self._consumed_key(d) for d in found])
        new = sorted((d for d in found if read.get(self._consumed_key(d)) != _etag(d)),
                     key=lambda d: (d.stamp, d.key))  # fmt: skip
        marks = self._marks(listings, newest)
        newest = marks.get(NEWEST, newest)
        return Poll(
            blobs=[*problems, *(object_blob(self.bucket, d.item) for d in new)],
            consumed=[Consumed(self._consumed_key(d), _etag(d)) for d in new],
            marks=marks,
            forget_before=self._forget_before(listings, marks, newest),
            waiting_for=self._waiting_for(),
        )

    def _discover(self) -> list[str]:
        """Every region folder of the layout under the prefix, level by level."""
        found: list[str] = []
        frontier = [(self._start, self._level)]
        while frontier:
            listed = [f for f, level in frontier if level in (_LOGS, _ORG_LEVEL, _TRAIL)]
            children = dict(zip(listed, parallel(partial(_children, self.bucket), listed),
                                strict=True))  # fmt: skip
            deeper: list[tuple[str, str]] = []
            for folder, level in frontier:
                if level == _REGION:
                    found.append(folder)
                elif level == _ACCOUNT_LEVEL:  # one name possible: no need to list
                    deeper.append((folder + "CloudTrail/", _TRAIL))
                else:
                    for child in children[folder]:
                        below = _below(level, child[len(folder) : -1])
                        if below is not None:
                            deeper.append((child, below))
            frontier = deeper
        return sorted(found)

    def _list(self, folder: str, mark: str | None, newest: str | None) -> _Listing:
        listing = _Listing(folder, mark)
        start = self._start_of(mark, newest)
        after = None if start is None else folder + _key_at(folder, start)
        stamp_of = _delivery_stamp(folder)
        try:
            for item in _listing(self.bucket, folder, after):
                stamp = stamp_of(item["Key"][len(folder) :])
                if stamp is not None:
                    listing.deliveries.append(_Delivery(item["Key"], stamp, item))
        except aws_errors() as exc:
            listing.deliveries.clear()  # a region is read whole or not at all, for its mark
            listing.problem = SourceProblem(f"s3://{self.bucket}/{folder}",
                                            f"cannot list: {reason(exc)}")  # fmt: skip
        return listing

    def _start_of(self, mark: str | None, newest: str | None) -> datetime | None:
        """The key time a region folder is listed from; None: from its beginning."""
        marked = _time_of(_stamp_in(mark))
        if marked is None:
            return None  # a region never read: all of it is new
        start = marked - self.margin
        floor = _time_of(newest)
        return max(start, floor - self.horizon) if floor is not None else start

    def _marks(self, listings: list[_Listing], newest: str | None) -> dict[str, str]:
        """The marks that move: the newest file read in each region folder, and in all."""
        marks: dict[str, str] = {}
        for listing in listings:
            if listing.deliveries:
                last = max(d.key for d in listing.deliveries)[len(listing.folder) :]
                if listing.mark is None or last > listing.mark:
                    marks[self._mark(listing.folder)] = last
        stamps = [s for s in map(_stamp_in, marks.values()) if s is not None]
        if stamps and (newest is None or max(stamps) > newest):
            marks[NEWEST] = max(stamps)
        return marks

    def _forget_before(self, listings: list[_Listing], marks: dict[str, str],
                       newest: str | None) -> str | None:  # fmt: skip
        """The earliest time any region folder will be listed from next: what was read before
        it is never listed again."""
        starts = [
            self._start_of(marks.get(self._mark(listing.folder), listing.mark), newest)
            for listing in listings
        ]
        known = [s for s in starts if s is not None]
        return min(known).strftime(_STAMP) if known else None

    def _mark(self, folder: str) -> str:
        return folder[len(self._base) :]  # AWSLogs/<account>/CloudTrail/<region>/

    def _consumed_key(self, delivery: _Delivery) -> str:
        return f"{delivery.stamp} {delivery.key[len(self._base) :]}"

    def _waiting_for(self) -> str:
        if not self._folders:
            return f"CloudTrail's layout ({_LAYOUT_HINT}) under {self.name}"
        return f"new CloudTrail files in {len(self._folders)} region folders under {self.name}"


def _children(bucket: str, folder: str) -> list[str]:
    """The folders (common prefixes) right below `folder`."""
    pages = client("s3").get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=folder, Delimiter="/")  # fmt: skip
    return [p["Prefix"] for page in pages for p in page.get("CommonPrefixes", [])]


def _region_of(folder: str) -> tuple[str, str]:
    """(account, region) of a region folder `.../<account>/CloudTrail/<region>/`."""
    parts = folder.rstrip("/").split("/")
    return parts[-3], parts[-1]


def _delivery_stamp(folder: str) -> Callable[[str], str | None]:
    """For a region folder, a function from a key (relative to it) to its time, or None when it
    is not named as CloudTrail names its files there."""
    account, region = _region_of(folder)
    pattern = re.compile(rf"(\d{{4}})/(\d\d)/(\d\d)/{re.escape(account)}_CloudTrail_"
                         rf"{re.escape(region)}_(\d{{8}})(T\d{{4}}Z)_[^/]+")  # fmt: skip

    def stamp(key: str) -> str | None:
        match = pattern.fullmatch(key)
        # the day folder must be the day of the name, or key order would not be time order
        if match is None or "".join(match.group(1, 2, 3)) != match[4]:
            return None
        return match[4] + match[5]

    return stamp


def _key_at(folder: str, when: datetime) -> str:
    """The key (relative to a region folder) that its files from `when` on sort after."""
    account, region = _region_of(folder)
    return f"{when:%Y/%m/%d}/{account}_CloudTrail_{region}_{when.strftime(_STAMP)}"


def _stamp_in(key: str | None) -> str | None:
    """The time in a delivery's key (a mark), YYYYMMDDTHHMMZ."""
    match = _STAMP_IN_NAME.search(key.rsplit("/", 1)[-1]) if key else None
    return match[1] if match else None


def _time_of(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    try:
        return datetime.strptime(stamp, _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


def _etag(delivery: _Delivery) -> str:
    return plain_etag(delivery.item.get("ETag"))
