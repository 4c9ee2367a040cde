"""The duplicate-event check as a table of matches meets it: which rows count, and that the
keys it records hold across calls (one run's later inserts, or a later run)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from trailhound.state import counted, matches
from trailhound.state.store import Store


def _matched(rows: list[tuple[int, str, str | None, str | None, int]]) -> pa.Table:
    """(seq, rule_id, account, event id, ts) -> matched rows with one extra event column."""
    seq, rule, account, event, ts = (list(c) for c in zip(*rows, strict=True))
    return pa.table(
        {
            "rule_id": pa.array(rule, pa.string()),
            "step": pa.array([0] * len(rows), pa.int32()),
            counted.ACCOUNT: pa.array(account, pa.string()),
            counted.EVENT_ID: pa.array(event, pa.string()),
            "ts": pa.array(ts, pa.int64()),
            "seq": pa.array(seq, pa.int64()),
            "event.action": pa.array([f"row{s}" for s in seq], pa.string()),
        }
    )


def _stored(store: Store, rows: list[tuple[int, str, str | None, str | None, int]]) -> list[int]:
    """Store these matched rows as a run does; the seqs of those that counted."""
    matches.append(store, [_matched(rows).drop_columns(["event.action"])], [])
    found = store.con.execute(
        "SELECT seq FROM matches WHERE seq IN (SELECT unnest($seqs)) ORDER BY seq",
        {"seqs": [r[0] for r in rows]},
    ).fetchall()
    return [seq for (seq,) in found]


def test_the_first_of_repeated_events_counts_and_rows_without_an_id_all_count(
    tmp_path: Path,
) -> None:
    store = Store.open(tmp_path / "state.duckdb")
    try:
        kept = counted.first_counts(store, _matched([
            (1, "r", "111", "e1", 10),
            (2, "r", "111", "e1", 20),  # delivered twice
            (3, "r", "222", "e1", 30),  # another account's e1 is another event
            (4, "other", "111", "e1", 40),  # another rule counts it for itself
            (5, "r", None, None, 50),
            (6, "r", None, None, 60),
            (7, "r", None, "e2", 70),
            (8, "r", "", "e2", 80),  # no account is the empty account
        ]))  # fmt: skip
        assert kept.column("seq").to_pylist() == [1, 3, 4, 5, 6, 7]
        assert kept.column("event.action").to_pylist() == [f"row{s}" for s in (1, 3, 4, 5, 6, 7)]
        matches.append(store, [kept.drop_columns(["event.action"])], [])
        later = counted.first_counts(store, _matched([
            (9, "r", "111", "e1", 90), (10, "r", None, None, 100), (11, "r", "111", "e3", 110),
            (12, "r", None, "e2", 120),
        ]))  # fmt: skip
        assert later.column("seq").to_pylist() == [10, 11]
    finally:
        store.close()


def test_keys_survive_the_run_and_age_out_per_rule(tmp_path: Path) -> None:
    path = tmp_path / "state.duckdb"
    store = Store.open(path)
    assert _stored(store, [(1, "r", "111", "e1", 10), (2, "s", "111", "e1", 10)]) == [1, 2]
    store.close()
    store = Store.open(path)
    try:
        again = [(3, "r", "111", "e1", 10), (4, "s", "111", "e1", 10)]
        assert counted.first_counts(store, _matched(again)).num_rows == 0  # still pending
        # both decided and deleted; r's key is older than its horizon, s's is not
        horizons = {"r": 11, "s": 10}
        matches.forget(store, 100, {"r": 100, "s": 100}, [], counting_since=horizons)
        counted.forget(store, horizons)
        assert store.con.execute("SELECT count(*) FROM matches").fetchall() == [(0,)]
        assert counted.first_counts(store, _matched(again)).column("seq").to_pylist() == [3]
    finally:
        store.close()


def test_a_match_kept_for_later_still_counts_its_event_once(tmp_path: Path) -> None:
    """Rows a later event may need stay stored, and their events count once; the keys of the
    rows deleted beside them are kept without a horizon (before any event was seen)."""
    store = Store.open(tmp_path / "state.duckdb")
    try:
        rows = [(1, "r", "111", "e1", 10), (2, "r", "111", "e2", 50)]
        assert _stored(store, rows) == [1, 2]
        matches.forget(store, 100, {"r": 40}, [], counting_since=None)  # keeps e2's row
        assert store.con.execute("SELECT seq FROM matches").fetchall() == [(2,)]
        again = _matched([(3, "r", "111", "e1", 10), (4, "r", "111", "e2", 50),
                          (5, "r", "111", "e3", 60)])  # fmt: skip
        assert counted.first_counts(store, again).column("seq").to_pylist() == [5]
        keys = store.con.execute("SELECT rule_id, account, event_id, ts FROM counted").fetchall()
        assert keys == [("r", "111", "e1", 10)]
    finally:
        store.close()


def test_storing_leaves_duckdb_with_the_threads_it_had(tmp_path: Path) -> None:
    # matches are stored on one thread, beside the workers; deciding after them may use all
    store = Store.open(tmp_path / "state.duckdb")
    try:
        store.con.execute("SET threads = 3")
        store.ensure_columns([counted.ACCOUNT, counted.EVENT_ID])
        matched = _matched([(1, "r", "111", "e1", 10), (2, "r", "111", "e1", 20)])
        assert matches.append(store, [matched.drop_columns(["event.action"])], []) == 1
        assert store.con.execute("SELECT current_setting('threads')").fetchall() == [(3,)]
        assert store.con.execute("SELECT seq FROM matches").fetchall() == [(1,)]
    finally:
        store.close()
