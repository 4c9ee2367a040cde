"""new_terms rules: an event whose term was not seen in the history window before it.

The term is the combination of the listed fields' values; arrays expand to one term per
value. A term last seen more than the history window ago is new again. With a learning
period, terms are recorded but do not alert until the period, counted from the first event
the rule ever matched, is over.
"""

from __future__ import annotations

from datetime import timedelta

import duckdb
import orjson

from trailhound.engine.candidates import Candidate, Outcome
from trailhound.engine.keys import keyed_rows_sql
from trailhound.rules.model import NewTermsSpec, Rule

_US = timedelta(microseconds=1)


def evaluate(con: duckdb.DuckDBPyConnection, rule: Rule, cutoff: int) -> Outcome:
    spec = rule.spec
    assert isinstance(spec, NewTermsSpec)
    params = {"rule": rule.rule_id, "cutoff": cutoff}
    learning_end = _learning_end(con, rule, spec, cutoff)
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
    _remember_terms(con, rule, cutoff, history)
    candidates = [
        Candidate(_term_key(spec, term), [seq], [eid or ""], ts, ts)
        for seq, ts, eid, term in rows
    ]
    return Outcome(candidates)


def _term_key(spec: NewTermsSpec, term: str) -> tuple[tuple[str, str | None], ...]:
    values = orjson.loads(term)
    return tuple(zip(spec.fields, values, strict=True))


def _learning_end(
    con: duckdb.DuckDBPyConnection, rule: Rule, spec: NewTermsSpec, cutoff: int
) -> int:
    con.execute(
        "INSERT INTO clocks SELECT $rule, min(ts) FROM matches "
        "WHERE rule_id = $rule AND ts <= $cutoff HAVING min(ts) IS NOT NULL "
        "ON CONFLICT (rule_id) DO UPDATE SET "
        "first_event = least(first_event, excluded.first_event)",
        {"rule": rule.rule_id, "cutoff": cutoff},
    )
    if spec.learning_period is None:
        return -(2**62)
    rows = con.execute(
        "SELECT first_event FROM clocks WHERE rule_id = ?", [rule.rule_id]
    ).fetchall()
    first = rows[0][0] if rows else cutoff
    return int(first + spec.learning_period / _US)


def _remember_terms(
    con: duckdb.DuckDBPyConnection, rule: Rule, cutoff: int, history: int
) -> None:
    con.execute(
        "INSERT INTO terms SELECT $rule, term, min(ts), max(ts) FROM _terms GROUP BY term "
        "ON CONFLICT (rule_id, term) DO UPDATE SET "
        "first_seen = least(first_seen, excluded.first_seen), "
        "last_seen = greatest(last_seen, excluded.last_seen)",
        {"rule": rule.rule_id},
    )
    # A term unseen for longer than the history window is as good as never seen.
    con.execute(
        "DELETE FROM terms WHERE rule_id = $rule AND last_seen < "
        "(SELECT max(last_seen) FROM terms WHERE rule_id = $rule) - $history",
        {"rule": rule.rule_id, "history": history},
    )
    con.execute("DROP TABLE _terms")
