"""A `Cursor` kept in memory, committed as the watch pipeline commits a step: for tests of
polled sources without the pipeline."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from trailhound.sources.polling import Poll


@dataclass
class MemoryCursor:
    consumed: dict[str, str] = field(default_factory=dict)
    marks: dict[str, str] = field(default_factory=dict)

    def versions(self, keys: Iterable[str]) -> dict[str, str]:
        return {k: self.consumed[k] for k in keys if k in self.consumed}

    def mark(self, name: str) -> str | None:
        return self.marks.get(name)

    def commit(self, poll: Poll, *, after: bool = True) -> None:
        """Record what `poll` consumed and marked, forget what it allows, then (unless `after`
        is False: a crash right after the commit) run its `after_commit`."""
        self.consumed.update((c.key, c.version) for c in poll.consumed)
        self.marks.update(poll.marks)
        if poll.forget_before is not None:
            self.consumed = {k: v for k, v in self.consumed.items() if k >= poll.forget_before}
        if after:
            poll.after_commit()
