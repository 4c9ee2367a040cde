"""Sources read again and again (`trailhound watch`): each poll says what is new since the
last step, and what reading it will use up.

A poll lists blobs and, alongside, what the step consumes by reading them: a file's size and
offset, an S3 object's ETag, a listing position per account and region. The watch pipeline
records those in the state in the same transaction as the step's decisions, so a crash never
skips input nor reads it twice. What must happen only after that commit (deleting SQS
messages) is `after_commit`.

A source that can be polled is one module with `open_xxx(spec) -> PolledSource`, named in
`POLLED` below by its URL scheme.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from trailhound.errors import InputError
from trailhound.sources import Blob, SourceProblem, scheme_of

POLLED: dict[str, str] = {
    "file": "trailhound.sources.folder:open_folder",
    "s3": "trailhound.sources.s3:open_polled_s3",
    "sqs": "trailhound.sources.sqs:open_queue",
    "https": "trailhound.sources.sqs:open_queue",  # an SQS queue URL
}


@dataclass(frozen=True, slots=True)
class Consumed:
    """One input item a step used up: `key` within its source, `version` what was read of it
    (e.g. "size:offset" of a file, the ETag of an object)."""

    key: str
    version: str


class Cursor(Protocol):
    """What earlier steps consumed of one source, read from the state."""

    def versions(self, keys: Iterable[str]) -> dict[str, str]:
        """The recorded version of each of `keys` that has one."""
        ...

    def mark(self, name: str) -> str | None:
        """A named position the source set in an earlier step (a listing's last key)."""
        ...


@dataclass
class Poll:
    """What one poll found: blobs to read now and what reading them consumes."""

    blobs: list[Blob | SourceProblem] = field(default_factory=list)
    consumed: list[Consumed] = field(default_factory=list)
    marks: dict[str, str] = field(default_factory=dict)
    forget_before: str | None = None  # consumed keys sorting before this may be forgotten
    after_commit: Callable[[], None] = lambda: None  # e.g. delete the SQS messages read
    waiting_for: str = ""  # for people: what the source waits for next
    # when the newest blob found was delivered (an S3 object's time, a CloudTrail file name's
    # stamp): how far the trail has got, however old its events
    delivered: datetime | None = None


class PolledSource(Protocol):
    @property
    def name(self) -> str:
        """Its identity in the state (checkpoints are kept under it): e.g. s3://bucket/prefix."""
        ...

    def poll(self, cursor: Cursor) -> Poll: ...


def open_polled(spec: str) -> PolledSource:
    """The polled source for one spec typed by the user."""
    scheme = scheme_of(spec)
    target = POLLED.get(scheme)
    if target is None:
        known = ", ".join(f"{s}://" for s in sorted(POLLED))
        raise InputError(f"trailhound watch cannot follow {scheme}:// (it follows: {known})",
                         where=spec)  # fmt: skip
    module_name, _, function = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise InputError(f"following {scheme}:// needs more than is installed ({err}); "
                         "pip install 'trailhound[s3]'", where=spec) from None  # fmt: skip
    opener: Callable[[str], PolledSource] = getattr(module, function)
    return opener(spec)


# <account>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<unique>.json.gz: the stamp is the delivery
_STAMP = re.compile(r"_CloudTrail_[a-z0-9-]+_(\d{8}T\d{4}Z)_")


def delivery_stamp(name: str) -> datetime | None:
    """When CloudTrail delivered a file, from the stamp in its name (a copy keeps it)."""
    found = _STAMP.search(name.rsplit("/", 1)[-1])
    if found is None:
        return None
    return datetime.strptime(found[1], "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
