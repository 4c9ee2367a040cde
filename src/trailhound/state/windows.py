"""Suppression windows: per rule and group, the windows of the last day of event time and what
each has folded in.

A later run keeps folding into a window that an earlier run opened, and CloudTrail delivers
some events hours late: such an event belongs in the window of its own time, which may be
older than the group's newest. So a group keeps every window that ends within `KEEP` of its
newest window's end.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import pyarrow as pa
from msgspec import Struct

from trailhound.state.store import Store

KEEP = int(timedelta(days=1) / timedelta(microseconds=1))


class Window(Struct):
    """A suppression window of one group, as the store keeps it."""

    start: int
    end: int
    absorbed: int = 0  # folded in by runs after the one that opened the window


Windows = dict[str, list[Window]]  # per group, its windows by start


def load(store: Store, rule_id: str) -> Windows:
    rows = store.con.execute(
        "SELECT group_key, window_start, window_end, absorbed FROM suppression_windows "
        "WHERE rule_id = ? ORDER BY group_key, window_start",
        [rule_id],
    ).fetchall()
    found: Windows = defaultdict(list)
    for key, start, end, absorbed in rows:
        found[key].append(Window(start, end, absorbed))
    return dict(found)


def save(store: Store, rule_id: str, windows: Windows) -> None:
    """Replace the rule's windows with these, less those ending more than `KEEP` before
    their group's newest."""
    store.con.execute("DELETE FROM suppression_windows WHERE rule_id = ?", [rule_id])
    kept = [(key, w) for key, group in windows.items() for w in _recent(group)]
    if not kept:
        return
    table = pa.table(
        {
            "group_key": [key for key, _ in kept],
            "window_start": pa.array([w.start for _, w in kept], pa.int64()),
            "window_end": pa.array([w.end for _, w in kept], pa.int64()),
            "absorbed": pa.array([w.absorbed for _, w in kept], pa.int64()),
        }
    )
    with store.registered("_sup_windows", table):
        store.con.execute(
            "INSERT INTO suppression_windows SELECT $rule, group_key, window_start, "
            "window_end, absorbed FROM _sup_windows",
            {"rule": rule_id},
        )


def _recent(group: list[Window]) -> list[Window]:
    if not group:
        return []
    newest = max(w.end for w in group)
    return [w for w in group if w.end >= newest - KEEP]
