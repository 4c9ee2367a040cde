"""While a scan's workers read, what it stores spills to disk beyond a small limit; the end
of the run has the store's own limit back."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from trailhound.state import matches
from trailhound.state.store import Store


def _limit(store: Store) -> str:
    return str(store.con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0])


def _in_memory_mb(store: Store) -> float:
    rows = store.con.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchall()
    return float(rows[0][0]) / 2**20


def test_packs_stored_while_reading_spill_beyond_its_limit_and_commit_whole(
    tmp_path: Path,
) -> None:
    store = Store.open(tmp_path / "state.duckdb")
    pack = bytes(range(256)) * 4096  # 1 MiB that does not compress away
    with store.transaction():
        with store.reading("32MB"):
            for chunk in range(96):
                matches.append(store, [], [(chunk, pack)])
            assert _in_memory_mb(store) < 40  # 96 MiB stored, uncommitted
        assert _limit(store) == "183.1 MiB"  # the end of the run: 192 MB again
    stored = store.con.execute(  # a pack's rows are its pieces (`matches.PIECE`)
        "SELECT count(DISTINCT chunk), sum(octet_length(data)) FROM evidence"
    ).fetchall()
    assert stored == [(96, 96 * len(pack))]
    store.close()


def test_a_store_with_a_lower_limit_keeps_it_while_reading() -> None:
    store = Store.open(None, memory_limit="16MB")
    try:
        with store.reading():
            assert _limit(store) == "15.2 MiB"
        assert _limit(store) == "15.2 MiB"
    finally:
        store.close()


def test_the_reading_limit_holds_only_inside_the_block() -> None:
    store = Store.open(None)
    try:
        with store.transaction(), store.reading():
            assert _limit(store) == "30.5 MiB"  # 32 MB
        assert _limit(store) == "183.1 MiB"
    finally:
        store.close()


def test_a_duplicate_check_while_reading_has_its_own_limit_then_reading_its_own_again() -> None:
    """A second scan of the same input sends every candidate through the exact check, which
    needs more than the reading limit leaves (a 4M scan's failed at 16 MB)."""
    store = Store.open(None)
    try:
        with store.transaction(), store.reading():
            with store.checking():
                assert _limit(store) == "61.0 MiB"  # 64 MB
            assert _limit(store) == "30.5 MiB"
        assert _limit(store) == "183.1 MiB"
    finally:
        store.close()


def test_a_duplicate_check_outside_reading_keeps_the_limit_it_finds() -> None:
    """The last insert, at the end of a run, checks under the store's own limit: the check
    never lowers it."""
    store = Store.open(None)
    try:
        with store.transaction(), store.checking():
            assert _limit(store) == "183.1 MiB"
        with store.transaction(), store.reading("128MB"), store.checking():
            assert _limit(store) == "122.0 MiB"  # a reading limit above the check's stays
    finally:
        store.close()


def test_a_lifted_limit_stays_lifted_through_reading() -> None:
    """Reading inside a transaction whose limit was lifted (alerts being entered) must not
    hold what it already keeps to the reading limit, nor leave that limit behind."""
    store = Store.open(None)
    try:
        with store.transaction():
            store.lift_memory_limit()
            lifted = _limit(store)
            with store.reading():
                assert _limit(store) == lifted
            assert _limit(store) == lifted
        assert _limit(store) == "183.1 MiB"
    finally:
        store.close()


def test_a_statement_that_does_not_fit_the_reading_limit_fails_with_its_own_error() -> None:
    """The run's transaction is lost either way, but the user (and the bug report) must see
    that memory ran out, not that the transaction was aborted by something unnamed."""
    store = Store.open(None, memory_limit="64MB")
    strings = pa.table({"x": pa.array([f"value {i:012d}" for i in range(1_000_000)])})
    try:
        failing = pytest.raises(duckdb.OutOfMemoryException)
        with failing, store.transaction(), store.reading("8MB"), store.registered("_s", strings):
            store.con.execute("SELECT list(x) FROM _s").fetchall()  # cannot spill
        assert _limit(store) == "61.0 MiB"  # the store's own limit again after the rollback
    finally:
        store.close()
