"""Alert suppression as Elastic means it: one alert per group per duration.

The first alert of a group opens a window of `duration` in event time; later alerts of that
group inside the window are folded into it and counted. Windows live in the store, so a later
run keeps folding into a window that an earlier run opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import duckdb
import pyarrow as pa

from trailhound.engine.candidates import Candidate
from trailhound.engine.keys import suppression_key_sql, suppression_missing_sql
from trailhound.rules.model import Rule, Suppression

_US = timedelta(microseconds=1)


@dataclass(slots=True)
class _Window:
    start: int
    end: int
    absorbed: int = 0  # folded in by runs after the one that opened the window


def apply(
    con: duckdb.DuckDBPyConnection, rule: Rule, candidates: list[Candidate]
) -> list[Candidate]:
    sup = rule.suppression
    if sup is None or not candidates:
        return candidates
    keys = _group_keys(con, sup, [c.seqs[0] for c in candidates])
    duration = int((sup.duration or rule.interval) / _US)
    windows = _load_windows(con, rule)
    kept: list[Candidate] = []
    opened: dict[str, Candidate] = {}
    for cand in sorted(candidates, key=lambda c: (c.time, c.event_ids[0], c.seqs[0])):
        key, missing = keys[cand.seqs[0]]
        if missing and sup.missing_fields_strategy == "doNotSuppress":
            kept.append(cand)
            continue
        window = windows.get(key)
        if window is not None and window.start <= cand.time < window.end:
            opener = opened.get(key)
            if opener is not None:
                opener.absorbed += len(cand.seqs)
            else:
                window.absorbed += len(cand.seqs)
            continue
        windows[key] = _Window(cand.time, cand.time + duration)
        cand.suppression_key = key
        opened[key] = cand
        kept.append(cand)
    _save_windows(con, rule, windows)
    return kept


def _group_keys(
    con: duckdb.DuckDBPyConnection, sup: Suppression, seqs: list[int]
) -> dict[int, tuple[str, bool]]:
    con.register("_sup_seqs", pa.table({"seq": pa.array(seqs, pa.int64())}))
    try:
        rows = con.execute(
            f"SELECT m.seq, {suppression_key_sql(sup.group_by)}, "
            f"{suppression_missing_sql(sup.group_by)} "
            "FROM matches m JOIN _sup_seqs USING (seq)"
        ).fetchall()
    finally:
        con.unregister("_sup_seqs")
    return {seq: (str(key), bool(missing)) for seq, key, missing in rows}


def _load_windows(con: duckdb.DuckDBPyConnection, rule: Rule) -> dict[str, _Window]:
    rows = con.execute(
        "SELECT group_key, window_start, window_end, absorbed FROM suppression "
        "WHERE rule_id = ?",
        [rule.rule_id],
    ).fetchall()
    return {key: _Window(start, end, absorbed) for key, start, end, absorbed in rows}


def _save_windows(
    con: duckdb.DuckDBPyConnection, rule: Rule, windows: dict[str, _Window]
) -> None:
    con.execute("DELETE FROM suppression WHERE rule_id = ?", [rule.rule_id])
    if not windows:
        return
    table = pa.table(
        {
            "group_key": list(windows),
            "window_start": [w.start for w in windows.values()],
            "window_end": [w.end for w in windows.values()],
            "absorbed": [w.absorbed for w in windows.values()],
        }
    )
    con.register("_sup_windows", table)
    try:
        con.execute(
            "INSERT INTO suppression SELECT $rule, group_key, window_start, window_end, "
            "NULL, absorbed FROM _sup_windows",
            {"rule": rule.rule_id},
        )
    finally:
        con.unregister("_sup_windows")
