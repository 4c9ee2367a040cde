"""Running trailhound in-process over a folder of files, and the checks every property shares."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from click.testing import CliRunner, Result

from fuzz.strategies import UNSAFE
from trailhound.cli import main
from trailhound.cloudtrail.ecs_documents import to_documents
from trailhound.cloudtrail.geo import Enricher
from trailhound.cloudtrail.reader import read_events
from trailhound.cloudtrail.report import Report
from trailhound.escaping import json_bytes
from trailhound.pipeline.scan import scan
from trailhound.rules.loader import load_rules, shipped_pack_dir
from trailhound.rules.model import Rule
from trailhound.sources.files import open_local
from trailhound.state.store import Store

# A fixed "now" after every generated event, so that look-backs and history windows do not
# depend on the day the suite runs.
NOW = datetime(2026, 3, 3, tzinfo=UTC)
PREFIX = "trailhound: "


@contextmanager
def folder(files: Mapping[str, bytes]) -> Iterator[Path]:
    """A fresh temporary folder holding `files` (hypothesis runs many examples per test, so
    pytest's one tmp_path per test would mix them)."""
    path = Path(tempfile.mkdtemp(prefix="th-fuzz-"))
    try:
        for name, data in files.items():
            (path / name).write_bytes(data)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@cache
def enricher() -> Enricher:
    return Enricher.create()


@cache
def pack() -> tuple[Rule, ...]:
    return tuple(load_rules([shipped_pack_dir()]).rules)


@dataclass
class Normalized:
    ids: list[str]
    lines: list[bytes]  # what `trailhound normalize` writes, one document a line
    report: Report


def normalize(path: Path) -> Normalized:
    """What `trailhound normalize PATH` does, in-process: read, normalize, write JSON (as the
    command does, with `json_bytes`: integers of any size, unsafe characters escaped)."""
    report = Report()
    ids: list[str] = []
    lines: list[bytes] = []
    for batch in read_events([open_local(str(path))], enricher=enricher(), report=report):
        ids += [str(i) for i in batch.column("event.id").to_pylist()]
        lines += [json_bytes(doc) for doc in to_documents(batch)]
    return Normalized(ids, lines, report)


def alert_ids(path: Path, rules: Sequence[Rule] | None = None) -> set[str]:
    """The ids of the alerts a scan of `path` with fresh, in-memory state raises."""
    store = Store.open(None)
    try:
        result = scan([open_local(str(path))], rules or pack(), store=store,
                      enricher=enricher(), now=NOW)  # fmt: skip
    finally:
        store.close()
    return {a.id for a in result.alerts}


def cli(*args: str) -> Result:
    """The `trailhound` command, in-process, stdout and stderr apart."""
    return CliRunner().invoke(main, list(args), catch_exceptions=True)


def escaped_lines(stream: str, *, prefixed: bool) -> list[str]:
    """The lines of `stream` that hold a raw control or bidi character, or (`prefixed`) do
    not start with `trailhound: `: a line a file name or a record forged."""
    return [
        repr(line)
        for line in stream.split("\n")[:-1]
        if not UNSAFE.isdisjoint(line) or (prefixed and not line.startswith(PREFIX))
    ]


def raw_in_json(data: bytes) -> list[str]:
    """Control and bidi characters written raw in JSON lines (line breaks excepted)."""
    text = data.decode("utf-8", errors="replace")
    return sorted({repr(c) for c in text if c in UNSAFE and c != "\n"})
