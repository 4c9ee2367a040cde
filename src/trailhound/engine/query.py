"""query rules: every matching event is an alert, then suppression and max_signals thin them.

A query rule can match a large share of the input (every successful PutItem), so its rows
are decided as columns: one statement reads every query rule's rows in event order with
their suppression groups (the columns that decide, not the events), numpy folds each group's
times into windows, and only the rows that stay alerts become `Candidate`s.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from trailhound import arrow_kernels as kernels
from trailhound import heap
from trailhound.engine import suppression
from trailhound.engine.candidates import Candidate, Decide, Outcome
from trailhound.engine.keys import suppression_key_sql, suppression_missing_sql
from trailhound.engine.max_signals import first_per_interval
from trailhound.numpy_arrow import arrow_array
from trailhound.rules.model import Rule
from trailhound.state import windows as stored_windows
from trailhound.state.store import Store

_US = timedelta(microseconds=1)
Ints = npt.NDArray[np.int64]


def evaluate(store: Store, rule: Rule, cutoff: int) -> Outcome:
    """The rule's alerts up to `cutoff`, already suppressed and capped (`Outcome.dropped`)."""
    return deciding(store, [rule], cutoff)(rule)


def deciding(store: Store, rules: Sequence[Rule], cutoff: int) -> Decide:
    """A decider for these rules, whose rows up to `cutoff` are read in one statement: each
    statement has a fixed cost, which a pack's dozen query rules paid five times each, most
    of them for a row or two."""
    if not rules:
        return lambda rule: Outcome([], suppressed=True)
    rows = _ranked_rows(store.con, rules, cutoff)
    heap.give_back_arrow()  # the rows as read, before their sort (~40 MB at 4M events)
    which = _ints(rows.column("rule"))
    starts = np.searchsorted(which, np.arange(len(rules) + 1)).tolist()
    bounds = {r.rule_id: (starts[i], starts[i + 1]) for i, r in enumerate(rules)}

    def decide(rule: Rule) -> Outcome:
        start, end = bounds.get(rule.rule_id, (0, 0))
        return _decided(store, rule, rows.slice(start, end - start))

    return decide


def _ranked_rows(con: duckdb.DuckDBPyConnection, rules: Sequence[Rule], cutoff: int) -> pa.Table:
    """The rules' rows (`rule`: its place in `rules`), each rule's in event order, with their
    suppression group and `alone` for rows that are not suppressed (no suppression, or a
    missing field that must not be)."""
    params: dict[str, object] = {"cutoff": cutoff, "rules": [r.rule_id for r in rules]}
    which = []
    shapes: dict[tuple[str, str], list[str]] = {}  # (group, alone) SQL -> its rules' ids
    for i, rule in enumerate(rules):
        params[f"r{i}"] = rule.rule_id
        which.append(f"WHEN $r{i} THEN {i}")
        shapes.setdefault(_grouping(rule), []).append(rule.rule_id)
    # one branch per kind of grouping, not per rule: the pack's suppressed query rules group
    # alike, and DuckDB tried each rule's branch in turn on every row (89,000 rows at 1M)
    groups, alone = [], []
    for j, ((group, single), ids) in enumerate(shapes.items()):
        params[f"s{j}"] = ids
        groups.append(f"WHEN list_contains($s{j}, rule_id) THEN {group}")
        alone.append(f"WHEN list_contains($s{j}, rule_id) THEN {single}")
    event_id = "coalesce(\"event.id\", '')"
    table: pa.Table = con.sql(
        f"SELECT CASE rule_id {' '.join(which)} END::BIGINT AS rule, "
        f"seq, ts, {event_id} AS event_id, "
        f"CASE {' '.join(groups)} END::VARCHAR AS gkey, "
        f"coalesce(CASE {' '.join(alone)} END, FALSE) "
        "AS alone FROM matches WHERE list_contains($rules, rule_id) AND ts <= $cutoff",
        params=params,
    ).to_arrow_table()
    # in order by Arrow, as DuckDB's ORDER BY rule, ts, event_id, seq would put them: the
    # sort's keys are numbers but the event id, and DuckDB's sort carried every column
    # (358,000 rows at 4M events: 0.14 CPU-s in DuckDB, ~0.04 here)
    names = ["rule", "ts", "event_id", "seq"]
    order = kernels.sort_indices(table, sort_keys=[(name, "ascending") for name in names])
    return kernels.take(table, order).combine_chunks()


