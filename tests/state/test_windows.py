"""Suppression windows in the state file: several per group, the last day's, and those of a
state file written before groups kept several."""

from __future__ import annotations

from pathlib import Path

import duckdb

from trailhound.state import windows
from trailhound.state.store import Store
from trailhound.state.windows import KEEP, Window

HOUR = 3_600_000_000


def test_a_group_keeps_its_windows_of_the_last_day(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "state.duckdb")
    try:
        old, recent = Window(0, HOUR // 2), Window(10 * HOUR, 11 * HOUR, 3)
        newest = Window(KEEP, KEEP + HOUR)  # ends a day and half an hour after `old`
        windows.save(store, "rule", {"alice": [old, recent, newest], "bob": [old]})
        assert windows.load(store, "rule") == {"alice": [recent, newest], "bob": [old]}
        assert windows.load(store, "another rule") == {}
    finally:
        store.close()


def test_a_state_file_with_one_window_per_group_is_carried_over(tmp_path: Path) -> None:
    path = tmp_path / "state.duckdb"
    Store.open(path).close()
    con = duckdb.connect(str(path))
    con.execute("DROP TABLE suppression_windows")
    con.execute(
        "CREATE TABLE suppression (rule_id VARCHAR, group_key VARCHAR, window_start BIGINT, "
        "window_end BIGINT, alert_id VARCHAR, absorbed BIGINT, PRIMARY KEY (rule_id, group_key))"
    )
    con.execute("INSERT INTO suppression VALUES ('rule', 'alice', 5, 10, NULL, 2)")
    con.close()
    store = Store.open(path)
    try:
        assert windows.load(store, "rule") == {"alice": [Window(5, 10, 2)]}
        tables = store.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        assert "suppression" not in {name for (name,) in tables}
    finally:
        store.close()
