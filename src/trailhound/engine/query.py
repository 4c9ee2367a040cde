"""query rules: every matching event is an alert, then suppression and max_signals thin them.

A query rule can match a large share of the input (every successful PutItem), so its rows
are decided as columns: DuckDB ranks them in event order and computes their suppression
groups, numpy folds each group's times into windows, and only the rows that stay alerts
become `Candidate`s. Memory follows the alerts, not the matches.
"""

from __future__ import annotations

from datetime import timedelta

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from trailhound.engine import suppression
from trailhound.engine.candidates import Candidate, Outcome
from trailhound.engine.keys import suppression_key_sql, suppression_missing_sql
from trailhound.engine.max_signals import first_per_interval
from trailhound.rules.model import Rule
from trailhound.state import windows as stored_windows
from trailhound.state.store import Store

_US = timedelta(microseconds=1)
_ROWS = "_query_rows"
Ints = npt.NDArray[np.int64]


def evaluate(store: Store, rule: Rule, cutoff: int) -> Outcome:
    """The rule's alerts up to `cutoff`, already suppressed and capped (`Outcome.dropped`)."""
    con = store.con
    _rank_rows(con, rule, cutoff)
    try:
        positions, times, absorbed, keys = _alerts(store, rule)
        keep = first_per_interval(times, int(rule.interval / _US), rule.max_signals)
        candidates = _candidates(con, positions[keep], absorbed[keep], _masked(keys, keep))
        return Outcome(candidates, suppressed=True, dropped=int(len(keep) - keep.sum()))
    finally:
        con.execute(f"DROP TABLE IF EXISTS {_ROWS}")


def _rank_rows(con: duckdb.DuckDBPyConnection, rule: Rule, cutoff: int) -> None:
    """A temporary table of the rule's rows: event-order position, group, and `alone` for
    rows that are not suppressed (no suppression, or a missing field that must not be)."""
    sup = rule.suppression
    if sup is None:
        group, alone = "NULL", "TRUE"
    else:
        group = suppression_key_sql(sup.group_by)
        missing = suppression_missing_sql(sup.group_by)
        alone = missing if sup.missing_fields_strategy == "doNotSuppress" else "FALSE"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {_ROWS} AS SELECT seq, ts, "
        f'row_number() OVER (ORDER BY ts, coalesce("event.id", \'\'), seq) AS pos, '
        f"{group} AS gkey, coalesce({alone}, FALSE) AS alone "
        "FROM matches WHERE rule_id = $rule AND ts <= $cutoff",
        {"rule": rule.rule_id, "cutoff": cutoff},
    )


def _alerts(store: Store, rule: Rule) -> tuple[Ints, Ints, Ints, list[str | None]]:
    """Positions, times, folded-in counts and groups of the rows that stay alerts, in order."""
    con = store.con
    alone_pos, alone_ts = _columns(con, f"SELECT pos, ts FROM {_ROWS} WHERE alone")
    positions, times = [alone_pos], [alone_ts]
    absorbed = [np.zeros(len(alone_pos), np.int64)]
    keys: list[str | None] = [None] * len(alone_pos)
    sup = rule.suppression
    if sup is not None:
        groups = con.execute(
            f"SELECT gkey, count(*) FROM {_ROWS} WHERE NOT alone GROUP BY gkey ORDER BY gkey"
        ).fetchall()
        pos, ts = _columns(
            con, f"SELECT pos, ts FROM {_ROWS} WHERE NOT alone ORDER BY gkey, pos"
        )
        windows = stored_windows.load(store, rule.rule_id)
        folded = suppression.fold_rows(
            windows,
            [str(g) for g, _ in groups],
            np.array([n for _, n in groups], np.int64),
            ts,
            suppression.duration_us(rule, sup),
        )
        stored_windows.save(store, rule.rule_id, windows)
        positions.append(pos[folded.kept])
        times.append(ts[folded.kept])
        absorbed.append(folded.absorbed)
        keys.extend(folded.keys)
    order = np.argsort(np.concatenate(positions), kind="stable")
    return (
        np.concatenate(positions)[order],
        np.concatenate(times)[order],
        np.concatenate(absorbed)[order],
        [keys[i] for i in order.tolist()],
    )


def _columns(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Ints, Ints]:
    table = con.sql(sql).to_arrow_table()
    return (
        table.column(0).to_numpy().astype(np.int64, copy=False),
        table.column(1).to_numpy().astype(np.int64, copy=False),
    )


def _masked(keys: list[str | None], keep: npt.NDArray[np.bool_]) -> list[str | None]:
    return [k for k, kept in zip(keys, keep.tolist(), strict=True) if kept]


def _candidates(
    con: duckdb.DuckDBPyConnection, positions: Ints, absorbed: Ints, keys: list[str | None]
) -> list[Candidate]:
    if len(positions) == 0:
        return []
    con.register("_query_kept", pa.table({"pos": pa.array(positions, pa.int64())}))
    try:
        rows = con.execute(
            'SELECT r.seq, r.ts, coalesce(m."event.id", \'\') '
            f"FROM {_ROWS} r JOIN _query_kept USING (pos) JOIN matches m USING (seq) "
            "ORDER BY r.pos"
        ).fetchall()
    finally:
        con.unregister("_query_kept")
    return [
        Candidate((), [seq], [eid], ts, ts, suppression_key=key, absorbed=n)
        for (seq, ts, eid), n, key in zip(rows, absorbed.tolist(), keys, strict=True)
    ]
