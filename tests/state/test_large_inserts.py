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
