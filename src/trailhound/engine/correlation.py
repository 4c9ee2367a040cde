"""correlation rules: an event of the rule's query about something the rule knows a fact of.

Fact sources (steps 0..n-1 of the rule's matches) teach facts: the values of their `key` field
are tied to the values of their `value` field (the KMS key ARN DynamoDB used -> the table it
protects). An event of the rule's own query (the last step) alerts when its `key` field holds a
key some source taught within `remember` before it, at or before its own time. Facts are kept
in the state like terms (`trailhound.state.facts`); before they are merged, each alerting event
is judged against the stored facts (all older than this run's events) and this run's
sightings up to its own time, so runs cut anywhere decide as one run does.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from trailhound.engine.candidates import Candidate, Outcome
from trailhound.engine.keys import keyed_rows_sql
from trailhound.rules.model import CorrelationSpec, Rule
from trailhound.state import facts
from trailhound.state.store import Store

_US = timedelta(microseconds=1)
Sighting = tuple[str, str, str, int]  # key, value field, value, time


def evaluate(store: Store, rule: Rule, cutoff: int) -> Outcome:
    spec = rule.spec
    assert isinstance(spec, CorrelationSpec)
    remember = int(spec.remember / _US)
    params = {"rule": rule.rule_id, "cutoff": cutoff}
    events = store.con.execute(
        f"SELECT seq, ts, event_id, k0 FROM ({keyed_rows_sql((spec.key,), _STEP)}) "
        "WHERE step = $step ORDER BY ts, event_id, seq",
        {**params, "step": len(spec.facts)},
    ).fetchall()
    keys = sorted({k for *_, k in events})
    learned, pending = _sightings(store, spec, {**params, "keys": keys})
    stored = facts.known(store, rule.rule_id, keys)
    candidates = []
    for seq, ts, event_id, key in events:
        taught = _taught(key, ts, remember, stored, pending[key])
        if taught:
            found = ((spec.key, key), *taught)
            candidates.append(Candidate(found, [seq], [event_id or ""], ts, ts))
    facts.remember(store, rule.rule_id, learned, remember)
    return Outcome(candidates)


def unmatched(store: Store, rule: Rule) -> Outcome:
    """`evaluate`'s outcome for a rule with no stored matches, without its reads (each has a
    fixed cost, and they could find nothing): no event to judge, no sighting to learn, and
    the rule's stored facts trimmed as `evaluate` trims them."""
    spec = rule.spec
    assert isinstance(spec, CorrelationSpec)
    facts.remember(store, rule.rule_id, [], int(spec.remember / _US))
    return Outcome([])


_STEP = (("step", "step"),)


def _sightings(
    store: Store, spec: CorrelationSpec, params: dict[str, object]
) -> tuple[list[Sighting], dict[str, list[Sighting]]]:
    """What the fact sources saw: each fact at its first and last time (all that merging it
    into the stored facts needs), and every sighting of the keys the rule's events name (all
    that judging them needs). A fact source can match every KMS call of the trail: its rows
    are folded in DuckDB, not brought into Python one by one."""
    learned: list[Sighting] = []
    pending: dict[str, list[Sighting]] = defaultdict(list)
    for step, source in enumerate(spec.facts):
        rows = store.con.execute(
            "SELECT k0, k1, min(ts), max(ts), list(ts) FILTER (WHERE list_contains($keys, k0)) "
            f"FROM ({keyed_rows_sql((source.key, source.value), _STEP)}) WHERE step = $step "
            "GROUP BY k0, k1",
            {**params, "step": step},
        ).fetchall()
        for key, value, first, last, times in rows:
            learned += [(key, source.value, value, first), (key, source.value, value, last)]
            pending[key] += [(key, source.value, value, ts) for ts in times or ()]
    return learned, pending


def _taught(
    key: str, ts: int, remember: int, stored: list[facts.Fact], pending: list[Sighting]
) -> tuple[tuple[str, str], ...]:
    """(value field, values) of the facts about `key` seen in [ts - remember, ts]."""
    values: dict[str, set[str]] = defaultdict(set)
    for fact_key, field, value, first, last in stored:
        if fact_key == key and first <= ts and ts - last <= remember:
            values[field].add(value)
    for _, field, value, seen in pending:
        if ts - remember <= seen <= ts:
            values[field].add(value)
    return tuple((field, ", ".join(sorted(v))) for field, v in sorted(values.items()))
