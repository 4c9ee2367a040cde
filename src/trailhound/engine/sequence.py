"""sequence rules: ordered steps by the same actor (the `by` fields) within a maxspan.

As in EQL, a sequence starts at an event of the first step and advances, step by step, with
later events of the same key; it completes when its last step arrives within `maxspan` of its
first event. Events that completed a sequence are consumed.
"""

from __future__ import annotations

from datetime import timedelta
from itertools import groupby

from trailhound.engine.candidates import Candidate, Outcome
from trailhound.engine.keys import keyed_rows_sql
from trailhound.rules.model import Rule, SequenceSpec
from trailhound.state.store import Store

_Row = tuple[int, int, str, int]  # seq, ts, event_id, step


def evaluate(store: Store, rule: Rule, cutoff: int) -> Outcome:
    spec = rule.spec
    assert isinstance(spec, SequenceSpec)
    width = len(spec.by)
    order = ", ".join([f"k{i}" for i in range(width)] + ["ts", "event_id", "seq"])
    rows = store.con.execute(
        f"SELECT * FROM ({keyed_rows_sql(spec.by, (('step', 'step'),))}) ORDER BY {order}",
        {"rule": rule.rule_id, "cutoff": cutoff},
    ).fetchall()
    maxspan = int(spec.maxspan / timedelta(microseconds=1))
    candidates: list[Candidate] = []
    for key_values, group in groupby(rows, key=lambda r: tuple(r[3 : 3 + width])):
        key = tuple(zip(spec.by, key_values, strict=True))
        steps: list[_Row] = [(r[0], r[1], r[2] or "", r[3 + width]) for r in group]
        candidates.extend(_match(steps, key, len(spec.steps), maxspan))
    horizon = max((r[1] for r in rows), default=cutoff)
    consumed = {seq for c in candidates for seq in c.seqs}
    return Outcome(candidates, consumed, retain_from=min(cutoff, horizon) - maxspan)


def _match(
    rows: list[_Row], key: tuple[tuple[str, str | None], ...], n_steps: int, maxspan: int
) -> list[Candidate]:
    partial: list[list[_Row]] = []  # open sequences, oldest first
    found: list[Candidate] = []
    for row in rows:
        _, ts, _, step = row
        partial = [p for p in partial if ts - p[0][1] <= maxspan]
        target = next((p for p in partial if len(p) == step), None)
        if target is not None:
            target.append(row)
            if len(target) == n_steps:
                partial.remove(target)
                found.append(
                    Candidate(
                        key, [r[0] for r in target], [r[2] for r in target], ts, target[0][1]
                    )
                )
                continue
        if step == 0 and target is None:
            partial.append([row])
    return found
