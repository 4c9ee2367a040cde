"""Local files: a file, a directory (recursive), a glob, or `-` for standard input.

Directories are walked depth first in sorted order, so two runs over the same tree read the
same files in the same order. Hidden entries (names starting with a dot) inside a walked
directory are left out: they are editor, VCS and OS litter, never CloudTrail deliveries. A file
named explicitly is always read.
"""

from __future__ import annotations

import glob
import os
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import BinaryIO

from msgspec import Struct

from trailhound.sources import Blob, Source, SourceProblem

STDIN = "-"
STDIN_NAME = "<stdin>"
_GLOB_CHARS = frozenset("*?[")


def open_local(spec: str) -> Source:
    """The registered opener for plain paths, `file://` URLs, globs and `-`."""
    return LocalPath(spec.removeprefix("file://"))


class LocalPath(Struct, frozen=True):
    spec: str

    def blobs(self) -> Iterator[Blob | SourceProblem]:
        if self.spec == STDIN:
            yield Blob(STDIN_NAME, _stdin)
        elif _GLOB_CHARS.intersection(self.spec):
            yield from _glob(self.spec)
        else:
            yield from _path(self.spec)


def _stdin() -> AbstractContextManager[BinaryIO]:
    # nullcontext: reading stdin must not close it for whoever reads it next
    return nullcontext(sys.stdin.buffer)


def _glob(pattern: str) -> Iterator[Blob | SourceProblem]:
    matches = sorted(glob.glob(pattern, recursive=True))
    if not matches:
        yield SourceProblem(pattern, "no file matches this pattern")
    for match in matches:
        yield from _path(match)


def _path(path: str) -> Iterator[Blob | SourceProblem]:
    if os.path.isdir(path):
        yield from _walk(path)
    elif os.path.lexists(path):
        yield _file(path)
    else:
        yield SourceProblem(path, "no such file or directory")


def _walk(top: str) -> Iterator[Blob | SourceProblem]:
    problems: list[SourceProblem] = []

    def on_error(exc: OSError) -> None:
        problems.append(SourceProblem(exc.filename or top, f"cannot list ({exc.strerror})"))

    for folder, dirs, files in os.walk(top, onerror=on_error):
        yield from problems
        problems.clear()
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield _file(os.path.join(folder, name))
    yield from problems


def _file(path: str) -> Blob:
    try:
        size: int | None = os.path.getsize(path)
    except OSError:
        size = None  # reading it will say what is wrong
    return Blob(path, _Opener(path), portable=True, size=size)


_READ_ONLY = os.O_RDONLY | getattr(os, "O_BINARY", 0)  # Windows reads text mode without it


class _Opener(Struct, frozen=True):
    """A local file's opener (picklable: a worker opens it by its path), which also reads a
    small one whole by bare system calls (`sources.AtOnce`)."""

    path: str

    def __call__(self) -> BinaryIO:
        # unbuffered: a blob is read in a few large reads, and a buffer object and a `Path` per
        # file cost more than the read of a small one
        return open(self.path, "rb", buffering=0)

    def read_at_once(self, most: int) -> bytes:
        # a file object costs ~2 µs more than the three calls it makes (it asks `fstat` too)
        handle = os.open(self.path, _READ_ONLY)
        try:
            return os.read(handle, most)
        finally:
            os.close(handle)
