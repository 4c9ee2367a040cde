"""The events a baseline rule has counted, kept so that an event read again counts once: in a
table without a key since schema 2, and a state file of schema 1 (with the key) upgraded to it
with everything it had counted (and on through later versions)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb

from support.events import event, run
from support.rules import action, rule
from trailhound.rules.model import BaselineSpec
from trailhound.state.store import SCHEMA_VERSION, Store

H = timedelta(hours=1)
# ten reads an hour of history: the bar of hour 6 is 5 x 10 = 50 reads
RULE = rule(action("GetItem"), BaselineSpec(("user.name",), H, 24 * H, 10, 3 * H, factor=5))


def _reads(n: int, hour: int, start: int) -> list[dict[str, Any]]:
    return [
        event(start + i, hour * H + timedelta(seconds=10 * i + 1), "GetItem", user__name="alice")
        for i in range(n)
    ]


def _rows() -> list[dict[str, Any]]:
    history = [r for h in range(5) for r in _reads(10, h, 1000 + 100 * h)]
    return [*history, *_reads(40, 6, 0)]


def _as_schema_1(path: Path) -> None:
    """Give the file's counted events the keyed table and the version schema 1 had."""
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE old_events (rule_id VARCHAR, event_id VARCHAR, ts BIGINT, "
        "PRIMARY KEY (rule_id, event_id)); INSERT INTO old_events SELECT * FROM baseline_events; "
        "DROP TABLE baseline_events; ALTER TABLE old_events RENAME TO baseline_events; "
        "UPDATE meta SET value = '1' WHERE key = 'schema'"
    )
    con.close()


def _counted(store: Store) -> list[tuple[Any, ...]]:
    return store.con.execute("SELECT * FROM baseline_events ORDER BY ALL").fetchall()


def test_each_counted_event_is_kept_once(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "state.duckdb")
    try:
        # delivered twice in one run, then read again in a second run
        assert run([RULE], [*_rows(), *_reads(40, 6, 0)], store=store) == []
        assert run([RULE], _rows(), store=store) == []
        ids = [event_id for _, event_id, _ in _counted(store)]
        assert len(ids) == len(set(ids)) == 90  # hours 0 to 4's 50 reads and hour 6's 40
    finally:
        store.close()


def test_a_schema_1_state_file_is_upgraded_with_what_it_counted(tmp_path: Path) -> None:
    path = tmp_path / "state.duckdb"
    store = Store.open(path)
    assert run([RULE], _rows(), store=store) == []  # 40 reads, under the bar
    counted = _counted(store)
    store.close()
    _as_schema_1(path)

    store = Store.open(path)
    try:
        assert store.get_meta("schema") == SCHEMA_VERSION == "6"
        assert _counted(store) == counted
        keys = store.con.execute(
            "SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'baseline_events' "
            "AND constraint_type = 'PRIMARY KEY'"
        ).fetchall()
        assert keys == [(0,)]
        assert run([RULE], _rows(), store=store) == []  # read again: still 40
        assert len(run([RULE], _reads(10, 6, 50), store=store)) == 1  # ten more reach 50
    finally:
        store.close()
