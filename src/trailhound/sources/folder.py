"""A local folder followed by `trailhound watch`: new files, and files that grew.

A file is known by its path; its version is its size and modification time. A new file is
read whole, except that a file of JSON lines (NDJSON, as a log shipper writes it) is read up to
its last complete line, and, when it grows, from where the last step stopped. Any other file
that changed (a gzip file rewritten) is read whole again. Write files into the folder under a
hidden name (a leading dot) and rename them when complete: hidden names are never read, and a
rename is atomic.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from io import BytesIO
from typing import BinaryIO

import orjson

from trailhound.sources import GZIP_MAGIC, Blob, SourceProblem
from trailhound.sources.files import LocalPath
from trailhound.sources.polling import Consumed, Cursor, Poll, delivery_stamp

_TAIL_READ = 1 << 20


def open_folder(spec: str) -> Folder:
    return Folder(spec.removeprefix("file://"))


@dataclass(frozen=True, slots=True)
class Folder:
    path: str

    @property
    def name(self) -> str:
        return os.path.abspath(self.path)

    def poll(self, cursor: Cursor) -> Poll:
        found = list(LocalPath(self.path).blobs())
        files = [b for b in found if isinstance(b, Blob)]
        known = cursor.versions(b.name for b in files)
        poll = Poll(blobs=[p for p in found if isinstance(p, SourceProblem)])
        for blob in files:
            seen = known.get(blob.name)
            try:
                stat = os.stat(blob.name)
            except OSError:
                poll.blobs.append(blob)  # reading it will say what is wrong
                continue
            version = _version(stat.st_size, stat.st_mtime_ns)
            if seen == version:
                continue
            piece = _new_part(blob, seen, stat.st_size)
            if piece is None:
                continue
            poll.blobs.append(piece[0])
            poll.consumed.append(Consumed(blob.name, _version(piece[1], stat.st_mtime_ns)))
            poll.delivered = max(filter(None, (poll.delivered, _delivered(blob.name, stat))))
        poll.waiting_for = f"new files in {self.path}"
        return poll


def _delivered(path: str, stat: os.stat_result) -> datetime:
    """When a file was delivered: the stamp in a CloudTrail file name, else when the file
    was last written."""
    return delivery_stamp(path) or datetime.fromtimestamp(stat.st_mtime, UTC)


def _version(size: int, mtime_ns: int) -> str:
    return f"{size}:{mtime_ns}"


def _new_part(blob: Blob, seen: str | None, size: int) -> tuple[Blob, int] | None:
    """The blob to read now and the size it accounts for: the whole file, or what a plain
    file gained since `seen` up to its last complete line (None: nothing complete yet)."""
    start = int(seen.split(":")[0]) if seen else 0
    if size <= start or _is_gzip(blob.name) or not _line_delimited(blob.name):
        return blob, size
    end = _last_line_end(blob.name, start, size)
    if end <= start:
        return None
    if start == 0 and end == size:
        return blob, size
    opener = partial(_read_range, blob.name, start, end)
    return Blob(f"{blob.name}@{start}", opener, portable=True, size=end - start), end


def _line_delimited(path: str) -> bool:
    """Whether the file holds a JSON value per line (its first line is one whole): only then
    may a step read up to its last complete line and leave the rest for the next step. A
    pretty-printed document's first line (`{`) is not whole."""
    try:
        with open(path, "rb") as file:
            first = file.readline(_TAIL_READ)
    except OSError:
        return False
    if not first.endswith(b"\n"):
        return False
    try:
        orjson.loads(first)
    except orjson.JSONDecodeError:
        return False
    return True


def _is_gzip(path: str) -> bool:
    try:
        with open(path, "rb") as file:
            return file.read(2) == GZIP_MAGIC
    except OSError:
        return False


def _last_line_end(path: str, start: int, size: int) -> int:
    """The offset just after the last newline in [start, size); `start` when there is none."""
    with open(path, "rb") as file:
        end = size
        while end > start:
            step = max(start, end - _TAIL_READ)
            file.seek(step)
            chunk = file.read(end - step)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                return step + newline + 1
            end = step
    return start


def _read_range(path: str, start: int, end: int) -> AbstractContextManager[BinaryIO]:
    with open(path, "rb") as file:
        file.seek(start)
        data = file.read(end - start)
    return BytesIO(data)
