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

from trailhound.state.store import Store

ACCOUNT = "cloud.account.id"
EVENT_ID = "event.id"

_KEY = f"rule_id, step, coalesce(\"{ACCOUNT}\", ''), \"{EVENT_ID}\""


def first_counts(store: Store, matched: pa.Table) -> pa.Table:
    """The rows of `matched` (in `seq` order) that count: not counted before, and the first of
    any that share a key. Their keys are recorded. Rows without an eventID always count."""
    with store.registered("_candidates", matched):
        fresh: pa.Table = store.con.sql(
            "SELECT m.* FROM _candidates m ANTI JOIN counted c ON c.rule_id = m.rule_id "
            f"AND c.step = m.step AND c.account = coalesce(m.\"{ACCOUNT}\", '') "
            f"AND c.event_id = m.\"{EVENT_ID}\" "
            f"QUALIFY m.\"{EVENT_ID}\" IS NULL "
            f"OR row_number() OVER (PARTITION BY {_KEY} ORDER BY seq) = 1 "
            "ORDER BY seq"
        ).to_arrow_table()
    with store.registered("_counted", fresh):
        store.con.execute(
            f"INSERT INTO counted SELECT {_KEY}, ts FROM _counted "
            f"WHERE \"{EVENT_ID}\" IS NOT NULL"
        )
    return fresh


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
