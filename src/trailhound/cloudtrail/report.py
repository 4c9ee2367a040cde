"""What a read did: files read, records normalized, what was set aside and why, what was skipped,
and which records were kept with a value changed.

The reader never raises for bad data. It tells the `Report`, which counts, keeps the messages,
and passes each one on to an optional listener as it happens (the CLI prints them to stderr at
once, so a user sees a problem next to the output that surrounds it).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

from msgspec import Struct, field

from trailhound.errors import InputError

KEEP_AT_MOST = 1000
"""Problems kept as messages. Counting goes on past it, so the summary stays exact."""


class SetAside(InputError):
    """Input trailhound did not normalize: one record, a part of a file, or a whole file.

    `reason` is short and stable, so that a run can count records by it ("invalid JSON",
    "missing eventTime"); `detail` says what exactly was wrong; `position` says where in the
    file ("line 12", "record 3"), or is None when the whole file is meant. `records` is how many
    records this set aside, or None when that cannot be known (a file that does not parse).
    """

    def __init__(
        self,
        reason: str,
        *,
        where: str,
        position: str | None = None,
        detail: str = "",
        records: int | None = 1,
        line: int | None = None,
    ) -> None:
        text = f"{reason}: {detail}" if detail else reason
        super().__init__(f"{position}: {text}" if position else text, where=where, line=line)
        self.reason = reason
        self.position = position
        self.detail = detail
        self.records = records

    def __str__(self) -> str:
        # the position is already in the message, in words ("line 12"), so no `where:12:`
        return f"{self.where}: {self.message}"


class Skipped(Struct, frozen=True):
    """A file or record that is CloudTrail but holds no API activity (digest, Insights)."""

    where: str
    note: str
    position: str | None = None

    def __str__(self) -> str:
        place = f"{self.where}: {self.position}" if self.position else self.where
        return f"{place}: skipped: {self.note}"


class Changed(Struct, frozen=True):
    """A record that was kept with part of a value changed: read as far as it can be read
    (a number beyond a double's range, a member nested absurdly deep), and the change said."""

    where: str
    position: str
    note: str

    def __str__(self) -> str:
        return f"{self.where}: {self.position}: {self.note}"


class Report(Struct):
    """Counts and messages of one read. Pass listeners to hear of problems as they happen."""

    on_problem: Callable[[SetAside], None] | None = None
    on_skip: Callable[[Skipped], None] | None = None
    on_change: Callable[[Changed], None] | None = None
    files_read: int = 0
    records_normalized: int = 0
    records_set_aside: Counter[str] = field(default_factory=Counter)
    files_set_aside: Counter[str] = field(default_factory=Counter)
    files_skipped: Counter[str] = field(default_factory=Counter)
    records_changed: Counter[str] = field(default_factory=Counter)
    problems: list[SetAside] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    changes: list[Changed] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """True when nothing was set aside: every record read was normalized."""
        return not (self.records_set_aside or self.files_set_aside)

    def set_aside(self, problem: SetAside) -> None:
        reason = _category(problem.reason)
        if problem.records is None:
            self.files_set_aside[reason] += 1
        else:
            self.records_set_aside[reason] += problem.records
        if len(self.problems) < KEEP_AT_MOST:
            self.problems.append(problem)
        if self.on_problem is not None:
            self.on_problem(problem)

    def skip(self, skipped: Skipped) -> None:
        self.files_skipped[skipped.note] += 1
        if len(self.skipped) < KEEP_AT_MOST:
            self.skipped.append(skipped)
        if self.on_skip is not None:
            self.on_skip(skipped)

    def change(self, changed: Changed) -> None:
        self.records_changed[_category(changed.note)] += 1
        if len(self.changes) < KEEP_AT_MOST:
            self.changes.append(changed)
        if self.on_change is not None:
            self.on_change(changed)

    def summary(self) -> list[str]:
        """The closing lines of a run, for people."""
        lines = [
            f"read {_n(self.files_read, 'file')}, "
            f"normalized {_n(self.records_normalized, 'record')}"
        ]
        if self.records_set_aside:
            total = sum(self.records_set_aside.values())
            lines.append(f"set aside {_n(total, 'record')}: {_by(self.records_set_aside)}")
        if self.files_set_aside:
            total = sum(self.files_set_aside.values())
            lines.append(
                f"set aside {_n(total, 'file')} in whole or in part: {_by(self.files_set_aside)}"
            )
        if self.records_changed:
            total = sum(self.records_changed.values())
            lines.append(f"kept {_n(total, 'record')} with a value changed: "
                         f"{_by(self.records_changed)}")  # fmt: skip
        if self.files_skipped:
            total = sum(self.files_skipped.values())
            lines.append(f"skipped {_n(total, 'item')} without events: {_by(self.files_skipped)}")
        return lines


def _category(reason: str) -> str:
    """The reason without the quoted value it may name, so that like problems count together:
    "eventTime 'soon' is not a date and time" counts as "eventTime is not a date and time"."""
    return _QUOTED.sub("", reason)


_QUOTED = re.compile(r"""\s*(?:'[^']*'|"[^"]*")""")


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _by(counter: Counter[str]) -> str:
    return ", ".join(f"{reason} ({count})" for reason, count in counter.most_common())
