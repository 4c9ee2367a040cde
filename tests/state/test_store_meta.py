"""The state's meta keys: what a run notes for the next (the newest event time, the next match
number) is read back as written, several keys at once or one by one, a key written again
holding its last value, in memory and in a state file reopened."""

from __future__ import annotations

from pathlib import Path

from trailhound.state.store import Store


def test_keys_written_together_are_read_back_each() -> None:
    store = Store.open(None)
    store.set_metas({"max_event_time": "17", "next_seq": "42"})
    assert (store.get_meta("max_event_time"), store.get_meta("next_seq")) == ("17", "42")


def test_a_key_written_again_holds_its_last_value_and_leaves_the_others(tmp_path: Path) -> None:
    path = tmp_path / "state.duckdb"
    store = Store.open(path)
    store.set_metas({"max_event_time": "17", "next_seq": "42"})
    store.set_metas({"next_seq": "43"})
    store.set_meta("max_event_time", "18")
    store.set_metas({})
    store.close()
    reopened = Store.open(path)
    assert (reopened.get_meta("max_event_time"), reopened.get_meta("next_seq")) == ("18", "43")
    assert reopened.get_meta("schema") is not None
    reopened.close()
