"""Alerts into a file: JSON lines appended, or one JSON array.

A file gets each alert once. Before writing, the ids already in the file are read (an
earlier run may have written an alert and died before it could note that), and what is written
is flushed and fsynced before it counts as delivered. Anything that stops the write (a missing
folder, no permission, a full disk) leaves the alerts pending for the next run.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
from msgspec import Struct

from trailhound.errors import ConfigError
from trailhound.escaping import json_bytes
from trailhound.outputs.base import Pending, Report, min_severity, severity_rank

_ID = re.compile(rb'^\{"id":"([^"\\]*)"', re.MULTILINE)  # `Alert.to_dict()` puts the id first
_KNOWN_OPTIONS = {"type", "path", "min_severity"}


class JsonLinesFile(Struct, frozen=True):
    name: str
    path: Path
    least: int = 0  # minimum severity rank

    def wants(self, alert: Mapping[str, Any]) -> bool:
        return severity_rank(alert) >= self.least

    def deliver(self, pending: Sequence[Pending], report: Report) -> None:
        try:
            present = _ids_in(self.path)
            with self.path.open("ab") as file:
                for item in pending:
                    if item.alert_id not in present:
                        file.write(item.text + b"\n")
                file.flush()
                if stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                    # a device or a pipe has nothing to sync (fsync of /dev/null is EINVAL)
                    os.fsync(file.fileno())
        except OSError as err:
            _fail_all(pending, report, f"cannot write {self.path}: {err.strerror or err}")
            return
        for item in pending:
            report(item.alert_id, None)


class JsonFile(Struct, frozen=True):
    """One JSON array of every alert the file has received, replaced atomically."""

    name: str
    path: Path
    least: int = 0

    def wants(self, alert: Mapping[str, Any]) -> bool:
        return severity_rank(alert) >= self.least

    def deliver(self, pending: Sequence[Pending], report: Report) -> None:
        if not _regular_or_missing(self.path):
            self._stream(pending, report)
            return
        try:
            alerts = _existing_array(self.path)
        except ValueError as err:
            _fail_all(pending, report, str(err))
            return
        present = {a.get("id") for a in alerts if isinstance(a, dict)}
        alerts += [p.alert for p in pending if p.alert_id not in present]
        try:
            _replace(self.path.resolve(), json_bytes(alerts) + b"\n")
        except OSError as err:
            _fail_all(pending, report, f"cannot write {self.path}: {err.strerror or err}")
            return
        for item in pending:
            report(item.alert_id, None)


    def _stream(self, pending: Sequence[Pending], report: Report) -> None:
        """A device or a pipe (`/dev/null`, a FIFO) is written into, never replaced: renaming
        a file over /dev/null would put a regular file in its place for the whole machine.
        Nothing can be read back from it, so the array holds this delivery's alerts."""
        try:
            with self.path.open("wb") as file:
                file.write(json_bytes([p.alert for p in pending]) + b"\n")
        except OSError as err:
            _fail_all(pending, report, f"cannot write {self.path}: {err.strerror or err}")
            return
        for item in pending:
            report(item.alert_id, None)


def build_jsonl(name: str, options: Mapping[str, Any]) -> JsonLinesFile:
    return JsonLinesFile(name, _path(name, options), min_severity(name, options))


def build_json(name: str, options: Mapping[str, Any]) -> JsonFile:
    return JsonFile(name, _path(name, options), min_severity(name, options))


def _path(name: str, options: Mapping[str, Any]) -> Path:
    unknown = set(options) - _KNOWN_OPTIONS
    if unknown:
        raise ConfigError(f"unknown option {sorted(unknown)[0]!r} (known: path, min_severity)",
                          where=f"outputs.{name}.{sorted(unknown)[0]}")  # fmt: skip
    path = options.get("path")
    if not isinstance(path, str | Path) or not str(path):
        raise ConfigError("a file path is required", where=f"outputs.{name}.path")
    return Path(path).expanduser()


def _ids_in(path: Path) -> set[str]:
    """The alert ids a JSON lines file holds; a torn last line (a write cut short) is cut
    off, so that the next line starts cleanly. Anything but a regular file (a pipe, a device
    such as /dev/stdout) holds none that can be read back."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return set()
    except FileNotFoundError:
        return set()
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        keep = data.rfind(b"\n") + 1
        os.truncate(path, keep)
        data = data[:keep]
    return {m.group(1).decode() for m in _ID.finditer(data)}


def _regular_or_missing(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except FileNotFoundError:
        return True


def _existing_array(path: Path) -> list[Any]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as err:
        raise ValueError(f"cannot read {path}: {err.strerror or err}") from None
    try:
        found = orjson.loads(data) if data.strip() else []
    except orjson.JSONDecodeError:
        found = None
    if not isinstance(found, list):
        raise ValueError(f"{path} is not a JSON array of alerts; it was left as it is")
    return found


def _replace(path: Path, data: bytes) -> None:
    """Write a new file beside `path` and rename it over: a reader sees the old or the new."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def _fail_all(pending: Sequence[Pending], report: Report, reason: str) -> None:
    for item in pending:
        report(item.alert_id, reason)
