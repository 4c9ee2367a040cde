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
from trailhound.engine.keys import (
    json_list_sql,
    suppression_missing_sql,
    suppression_values_sql,
)
from trailhound.engine.max_signals import first_per_interval
from trailhound.numpy_arrow import arrow_array, int64s
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
    rows, names = _ranked_rows(store.con, rules, cutoff)
    heap.give_back_arrow()  # the rows as read, before their sort (~40 MB at 4M events)
    which = int64s(rows.column("rule"))
    starts = np.searchsorted(which, np.arange(len(rules) + 1)).tolist()
    bounds = {r.rule_id: (starts[i], starts[i + 1]) for i, r in enumerate(rules)}

    def decide(rule: Rule) -> Outcome:
        start, end = bounds.get(rule.rule_id, (0, 0))
        return _decided(store, rule, rows.slice(start, end - start), names)

    return decide


def _ranked_rows(
    con: duckdb.DuckDBPyConnection, rules: Sequence[Rule], cutoff: int
) -> tuple[pa.Table, list[str]]:
    """The rules' rows (`rule`: its place in `rules`), each rule's in event order, with their
    suppression group (`group`: its name's place in the sorted names returned, -1 for none)
    and `alone` for rows that are not suppressed (no suppression, or a missing field that
    must not be)."""
    shapes: dict[tuple[tuple[str, ...], str], list[str]] = {}  # (parts, alone) -> rule ids
    for rule in rules:
        shapes.setdefault(_grouping(rule), []).append(rule.rule_id)
    # a group's name (the JSON text of its values) is made once per group, not per row
    # (89,000 rows, 32 groups at 1M: to_json on every row was half of this read): each row
    # carries the hash of its values, and the names are read with their hashes apart
    table, names = _read(con, rules, shapes, cutoff, by_hash=True)
    if names is None:  # two groups of one hash: each row carries its name itself
        table, names = _read(con, rules, shapes, cutoff, by_hash=False)
    assert names is not None
    # in order by Arrow, as DuckDB's ORDER BY rule, ts, event_id, seq would put them: the
    # sort's keys are numbers but the event id, and DuckDB's sort carried every column
    # (358,000 rows at 4M events: 0.14 CPU-s in DuckDB, ~0.04 here)
    order = kernels.sort_indices(
        table, sort_keys=[(name, "ascending") for name in ["rule", "ts", "event_id", "seq"]]
    )
    return kernels.take(table, order).combine_chunks(), names


def _read(
    con: duckdb.DuckDBPyConnection,
    rules: Sequence[Rule],
    shapes: dict[tuple[tuple[str, ...], str], list[str]],
    cutoff: int,
    *,
    by_hash: bool,
) -> tuple[pa.Table, list[str] | None]:
    """The rows, unsorted, with `group` as a place in the sorted names; None for the names
    when `by_hash` and two groups' values share a hash."""
    table = _rows(con, rules, shapes, cutoff, by_hash=by_hash)
    places = _places(_names(con, shapes, cutoff, by_hash=by_hash), table.column("ident").type)
    if places is None:
        return table, None
    seen, ranks, names = places
    ident = table.column("ident")
    at = kernels.index_in(ident, value_set=seen) if len(seen) else pa.nulls(len(ident), pa.int32())
    group = np.append(ranks, -1)[int64s(kernels.fill_null(at, len(ranks)))]
    return table.drop_columns(["ident"]).append_column("group", arrow_array(group)), names


def _rows(
    con: duckdb.DuckDBPyConnection,
    rules: Sequence[Rule],
    shapes: dict[tuple[tuple[str, ...], str], list[str]],
    cutoff: int,
    *,
    by_hash: bool,
) -> pa.Table:
    """The rules' rows, each with `rule` (its place in `rules`), `ident` (its group's hash or
    name; null for none) and `alone`."""
    params: dict[str, object] = {"cutoff": cutoff, "rules": [r.rule_id for r in rules]}
    which = []
    for i, rule in enumerate(rules):
        params[f"r{i}"] = rule.rule_id
        which.append(f"WHEN $r{i} THEN {i}")
    # one branch per kind of grouping, not per rule: the pack's suppressed query rules group
    # alike, and DuckDB tried each rule's branch in turn on every row (89,000 rows at 1M)
    idents, alone = ["WHEN FALSE THEN NULL"], []
    for j, ((parts, single), ids) in enumerate(shapes.items()):
        params[f"s{j}"] = ids
        alone.append(f"WHEN list_contains($s{j}, rule_id) THEN {single}")
        if parts:
            idents.append(f"WHEN list_contains($s{j}, rule_id) THEN {_identity(j, parts, by_hash)}")
    event_id = "coalesce(\"event.id\", '')"
    table: pa.Table = con.sql(
        f"SELECT CASE rule_id {' '.join(which)} END::BIGINT AS rule, "
        f"seq, ts, {event_id} AS event_id, CASE {' '.join(idents)} END AS ident, "
        f"coalesce(CASE {' '.join(alone)} END, FALSE) "
        "AS alone FROM matches WHERE list_contains($rules, rule_id) AND ts <= $cutoff",
        params=params,
    ).to_arrow_table()
    return table