def _grouping(rule: Rule) -> tuple[str, str]:
    sup = rule.suppression
    if sup is None:
        return "NULL::VARCHAR", "TRUE"
    missing = suppression_missing_sql(sup.group_by)
    alone = missing if sup.missing_fields_strategy == "doNotSuppress" else "FALSE"
    return suppression_key_sql(sup.group_by), alone


def _changed(column: pa.ChunkedArray | pa.Array) -> npt.NDArray[np.bool_]:
    """For each value after the first: whether it differs from the one before it."""
    if len(column) < 2:
        return np.zeros(0, np.bool_)
    differs = kernels.not_equal(column[1:], column[:-1])
    return np.asarray(kernels.fill_null(differs, True).to_numpy(zero_copy_only=False), np.bool_)


def _decided(store: Store, rule: Rule, rows: pa.Table) -> Outcome:
    """One rule's outcome from its rows, in event order."""
    positions, absorbed, keys = _alerts(store, rule, rows)
    times = _ints(rows.column("ts"))[positions]
    keep = first_per_interval(times, int(rule.interval / _US), rule.max_signals)
    kept = positions[keep]
    seqs = _ints(rows.column("seq"))[kept].tolist()
    ids = kernels.take(rows.column("event_id"), arrow_array(kept, kind=pa.int64())).to_pylist()
    times, absorbed = times[keep], absorbed[keep]
    made = zip(seqs, ids, times.tolist(), _masked(keys, keep), absorbed.tolist(), strict=True)
    candidates = [
        Candidate((), [seq], [eid], ts, ts, suppression_key=key, absorbed=n)
        for seq, eid, ts, key, n in made
    ]
    return Outcome(candidates, suppressed=True, dropped=int(len(keep) - keep.sum()))


def _alerts(store: Store, rule: Rule, rows: pa.Table) -> tuple[Ints, Ints, list[str | None]]:
    """Positions (in `rows`), folded-in counts and groups of the rows that stay alerts, in
    event order."""
    alone = np.asarray(
        rows.column("alone").combine_chunks().to_numpy(zero_copy_only=False), np.bool_
    )
    positions = [np.flatnonzero(alone)]
    absorbed = [np.zeros(len(positions[0]), np.int64)]
    keys: list[str | None] = [None] * len(positions[0])
    sup = rule.suppression
    grouped = np.flatnonzero(~alone)
    if sup is not None and len(grouped):
        grouped_keys = kernels.take(rows.column("gkey"), arrow_array(grouped))
        by_group = kernels.sort_indices(grouped_keys)  # stable
        pos = grouped[by_group.to_numpy()]
        gkeys = kernels.take(rows.column("gkey"), arrow_array(pos))
        starts = np.flatnonzero(np.r_[True, _changed(gkeys)])
        names = [str(g) for g in kernels.take(gkeys, arrow_array(starts)).to_pylist()]
        windows = stored_windows.load(store, rule.rule_id)
        folded = suppression.fold_rows(
            windows, names, np.diff(np.r_[starts, len(pos)]).astype(np.int64),
            _ints(rows.column("ts"))[pos], suppression.duration_us(rule, sup),
        )  # fmt: skip
        stored_windows.save(store, rule.rule_id, windows)
        positions.append(pos[folded.kept])
        absorbed.append(folded.absorbed)
        keys.extend(folded.keys)
    order = np.argsort(np.concatenate(positions), kind="stable")
    return (
        np.concatenate(positions)[order],
        np.concatenate(absorbed)[order],
        [keys[i] for i in order.tolist()],
    )


def _masked(keys: list[str | None], keep: npt.NDArray[np.bool_]) -> list[str | None]:
    return [k for k, kept in zip(keys, keep.tolist(), strict=True) if kept]


def _ints(column: pa.ChunkedArray | pa.Array) -> Ints:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    return np.asarray(column.to_numpy(zero_copy_only=False), np.int64)
