"""Fetching the next blobs while this one is read, for blobs that wait on the network.

An S3 object takes tens of milliseconds before its first byte arrives, and a trail's bucket
holds one small object per account, region and five minutes: read one after another, a
scan of a bucket waits on the network far longer than it works. A blob whose source says
it is `remote` is fetched whole in a thread, up to `AHEAD_BLOBS` of them (and `AHEAD_BYTES`
as stored) ahead of the reader, which then reads it from memory, in the same order. A fetch
that fails gives, when read, what it read before the failure and then the same error, so
the reader reports it where it would have.
"""

from __future__ import annotations

import io
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from functools import partial
from typing import TYPE_CHECKING, BinaryIO, cast

from msgspec import Struct, structs

from trailhound.sources import Blob

if TYPE_CHECKING:  # imported when a remote blob comes: a scan of files never needs threads
    from concurrent.futures import Future, ThreadPoolExecutor

AHEAD_BLOBS = 16
"""Blobs fetched at once: enough to hide S3's first-byte latency behind a reader that takes
a few milliseconds a small object, few enough that a worker holds little."""
AHEAD_BYTES = 16 << 20
"""Stored bytes held ahead at most, so that large objects are not all held at once."""
_PIECE = 1 << 20


class _Fetched(Struct, frozen=True):
    """A blob's bytes, and the error that stopped its fetch (None: read to its end)."""

    data: bytes
    error: BaseException | None


def fetched_ahead(
    blobs: Iterable[Blob], ahead: int = AHEAD_BLOBS, ahead_bytes: int = AHEAD_BYTES
) -> Iterator[Blob]:
    """`blobs` in order, the remote ones fetched ahead in threads and read from memory."""
    pool: ThreadPoolExecutor | None = None
    window: deque[tuple[Blob, Future[_Fetched] | None]] = deque()
    held = 0
    try:
        for blob in blobs:
            if not blob.remote and not window:
                yield blob  # nothing in flight to keep the order behind
                continue
            if blob.remote and pool is None:
                from concurrent.futures import ThreadPoolExecutor

                pool = ThreadPoolExecutor(ahead, thread_name_prefix="fetch")
            fetch = pool.submit(_fetch, blob) if blob.remote and pool is not None else None
            window.append((blob, fetch))
            held += blob.size or 0
            while window and (len(window) >= ahead or held >= ahead_bytes):
                held -= window[0][0].size or 0
                yield _taken(*window.popleft())
        while window:
            yield _taken(*window.popleft())
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _taken(blob: Blob, fetch: Future[_Fetched] | None) -> Blob:
    if fetch is None:
        return blob
    return structs.replace(blob, opener=partial(_replay, fetch.result()), portable=False)


def _fetch(blob: Blob) -> _Fetched:
    pieces: list[bytes] = []
    try:
        with blob.opener() as stream:
            while piece := stream.read(_PIECE):
                pieces.append(piece)
    except Exception as exc:  # given back where the reader reads, as reading it there would
        return _Fetched(b"".join(pieces), exc)
    return _Fetched(pieces[0] if len(pieces) == 1 else b"".join(pieces), None)


def _replay(fetched: _Fetched) -> AbstractContextManager[BinaryIO]:
    return cast(AbstractContextManager[BinaryIO], _Replayed(fetched))


class _Replayed(io.BytesIO):
    """The fetched bytes, then the fetch's error, if it had one."""

    def __init__(self, fetched: _Fetched) -> None:
        super().__init__(fetched.data)
        self._error = fetched.error

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        if not data and size != 0 and self._error is not None:
            raise self._error
        return data
