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
        later = counted.first_counts(store, _matched([
            (9, "r", "111", "e1", 90), (10, "r", None, None, 100), (11, "r", "111", "e3", 110),
        ]))  # fmt: skip
        assert later.column("seq").to_pylist() == [10, 11]
    finally:
        store.close()


def test_keys_survive_the_run_and_age_out_per_rule(tmp_path: Path) -> None:
    path = tmp_path / "state.duckdb"
    store = Store.open(path)
    counted.first_counts(store, _matched([(1, "r", "111", "e1", 10), (2, "s", "111", "e1", 10)]))
    store.close()
    store = Store.open(path)
    try:
        again = _matched([(3, "r", "111", "e1", 10), (4, "s", "111", "e1", 10)])
        assert counted.first_counts(store, again).num_rows == 0
        counted.forget(store, {"r": 11, "s": 10})  # r's key is older than its horizon
        assert counted.first_counts(store, again).column("seq").to_pylist() == [3]
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
