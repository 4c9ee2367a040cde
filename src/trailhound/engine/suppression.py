"""Alert suppression as Elastic means it: one alert per group per duration.

The first alert of a group opens a window of `duration` in event time; later alerts of that
group inside the window are folded into it and counted. Windows live in the store, so a later
run keeps folding into a window that an earlier run opened.

Two entry points share the windows: `apply` folds a list of candidates (threshold, new_terms
and sequence rules make few), `fold_rows` folds alerts-to-be given as columns (a query rule
makes one per match, too many for an object each).
"""

from __future__ import annotations

import bisect
from datetime import timedelta

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
from msgspec import Struct

from trailhound.engine.candidates import Candidate
from trailhound.engine.keys import suppression_key_sql, suppression_missing_sql
from trailhound.rules.model import Rule, Suppression
from trailhound.state import windows as stored_windows
from trailhound.state.store import Store
from trailhound.state.windows import Window, Windows

_US = timedelta(microseconds=1)
Ints = npt.NDArray[np.int64]


class Folded(Struct):
    """The rows of `fold_rows` that stay alerts, as positions into its input, in input order.

    `absorbed[i]` counts the rows folded into alert `kept[i]`; `keys[i]` is its group (None
    for a row that is not suppressed)."""

    kept: Ints
    absorbed: Ints
    keys: list[str | None]


def duration_us(rule: Rule, sup: Suppression) -> int:
    return int((sup.duration or rule.interval) / _US)


def apply(store: Store, rule: Rule, candidates: list[Candidate]) -> list[Candidate]:
    sup = rule.suppression
    if sup is None or not candidates:
        return candidates
    keys = _group_keys(store.con, sup, [c.seqs[0] for c in candidates])
    duration = duration_us(rule, sup)
    windows = stored_windows.load(store, rule.rule_id)
    kept: list[Candidate] = []
    openers: dict[int, Candidate] = {}  # id() of a window this run opened -> its alert
    for cand in sorted(candidates, key=lambda c: (c.time, c.event_ids[0], c.seqs[0])):
        key, missing = keys[cand.seqs[0]]
        if missing and sup.missing_fields_strategy == "doNotSuppress":
            kept.append(cand)
            continue
        group = windows.setdefault(key, [])
        inside = _containing(group, cand.time)
        if inside is not None:
            opener = openers.get(id(inside))
            if opener is not None:
                opener.absorbed += len(cand.seqs) + cand.absorbed
            else:  # its alert came out in an earlier run
                inside.absorbed += len(cand.seqs) + cand.absorbed
            continue
        window = Window(cand.time, cand.time + duration)
        bisect.insort(group, window, key=lambda w: w.start)
        openers[id(window)] = cand
        cand.suppression_key = key
        kept.append(cand)
    stored_windows.save(store, rule.rule_id, windows)
    return kept


def fold_rows(
    windows: Windows, group_keys: list[str], sizes: Ints, times: Ints, duration: int
) -> Folded:
    """Fold one-event alerts-to-be, sorted by group and then in event order, into windows.

    `group_keys[g]` names the g-th group and `sizes[g]` its number of rows; `times` are the
    rows' event times. Only the rows that open a window are visited: a row inside a window
    (the one of latest start at or before it) is folded into it, else it opens a window, which
    takes the rows that follow up to its end or the next window's start. Late rows (delivered
    later than the lateness) so land in the window of their own time."""
    kept: list[int] = []
    absorbed: list[int] = []
    keys: list[str | None] = []
    lo = 0
    for key, size in zip(group_keys, sizes.tolist(), strict=True):
        rows = times[lo : lo + size]
        group = windows.setdefault(key, [])
        i = 0
        while i < size:
            at = int(rows[i])
            k = bisect.bisect_right(group, at, key=lambda w: w.start) - 1
            following = group[k + 1].start if k + 1 < len(group) else None
            if k >= 0 and at < group[k].end:  # opened by an earlier run: its alert is out
                end = _upto(rows, group[k].end, following)
                group[k].absorbed += end - i
                i = end
                continue
            end = _upto(rows, at + duration, following)
            kept.append(lo + i)
            absorbed.append(end - i - 1)
            keys.append(key)
            group.insert(k + 1, Window(at, at + duration))
            i = end
        lo += size
    return Folded(np.array(kept, np.int64), np.array(absorbed, np.int64), keys)


def _containing(group: list[Window], at: int) -> Window | None:
    """The window of `at`: the one of latest start at or before it, if it has not ended."""
    k = bisect.bisect_right(group, at, key=lambda w: w.start) - 1
    return group[k] if k >= 0 and at < group[k].end else None


def _upto(rows: Ints, end: int, following: int | None) -> int:
    """The position of the first row at or after `end`, or after the next window's start."""
    limit = end if following is None else min(end, following)
    return int(np.searchsorted(rows, limit, "left"))


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
