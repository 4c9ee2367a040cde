"""Suppression windows: per rule and group, the open window and what it has folded in.

A later run keeps folding into a window an earlier run opened, so windows live in the state.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from trailhound.state.store import Store


@dataclass(slots=True)
class Window:
    """A suppression window of one group, as the store keeps it."""

    start: int
    end: int
    absorbed: int = 0  # folded in by runs after the one that opened the window


def load(store: Store, rule_id: str) -> dict[str, Window]:
    rows = store.con.execute(
        "SELECT group_key, window_start, window_end, absorbed FROM suppression "
        "WHERE rule_id = ?",
        [rule_id],
    ).fetchall()
    return {key: Window(start, end, absorbed) for key, start, end, absorbed in rows}


def save(store: Store, rule_id: str, windows: dict[str, Window]) -> None:
    store.con.execute("DELETE FROM suppression WHERE rule_id = ?", [rule_id])
    if not windows:
        return
    table = pa.table(
        {
            "group_key": list(windows),
            "window_start": pa.array([w.start for w in windows.values()], pa.int64()),
            "window_end": pa.array([w.end for w in windows.values()], pa.int64()),
            "absorbed": pa.array([w.absorbed for w in windows.values()], pa.int64()),
        }
    )
    with store.registered("_sup_windows", table):
        store.con.execute(
            "INSERT INTO suppression SELECT $rule, group_key, window_start, window_end, "
            "NULL, absorbed FROM _sup_windows",
            {"rule": rule_id},
        )
