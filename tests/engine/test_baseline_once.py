"""An event a baseline rule reads twice in one run (one call in two accounts' trails, or a
multi-valued group field) counts once per group. Whether any id is there twice is first told
from the ids' 64-bit hashes: equal hashes must not be taken for one event."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from trailhound.engine import baseline


def _table(ids: list[str | None], hashes: list[int], groups: list[str]) -> pa.Table:
    n = len(ids)
    return pa.table({
        "seq": pa.array(range(n), pa.int64()),
        "ts": pa.array([0] * n, pa.int64()),
        "event_id": pa.array(ids, pa.string()),
        "k0": groups,
        "id_hash": pa.array(hashes, pa.uint64()),
    })  # fmt: skip


def _kept(table: pa.Table) -> tuple[list[int], bool]:
    order, group = baseline._order(table, 1)
    kept, once_each = baseline._once(table, order, group)
    return table.column("seq").to_numpy()[kept].tolist(), once_each


def test_an_event_twice_in_a_group_counts_once_and_once_in_each_other_group() -> None:
    table = _table(["a", "b", "a", "a", None, None], [1, 2, 1, 1, 0, 0],
                   ["u", "u", "u", "v", "u", "u"])  # fmt: skip
    seqs, once_each = _kept(table)
    assert sorted(seqs) == [0, 1, 3, 4, 5]  # the second "a" of group u left out
    assert not once_each


def test_two_ids_with_one_hash_are_two_events() -> None:
    table = _table(["a", "b", "c"], [7, 7, 8], ["u", "u", "u"])
    seqs, once_each = _kept(table)
    assert seqs == [0, 1, 2]
    assert once_each
    assert baseline._no_id_twice(table, np.ones(3, np.bool_))
