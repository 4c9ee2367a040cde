"""Alerts on standard output (or any text stream): a table for a person, JSON for a program.

An alert counts as delivered once the stream took it and was flushed, and, when the stream is
a pipe, once the reader has read it: bytes left in the pipe when its reader goes away
(`trailhound scan | head`) were never seen by anyone. What the reader did not take stays
pending, and a later run prints it.
"""

from __future__ import annotations

import array
import fcntl
import os
import select
import stat
import sys
import termios
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TextIO

from msgspec import Struct

from trailhound.errors import ConfigError
from trailhound.outputs.base import Pending, Report, min_severity, severity_rank

FORMATS = ("table", "jsonl", "json")
_FLUSH_EVERY = 64
_POLL_MS = 50


class StreamOutput(Struct, frozen=True):
    name: str
    open_stream: Callable[[], TextIO]
    format: str | None = None  # None: a table on a terminal, JSON lines otherwise
    least: int = 0

    def wants(self, alert: Mapping[str, Any]) -> bool:
        return severity_rank(alert) >= self.least

    def deliver(self, pending: Sequence[Pending], report: Report) -> None:
        if not pending:
            return
        try:
            stream = self.open_stream()
        except OSError as err:
            for item in pending:
                report(item.alert_id, f"cannot open the output: {err.strerror or err}")
            return
        chosen = self.format or ("table" if _isatty(stream) else "jsonl")
        pieces = {"table": _table, "json": _array, "jsonl": _lines}[chosen]
        reason = None
        for data, sizes in pieces(stream, pending):
            try:
                taken = _taken(sizes, *_write(stream, data))
            except (OSError, ValueError) as err:
                taken, reason = 0, f"cannot write: {err}"
            for item in pending[:taken]:
                report(item.alert_id, None)
            pending = pending[taken:]
            if taken < len(sizes):
                break
        for item in pending:
            report(item.alert_id, reason or "the reader closed the output")


def build(name: str, options: Mapping[str, Any]) -> StreamOutput:
    chosen = options.get("format")
    if chosen is not None and chosen not in FORMATS:
        raise ConfigError(f"format must be one of {', '.join(FORMATS)}",
                          where=f"outputs.{name}.format")  # fmt: skip
    return StreamOutput(name, lambda: sys.stdout, chosen, min_severity(name, options))


# Alerts as the pieces to write, each with the size in bytes of each of its alerts, in order
# (a piece that cannot be split counts all its bytes on its first alert).
Piece = tuple[bytes, list[int]]


def _lines(stream: TextIO, pending: Sequence[Pending]) -> Iterator[Piece]:
    for start in range(0, len(pending), _FLUSH_EVERY):
        lines = [p.text + b"\n" for p in pending[start : start + _FLUSH_EVERY]]
        yield b"".join(lines), [len(line) for line in lines]


def _array(stream: TextIO, pending: Sequence[Pending]) -> Iterator[Piece]:
    data = b"[" + b",".join(p.text for p in pending) + b"]\n"  # as json_bytes of the list
    yield data, _whole(len(pending), len(data))


def _table(stream: TextIO, pending: Sequence[Pending]) -> Iterator[Piece]:
    # rich loads only when a table is drawn: a scan writing JSON never draws one
    from rich.console import Console

    from trailhound.alerts.render import alerts_table

    console = Console(file=stream, width=None if _isatty(stream) else 160)
    with console.capture() as captured:
        console.print(alerts_table([p.alert for p in pending]))
    data = captured.get().encode()
    yield data, _whole(len(pending), len(data))


def _whole(count: int, size: int) -> list[int]:
    """Sizes for a piece that is taken whole or not at all: every byte on the first alert."""
    return [size] + [0] * (count - 1)


def _write(stream: TextIO, data: bytes) -> tuple[int, int]:
    """Write `data`; returns how many bytes the stream accepted (fewer when a pipe's reader
    left) and how many of those a pipe's reader left unread."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        stream.write(data.decode())  # not a file (a test's StringIO): taken as written
        stream.flush()
        return len(data), 0
    stream.flush()
    written = 0
    try:
        while written < len(data):
            written += os.write(fd, data[written:])
    except BrokenPipeError:
        _silence(stream)
        unread = _bytes_in_pipe(fd)
        # once the pipe is gone the kernel may not say what was left in it: count it all
        # unread (the next run shows some alerts again rather than none lost)
        return written, written if unread is None else unread
    if hasattr(os, "fsync") and stat.S_ISREG(os.fstat(fd).st_mode):
        os.fsync(fd)
    return written, _unread_when_drained_or_left(fd)


def _taken(sizes: list[int], accepted: int, unread: int) -> int:
    """How many alerts (by their sizes) the reader has taken whole."""
    taken, consumed = 0, accepted - unread
    for size in sizes:
        if size > consumed:
            break
        consumed -= size
        taken += 1
    return taken


def _unread_when_drained_or_left(fd: int) -> int:
    """For a pipe: wait until the reader has read everything (0) or has gone away (the bytes
    it left unread). Anything else takes what is written (0)."""
    if not stat.S_ISFIFO(os.fstat(fd).st_mode):
        return 0
    poller = select.poll()
    poller.register(fd, select.POLLERR)
    while _bytes_in_pipe(fd) and not poller.poll(_POLL_MS):
        pass
    unread = _bytes_in_pipe(fd)
    return 0 if unread is None else unread


def _bytes_in_pipe(fd: int) -> int | None:
    """Bytes written to the pipe and not read yet; None when the kernel will not say."""
    count = array.array("i", [0])
    try:
        fcntl.ioctl(fd, termios.FIONREAD, count)
    except OSError:
        return None
    return count[0]


def _silence(stream: TextIO) -> None:
    """Point standard output at /dev/null once its reader left, so that Python's own flush at
    exit does not fail a second time with a traceback."""
    if stream is sys.stdout:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
