"""Alert suppression as Elastic means it: one alert per group per duration.

The first alert of a group opens a window of `duration` in event time; later alerts of that
group inside the window are folded into it and counted. Windows live in the store, so a later
run keeps folding into a window that an earlier run opened.

Two entry points share the windows: `apply` folds a list of candidates (threshold, new_terms
and sequence rules make few), `fold_rows` folds alerts-to-be given as columns (a query rule
makes one per match, too many for an object each).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from trailhound.engine.candidates import Candidate
from trailhound.engine.keys import suppression_key_sql, suppression_missing_sql
from trailhound.rules.model import Rule, Suppression
from trailhound.state import windows as stored_windows
from trailhound.state.store import Store
from trailhound.state.windows import Window

_US = timedelta(microseconds=1)
Ints = npt.NDArray[np.int64]


@dataclass(slots=True)
class Folded:
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
    stored = stored_windows.load(store, rule.rule_id)
    newest = dict(stored)
    kept: list[Candidate] = []
    opened: dict[str, tuple[Window, Candidate]] = {}  # per group, the last opened by this run
    for cand in sorted(candidates, key=lambda c: (c.time, c.event_ids[0], c.seqs[0])):
        key, missing = keys[cand.seqs[0]]
        if missing and sup.missing_fields_strategy == "doNotSuppress":
            kept.append(cand)
            continue
        earlier = stored.get(key)
        if earlier is not None and earlier.start <= cand.time < earlier.end:
            earlier.absorbed += len(cand.seqs)  # its alert came out in an earlier run
            continue
        last = opened.get(key)
        if last is not None and last[0].start <= cand.time < last[0].end:
            last[1].absorbed += len(cand.seqs)
            continue
        window = Window(cand.time, cand.time + duration)
        opened[key] = (window, cand)
        cand.suppression_key = key
        kept.append(cand)
        if key not in newest or window.start > newest[key].start:
            newest[key] = window
    stored_windows.save(store, rule.rule_id, newest)
    return kept


def fold_rows(
    windows: dict[str, Window], group_keys: list[str], sizes: Ints, times: Ints, duration: int
) -> Folded:
    """Fold one-event alerts-to-be, sorted by group and then in event order, into windows.

    `group_keys[g]` names the g-th group and `sizes[g]` its number of rows; `times` are the
    rows' event times. Only the rows that open a window are visited: the next opener of a
    group is the first of its rows at or after the end of the current window. A window an
    earlier run opened keeps what falls in it; rows before it (events delivered later than the
    lateness) open windows of their own that stop where it starts, and it stays the group's
    window unless a later one opens."""
    kept: list[int] = []
    absorbed: list[int] = []
    keys: list[str | None] = []
    lo = 0
    for key, size in zip(group_keys, sizes.tolist(), strict=True):
        group = times[lo : lo + size]
        earlier = windows.get(key)
        i = 0
        while i < size:
            start = int(group[i])
            if earlier is not None and earlier.start <= start < earlier.end:
                end = int(np.searchsorted(group, earlier.end, "left"))
                earlier.absorbed += end - i
                i = end
                continue
            end = int(np.searchsorted(group, start + duration, "left"))
            if earlier is not None and start < earlier.start:
                end = min(end, int(np.searchsorted(group, earlier.start, "left")))
            kept.append(lo + i)
            absorbed.append(end - i - 1)
            keys.append(key)
            if key not in windows or start > windows[key].start:
                windows[key] = Window(start, start + duration)
            i = end
        lo += size
    return Folded(np.array(kept, np.int64), np.array(absorbed, np.int64), keys)


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
