"""query rules: every matching event is an alert (suppression is applied afterwards)."""

from __future__ import annotations

import duckdb

from trailhound.engine.candidates import Candidate, Outcome
from trailhound.rules.model import Rule


def evaluate(con: duckdb.DuckDBPyConnection, rule: Rule, cutoff: int) -> Outcome:
    rows = con.execute(
        'SELECT seq, ts, "event.id" FROM matches WHERE rule_id = $rule AND ts <= $cutoff '
        'ORDER BY ts, "event.id", seq',
        {"rule": rule.rule_id, "cutoff": cutoff},
    ).fetchall()
    return Outcome(
        [Candidate((), [seq], [eid or ""], ts, ts) for seq, ts, eid in rows],
    )
