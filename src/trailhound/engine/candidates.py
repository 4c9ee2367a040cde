"""What a rule-type evaluator hands back: alerts-to-be, before identity and rendering."""

from __future__ import annotations

from collections.abc import Callable

from msgspec import Struct, field

from trailhound.rules.model import Rule


class Candidate(Struct):
    """One alert-to-be: its group or term, and the matched rows that are its evidence.

    `seqs` point into the store's `matches` table, in event-time order; `time` is the event
    time (epoch microseconds) of the row that completed the condition.
    """

    key: tuple[tuple[str, str | None], ...]
    seqs: list[int]
    event_ids: list[str]
    time: int
    first_time: int
    suppression_key: str | None = None
    absorbed: int = 0  # events folded in by suppression, beyond the evidence


class Outcome(Struct):
    """An evaluator's result, and which of the rule's rows the store may forget.

    Rows at or before the cutoff are deleted when they were consumed as evidence or are older
    than `retain_from`: no later event can join them any more.
    """

    candidates: list[Candidate]
    consumed: set[int] = field(default_factory=set)
    retain_from: int | None = None  # None: forget every decided row
    # the evaluator applied suppression and max_signals itself; `dropped` were over the cap
    suppressed: bool = False
    dropped: int = 0


Decide = Callable[[Rule], Outcome]
"""A rule's outcome from what its type's rules read together (`deciding` of query,
threshold and new_terms rules)."""
