"""new_terms memory: each rule's terms and when they were last seen, and its learning clock.

The statements take every new_terms rule of a run at once (each statement has a fixed cost):
`rules` names a relation with a row per rule, columns `rule_id` and, for `remember`, `rule`
(its number in `seen`) and `history` (µs).
"""

from __future__ import annotations

from collections.abc import Sequence

from trailhound.state.store import Store


def start_clocks(store: Store, rule_ids: Sequence[str], cutoff: int) -> dict[str, int]:
    """Note each rule's first matched event (up to `cutoff`) if earlier than the one known;
    returns per rule the first event time ever seen (epoch µs), none for a rule before any."""
    params = {"rules": list(rule_ids), "cutoff": cutoff}
    store.con.execute(
        "INSERT INTO clocks SELECT rule_id, min(ts) FROM matches "
        "WHERE list_contains($rules, rule_id) AND ts <= $cutoff GROUP BY rule_id "
        "ON CONFLICT (rule_id) DO UPDATE SET "
        "first_event = least(first_event, excluded.first_event)",
        params,
    )
    rows = store.con.execute(
        "SELECT rule_id, first_event FROM clocks WHERE list_contains($rules, rule_id)",
        {"rules": params["rules"]},
    ).fetchall()
    return {str(rule_id): int(first) for rule_id, first in rows}


def remember(store: Store, rules: str, seen: str) -> None:
    """Merge the terms of the relation `seen` (columns rule, term, ts) into each rule's
    terms, and forget those unseen for longer than its `history`: they are as good as never
    seen."""
    store.con.execute(
        f"INSERT INTO terms SELECT r.rule_id, s.term, min(s.ts), max(s.ts) FROM {seen} s "
        f"JOIN {rules} r USING (rule) GROUP BY r.rule_id, s.term "
        "ON CONFLICT (rule_id, term) DO UPDATE SET "
        "first_seen = least(first_seen, excluded.first_seen), "
        "last_seen = greatest(last_seen, excluded.last_seen)"
    )
    store.con.execute(
        f"DELETE FROM terms USING {rules} r WHERE terms.rule_id = r.rule_id AND "
        "terms.last_seen < (SELECT max(t.last_seen) FROM terms t WHERE t.rule_id = r.rule_id) "
        "- r.history"
    )
