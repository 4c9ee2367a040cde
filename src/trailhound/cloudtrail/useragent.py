"""`userAgent` -> ECS `user_agent.*`, shaped as Elasticsearch's `user_agent` processor shapes it.

Parsing uses `ua-parser` (the uap-core regexes Elasticsearch also ships). Elasticsearch's
conventions on top: the client name is `Other` and the device `Other` when nothing matches,
versions join the parts that exist with dots, and `os.full` is the OS name and version.
Parsing one string takes a fraction of a millisecond while a trail repeats a handful of user
agents millions of times, so results are cached per string.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol

UNKNOWN: Final = "Other"


class _Versioned(Protocol):
    @property
    def major(self) -> str | None: ...
    @property
    def minor(self) -> str | None: ...
    @property
    def patch(self) -> str | None: ...
    @property
    def patch_minor(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class UserAgentInfo:
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

    def warm_up(self) -> None:
        """Load the patterns now (a third of a second), not at the first user agent."""
        _parse("")

    def parse(self, original: str) -> UserAgentInfo:
        found = self._cache.get(original)
        if found is None:
            if len(self._cache) >= self._max_entries:
                self._cache.clear()
            found = self._cache[original] = _parse(original)
        return found


def _parse(original: str) -> UserAgentInfo:
    # imported at the first user agent (with yaml, 25 ms): most of a scan's processes see none
    import ua_parser

    result = ua_parser.parse(original)
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
