"""threshold rules: `count >= value` matching events per group inside a sliding window.

The window slides in event time. Events that opened an alert are consumed and never count
again, so eight deletions in ten minutes make one alert at a value of six, and twelve make two.
Decisions are made by a greedy pass in time order over the rule's matched rows only.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import timedelta
from itertools import groupby

import duckdb

from trailhound.engine.candidates import Candidate, Outcome
from trailhound.engine.keys import keyed_rows_sql, value_sql
from trailhound.rules.model import Rule, ThresholdSpec


@dataclass(slots=True)
class _Row:
    seq: int
    ts: int
    event_id: str
    cardinality: tuple[frozenset[str], ...]


def window_us(rule: Rule, spec: ThresholdSpec) -> int:
    window = spec.window or rule.lookback
    return int(window / timedelta(microseconds=1))


def evaluate(con: duckdb.DuckDBPyConnection, rule: Rule, cutoff: int) -> Outcome:
    spec = rule.spec
    assert isinstance(spec, ThresholdSpec)
    extra = tuple((value_sql(c.field)[0], f"c{i}") for i, c in enumerate(spec.cardinality))
    sql = keyed_rows_sql(spec.fields, extra)
    order = ", ".join([f"k{i}" for i in range(len(spec.fields))] + ["ts", "event_id", "seq"])
    rows = con.execute(
        f"SELECT * FROM ({sql}) ORDER BY {order}", {"rule": rule.rule_id, "cutoff": cutoff}
    ).fetchall()
    width = len(spec.fields)
    window = window_us(rule, spec)
    candidates: list[Candidate] = []
    horizon = max((r[1] for r in rows), default=cutoff)
    for key_values, group in groupby(rows, key=lambda r: tuple(r[3 : 3 + width])):
        key = tuple(zip(spec.fields, key_values, strict=True))
        parsed = [_Row(r[0], r[1], r[2] or "", _card_values(r[3 + width :])) for r in group]
        candidates.extend(_greedy(parsed, key, spec, window))
    consumed = {seq for c in candidates for seq in c.seqs}
    return Outcome(candidates, consumed, retain_from=min(cutoff, horizon) - window)


def _card_values(raw: tuple[object, ...]) -> tuple[frozenset[str], ...]:
    out: list[frozenset[str]] = []
    for value in raw:
        if value is None:
            out.append(frozenset())
        elif isinstance(value, list):
            out.append(frozenset(str(v) for v in value if v is not None))
        else:
            out.append(frozenset({str(value)}))
    return tuple(out)


def _greedy(
    rows: list[_Row], key: tuple[tuple[str, str | None], ...], spec: ThresholdSpec, window: int
) -> list[Candidate]:
    found: list[Candidate] = []
    open_rows: deque[_Row] = deque()
    for row in rows:
        while open_rows and open_rows[0].ts < row.ts - window:
            open_rows.popleft()
        open_rows.append(row)
        if len(open_rows) >= spec.value and _cardinality_met(open_rows, spec):
            found.append(
                Candidate(
                    key,
                    [r.seq for r in open_rows],
                    [r.event_id for r in open_rows],
                    time=row.ts,
                    first_time=open_rows[0].ts,
                )
            )
            open_rows.clear()
    return found


def _cardinality_met(rows: deque[_Row], spec: ThresholdSpec) -> bool:
    for i, card in enumerate(spec.cardinality):
        distinct: set[str] = set()
        for r in rows:
            distinct |= r.cardinality[i]
        if len(distinct) < card.value:
            return False
    return True
