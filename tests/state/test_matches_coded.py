"""Matches whose repeating text columns arrive as dictionaries (as workers send them) are stored
as the same text, count their events once against rows stored as plain text, and may meet
plain rows (the stage run in the scanning process) in one insert."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from tests.support.matched import matched_table

from trailhound.state import counted, matches
from trailhound.state.store import Store

_Row = tuple[int, str, str | None, str | None, str]  # seq, rule, account, event id, action


def _matched(rows: list[_Row], *, coded: bool) -> pa.Table:
    """Matched rows with their action, the rule, account and action as dictionaries when
    `coded`."""
    keys = [row[:4] for row in rows]
    return matched_table(keys, coded=coded, actions=[row[4] for row in rows])


def _store(tmp_path: Path) -> Store:
    store = Store.open(tmp_path / "state.duckdb")
    store.ensure_columns([counted.ACCOUNT, counted.EVENT_ID, "event.action"])
    return store


def _rows(store: Store) -> list[tuple[object, ...]]:
    return store.con.execute(
        'SELECT seq, rule_id, "cloud.account.id", "event.id", "event.action" '
        "FROM matches ORDER BY seq"
    ).fetchall()


def test_coded_rows_are_stored_as_their_text(tmp_path: Path) -> None:
    rows: list[_Row] = [
        (1, "r", "111", "e1", "DeleteTable"),
        (2, "r", None, "e2", "DeleteTable"),
        (3, "other", "111", None, "Scan"),
    ]
    store = _store(tmp_path)
    try:
        assert matches.append(store, [_matched(rows, coded=True)], []) == 0
        assert _rows(store) == rows
        kinds = dict(store.con.execute("SELECT column_name, data_type FROM "
                                       "information_schema.columns WHERE table_name = 'matches'"
                                       ).fetchall())  # fmt: skip
        assert kinds["rule_id"] == kinds[counted.ACCOUNT] == "VARCHAR"
    finally:
        store.close()


def test_coded_and_plain_rows_count_an_event_once_between_them(tmp_path: Path) -> None:
    store = _store(tmp_path)
    try:
        first = _matched([(1, "r", "111", "e1", "a"), (2, "r", None, "e2", "a")], coded=True)
        matches.append(store, [first], [])
        again = _matched(
            [(3, "r", "111", "e1", "b"), (4, "r", "", "e2", "b"), (5, "r", "222", "e1", "b")],
            coded=False,
        )
        assert matches.append(store, [again], []) == 2
        assert [row[0] for row in _rows(store)] == [1, 2, 5]
    finally:
        store.close()


def test_coded_and_plain_tables_in_one_insert_are_all_stored(tmp_path: Path) -> None:
    coded: list[_Row] = [(1, "r", "111", "e1", "a"), (2, "r", "111", "e1", "a")]
    plain: list[_Row] = [(3, "s", None, "e3", "b"), (4, "r", "111", "e1", "c")]
    store = _store(tmp_path)
    try:
        given = [_matched(coded, coded=True), _matched(plain, coded=False)]
        assert matches.append(store, given, []) == 2  # e1 of rule r counts once
        assert _rows(store) == [coded[0], plain[0]]
    finally:
        store.close()
