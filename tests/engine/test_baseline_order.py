"""A baseline rule's rows are put in order by Arrow, on numbers standing for each row's group:
the order must be the one DuckDB's ORDER BY gave them (group values as text by their bytes,
then time, event id with missing ids last, then seq), since which event crosses a window's
bar, and so the alert's id and evidence, follows from it."""

from __future__ import annotations

import random

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from trailhound.engine import baseline

VALUES = ["alice", "Alice", "bob", "b", "", "é", "e", "zz", "ß", "123456789012", "a b"]


def _rows(rng: random.Random, n: int) -> pa.Table:
    ids = [rng.choice([None, *(f"id-{i}" for i in range(40)), "ID-1", "é"]) for _ in range(n)]
    return pa.table({
        "seq": pa.array(rng.sample(range(10 * n), n), pa.int64()),
        "ts": pa.array([rng.randint(0, 5) * 1_000_000 for _ in range(n)], pa.int64()),
        "event_id": pa.array(ids, pa.string()),
        "k0": [rng.choice(VALUES) for _ in range(n)],
        "k1": [rng.choice(VALUES[:4]) for _ in range(n)],
    })  # fmt: skip


@pytest.mark.parametrize("seed", range(6))
def test_rows_are_in_the_order_duckdb_sorted_them(seed: int) -> None:
    rows = _rows(random.Random(seed), 400)
    order, group = baseline._order(rows, 2)
    con = duckdb.connect()
    expected = con.sql("SELECT seq FROM rows ORDER BY k0, k1, ts, event_id, seq").fetchall()
    assert rows.column("seq").to_numpy()[order].tolist() == [s for (s,) in expected]
    # one number per group: equal exactly where the group's values are
    pairs = list(zip(rows.column("k0").to_pylist(), rows.column("k1").to_pylist(), strict=True))
    numbered = dict(zip(pairs, group.tolist(), strict=True))
    assert len(set(numbered.values())) == len(set(pairs))
    assert np.all(np.diff(group[order]) >= 0)
