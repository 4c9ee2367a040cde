"""The run's set of stored keys' hashes (`counted.KnownKeys`) in front of the duplicate check:
the rows that count are exactly those the check over every stored key picks, whether a hash
collides (forced here by keeping a single bit of it), a key repeats within one insert, across
one run's inserts, across runs, or was kept in `counted` when its match was forgotten."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from tests.support.matched import Row, matched_table

from trailhound.state import counted, matches
from trailhound.state.store import Store

# 64 bits: a repeat is found only by its hash; 1 bit: every row with an id collides
WIDTHS = [64, 1]


def _matched(rows: list[Row], *, coded: bool = False) -> pa.Table:
    return matched_table(rows, coded=coded, ts_step=10)


def _insert(
    store: Store, known: counted.KnownKeys, rows: list[Row], *, coded: bool = False
) -> list[int]:
    """Store `rows` as one insert of a run; the seqs of those that counted."""
    before = {seq for (seq,) in store.con.execute("SELECT seq FROM matches").fetchall()}
    matches.append(store, [_matched(rows, coded=coded)], [], known=known)
    after = store.con.execute("SELECT seq FROM matches ORDER BY seq").fetchall()
    return [seq for (seq,) in after if seq not in before]


def _store(path: Path) -> Store:
    store = Store.open(path)
    store.ensure_columns([counted.ACCOUNT, counted.EVENT_ID])
    return store


@pytest.mark.parametrize("bits", WIDTHS)
def test_repeats_within_one_insert_count_once_the_first(tmp_path: Path, bits: int) -> None:
    store = _store(tmp_path / "state.duckdb")
    try:
        counts = _insert(store, counted.KnownKeys(bits), [
            (1, "r", "111", "e1"),
            (2, "r", "111", "e2"),
            (3, "r", "111", "e1"),  # delivered twice
            (4, "r", "222", "e1"),  # another account's e1
            (5, "s", "111", "e1"),  # another rule counts it for itself
            (6, "r", None, None),
            (7, "r", None, None),  # no id: every row counts
            (8, "r", None, "e3"),
            (9, "r", "", "e3"),  # no account is the empty account
            (10, "r", "111", "e2"),
        ])  # fmt: skip
        assert counts == [1, 2, 4, 5, 6, 7, 8]
    finally:
        store.close()


@pytest.mark.parametrize("bits", WIDTHS)
@pytest.mark.parametrize("coded", [False, True])
def test_repeats_across_one_runs_inserts_count_once(tmp_path: Path, bits: int, coded: bool) -> None:
    """The second insert's keys are known only from the first insert's rows, which arrived
    as plain text; the second's as dictionaries too (a worker's)."""
    store = _store(tmp_path / "state.duckdb")
    try:
        known = counted.KnownKeys(bits)
        assert _insert(store, known, [(1, "r", "111", "e1"), (2, "r", None, "e2")]) == [1, 2]
        again = [(3, "r", "111", "e1"), (4, "r", "", "e2"), (5, "r", "111", "e4"),
                 (6, "r", "222", "e1"), (7, "r", "111", "e4")]  # fmt: skip
        assert _insert(store, known, again, coded=coded) == [5, 6]
        assert _insert(store, known, [(8, "r", "222", "e1"), (9, "r", "111", "e9")]) == [9]
    finally:
        store.close()


def test_keys_stay_known_over_many_inserts_of_one_run(tmp_path: Path) -> None:
    """The known hashes grow in place as inserts come: the first insert's keys are still
    known after many more, of sizes that make it grow again and again."""
    store = _store(tmp_path / "state.duckdb")
    try:
        known = counted.KnownKeys()
        seq = 0
        for size in [1, 2, 1, 5, 3, 8, 13, 2, 21]:
            rows: list[Row] = [(seq + n + 1, "r", "111", f"e{seq + n}") for n in range(size)]
            seq += size
            assert _insert(store, known, rows) == [s for s, *_ in rows]
        repeats: list[Row] = [(seq + 1, "r", "111", "e0"), (seq + 2, "r", "111", f"e{seq - 1}"),
                              (seq + 3, "r", "111", "new")]  # fmt: skip
        assert _insert(store, known, repeats) == [seq + 3]
    finally:
        store.close()


@pytest.mark.parametrize("bits", WIDTHS)
def test_keys_of_an_earlier_run_are_known_to_a_later_one(tmp_path: Path, bits: int) -> None:
    """A new run reads the stored matches' keys and the kept ones (`counted`) once; a key
    forgotten since, whose hash the run still holds, counts again."""
    path = tmp_path / "state.duckdb"
    store = _store(path)
    rows = [(1, "r", "111", "e1"), (2, "s", "111", "e1"), (3, "r", "111", "e2")]
    assert _insert(store, counted.KnownKeys(bits), rows) == [1, 2, 3]
    # e1's rows (times 10 and 20) decided and deleted, r's key kept, s's past its horizon
    matches.forget(store, 25, {"r": 100, "s": 100}, [], counting_since={"r": 0, "s": 21})
    store.close()
    store = _store(path)
    try:
        assert store.con.execute("SELECT seq FROM matches").fetchall() == [(3,)]
        known = counted.KnownKeys(bits)
        again = [(4, "r", "111", "e1"), (5, "r", "111", "e2"), (6, "s", "111", "e1")]
        assert _insert(store, known, again) == [6]  # kept, stored, neither
        counted.forget(store, {"r": 11})  # r's e1 key ages out; its hash stays in `known`
        assert _insert(store, known, [(7, "r", "111", "e1"), (8, "s", "111", "e1")]) == [7]
    finally:
        store.close()


def test_a_collision_never_drops_a_row(tmp_path: Path) -> None:
    """Keys whose hashes agree in the bits kept are checked exactly, and new ones count."""
    store = _store(tmp_path / "state.duckdb")
    try:
        known = counted.KnownKeys(1)
        first = [(seq, "r", "111", f"e{seq}") for seq in range(1, 41)]
        assert _insert(store, known, first) == list(range(1, 41))
        later = [(seq, "r", "111", f"e{seq}") for seq in range(41, 81)]
        assert _insert(store, known, [*later, (81, "r", "111", "e1")]) == list(range(41, 81))
    finally:
        store.close()
