"""`userAgent` -> ECS `user_agent.*`, shaped as Elasticsearch's `user_agent` processor shapes it.

Parsing uses `ua-parser` (the uap-core regexes Elasticsearch also ships). Elasticsearch's
conventions on top: the client name is `Other` and the device `Other` when nothing matches,
versions join the parts that exist with dots, and `os.full` is the OS name and version.
Parsing one string takes a fraction of a millisecond while a trail repeats a handful of user
agents millions of times, so results are cached per string.

Before the first string can be parsed, importing the parser and compiling its patterns costs
about 0.09 s of CPU, more than the rest of a small scan's own work. Compiled patterns cannot be
kept between runs (a pickled `re.Pattern` is compiled again when loaded), so what is kept is
the answers: the user agents parsed before, in `$XDG_CACHE_HOME/trailhound/useragents-*.json`,
named by a digest of this module and of the parser's and its patterns' files. A run that sees
only known strings never loads the parser. A file that is damaged, foreign or of another
layout is ignored and written again; a folder that cannot be written only means no file;
deleting it is always safe.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from pathlib import Path
from typing import Any, Final, Protocol

from msgspec import Struct
from msgspec.structs import astuple

from trailhound.userdirs import cache_folder, write_cache_file

UNKNOWN: Final = "Other"
_LAYOUT: Final = 1  # bump when the file's shape changes
_ALWAYS_WRITTEN: Final = 64  # up to this many new answers, each is written at once
_KEPT: Final = 4_096  # answers the file holds at most: reading it stays a millisecond or two
_LONGEST: Final = 1_024  # longer strings (hostile or odd) are parsed each run, never kept


class _Versioned(Protocol):
    @property
    def major(self) -> str | None: ...
    @property
    def minor(self) -> str | None: ...
    @property
    def patch(self) -> str | None: ...
    @property
    def patch_minor(self) -> str | None: ...


class UserAgentInfo(Struct, frozen=True):
    name: str
    version: str | None
    os_name: str | None
    os_version: str | None
    os_full: str | None
    device_name: str


class UserAgentParser:
    """Parses user agents, remembering up to `max_entries` distinct strings."""

    def __init__(self, max_entries: int = 20_000) -> None:
        self._max_entries = max_entries
        self._cache: dict[str, UserAgentInfo] = {}
        self._known: dict[str, UserAgentInfo] | None = None  # the file's, read at first need
        self._file: Path | None = None
        self._learned = 0  # answers added to `_known` by this process

    def warm_up(self) -> None:
        """Read the known answers and load the patterns now, not at the first user agent."""
        self._known_answers()
        _parse("")

    def parse(self, original: str) -> UserAgentInfo:
        found = self._cache.get(original)
        if found is None:
            if len(self._cache) >= self._max_entries:
                self._cache.clear()
            found = self._cache[original] = self._answer(original)
        return found

    def _answer(self, original: str) -> UserAgentInfo:
        known = self._known_answers()
        found = known.get(original)
        if found is None:
            found = _parse(original)
            if len(known) < _KEPT and len(original) <= _LONGEST:
                known[original] = found
                self._learned += 1
                if self._learned <= _ALWAYS_WRITTEN or self._learned & (self._learned - 1) == 0:
                    _write_known(self._known_file(), known)  # then at doublings: linear cost
        return found

    def _known_answers(self) -> dict[str, UserAgentInfo]:
        if self._known is None:
            self._known = _read_known(self._known_file())
        return self._known

    def _known_file(self) -> Path:
        if self._file is None:
            self._file = _known_file()
        return self._file


def _parse(original: str) -> UserAgentInfo:
    # imported at the first user agent (with yaml, 25 ms): most of a scan's processes see none
    import ua_parser

    # a lone surrogate (JSON allows one) would make the parser's UTF-8 encoding raise: it reads a
    # "?" in its place
    result = ua_parser.parse(original.encode("utf-8", "replace").decode("utf-8"))
    agent, system, device = result.user_agent, result.os, result.device
    os_name = system.family if system is not None and system.family != UNKNOWN else None
    os_version = _version(system) if os_name is not None and system is not None else None
    return UserAgentInfo(
        name=agent.family if agent is not None else UNKNOWN,
        version=_version(agent) if agent is not None else None,
        os_name=os_name,
        os_version=os_version,
        os_full=f"{os_name} {os_version}" if os_name and os_version else None,
        device_name=device.family if device is not None else UNKNOWN,
    )


def _version(parts: _Versioned) -> str | None:
    present: list[str] = []
    for part in (parts.major, parts.minor, parts.patch, parts.patch_minor):
        if not part:
            break
        present.append(part)
    return ".".join(present) or None


def _known_file() -> Path:
    """This code's and the parser's file of known answers."""
    digest = hashlib.sha256(f"{_LAYOUT}\0".encode())
    digest.update(Path(__file__).read_bytes())
    for package in ("ua_parser", "ua_parser_builtins"):
        spec = importlib.util.find_spec(package)
        for folder in (spec.submodule_search_locations or []) if spec else []:
            for name in sorted(os.listdir(folder)):
                if name.endswith(".py"):
                    stat = os.stat(os.path.join(folder, name))
                    digest.update(f"{package}/{name}:{stat.st_size}:{stat.st_mtime_ns}\0".encode())
    return cache_folder() / f"useragents-{digest.hexdigest()[:24]}.json"


def _read_known(path: Path) -> dict[str, UserAgentInfo]:
    """The answers kept by earlier runs; none when the file is missing or not wholly ours."""
    try:
        found: Any = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(found, dict) or found.get("layout") != _LAYOUT:
        return {}
    answers = found.get("agents")
    if not isinstance(answers, dict) or len(answers) > _KEPT:
        return {}
    known: dict[str, UserAgentInfo] = {}
    for original, fields in answers.items():
        info = _info(fields)
        if info is None:
            return {}  # one foreign entry: nothing in the file is trusted
        known[original] = info
    return known


def _info(fields: Any) -> UserAgentInfo | None:
    if not (isinstance(fields, list) and len(fields) == 6):
        return None
    name, version, os_name, os_version, os_full, device_name = fields
    if not (isinstance(name, str) and isinstance(device_name, str)):
        return None
    if not all(f is None or isinstance(f, str) for f in (version, os_name, os_version, os_full)):
        return None
    return UserAgentInfo(name, version, os_name, os_version, os_full, device_name)


def _write_known(target: Path, known: dict[str, UserAgentInfo]) -> None:
    """Write the file (whole or not at all). ASCII with escapes, so that a string with a lone
    surrogate is kept like any other."""
    document = {"layout": _LAYOUT, "agents": {k: astuple(v) for k, v in known.items()}}
    write_cache_file(target, json.dumps(document).encode("ascii"))
