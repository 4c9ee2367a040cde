"""Handing memory back: DuckDB's cached blocks of the state's tables dropped after a read, the
store's limit and what it reads unchanged."""

from __future__ import annotations

import random
from pathlib import Path

from trailhound import heap
from trailhound.state import matches
from trailhound.state.store import Store


def _cached_mb(store: Store) -> float:
    rows = store.con.execute(
        "SELECT coalesce(sum(memory_usage_bytes), 0) / 2**20 FROM duckdb_memory() "
        "WHERE tag = 'BASE_TABLE'"
    ).fetchall()
    return float(rows[0][0])


def _limit(store: Store) -> str:
    return str(store.con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0])


def test_the_blocks_a_read_cached_are_dropped_and_the_packs_still_read(tmp_path: Path) -> None:
    rng = random.Random(5)
    packs = [(chunk, rng.randbytes(200_000)) for chunk in range(300)]  # 60 MB
    store = Store.open(tmp_path / "state.duckdb")
    try:
        with store.transaction():
            matches.append(store, [], packs)
        store.close()  # the packs in the file, as a later run finds them
        store = Store.open(tmp_path / "state.duckdb")
        limit = _limit(store)
        with store.transaction():
            assert sorted(matches.packs(store, [c for c, _ in packs], per_read=8)) == packs
            assert _cached_mb(store) > 40
            heap.give_back_duckdb(store)
            assert _cached_mb(store) < 20
            assert _limit(store) == limit
            # read again from the file
            assert sorted(matches.packs(store, [0, 299], per_read=8)) == [packs[0], packs[-1]]
    finally:
        store.close()
