"""A threshold rule without cardinality fields is walked as columns: the same alerts, rows
and counts as the row-by-row walk, whatever the groups, times and weights."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from trailhound.engine import threshold, threshold_walk
from trailhound.engine.candidates import Candidate
from trailhound.rules.model import ThresholdSpec

FIELDS = ("cloud.account.id", "user.name")
# per row: its group (two key values), its time in minutes, its weight (0: counts nothing)
ROW = st.tuples(st.sampled_from(["a", "b"]), st.sampled_from(["x", "y"]),
                st.integers(0, 40), st.integers(0, 3))  # fmt: skip


def _ordered(rows: list[tuple[str, str, int, int]]) -> pa.Table:
    """The rows as the rule's read gives them: by group, time, event id and seq."""
    made = sorted((k0, k1, minute * 60_000_000, f"ev-{i:03d}", i, weight)
                  for i, (k0, k1, minute, weight) in enumerate(rows))  # fmt: skip
    names = ["k0", "k1", "ts", "event_id", "seq", "weight"]
    columns = {name: [row[i] for row in made] for i, name in enumerate(names)}
    table = pa.table({name: columns[name] for name in ["seq", "ts", "event_id", "k0", "k1"]})
    return table.append_column("weight", pa.array(columns["weight"], pa.int64()))


def _by_rows(table: pa.Table, spec: ThresholdSpec, window: int) -> list[Candidate]:
    rows = zip(*(table.column(name).to_pylist() for name in table.column_names), strict=True)
    return threshold._walked(rows, spec, window)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(ROW, max_size=60),
    value=st.integers(1, 6),
    window_minutes=st.integers(0, 12),
)
def test_the_column_walk_finds_what_the_row_walk_finds(
    rows: list[tuple[str, str, int, int]], value: int, window_minutes: int
) -> None:
    spec = ThresholdSpec(fields=FIELDS, value=value)
    table = _ordered(rows)
    window = window_minutes * 60_000_000
    assert threshold_walk.counted(table, spec, window) == _by_rows(table, spec, window)


def test_weights_beyond_one_are_counted_and_shown_as_absorbed() -> None:
    spec = ThresholdSpec(fields=FIELDS, value=5)
    table = _ordered([("a", "x", 0, 3), ("a", "x", 1, 0), ("a", "x", 2, 2), ("b", "x", 2, 5)])
    found = threshold_walk.counted(table, spec, 10 * 60_000_000)
    assert [(dict(c.key), c.event_ids, c.absorbed) for c in found] == [
        ({"cloud.account.id": "a", "user.name": "x"}, ["ev-000", "ev-002"], 3),
        ({"cloud.account.id": "b", "user.name": "x"}, ["ev-003"], 4),
    ]
