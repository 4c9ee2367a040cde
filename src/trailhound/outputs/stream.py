"""Alerts on standard output (or any text stream): a table for a person, JSON for a program.

An alert counts as delivered once the stream took it and was flushed. A reader that goes away
(`trailhound scan | head`) leaves the rest pending; a later run prints them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import orjson

from trailhound.errors import ConfigError
from trailhound.outputs.base import Pending, Report, min_severity, severity_rank

FORMATS = ("table", "jsonl", "json")
_FLUSH_EVERY = 64


@dataclass(frozen=True, slots=True)
class StreamOutput:
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
        writer = {"table": _table, "json": _array, "jsonl": _lines}[chosen]
        try:
            for done in writer(stream, pending):
                for item in pending[: done]:
                    report(item.alert_id, None)
                pending = pending[done:]
        except (BrokenPipeError, OSError, ValueError) as err:
            _after_broken_pipe(stream, err)
            reason = "the reader closed the output" if _closed(err) else f"cannot write: {err}"
            for item in pending:
                report(item.alert_id, reason)


def build(name: str, options: Mapping[str, Any]) -> StreamOutput:
    chosen = options.get("format")
    if chosen is not None and chosen not in FORMATS:
        raise ConfigError(f"format must be one of {', '.join(FORMATS)}",
                          where=f"outputs.{name}.format")  # fmt: skip
    return StreamOutput(name, lambda: sys.stdout, chosen, min_severity(name, options))


def _lines(stream: TextIO, pending: Sequence[Pending]) -> Any:
    """Yields how many of the remaining alerts are safely out, after each flush."""
    for start in range(0, len(pending), _FLUSH_EVERY):
        chunk = pending[start : start + _FLUSH_EVERY]
        stream.write("".join(orjson.dumps(p.alert).decode() + "\n" for p in chunk))
        stream.flush()
        yield len(chunk)


def _array(stream: TextIO, pending: Sequence[Pending]) -> Any:
    stream.write(orjson.dumps([p.alert for p in pending]).decode() + "\n")
    stream.flush()
    yield len(pending)


def _table(stream: TextIO, pending: Sequence[Pending]) -> Any:
    # rich loads only when a table is drawn: a scan writing JSON never draws one
    from rich.console import Console

    from trailhound.alerts.render import alerts_table

    console = Console(file=stream, width=None if _isatty(stream) else 160)
    console.print(alerts_table([p.alert for p in pending]))
    stream.flush()
    yield len(pending)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _closed(err: BaseException) -> bool:
    return isinstance(err, BrokenPipeError) or "closed file" in str(err)


def _after_broken_pipe(stream: TextIO, err: BaseException) -> None:
    """Point standard output at /dev/null once its reader left, so that Python's own flush at
    exit does not fail a second time with a traceback."""
    if isinstance(err, BrokenPipeError) and stream is sys.stdout:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