def _names(
    con: duckdb.DuckDBPyConnection,
    shapes: dict[tuple[tuple[str, ...], str], list[str]],
    cutoff: int,
    *,
    by_hash: bool,
) -> list[tuple[object, str]]:
    """Each group's identity, as `_rows` gives it, and its name: one statement, a row per
    distinct group, however many rows each group has."""
    asked: dict[str, object] = {"cutoff": cutoff}
    named = []
    for j, ((parts, _), ids) in enumerate(shapes.items()):
        if not parts:
            continue
        asked[f"s{j}"] = ids
        values = tuple(f"p{k}" for k in range(len(parts)))
        aliased = ", ".join(f"{sql} AS {v}" for sql, v in zip(parts, values, strict=True))
        named.append(
            f"SELECT {_identity(j, values, by_hash)} AS ident, {_name(values)} "
            f"AS name FROM (SELECT DISTINCT {aliased} FROM matches "
            f"WHERE list_contains($s{j}, rule_id) AND ts <= $cutoff)"
        )
    return con.execute(" UNION ALL ".join(named), asked).fetchall() if named else []


def _places(
    found: list[tuple[object, str]], kind: pa.DataType
) -> tuple[pa.Array, Ints, list[str]] | None:
    """The groups' identities (of type `kind`), the place of each one's name among the sorted
    names, and the names; None when one identity has two names (a hash shared)."""
    name_of: dict[object, str] = {}
    for ident, name in found:
        if name_of.setdefault(ident, name) != name:
            return None
    names = sorted(set(name_of.values()))  # as Arrow sorted the names: by code point
    rank = {name: i for i, name in enumerate(names)}
    seen = pa.array(list(name_of), kind if found else pa.null())
    return seen, np.array([rank[n] for n in name_of.values()], np.int64), names


def _identity(shape: int, parts: tuple[str, ...], by_hash: bool) -> str:
    """A group's identity in the statements: its name, or the hash of its shape's number and
    values (DuckDB hashes NULL, [] and [NULL] alike, and ('a', []) as ['a']: the shape's
    number keeps groups of different shapes apart; a hash shared within one shape is found
    by `_places`)."""
    return f"hash({shape}, {', '.join(parts)})" if by_hash else _name(parts)


def _name(parts: tuple[str, ...]) -> str:
    """A group's name: the JSON text of its values, as suppression windows keep it."""
    return f"{json_list_sql(parts)}::VARCHAR"


def _grouping(rule: Rule) -> tuple[tuple[str, ...], str]:
    """The SQL of the rule's suppression values (none without suppression) and of `alone`."""
    sup = rule.suppression
    if sup is None:
        return (), "TRUE"
    missing = suppression_missing_sql(sup.group_by)
    alone = missing if sup.missing_fields_strategy == "doNotSuppress" else "FALSE"
    return suppression_values_sql(sup.group_by), alone


def _decided(store: Store, rule: Rule, rows: pa.Table, names: list[str]) -> Outcome:
    """One rule's outcome from its rows, in event order (`names`: the groups' names)."""
    positions, absorbed, keys = _alerts(store, rule, rows, names)
    times = int64s(rows.column("ts"))[positions]
    keep = first_per_interval(times, int(rule.interval / _US), rule.max_signals)
    kept = positions[keep]
    seqs = int64s(rows.column("seq"))[kept].tolist()
    ids = kernels.take(rows.column("event_id"), arrow_array(kept, kind=pa.int64())).to_pylist()
    times, absorbed = times[keep], absorbed[keep]
    made = zip(seqs, ids, times.tolist(), _masked(keys, keep), absorbed.tolist(), strict=True)
    candidates = [
        Candidate((), [seq], [eid], ts, ts, suppression_key=key, absorbed=n)
        for seq, eid, ts, key, n in made
    ]
    return Outcome(candidates, suppressed=True, dropped=int(len(keep) - keep.sum()))


def _alerts(
    store: Store, rule: Rule, rows: pa.Table, names: list[str]
) -> tuple[Ints, Ints, list[str | None]]:
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
        # by group, the groups in their names' order, each in event order
        groups = int64s(rows.column("group"))[grouped]
        by_group = np.argsort(groups, kind="stable")
        pos, groups = grouped[by_group], groups[by_group]
        starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
        named = [names[g] for g in groups[starts].tolist()]
        windows = stored_windows.load(store, rule.rule_id)
        folded = suppression.fold_rows(
            windows, named, np.diff(np.r_[starts, len(pos)]).astype(np.int64),
            int64s(rows.column("ts"))[pos], suppression.duration_us(rule, sup),
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

