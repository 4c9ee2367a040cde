"""Matches stored while a scan reads, in inserts larger than one of DuckDB's row groups: those
that outlive the run commit whole, those deleted before its end leave nothing behind, and a
later run still counts the stored events once. (Guards for any change to how the inserts are
written: DuckDB may write a transaction's large appends to the file before it commits.)"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from trailhound.state import counted, matches
from trailhound.state.store import Store

_ROWS = 150_000  # more than one of DuckDB's row groups (122,880 rows)


def _matched(first_seq: int, rows: int) -> pa.Table:
    seqs = range(first_seq, first_seq + rows)
    return pa.table(
        {
            "seq": pa.array(seqs, pa.int64()),
            "rule_id": pa.array(["r"] * rows),
            "step": pa.array([0] * rows, pa.int32()),
            "ts": pa.array(seqs, pa.int64()),
            counted.ACCOUNT: pa.array(["111"] * rows),
            counted.EVENT_ID: pa.array([f"e{s}" for s in seqs]),
        }
    )


def _stored(path: Path) -> list[tuple[object, ...]]:
    store = Store.open(path)
    try:
        return store.con.execute("SELECT count(*), min(seq), max(seq) FROM matches").fetchall()
    finally:
        store.close()


def test_matches_stored_in_large_inserts_commit_whole(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "state.duckdb")
    store.ensure_columns([counted.ACCOUNT, counted.EVENT_ID])
    with store.transaction(), store.reading("32MB"):
        for part in range(2):
            matches.append(store, [_matched(1 + part * _ROWS, _ROWS)], [])
    store.close()
    assert _stored(tmp_path / "state.duckdb") == [(2 * _ROWS, 1, 2 * _ROWS)]


def test_matches_deleted_before_the_commit_leave_only_the_rest(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "state.duckdb")
    store.ensure_columns([counted.ACCOUNT, counted.EVENT_ID])
    with store.transaction():
        matches.append(store, [_matched(1, _ROWS)], [])
        store.con.execute("DELETE FROM matches WHERE seq > 10")
    store.close()
    assert _stored(tmp_path / "state.duckdb") == [(10, 1, 10)]


def test_a_second_run_still_knows_the_events_the_first_stored(tmp_path: Path) -> None:
    # a second reading of the first run's events, beside fresh ones, counts none of them
    store = Store.open(tmp_path / "state.duckdb")
    store.ensure_columns([counted.ACCOUNT, counted.EVENT_ID])
    with store.transaction():
        assert matches.append(store, [_matched(1, _ROWS)], []) == 0
    with store.transaction():
        assert matches.append(store, [_matched(_ROWS + 1, _ROWS)], []) == 0  # fresh ids
        repeated = _matched(1, _ROWS).set_column(0, "seq", pa.array(
            range(2 * _ROWS + 1, 3 * _ROWS + 1), pa.int64()))  # fmt: skip
        assert matches.append(store, [repeated], []) == _ROWS
    store.close()
    assert _stored(tmp_path / "state.duckdb") == [(2 * _ROWS, 1, 2 * _ROWS)]


def _setting(store: Store) -> object:
    return store.con.execute("SELECT current_setting('enable_optimistic_write')").fetchall()[0][0]


def test_a_last_insert_held_until_the_commit_commits_whole_beside_the_written_ones(
    tmp_path: Path,
) -> None:
    # the first insert fills a row group DuckDB writes at once; the last one, held in memory,
    # fills the next; the commit keeps every row of both, less the deleted
    store = Store.open(tmp_path / "state.duckdb")
    store.ensure_columns([counted.ACCOUNT, counted.EVENT_ID])
    with store.transaction():
        matches.append(store, [_matched(1, _ROWS)], [(0, b"first")])
        matches.append(store, [_matched(_ROWS + 1, _ROWS)], [(1, b"last")], last=True)
        store.con.execute(f"DELETE FROM matches WHERE seq > {_ROWS} AND seq <= {_ROWS + 10}")
    store.close()
    assert _stored(tmp_path / "state.duckdb") == [(2 * _ROWS - 10, 1, 2 * _ROWS)]
    store = Store.open(tmp_path / "state.duckdb")
    packs = list(matches.packs(store, [0, 1], per_read=10))
    store.close()
    assert sorted(packs) == [(0, b"first"), (1, b"last")]


def test_a_last_insert_leaves_later_writes_of_the_transaction_as_they_were(
    tmp_path: Path,
) -> None:
    store = Store.open(tmp_path / "state.duckdb")
    store.ensure_columns([counted.ACCOUNT, counted.EVENT_ID])
    with store.transaction():
        matches.append(store, [_matched(1, 10)], [], last=True)
        assert _setting(store) is True
        store.con.execute("SET enable_optimistic_write = false")  # a caller's own choice
        matches.append(store, [_matched(11, 10)], [], last=True)
        assert _setting(store) is False
    store.close()
    assert _stored(tmp_path / "state.duckdb") == [(20, 1, 20)]
