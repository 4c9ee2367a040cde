"""Evidence documents made while the workers read, for the matches likely to be shown.

Making the alerts' evidence documents (each record normalized again, with every field) was
the largest part of the end of a scan, which runs on one core after the workers are done. A
document depends on its match's row and record alone, not on what is decided about it, so it
can be made as soon as the row is stored. Which rows will be shown is known only at the end:
a record read later can open a suppression window earlier, fill a threshold window first or
push an alert over `max_signals`, whatever the order the files are read in. So each time the
detector has stored twice as many matches as at its last guess it guesses: the alerts-to-be
of the threshold rules (ten events each: four fifths of the evidence of the 1M benchmark) as
the rows stored so far would decide them, which stores nothing. The query rules are left to
the end: a guess of theirs folds every stored row's suppression, and at 4M events it cost
more than the documents it saved (`bench/obstacles.md`). The documents of the rows guessed
are made and kept as the JSON the ledger takes (`alert_making.Written`); the end decides as
before and takes a kept document for a row it shows, making the others. A wrong guess costs only its
documents' time: the alerts, their evidence and the state are the same whatever was guessed.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

import duckdb

from trailhound.engine import threshold
from trailhound.engine.alert_making import AlertMaker, Written, written
from trailhound.rules.model import Rule
from trailhound.state import matches
from trailhound.state.store import Store

_EVERY_ROW = 2**62  # no cutoff: every stored row is guessed about
_PER_PART = 512  # documents made at a time: each is tens of kB as objects

# A rule type's guess: the rows its rules' alerts would show, given the rows stored so far,
# each with its rule.
Guess = Callable[[Store, Sequence[Rule], int], dict[int, Rule]]


def _threshold_rows(store: Store, rules: Sequence[Rule], limit: int) -> dict[int, Rule]:
    shown = ((r, c) for r in rules for c in threshold.evaluate(store, r, _EVERY_ROW).candidates)
    return {s: rule for rule, c in shown for s in c.seqs[:limit]}


_GUESSES: dict[str, Guess] = {"threshold": _threshold_rows}


@dataclass
class EarlyEvidence:
    """Documents made ahead of the end, by match `seq`, for `AlertMaker.ready`."""

    maker: AlertMaker
    rules: Sequence[Rule]
    ready: dict[int, Written] = field(default_factory=dict)
    _stored: int = 0  # rows stored this run
    _due: int = 0  # rows stored by the next guess

    def stored(self, rows: int, failed: Collection[str]) -> None:
        """`rows` more matches were stored: guess when the run has stored twice as many as
        at the last guess. A guess reads every stored row of its rules, so guessing at every
        store would cost the square of a long run's rows; this way all the guesses together
        cost about twice the last."""
        self._stored += rows
        if self._stored >= self._due:
            self.guess(failed)
            self._due = 2 * self._stored

    def guess(self, failed: Collection[str]) -> None:
        """Make the documents of the rows likely to be shown that are not made yet; the
        rules named in `failed` are left to the end."""
        with matches.one_thread(self.maker.store):  # while the workers read, on their cores
            self._guess(failed)

    def _guess(self, failed: Collection[str]) -> None:
        store = self.maker.store
        stored = matches.rules_with_rows(store)
        wanted: dict[int, Rule] = {}  # a match is its rule's only
        guessed = [r for r in self.rules if r.rule_id in stored and r.name not in failed]
        for kind, guess in _GUESSES.items():
            alike = [r for r in guessed if r.type == kind]
            try:
                wanted.update(guess(store, alike, self.maker.evidence_limit) if alike else {})
            except duckdb.Error:
                raise  # the store's transaction is aborted: the scan cannot go on
            except Exception:  # the end decides the rule, and reports its fault
                continue
        for made in self.maker.documents(sorted(wanted.keys() - self.ready.keys()), _PER_PART):
            for seq, doc in made.items():
                # the values of the fields its own rule investigates: of all rules', twice
                # the lookups of making the alerts at the end
                if (ready := written(doc, wanted[seq].investigation_fields)) is not None:
                    self.ready[seq] = ready
