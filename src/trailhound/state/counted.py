"""Events each rule has already counted, so that one event delivered twice counts once.

CloudTrail delivers the same event more than once where trails overlap (an organization
trail and an account's own trail), and a user may read one file from two places. Counted
twice, one DeleteTable would look like six. A match is known by its rule, its sequence step,
the account that received the event (`cloud.account.id`) and CloudTrail's `eventID`, which is
unique within an account. Keys are kept as long as a rule may still count the event (its
window or look-back, at least a day), in a run and across runs.
"""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa
import pyarrow.compute as pc

from trailhound.state.store import Store

ACCOUNT = "cloud.account.id"
EVENT_ID = "event.id"
_KEY_COLUMNS = ("rule_id", "step", ACCOUNT, EVENT_ID, "ts", "seq")
_KEY_NAMES = ["rule_id", "step", "account", "event_id", "ts", "seq"]


def first_counts(store: Store, matched: pa.Table) -> pa.Table:
    """The rows of `matched` (in `seq` order) that count: not counted before, and the first of
    any that share a key. Their keys are recorded. Rows without an eventID always count."""
    # only the key columns go through DuckDB: a matched row holds every event column, and
    # carrying those there and back cost more than the check itself
    keys = matched.select(list(_KEY_COLUMNS)).rename_columns(_KEY_NAMES)
    with store.registered("_candidates", keys):
        fresh = store.con.sql(
            # the first of each key by a hash aggregate, not a window (which sorts)
            "WITH firsts AS (SELECT min(seq) AS seq, rule_id, step, "
            "coalesce(account, '') AS account, event_id, arg_min(ts, seq) AS ts "
            "FROM _candidates WHERE event_id IS NOT NULL GROUP BY ALL) "
            "SELECT * FROM firsts ANTI JOIN counted USING (rule_id, step, account, event_id) "
            "UNION ALL SELECT seq, rule_id, step, account, event_id, ts FROM _candidates "
            "WHERE event_id IS NULL"
        ).to_arrow_table()
    with store.registered("_counted", fresh):
        store.con.execute(
            "INSERT INTO counted SELECT rule_id, step, account, event_id, ts FROM _counted "
            "WHERE event_id IS NOT NULL"
        )
    if fresh.num_rows == matched.num_rows:
        return matched  # nothing repeated: `matched` is already in `seq` order
    kept = pc.is_in(matched.column("seq"), value_set=fresh.column("seq"))
    return matched.filter(kept)


def forget(store: Store, before: Mapping[str, int]) -> None:
    """Drop the keys of each rule's events older than `before[rule_id]` (epoch µs)."""
    horizons = pa.table(
        {
            "rule_id": pa.array(list(before), pa.string()),
            "horizon": pa.array(list(before.values()), pa.int64()),
        }
    )
    with store.registered("_horizons", horizons):
        store.con.execute(
            "DELETE FROM counted USING _horizons h "
            "WHERE counted.rule_id = h.rule_id AND counted.ts < h.horizon"
        )
