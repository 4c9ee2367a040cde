"""new_terms rules: an event whose term was not seen in the history window before it.

The term is the combination of the listed fields' values; arrays expand to one term per
value. A term last seen more than the history window ago is new again. With a learning
period, terms are recorded but do not alert until the period, counted from the first event
the rule ever matched, is over.
"""

from __future__ import annotations

from datetime import timedelta

import orjson

from trailhound.engine.candidates import Candidate, Outcome
from trailhound.engine.keys import keyed_rows_sql
from trailhound.rules.model import NewTermsSpec, Rule
from trailhound.state import terms
from trailhound.state.store import Store

_US = timedelta(microseconds=1)


def evaluate(store: Store, rule: Rule, cutoff: int) -> Outcome:
    spec = rule.spec
    assert isinstance(spec, NewTermsSpec)
    con = store.con
    params = {"rule": rule.rule_id, "cutoff": cutoff}
    learning_end = _learning_end(store, rule, spec, cutoff)
    history = int(spec.history_window / _US)
    term = "to_json([" + ", ".join(f"k{i}" for i in range(len(spec.fields))) + "])"
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _terms AS SELECT *, "
        "LAG(ts) OVER (PARTITION BY term ORDER BY ts, event_id, seq) AS prev "
        f"FROM (SELECT *, {term} AS term FROM ({keyed_rows_sql(spec.fields)}))",
        params,
    )
    rows = con.execute(
        "SELECT t.seq, t.ts, t.event_id, t.term FROM _terms t "
        "LEFT JOIN terms s ON s.rule_id = $rule AND s.term = t.term "
        "WHERE t.ts >= $learning_end AND CASE WHEN t.prev IS NULL "
        "THEN s.last_seen IS NULL OR t.ts - s.last_seen > $history "
        "ELSE t.ts - t.prev > $history END "
        "ORDER BY t.ts, t.event_id, t.seq, t.term",
        {"rule": rule.rule_id, "learning_end": learning_end, "history": history},
    ).fetchall()
    terms.remember(store, rule.rule_id, "_terms", history)
    con.execute("DROP TABLE _terms")
    candidates = [
        Candidate(_term_key(spec, term), [seq], [eid or ""], ts, ts)
        for seq, ts, eid, term in rows
    ]
    return Outcome(candidates)


def _term_key(spec: NewTermsSpec, term: str) -> tuple[tuple[str, str | None], ...]:
    values = orjson.loads(term)
    return tuple(zip(spec.fields, values, strict=True))


def _learning_end(store: Store, rule: Rule, spec: NewTermsSpec, cutoff: int) -> int:
    first = terms.start_clock(store, rule.rule_id, cutoff)
    if spec.learning_period is None:
        return -(2**62)
    return int((cutoff if first is None else first) + spec.learning_period / _US)
