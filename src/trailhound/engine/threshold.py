"""threshold rules: `count >= value` matching events per group inside a sliding window.

The window slides in event time. Events that opened an alert are consumed and never count
again, so eight deletions in ten minutes make one alert at a value of six, and twelve make two.
Decisions are made by a greedy pass in time order over the rule's matched rows only; a rule
without cardinality fields walks them as columns (`threshold_walk`).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta
from itertools import groupby
from typing import Any, NamedTuple

import duckdb

from trailhound.engine import threshold_walk
from trailhound.engine.candidates import Candidate, Decide, Outcome
from trailhound.engine.keys import item_count_sql, key_sql, keyed_rows_sql
from trailhound.rules.model import Rule, ThresholdSpec
from trailhound.state.store import Store

_BATCH_ROWS = 8192


class _Row(NamedTuple):
    """A row as the greedy pass keeps it (a tuple: cheap to make, one per matched row)."""

    seq: int
    ts: int
    event_id: str
    weight: int  # how many items the event counts for (1 unless the rule counts items)
    cardinality: tuple[frozenset[str], ...]  # per cardinality field, the row's values


def window_us(rule: Rule, spec: ThresholdSpec) -> int:
    window = spec.window or rule.lookback
    return int(window / timedelta(microseconds=1))


def evaluate(store: Store, rule: Rule, cutoff: int) -> Outcome:
    return deciding(store, [rule], cutoff)(rule)


def deciding(store: Store, rules: Sequence[Rule], cutoff: int) -> Decide:
    """A decider for these rules, whose newest rows are read in one statement for all (each
    statement has a fixed cost: the pack's six rules paid 0.012 CPU-s for six at 1M)."""
    latest = _latest(store.con, rules, cutoff)

    def decide(rule: Rule) -> Outcome:
        return _decided(store, rule, cutoff, latest.get(rule.rule_id))

    return decide


def _latest(
    con: duckdb.DuckDBPyConnection, rules: Sequence[Rule], cutoff: int
) -> dict[str, int | None]:
    """Per rule, the newest event time among its rows up to `cutoff` (of groups that cannot
    alert too); None for a rule without any."""
    if not rules:
        return {}
    params: dict[str, object] = {"cutoff": cutoff}
    branches = []
    for i, rule in enumerate(rules):
        params[f"r{i}"] = rule.rule_id
        rows = keyed_rows_sql(_spec(rule).fields, rule=f"$r{i}")
        branches.append(f"SELECT {i} AS rule, max(ts) AS latest FROM ({rows})")
    found = con.execute(" UNION ALL ".join(branches), params).fetchall()
    return {rules[which].rule_id: newest for which, newest in found}


def _decided(store: Store, rule: Rule, cutoff: int, latest: int | None) -> Outcome:
    """One rule's outcome, given the newest event time of its rows."""
    spec = _spec(rule)
    cards = tuple((key_sql(c.field)[0], f"c{i}") for i, c in enumerate(spec.cardinality))
    extra = ((item_count_sql(spec.count), "weight"), *cards)
    sql = keyed_rows_sql(spec.fields, extra)
    order = ", ".join([f"k{i}" for i in range(len(spec.fields))] + ["ts", "event_id", "seq"])
    ordered = f"{_able(sql, spec)} ORDER BY {order}"
    window = window_us(rule, spec)
    if spec.cardinality:
        candidates = _walked(_Rows(store.con, ordered, rule.rule_id, cutoff), spec, window)
    else:
        table = store.con.sql(ordered, params={"rule": rule.rule_id, "cutoff": cutoff})
        candidates = threshold_walk.counted(table.to_arrow_table(), spec, window)
    horizon = cutoff if latest is None else latest
    consumed = {seq for c in candidates for seq in c.seqs}
    return Outcome(candidates, consumed, retain_from=min(cutoff, horizon) - window)


def _walked(rows: Iterable[tuple[Any, ...]], spec: ThresholdSpec, window: int) -> list[Candidate]:
    """The candidates of a rule with cardinality fields, its rows walked one by one."""
    width = len(spec.fields)
    candidates: list[Candidate] = []
    for key_values, group in groupby(rows, key=lambda r: tuple(r[3 : 3 + width])):
        key = tuple(zip(spec.fields, key_values, strict=True))
        parsed = (
            _Row(r[0], r[1], r[2] or "", r[3 + width], _card_values(r[4 + width :]))
            for r in group
            if r[3 + width] > 0
        )
        candidates.extend(_greedy(parsed, key, spec, window))
    return candidates


def _spec(rule: Rule) -> ThresholdSpec:
    spec = rule.spec
    assert isinstance(spec, ThresholdSpec)
    return spec


def _able(sql: str, spec: ThresholdSpec) -> str:
    """The rows of `sql` in groups that can alert: with the weight and, per cardinality field,
    the distinct values (of rows that count) to reach the rule's values over all their rows
    together. A read-heavy actor has thousands of rows of one table, which a rule for many
    tables would otherwise walk one by one."""
    keys = ", ".join(f"k{i}" for i in range(len(spec.fields)))
    if not keys:
        return f"SELECT * FROM ({sql})"
    bars = [f"sum(weight) >= {int(spec.value)}"]
    for i, card in enumerate(spec.cardinality):
        values = f"c{i}" if key_sql(card.field)[1] else f"[c{i}]"
        distinct = f"len(list_distinct(flatten(list({values}) FILTER (WHERE weight > 0))))"
        bars.append(f"{distinct} >= {int(card.value)}")
    able = f"SELECT {keys} FROM r GROUP BY {keys} HAVING {' AND '.join(bars)}"
    return f"WITH r AS ({sql}) SELECT * FROM r SEMI JOIN ({able}) USING ({keys})"


class _Rows:
    """The query's rows, read a batch at a time (a rule can match many events; the greedy
    pass needs only one window of them at once)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, sql: str, rule_id: str, cutoff: int):
        self._reader = con.sql(sql, params={"rule": rule_id, "cutoff": cutoff}).to_arrow_reader(
            _BATCH_ROWS
        )

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        for batch in self._reader:
            yield from zip(*(column.to_pylist() for column in batch.columns), strict=True)


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
    rows: Iterable[_Row], key: tuple[tuple[str, str | None], ...], spec: ThresholdSpec, window: int
) -> list[Candidate]:
    found: list[Candidate] = []
    open_rows: deque[_Row] = deque()
    total = 0  # the open rows' weight
    # per cardinality field: how many open rows hold each value, so distinct counts are O(1)
    holding: list[Counter[str]] = [Counter() for _ in spec.cardinality]
    for row in rows:
        while open_rows and open_rows[0].ts < row.ts - window:
            gone = open_rows.popleft()
            total -= gone.weight
            _count(holding, gone.cardinality, -1)
        open_rows.append(row)
        total += row.weight
        _count(holding, row.cardinality, 1)
        if total >= spec.value and all(
            len(held) >= card.value for held, card in zip(holding, spec.cardinality, strict=True)
        ):
            found.append(
                Candidate(
                    key,
                    [r.seq for r in open_rows],
                    [r.event_id for r in open_rows],
                    time=row.ts,
                    first_time=open_rows[0].ts,
                    absorbed=total - len(open_rows),  # items beyond one per event
                )
            )
            total = 0
            open_rows.clear()
            holding = [Counter() for _ in spec.cardinality]
    return found


def _count(holding: list[Counter[str]], values: tuple[frozenset[str], ...], step: int) -> None:
    for held, field_values in zip(holding, values, strict=True):
        for value in field_values:
            held[value] += step
            if held[value] == 0:
                del held[value]
