"""baseline memory: per rule and group, the count of each window of event time in its history.

A window's count grows as its events are decided (a later run continues a window an earlier
run began), and `alerted` marks a window that has raised its alert, so it raises no second.
The ids of the events counted are kept as long as their windows, so an event read again (the
same file scanned twice, a trail delivered twice) is not counted twice. Windows older than the
history any later event can look back on are forgotten.
"""

from __future__ import annotations

from collections import defaultdict

import pyarrow as pa
from msgspec import Struct

from trailhound.state.store import Store


class Window(Struct):
    """One window of one group, as the store keeps it."""

    count: int = 0
    first: int | None = None  # its earliest event time (epoch µs)
    alerted: bool = False


Windows = dict[str, dict[int, Window]]  # per group (JSON of its values), by window start


def load(store: Store, rule_id: str) -> Windows:
    rows = store.con.execute(
        "SELECT group_key, window_start, count, first_event, alerted FROM baseline_windows "
        "WHERE rule_id = ? ORDER BY group_key, window_start",
        [rule_id],
    ).fetchall()
    found: Windows = defaultdict(dict)
    for key, start, count, first, alerted in rows:
        found[key][start] = Window(count, first, alerted)
    return dict(found)


def uncounted(store: Store, rule_id: str, rows_sql: str, params: dict[str, object]) -> pa.Table:
    """The rows of `rows_sql` (with an `event_id` column) whose event was not counted yet, in
    no order, as columns: a read-heavy rule has a row for every read call, too many for a
    Python tuple each."""
    found: pa.Table = store.con.sql(
        f"SELECT * FROM ({rows_sql}) r WHERE r.event_id IS NULL OR r.event_id NOT IN "
        "(SELECT event_id FROM baseline_events WHERE rule_id = $rule)",
        params={**params, "rule": rule_id},
    ).to_arrow_table()
    return found


def note_counted(
    store: Store, rule_id: str, counted: pa.Table, *, forget_before: int, distinct: bool = False
) -> None:
    """Remember these events (columns `event_id`, `ts`), none of which `uncounted` found
    counted, as counted; forget those older than `forget_before`. An event that came with two
    times is remembered by its later one. `distinct` says no event id is there twice, so they
    need no grouping (at 4M events, grouping 580,000 ids cost 0.07-0.09 CPU-s of the insert's
    0.35)."""
    if counted.num_rows:
        # one row per event, and none already there (`uncounted` left those out): so the
        # table needs no key, whose upkeep cost more than the insert (145,000 ids at 1M)
        rows = (
            "SELECT $rule, event_id, ts FROM _counted"
            if distinct
            else "SELECT $rule, event_id, max(ts) FROM _counted GROUP BY event_id"
        )
        with store.registered("_counted", counted):
            store.con.execute(f"INSERT INTO baseline_events {rows}", {"rule": rule_id})
    store.con.execute(
        "DELETE FROM baseline_events WHERE rule_id = $rule AND ts < $before",
        {"rule": rule_id, "before": forget_before},
    )


def save(store: Store, rule_id: str, windows: Windows, *, forget_before: int) -> None:
    """Replace the rule's windows with these, less those starting before `forget_before`."""
    store.con.execute("DELETE FROM baseline_windows WHERE rule_id = ?", [rule_id])
    kept = [
        (key, start, w)
        for key, group in windows.items()
        for start, w in group.items()
        if start >= forget_before
    ]
    if not kept:
        return
    table = pa.table(
        {
            "group_key": [key for key, _, _ in kept],
            "window_start": pa.array([start for _, start, _ in kept], pa.int64()),
            "count": pa.array([w.count for _, _, w in kept], pa.int64()),
            "first_event": pa.array([w.first for _, _, w in kept], pa.int64()),
            "alerted": pa.array([w.alerted for _, _, w in kept], pa.bool_()),
        }
    )
    with store.registered("_baseline_windows", table):
        store.con.execute(
            "INSERT INTO baseline_windows SELECT $rule, group_key, window_start, count, "
            "first_event, alerted FROM _baseline_windows",
            {"rule": rule_id},
        )
