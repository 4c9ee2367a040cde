"""The event columns `matches` is given as rules need them (`Store.ensure_columns`): the same
columns, in the same order and of the same types, whether a new store's table is made again
with them or an existing state file's table has them added; rows already stored are kept."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from trailhound.cloudtrail.schema import arrow_schema
from trailhound.state.store import Store

# one column of every type the schema has, named out of the schema's order
_WANTED = ["user.name", "@timestamp", "event.type", "aws.cloudtrail.read_only", "source.as.number"]


def _described(store: Store) -> list[tuple[str, str]]:
    return [(str(r[0]), str(r[1])) for r in store.con.execute("DESCRIBE matches").fetchall()]


def _duckdb_type(store: Store, field: pa.Field) -> str:
    empty = pa.table({field.name: pa.array([], field.type)})
    with store.registered("_one", empty):
        return str(store.con.execute("DESCRIBE SELECT * FROM _one").fetchall()[0][1])


def test_every_schema_column_gets_the_type_duckdb_reads_it_as() -> None:
    store = Store.open(None)
    store.ensure_columns([f.name for f in arrow_schema()])
    kinds = dict(_described(store))
    assert all(kinds[f.name] == _duckdb_type(store, f) for f in arrow_schema())
    store.close()


def test_a_new_store_and_a_reopened_state_file_get_the_same_columns(tmp_path: Path) -> None:
    fresh = Store.open(None)
    fresh.ensure_columns(_WANTED)
    fresh.ensure_columns(["event.outcome", "user.name"])
    path = tmp_path / "state.duckdb"
    Store.open(path).close()
    reopened = Store.open(path)  # its table exists already: the columns are added to it
    reopened.ensure_columns(_WANTED)
    reopened.ensure_columns(["event.outcome", "user.name"])
    assert _described(fresh) == _described(reopened)
    names = [name for name, _ in _described(fresh)]
    assert names[6:] == [f.name for f in arrow_schema() if f.name in _WANTED] + ["event.outcome"]
    fresh.close()
    reopened.close()


def test_rows_stored_before_the_first_columns_are_kept() -> None:
    store = Store.open(None)
    store.con.execute("INSERT INTO matches (seq, rule_id, step, ts) VALUES (1, 'r', 0, 5)")
    store.ensure_columns(_WANTED)
    rows = store.con.execute('SELECT seq, rule_id, "user.name" FROM matches').fetchall()
    assert rows == [(1, "r", None)]
    store.close()
