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

Within a run the check first asks a set of the hashes of every key the state holds
(`KnownKeys`): only a row whose hash is known, or repeated within its insert, is checked
against the stored keys themselves. Reading every stored key at each insert cost a 4M run ~1
CPU-s and ~20 MB of DuckDB's hash tables at each insert, and almost no row is a repeat.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
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
_SEEN = f"seen AS (SELECT rule_id, step, account, event_id FROM counted UNION ALL {_STORED})"
_SEEN_OF_FIRSTS = (
    "ids AS (SELECT DISTINCT event_id FROM firsts), "
    "seen AS (SELECT rule_id, step, account, event_id FROM counted "
    f"WHERE event_id IN (SELECT event_id FROM ids) UNION ALL {_STORED} "
    f"AND {_EVENT_ID_SQL} IN (SELECT event_id FROM ids))"
)
# a key's hash the same whichever table or Arrow type it comes from: the casts make the
# candidates' dictionaries and the stored text one type before DuckDB hashes them
_HASH = (
    "hash(CAST({rule} AS VARCHAR), CAST({step} AS INTEGER), "
    "coalesce(CAST({account} AS VARCHAR), ''), CAST({event} AS VARCHAR))"
)
_STORED_HASHES = (
    "SELECT "
    + _HASH.format(rule="rule_id", step="step", account="account", event="event_id")
    + " AS h FROM counted UNION ALL SELECT "
    + _HASH.format(rule="rule_id", step="step", account=_ACCOUNT_SQL, event=_EVENT_ID_SQL)
    + f" FROM matches WHERE {_EVENT_ID_SQL} IS NOT NULL"
)
_CANDIDATE_HASHES = (
    "SELECT "
    + _HASH.format(rule="rule_id", step="step", account="account", event="event_id")
    + " AS h FROM _candidates"
)
_Hashes = npt.NDArray[np.uint64]


class KnownKeys:
    """A superset of the hashes of the keys the state holds (stored matches and `counted`),
    for one run of inserts on one store: read from the state at its first use, then grown by
    each insert's rows. Forgetting a key never needs it taken out (a stale hash only makes a
    row checked exactly), so nothing but `first_counts` changes it; a caller drops it when a
    run ends, so that it does not grow for ever over a long-lived state.

    `bits` keeps only the low bits of each hash: tests force collisions with a few."""

    def __init__(self, bits: int = 64) -> None:
        self._mask = np.uint64((1 << bits) - 1)
        self._sorted: _Hashes | None = None  # read at first use

    def take(self, store: Store, hashes: _Hashes) -> npt.NDArray[np.bool_]:
        """Which of `hashes` (of the keys about to be stored) the state may hold already, or
        occur more than once among them; then `hashes` are known too."""
        if self._sorted is None:  # the first insert of the run reads the state's keys
            with store.checking():  # as many as the state holds: the check's memory
                self._sorted = np.sort(_hashes_of(store, _STORED_HASHES) & self._mask)
        # sorted, the candidates find their places in one near-linear pass, not 17 random
        # reads each (~24 ms for 100k in 1M, against ~4 and ~4 for the sort)
        ordered = np.sort(hashes & self._mask)
        again = ordered[1:][ordered[1:] == ordered[:-1]]
        doubtful = np.union1d(ordered[_within(self._sorted, ordered)], again)
        # two sorted runs: the stable sort (timsort) merges them in one linear pass
        self._sorted = np.sort(np.concatenate((self._sorted, ordered)), kind="stable")
        if not len(doubtful):
            return np.zeros(len(hashes), dtype=np.bool_)
        return _within(doubtful, hashes & self._mask)


def _hashes_of(store: Store, sql: str) -> _Hashes:
    column = store.con.sql(sql).to_arrow_table().column("h")
    hashes: _Hashes = column.to_numpy().astype(np.uint64, copy=False)
    return hashes


def _within(sorted_hashes: _Hashes, hashes: _Hashes) -> npt.NDArray[np.bool_]:
    """Which of `hashes` are among `sorted_hashes`."""
    if not len(sorted_hashes):
        return np.zeros(len(hashes), dtype=np.bool_)
    at = np.searchsorted(sorted_hashes, hashes).clip(max=len(sorted_hashes) - 1)
    found: npt.NDArray[np.bool_] = sorted_hashes[at] == hashes
    return found


def first_counts(store: Store, matched: pa.Table, known: KnownKeys | None = None) -> pa.Table:
    """The rows of `matched` (in `seq` order) that count: neither a stored match's event nor
    one whose key was kept, and the first of any that share a key. Storing them as matches is
    what records them, and `known` (the run's, if given) takes in their keys. Rows without an
    eventID always count."""
    # only the key columns go through DuckDB: a matched row holds every event column, and
    # carrying those there and back cost more than the check itself
    keys = matched.select(list(_KEY_COLUMNS)).rename_columns(_KEY_NAMES)
    store.ensure_columns([ACCOUNT, EVENT_ID])  # the stored matches' keys are read below
    if known is None:
        return _checked(store, matched, keys)
    with store.registered("_candidates", keys):
        hashes = _hashes_of(store, _CANDIDATE_HASHES)
    has_id = keys.column("event_id").is_valid().to_numpy(zero_copy_only=False)
    suspect = np.zeros(len(hashes), dtype=np.bool_)
    suspect[has_id] = known.take(store, hashes[has_id])
    if not suspect.any():
        return matched
    # the suspects alone are checked exactly: every row sharing a key shares its hash too,
    # so the first of each key is among them
    suspects = pa.array(suspect)
    checked = _checked(store, matched.filter(suspects), keys.filter(suspects), few=True)
    counts = pc.is_in(matched.column("seq"), value_set=checked.column("seq"))
    return matched.filter(pc.or_(pc.invert(suspects), counts))


def _checked(store: Store, matched: pa.Table, keys: pa.Table, *, few: bool = False) -> pa.Table:
    """`first_counts` by DuckDB over every stored key. `few` candidates look for their own
    event ids among the stored keys first, so that DuckDB's hash table holds only those.
    While a scan reads, the check has DuckDB's memory for it (`Store.checking`)."""
    with store.checking(), store.registered("_candidates", keys):
        fresh = store.con.sql(
            # the first of each key by a hash aggregate, not a window (which sorts)
            "WITH firsts AS (SELECT min(seq) AS seq, rule_id, step, "
            "coalesce(account, '') AS account, event_id, arg_min(ts, seq) AS ts "
            "FROM _candidates WHERE event_id IS NOT NULL GROUP BY ALL), "
            f"{_SEEN_OF_FIRSTS if few else _SEEN} "
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
