"""Events each rule has already counted, so that one event delivered twice counts once.

CloudTrail delivers the same event more than once where trails overlap (an organization
trail and an account's own trail), and a user may read one file from two places. Counted
twice, one DeleteTable would look like six. A match is known by its rule, its sequence step,
the account that received the event (`cloud.account.id`) and CloudTrail's `eventID`, which is
unique within an account. Keys are kept as long as a rule may still count the event (its
window or look-back, at least a day), in a run and across runs.

A stored match is its own key: the `counted` table holds the keys of matches no longer
stored, entered when they are forgotten (`keep`), and only those a rule may still need. At
4M events, entering every stored row's key as it was stored cost 0.58 CPU-s, most of it for
keys forgotten at the end of the same run.
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
_ACCOUNT_SQL = 'matches."cloud.account.id"'
_EVENT_ID_SQL = 'matches."event.id"'
_STORED = (
    f"SELECT rule_id, step, coalesce({_ACCOUNT_SQL}, ''), {_EVENT_ID_SQL} FROM matches "
    f"WHERE {_EVENT_ID_SQL} IS NOT NULL"
)


def first_counts(store: Store, matched: pa.Table) -> pa.Table:
    """The rows of `matched` (in `seq` order) that count: neither a stored match's event nor
    one whose key was kept, and the first of any that share a key. Storing them as matches is
    what records them. Rows without an eventID always count."""
    # only the key columns go through DuckDB: a matched row holds every event column, and
    # carrying those there and back cost more than the check itself
    keys = matched.select(list(_KEY_COLUMNS)).rename_columns(_KEY_NAMES)
    store.ensure_columns([ACCOUNT, EVENT_ID])  # the stored matches' keys are read below
    with store.registered("_candidates", keys):
        fresh = store.con.sql(
            # the first of each key by a hash aggregate, not a window (which sorts)
            "WITH firsts AS (SELECT min(seq) AS seq, rule_id, step, "
            "coalesce(account, '') AS account, event_id, arg_min(ts, seq) AS ts "
            "FROM _candidates WHERE event_id IS NOT NULL GROUP BY ALL), "
            f"seen AS (SELECT rule_id, step, account, event_id FROM counted UNION ALL {_STORED}) "
            "SELECT * FROM firsts ANTI JOIN seen USING (rule_id, step, account, event_id) "
            "UNION ALL SELECT seq, rule_id, step, account, event_id, ts FROM _candidates "
            "WHERE event_id IS NULL"
        ).to_arrow_table()
    if fresh.num_rows == matched.num_rows:
        return matched  # nothing repeated: `matched` is already in `seq` order
    kept = pc.is_in(matched.column("seq"), value_set=fresh.column("seq"))
    return matched.filter(kept)


def keep(
    store: Store,
    using: str,
    doomed: str,
    params: Mapping[str, object],
    since: Mapping[str, int] | None,
) -> None:
    """Enter the keys of the stored matches about to be deleted (as by `DELETE FROM matches
    USING {using} WHERE {doomed}`, with `params`), of each rule those no older than
    `since[rule_id]` (epoch µs; all of them without `since`): the others would be forgotten
    at once."""
    with store.registered("_kept_horizons", _horizons(since or {})):
        store.con.execute(
            f"INSERT INTO counted SELECT matches.rule_id, matches.step, "
            f"coalesce({_ACCOUNT_SQL}, ''), {_EVENT_ID_SQL}, matches.ts "
            f"FROM matches, {using} WHERE ({doomed}) AND {_EVENT_ID_SQL} IS NOT NULL "
            # a rule without a horizon keeps every key, as does a row without a time
            "AND coalesce(matches.ts >= (SELECT h.horizon FROM _kept_horizons h "
            "WHERE h.rule_id = matches.rule_id), TRUE)",
            dict(params),
        )


def forget(store: Store, before: Mapping[str, int]) -> None:
    """Drop the keys of each rule's events older than `before[rule_id]` (epoch µs)."""
    with store.registered("_horizons", _horizons(before)):
        store.con.execute(
            "DELETE FROM counted USING _horizons h "
            "WHERE counted.rule_id = h.rule_id AND counted.ts < h.horizon"
        )


def _horizons(per_rule: Mapping[str, int]) -> pa.Table:
    """A rule's time (epoch µs) per row, as the statements above join it."""
    return pa.table(
        {
            "rule_id": pa.array(list(per_rule), pa.string()),
            "horizon": pa.array(list(per_rule.values()), pa.int64()),
        }
    )
