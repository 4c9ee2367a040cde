"""Evidence packs, stored in pieces of `matches.PIECE` bytes, read back whole and byte for byte:
whatever their sizes, after other packs were deleted, across transactions and a reopened state,
when DuckDB returns their pieces out of order, and from a state written when each pack was one
row."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from trailhound.state import matches
from trailhound.state.store import SCHEMA_VERSION, Store

_SIZES = [0, 1, matches.PIECE - 1, matches.PIECE, matches.PIECE + 1, 3 * matches.PIECE + 7]


def _packs(first: int, sizes: list[int], seed: int) -> list[tuple[int, bytes]]:
    rng = random.Random(seed)
    return [(first + i, rng.randbytes(size)) for i, size in enumerate(sizes)]


@pytest.mark.parametrize("per_read", [1, 3, 100])
def test_packs_read_back_whole_after_deletes_and_a_reopen(tmp_path: Path, per_read: int) -> None:
    # big ones too: their pieces fill more than one of DuckDB's vectors (2,048 rows)
    first = _packs(0, [*_SIZES, 1_500_000, 1_200_000], seed=1)
    second = _packs(len(first), [*_SIZES, 2_000_000], seed=2)
    store = Store.open(tmp_path / "state.duckdb")
    with store.transaction():
        matches.append(store, [], first)
    with store.transaction():
        matches.append(store, [], second, last=True)
        # as `matches.forget` deletes the packs no match points to
        store.con.execute("DELETE FROM evidence WHERE chunk IN (1, 7, 9)")
    store.close()
    store = Store.open(tmp_path / "state.duckdb")
    wanted = [c for c, _ in first + second if c not in (1, 7, 9)]
    read = list(matches.packs(store, wanted[::-1], per_read))
    store.close()
    assert sorted(read) == sorted((c, data) for c, data in first + second if c in wanted)


def test_a_pack_stored_whole_by_an_earlier_version_reads_whole(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "state.duckdb")
    whole = random.Random(3).randbytes(5 * matches.PIECE)
    with store.transaction():
        store.con.execute("INSERT INTO evidence VALUES (0, 0, 1, ?)", [whole])
        matches.append(store, [], [(1, whole[::-1])])
    read = sorted(matches.packs(store, [0, 1], per_read=4))
    assert read == [(0, whole), (1, whole[::-1])]
    assert matches.next_pack(store) == 2
    store.close()


def test_a_schema_4_state_keeps_its_packs_and_stores_new_ones_uncompressed(
    tmp_path: Path,
) -> None:
    """Schema 5 stores packs' bytes uncompressed (DuckDB's analysis of small deflated pieces
    cost a run's checkpoint dearly); a schema 4 state file, whose `evidence` let DuckDB choose,
    is brought over with its packs."""
    path = tmp_path / "state.duckdb"
    whole = random.Random(4).randbytes(3 * matches.PIECE + 5)
    store = Store.open(path)
    store.con.execute(
        "DROP TABLE evidence; CREATE TABLE evidence (chunk BIGINT, data BLOB); "
        "UPDATE meta SET value = '4' WHERE key = 'schema'"
    )
    store.con.execute("INSERT INTO evidence VALUES (0, ?)", [whole])
    store.close()

    store = Store.open(path)
    try:
        assert store.get_meta("schema") == SCHEMA_VERSION
        with store.transaction():
            matches.append(store, [], [(1, whole[::-1])])
        store.con.execute("CHECKPOINT")
        kinds = store.con.execute(
            "SELECT DISTINCT compression FROM pragma_storage_info('evidence') "
            "WHERE column_name = 'data' AND segment_type = 'BLOB'"
        ).fetchall()
        assert kinds == [("Uncompressed",)]
        assert sorted(matches.packs(store, [0, 1], per_read=2)) == [(0, whole), (1, whole[::-1])]
    finally:
        store.close()


def test_many_packs_asked_at_once_read_back_whole(tmp_path: Path) -> None:
    """Asked for many packs of a large table, DuckDB filters with a hash join, whose rows come
    in no set order: every pack must still come back whole, each once, run after run."""
    rng = random.Random(1)
    store = Store.open(tmp_path / "state.duckdb")
    stored: dict[int, bytes] = {}
    for _ in range(40):  # as many runs' inserts, each read from after it: thousands of pieces
        first = len(stored)
        packs = [(first + i, rng.randbytes(rng.randrange(1, 160_000))) for i in range(30)]
        with store.transaction():
            matches.append(store, [], packs)
        stored.update(packs)
        wanted = rng.sample(sorted(stored), 30)
        with store.one_thread():
            read = list(matches.packs(store, wanted, per_read=16))
        assert len(read) == len(wanted)
        assert dict(read) == {chunk: stored[chunk] for chunk in wanted}
    store.close()
