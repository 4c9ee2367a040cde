"""new_terms memory: each rule's terms and when they were last seen, and its learning clock."""

from __future__ import annotations

from trailhound.state.store import Store


def start_clock(store: Store, rule_id: str, cutoff: int) -> int | None:
    """Note the rule's first matched event (up to `cutoff`) if earlier than the one known;
    returns the first event time ever seen (epoch µs), or None before any."""
    store.con.execute(
        "INSERT INTO clocks SELECT $rule, min(ts) FROM matches "
        "WHERE rule_id = $rule AND ts <= $cutoff HAVING min(ts) IS NOT NULL "
        "ON CONFLICT (rule_id) DO UPDATE SET "
        "first_event = least(first_event, excluded.first_event)",
        {"rule": rule_id, "cutoff": cutoff},
    )
    rows = store.con.execute("SELECT first_event FROM clocks WHERE rule_id = ?", [rule_id])
    found = rows.fetchall()
    return int(found[0][0]) if found else None


def remember(store: Store, rule_id: str, seen: str, history: int) -> None:
    """Merge the terms of the relation `seen` (columns term, ts) into the rule's terms, and
    forget those unseen for longer than `history` (µs): they are as good as never seen."""
    store.con.execute(
        f"INSERT INTO terms SELECT $rule, term, min(ts), max(ts) FROM {seen} GROUP BY term "
        "ON CONFLICT (rule_id, term) DO UPDATE SET "
        "first_seen = least(first_seen, excluded.first_seen), "
        "last_seen = greatest(last_seen, excluded.last_seen)",
        {"rule": rule_id},
    )
    store.con.execute(
        "DELETE FROM terms WHERE rule_id = $rule AND last_seen < "
        "(SELECT max(last_seen) FROM terms WHERE rule_id = $rule) - $history",
        {"rule": rule_id, "history": history},
    )
