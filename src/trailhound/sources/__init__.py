"""Where bytes come from: named blobs from files today, S3, SQS and Lambda later.

A source turns what the user typed (`logs/`, `-`, later `s3://bucket/prefix`) into a stream of
`Blob`s, each a named stream of bytes, decompressed when it is gzip (recognized by its magic
bytes, never by its name). Problems that stop a blob from being found at all (a glob that matches
nothing, a directory that cannot be listed) come out of the same stream as `SourceProblem`s, so
one bad path never stops the others.

Adding a source is one module with a function `open_xxx(spec: str) -> Source` and one line in
`_OPENERS` below, keyed by the URL scheme it serves.
"""

from __future__ import annotations

import importlib
import os
import stat
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from functools import cache
from typing import BinaryIO, Protocol, cast

from msgspec import Struct

from trailhound.errors import InputError

GZIP_MAGIC = b"\x1f\x8b"
READ_SIZE = 1 << 20
"""Bytes read from a source, and at most bytes inflated, per step."""
_INFLATE_STEP = 64 << 10
_INFLATE_PIECE = 16 << 10  # at most this much inflated data is lost with damage


class BlobError(Exception):
    """Reading a blob stopped early. Everything yielded before it was read cleanly."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Truncated(BlobError):
    """The gzip stream ends before its end marker: the file was cut short."""


class Corrupt(BlobError):
    """The gzip stream holds bytes that do not inflate, or fail their checksum."""


class Unreadable(BlobError):
    """The operating system refused to open or read the blob."""


class Blob(Struct, frozen=True):
    """One named stream of bytes: a file, stdin, later an S3 object or an SQS message.

    `ingested` is when the source says the data arrived (an S3 object's time); None means the
    reader stamps it with the time it read it. `portable` says that another process can read
    the blob by itself (a file, an object store key: yes; standard input: no), which requires
    the opener to be picklable. `size` lets work be shared out by volume. `remote` says that
    opening it waits on the network (an S3 object), so that readers fetch such blobs ahead.
    """

    name: str
    opener: Callable[[], AbstractContextManager[BinaryIO]]
    ingested: datetime | None = None
    portable: bool = False
    size: int | None = None  # bytes as stored (compressed), when the source knows it
    remote: bool = False

    def chunks(self, largest: int = READ_SIZE) -> Iterator[bytes]:
        """The blob's content in pieces, inflated if it starts with the gzip magic bytes.

        `largest` is the most a caller takes in one piece: a small gzip file whose trailer
        promises no more comes inflated in one step (a caller holding whole files passes its
        own bound, and is spared the stepping and the joining of files just over a step).
        Raises a `BlobError` after the last clean piece when the blob cannot be read to its end.
        """
        try:
            with self.opener() as stream:
                yield from _content(stream, max(largest, READ_SIZE), self.size)
        except OSError as exc:
            raise Unreadable(_os_reason(exc)) from exc

    def whole(self, largest: int = READ_SIZE) -> bytes | None:
        """The blob's content in one piece, as `chunks(largest)` gives it, when a small file
        gives it at once: its opener reads it by one system call (`AtOnce`, a local file's) and
        it is plain, or one sound gzip member whose trailer promises no more than `largest`,
        inflated in one call. None for anything else and for any error: `chunks` then reads it
        step by step and raises what it finds. Through `chunks`, the file object and the steps
        cost a bucket's small files ~5 µs each over the reading and inflating (~32)."""
        read_at_once = getattr(self.opener, "read_at_once", None)  # `AtOnce`'s
        size = self.size
        if read_at_once is None or size is None or not 0 < size < READ_SIZE:
            return None
        try:
            data: bytes = read_at_once(size + 1)
        except OSError:
            return None
        if len(data) != size:  # changed since it was listed: `chunks` reads it as it is now
            return None
        if not data.startswith(GZIP_MAGIC):
            return data
        if int.from_bytes(data[-4:], "little") > max(largest, READ_SIZE):
            return None
        return _inflated_at_once(data)


class AtOnce(Protocol):
    """An opener that also reads a small file's bytes by one open, read and close, with no
    file object (`Blob.whole`)."""

    def read_at_once(self, most: int) -> bytes:
        """At most `most` bytes from the start; raises `OSError` as opening would."""
        ...


class SourceProblem(Struct, frozen=True):
    """A path or pattern that yields no blob, with the reason."""

    name: str
    reason: str


class Source(Protocol):
    """Anything that yields blobs to read, in a stable order."""

    def blobs(self) -> Iterator[Blob | SourceProblem]: ...


# URL scheme -> "module:function" building a Source from the user's spec. Imported on first
# use, so that a source's optional dependencies (boto3 for s3://) load only when asked for.
_OPENERS: dict[str, str] = {
    "file": "trailhound.sources.files:open_local",
    "s3": "trailhound.sources.s3:open_s3",
}


def scheme_of(spec: str) -> str:
    """`s3` for `s3://bucket/key`; `file` for plain paths, globs and `-`."""
    head, sep, _ = spec.partition("://")
    # one letter is a Windows drive (C://x), not a scheme
    if sep and len(head) > 1 and head.isascii() and head.replace("+", "").isalnum():
        return head.lower()
    return "file"


def open_source(spec: str) -> Source:
    """The source for one spec typed by the user. Raises InputError for an unknown scheme."""
    scheme = scheme_of(spec)
    target = _OPENERS.get(scheme)
    if target is None:
        known = ", ".join(sorted(_OPENERS))
        raise InputError(f"no source reads {scheme}:// (known: {known})", where=spec)
    module_name, _, function = target.partition(":")
    opener: Callable[[str], Source] = getattr(importlib.import_module(module_name), function)
    return opener(spec)


def open_sources(specs: Iterable[str]) -> list[Source]:
    return [open_source(s) for s in specs]


def _content(stream: BinaryIO, largest: int, size: int | None) -> Iterator[bytes]:
    first = stream.read(_first_read(stream, size))
    if first.startswith(GZIP_MAGIC):
        yield from _gunzip(first, stream, largest)
        return
    while first:
        yield first
        first = stream.read(READ_SIZE)


def _first_read(stream: BinaryIO, size: int | None) -> int:
    """How many bytes to read first: all of a small regular file. A read of READ_SIZE
    allocates that much and shrinks it to what came, which cost more than the read itself
    (about 20 µs a file, most of a small file's reading). One byte more than its size, so
    that a file which grew since is seen to go on, and read on. The size its source listed
    (`size`) spares asking the system again: a bucket of small files paid a sixth of its
    system calls for that `fstat`; a file that changed since is read on, or ends, as any."""
    if size is not None and 0 < size < READ_SIZE:
        return size + 1
    try:
        status = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):  # no file behind it: a pipe, S3, a buffer
        return READ_SIZE
    if not stat.S_ISREG(status.st_mode) or not 0 < status.st_size < READ_SIZE:
        return READ_SIZE
    return status.st_size + 1


class _Inflater(Protocol):
    @property
    def eof(self) -> bool: ...
    @property
    def unused_data(self) -> bytes: ...
    @property
    def unconsumed_tail(self) -> bytes: ...
    def decompress(self, data: bytes | memoryview, /, max_length: int = 0) -> bytes: ...


@cache
def _inflater_kind() -> tuple[Callable[[], _Inflater], tuple[type[Exception], ...]]:
    """isal inflates about 2.5x faster than zlib; zlib is the fallback when isal is absent."""
    try:
        from isal import isal_zlib
    except ImportError:  # pragma: no cover - isal is a declared dependency
        return (lambda: zlib.decompressobj(wbits=31)), (zlib.error,)
    isal_error = cast(type[Exception], isal_zlib.error)  # the stub types it as an instance
    return (lambda: isal_zlib.decompressobj(wbits=31)), (isal_error,)


def _gunzip(first: bytes, stream: BinaryIO, largest: int) -> Iterator[bytes]:
    """Inflate gzip members one after another (concatenated .gz files are legal)."""
    # the whole file is in hand, and its trailer says it inflates to one piece at most
    if len(first) < READ_SIZE and int.from_bytes(first[-4:], "little") <= largest:
        whole = _inflated_at_once(first)
        if whole is not None:
            yield whole
            return
    new_inflater = _inflater_kind()[0]
    inflater = new_inflater()
    pending = memoryview(first)
    member = _Member()
    while True:
        if not pending:
            pending = memoryview(stream.read(READ_SIZE))
            if not pending:
                break
        # small input steps: when the data turns out damaged, only the last step's output is
        # lost with the error (and is then salvaged, below)
        step, pending = pending[:_INFLATE_STEP], pending[_INFLATE_STEP:]
        member.took(step)
        try:
            for out in _inflate(inflater, step):
                member.gave += len(out)
                yield out
        except Corrupt:
            yield from member.salvaged()
            raise
        if inflater.eof:
            rest = inflater.unused_data + bytes(pending) or stream.read(READ_SIZE)
            if not rest:
                return
            if not rest.startswith(GZIP_MAGIC):
                raise Corrupt("unexpected bytes after the end of the gzip data")
            inflater, pending, member = new_inflater(), memoryview(rest), _Member()
    raise Truncated("gzip data ends early: the file was cut short")


class _Member:
    """One gzip member's compressed bytes so far (up to a bound) and how much of its content
    was handed on: when damage stops the fast inflater, which drops what its last call
    inflated, the stdlib's inflater goes over the member again in small steps to give back
    what lay before the damage."""

    _KEPT = 16 << 20

    def __init__(self) -> None:
        self.data: bytearray | None = bytearray()
        self.gave = 0

    def took(self, step: memoryview) -> None:
        if self.data is not None:
            self.data += step
            if len(self.data) > self._KEPT:
                self.data = None  # too large to go over again: the last piece stays lost

    def salvaged(self) -> Iterator[bytes]:
        if self.data is None:
            return
        inflater = zlib.decompressobj(wbits=31)
        out = bytearray()
        try:
            # tiny steps: a call that meets the damage drops all it inflated
            for at in range(0, len(self.data), 16):
                out += inflater.decompress(bytes(self.data[at : at + 16]))
                if len(out) >= self.gave + READ_SIZE:  # more than was lost: damage ahead
                    break
        except zlib.error:
            pass
        if len(out) > self.gave:
            yield bytes(out[self.gave : self.gave + READ_SIZE])


def _inflated_at_once(data: bytes) -> bytes | None:
    """The content of a small, sound, single-member gzip file, inflated in one step (stepping
    through it costs a fifth more); None for anything else, which the step-by-step inflation
    then reads as far as it can and reports on."""
    size = int.from_bytes(data[-4:], "little")
    whole = _whole_inflater()
    if whole is not None:
        return _inflated_whole(whole, data, size)
    new_inflater, inflate_errors = _inflater_kind()
    errors: tuple[type[Exception], ...] = (*inflate_errors, ValueError)
    inflater = new_inflater()
    try:
        # the trailer's size bounds the output: a lying trailer leaves the stream unfinished
        out = inflater.decompress(data, max(1, size))
    except errors:
        return None
    if not inflater.eof or inflater.unused_data or inflater.unconsumed_tail:
        return None
    return out


class _WholeInflater(Protocol):
    @property
    def eof(self) -> bool: ...
    @property
    def unused_data(self) -> bytes: ...
    def decompress(self, data: bytes, /, max_length: int = -1) -> bytes: ...


@cache
def _whole_inflater() -> tuple[Callable[[], _WholeInflater], tuple[type[Exception], ...]] | None:
    """isal's `IgzipDecompressor`, which makes its output `max_length` long at once (up to
    16 MB; a small file's trailer asks for far less): a `decompressobj` starts at 16 kB and
    doubles, each growth a copy of what it holds (on glibc's heap, blocks under the workers'
    8 MB threshold for mapping are moved), about the file's whole text again. None without
    isal."""
    try:
        from isal import igzip_lib
    except ImportError:  # pragma: no cover - isal is a declared dependency
        return None
    isal_error = cast(type[Exception], igzip_lib.IsalError)  # the stub types it as an instance
    errors = (isal_error, ValueError, EOFError)
    return (lambda: igzip_lib.IgzipDecompressor(flag=igzip_lib.DECOMP_GZIP)), errors


def _inflated_whole(
    kind: tuple[Callable[[], _WholeInflater], tuple[type[Exception], ...]], data: bytes, size: int
) -> bytes | None:
    """`_inflated_at_once` by isal's one-piece inflater: room for one byte more than the
    trailer says, so that a trailer too small leaves the stream unfinished (and one too large
    fails the trailer's check); a second member or any bytes after the first are unused."""
    new, errors = kind
    inflater = new()
    try:
        out = inflater.decompress(data, size + 1)
    except errors:
        return None
    if not inflater.eof or inflater.unused_data:
        return None
    return out


def _inflate(inflater: _Inflater, data: memoryview) -> Iterator[bytes]:
    """Inflates `data` in pieces of about READ_SIZE (so a gzip bomb never inflates more than
    that at once). An inflater that meets damage raises and drops what that call inflated,
    and damage that garbles a deflate stream without breaking it is only found by the
    checksum at its very end: so each call inflates a small piece, and what came before the
    damage is handed on before the error."""
    errors: tuple[type[Exception], ...] = (*_inflater_kind()[1], ValueError)
    tail: bytes | memoryview = data
    pieces: list[bytes] = []
    size = 0
    try:
        while not inflater.eof:
            out = inflater.decompress(tail, _INFLATE_PIECE)
            if not out and not tail:
                break  # all input used, and nothing more held back for want of room
            pieces.append(out)
            size += len(out)
            if size >= READ_SIZE:
                yield b"".join(pieces)
                pieces, size = [], 0
            tail = inflater.unconsumed_tail
    except errors as exc:
        if size:
            yield b"".join(pieces)
        raise Corrupt(f"gzip data is corrupt ({_short(exc)})") from exc
    if size:
        yield b"".join(pieces)


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text.split(" ", 2)[-1] if text.startswith("Error ") else text


def _os_reason(exc: OSError) -> str:
    return exc.strerror.lower() if exc.strerror else str(exc)
