"""new_terms rules: an event whose term was not seen in the history window before it.

The term is the combination of the listed fields' values; arrays expand to one term per
value. A term last seen more than the history window ago is new again. With a learning
period, terms are recorded but do not alert until the period, counted from the first event
the rule ever matched, is over.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import orjson
import pyarrow as pa

from trailhound.engine.candidates import Candidate, Decide, Outcome
from trailhound.engine.keys import keyed_rows_sql, rules_rows_cte
from trailhound.rules.model import NewTermsSpec, Rule
from trailhound.state import terms
from trailhound.state.store import Store

_US = timedelta(microseconds=1)
_NEVER = -(2**62)


def evaluate(store: Store, rule: Rule, cutoff: int) -> Outcome:
    return deciding(store, [rule], cutoff)(rule)


def deciding(store: Store, rules: Sequence[Rule], cutoff: int) -> Decide:
    """A decider for these rules, all decided by the same few statements: each statement has
    a fixed cost, which the pack's seven new_terms rules paid five times each."""
    if not rules:
        return lambda rule: Outcome([])
    specs = [_spec(rule) for rule in rules]
    settings = _settings(store, rules, specs, cutoff)
    rows, params = _terms_sql(rules, specs)
    con = store.con
    with store.registered("_new_terms_rules", settings):
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _terms AS SELECT *, "
            "LAG(ts) OVER (PARTITION BY rule, term ORDER BY ts, event_id, seq) AS prev "
            f"FROM ({rows})",
            {**params, "cutoff": cutoff},
        )
        found = con.execute(
            "SELECT t.rule, t.seq, t.ts, t.event_id, t.term FROM _terms t "
            "JOIN _new_terms_rules p USING (rule) "
            "LEFT JOIN terms s ON s.rule_id = p.rule_id AND s.term = t.term "
            "WHERE t.ts >= p.learning_end AND CASE WHEN t.prev IS NULL "
            "THEN s.last_seen IS NULL OR t.ts - s.last_seen > p.history "
            "ELSE t.ts - t.prev > p.history END "
            "ORDER BY t.rule, t.ts, t.event_id, t.seq, t.term"
        ).fetchall()
        terms.remember(store, "_new_terms_rules", "_terms")
    con.execute("DROP TABLE _terms")
    candidates: dict[str, list[Candidate]] = {r.rule_id: [] for r in rules}
    for which, seq, ts, eid, term in found:
        key = _term_key(specs[which], term)
        candidates[rules[which].rule_id].append(Candidate(key, [seq], [eid or ""], ts, ts))

    def decide(rule: Rule) -> Outcome:
        return Outcome(candidates.get(rule.rule_id, []))

    return decide


def _settings(
    store: Store, rules: Sequence[Rule], specs: list[NewTermsSpec], cutoff: int
) -> pa.Table:
    """Per rule (`rule`: its place in `rules`): its id, the event time from which it alerts
    and its history window in µs. Starts the rules' learning clocks."""
    clocks = terms.start_clocks(store, [r.rule_id for r in rules], cutoff)
    ends = [
        _learning_end(s, clocks.get(r.rule_id), cutoff) for r, s in zip(rules, specs, strict=True)
    ]
    return pa.table(
        {
            "rule": pa.array(range(len(rules)), pa.int64()),
            "rule_id": pa.array([r.rule_id for r in rules], pa.string()),
            "learning_end": pa.array(ends, pa.int64()),
            "history": pa.array([int(s.history_window / _US) for s in specs], pa.int64()),
        }
    )


def _terms_sql(rules: Sequence[Rule], specs: list[NewTermsSpec]) -> tuple[str, dict[str, object]]:
    """Every rule's rows up to $cutoff, each with its term and `rule` (its place in `rules`),
    and the parameters naming the rules."""
    params: dict[str, object] = {"rules": [r.rule_id for r in rules]}
    branches = []
    for i, (rule, spec) in enumerate(zip(rules, specs, strict=True)):
        params[f"r{i}"] = rule.rule_id
        term = "to_json([" + ", ".join(f"k{j}" for j in range(len(spec.fields))) + "])"
        keyed = keyed_rows_sql(spec.fields, rule=f"$r{i}", source="_rows")
        branches.append(f"SELECT {i} AS rule, seq, ts, event_id, {term} AS term FROM ({keyed})")
    return f"WITH {rules_rows_cte('_rows')} {' UNION ALL '.join(branches)}", params


def _spec(rule: Rule) -> NewTermsSpec:
    spec = rule.spec
    assert isinstance(spec, NewTermsSpec)
    return spec


def _term_key(spec: NewTermsSpec, term: str) -> tuple[tuple[str, str | None], ...]:
    values = orjson.loads(term)
    return tuple(zip(spec.fields, values, strict=True))


def _learning_end(spec: NewTermsSpec, first: int | None, cutoff: int) -> int:
    """From when the rule alerts: its learning period after its first event ever seen (or
    after `cutoff` before any)."""
    if spec.learning_period is None:
        return _NEVER
    return int((cutoff if first is None else first) + spec.learning_period / _US)
