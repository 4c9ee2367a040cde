"""DuckDB on one thread for a block (`Store.one_thread`), and its threads back afterwards."""

from __future__ import annotations

import duckdb
import pytest

from trailhound.state.store import Store


def _threads(store: Store) -> int:
    return int(store.con.execute("SELECT current_setting('threads')").fetchall()[0][0])


def test_a_block_inside_another_keeps_one_thread_and_the_outer_one_restores() -> None:
    store = Store.open(None)
    store.con.execute("SET threads = 3")
    with store.one_thread():
        assert _threads(store) == 1
        with store.one_thread():
            assert _threads(store) == 1
        assert _threads(store) == 1  # the inner block's end is not the outer one's
    assert _threads(store) == 3
    store.close()


def test_threads_come_back_after_a_failed_block_and_the_next_block_sets_them_again() -> None:
    store = Store.open(None)
    store.con.execute("SET threads = 2")
    with pytest.raises(duckdb.BinderException), store.one_thread():
        store.con.execute("SELECT no_such_column FROM matches")
    assert _threads(store) == 2
    with store.one_thread():
        assert _threads(store) == 1
    assert _threads(store) == 2
    store.close()
